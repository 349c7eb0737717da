"""Bot API calls whose answers the bot never reads, made without building objects from them.

`Bot.send_message` and its siblings turn Telegram's answer into a `telegram.Message`: about
three quarters of a call's CPU, spent on an object doorajar throws away. Every such method
ends in `Bot._post(method, parameters)`, which builds the request, passes it through the rate
limiter, sends it and raises `TelegramError` subclasses (BadRequest, Forbidden, RetryAfter, ...)
exactly as the methods do; the functions here call it directly and keep everything but the
unused object. (`Bot.do_api_request` is the public door to the same step, but it warns when
the method is one the Bot class has.) Parameters are those of the Bot API, by their API names.
"""

from __future__ import annotations

from telegram import Bot


async def call(bot: Bot, method: str, **parameters: object) -> None:
    """Call Bot API `method` and drop its answer; parameters that are None are left out."""
    await bot._post(method, parameters)


async def send_text(
    bot: Bot, chat_id: int | str, text: str, reply_markup: str | None = None
) -> None:
    """sendMessage: plain text (no parse mode), with an inline keyboard's JSON if any."""
    await call(bot, "sendMessage", chat_id=chat_id, text=text, reply_markup=reply_markup)


async def edit_text(bot: Bot, chat_id: int | str, message_id: int, text: str) -> None:
    """editMessageText: new plain text; the message's keyboard goes (none is passed)."""
    await call(bot, "editMessageText", chat_id=chat_id, message_id=message_id, text=text)


async def answer_query(bot: Bot, query_id: str, text: str | None = None) -> None:
    """answerCallbackQuery: stop the client's spinner, with a short notice if `text`."""
    await call(bot, "answerCallbackQuery", callback_query_id=query_id, text=text)
