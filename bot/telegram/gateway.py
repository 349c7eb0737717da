"""The Telegram front end: python-telegram-bot handlers that translate updates into events.

Handlers decide nothing. Each update becomes an event for `ChatService.apply`, which loads the
chat's conversation from the store, runs the engine and saves the result before anything is
sent, so a crash or a restart loses no answer and several workers can share one store. There
is no ConversationHandler and no PTB persistence; `chat_data` and `user_data` stay unused.

Per chat, updates are handled one at a time and once: a lock serialises them within this
process, and every handled update's id is recorded in the same atomic store write as the
conversation (`ChatService.apply`/`record`), so an update delivered twice, to one worker or
two, is applied once. An update the store could not take is reported to the receiver
(`bot.telegram.delivery.must_retry`): the webhook answers 503 and the poller tries again, so
Telegram delivers it again; the user is told once.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import os
import re
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlparse

from telegram import (
    Bot,
    CallbackQuery,
    InlineQueryResultsButton,
    Message,
    Update,
)
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest

from bot.content.catalog import Catalog
from bot.engine import Engine, Outcome
from bot.events import Back, Event, Restart, Start, Text, decode
from bot.replies import ResultReply
from bot.service import AlreadyApplied, ChatLocks, ChatService, SaveConflict
from bot.store.factory import open_store
from bot.store.protocol import StoreUnavailable
from bot.telegram.delivery import Receiver, must_retry, run_application
from bot.telegram.logs import configure_logging
from bot.telegram.polling import poll
from bot.telegram.render import FORGET_NO, FORGET_YES, Outgoing, Renderer
from bot.telegram.request import AiohttpRequest
from bot.telegram.send import answer_query, edit_text, send_text
from bot.telegram.webhook import WebhookSettings, serve_webhook

log = logging.getLogger("doorajar.telegram")

T = TypeVar("T")
Context = ContextTypes.DEFAULT_TYPE

TEXT_LIMIT = 1000
"""Longest typed message passed to the engine; longer ones are refused at once."""
STORE_RETRY_DELAYS = (0.2, 0.6)
"""Seconds to wait before trying an unavailable store again, before apologising."""
SHARE_START = "from-share"
"""Deep-link payload of inline mode's "open the bot" button (flow ids cannot contain '-')."""
ALLOWED_UPDATES = ("message", "callback_query", "inline_query")
CONCURRENT_UPDATES = 64
RATE_LIMIT_RETRIES = 3
MAX_RATE = 30
"""Messages per second for the whole bot: Telegram's broadcast limit."""
PURGE_EVERY_SECONDS = 6 * 3600
SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
APOLOGIES_KEPT = 10_000
"""Chats remembered as already told that the store is down (until one of their updates works)."""


def update_kind(update: object) -> str:
    """What sort of update this is (message, callback_query, ...), for logs."""
    if not isinstance(update, Update):
        return type(update).__name__
    for kind in ("message", "callback_query", "inline_query", "edited_message"):
        if getattr(update, kind) is not None:
            return kind
    return "other"


def file_base_url(base_url: str) -> str:
    """The file download URL that goes with a Bot API base URL (…/bot -> …/file/bot)."""
    head, sep, tail = base_url.rpartition("/bot")
    return f"{head}/file/bot{tail}" if sep else base_url.rstrip("/") + "/file/bot"


@dataclass(frozen=True, slots=True)
class Turn:
    """One update of one private chat: what the store records it under."""

    chat_id: str
    update_id: int


@dataclass
class _CallbackAnswer:
    """Answers a callback query exactly once, so the client's spinner always stops."""

    query: CallbackQuery
    done: bool = False

    async def __call__(self, text: str | None = None) -> None:
        if self.done:
            return
        self.done = True
        try:
            await answer_query(self.query.get_bot(), self.query.id, text)
        except (BadRequest, NetworkError) as exc:  # too old, answered before, or timed out:
            log.debug("callback query not answered: %s", exc)  # the next message matters more


@dataclass
class TelegramFrontEnd:
    """The handlers, bound to one chat service and one renderer."""

    service: ChatService
    renderer: Renderer
    store_retry_delays: Sequence[float] = STORE_RETRY_DELAYS
    retention_days: int = 0
    _lock: ChatLocks = field(default_factory=ChatLocks, init=False, repr=False)
    _purger: asyncio.Task[None] | None = field(default=None, init=False, repr=False)
    _apologised: dict[str, None] = field(default_factory=dict, init=False, repr=False)

    @property
    def engine(self) -> Engine:
        """The engine behind the service."""
        return self.service.engine

    # -- wiring -----------------------------------------------------------------------------

    def install(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Register every handler and the error handler on `app`."""
        # New messages in private chats; edits (and channel posts) are left alone.
        private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
        commands: dict[str, Callable[[Update, Context], Coroutine[Any, Any, None]]] = {
            "start": self.on_start,
            "help": self.on_help,
            "back": self.on_back,
            "restart": self.on_restart,
            "cancel": self.on_cancel,
            "forget": self.on_forget,
        }
        for name, callback in commands.items():
            app.add_handler(CommandHandler(name, callback, filters=private))
        app.add_handler(MessageHandler(private & filters.COMMAND, self.on_help))
        app.add_handler(MessageHandler(private & filters.TEXT, self.on_text))
        app.add_handler(MessageHandler(private & filters.UpdateType.MESSAGE, self.on_not_text))
        app.add_handler(CallbackQueryHandler(self.on_button))
        app.add_handler(InlineQueryHandler(self.on_inline))
        app.add_error_handler(self.on_error)

    async def post_init(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """At start-up: publish the command list and begin purging idle conversations."""
        await app.bot.set_my_commands(self.renderer.commands())
        if self.retention_days > 0:
            self._purger = asyncio.create_task(self._purge_forever())
        log.info("bot @%s is ready", app.bot.username)

    async def post_shutdown(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """At shutdown: stop purging and close the store."""
        if self._purger is not None:
            self._purger.cancel()
        await self.service.store.close()

    async def _purge_forever(self) -> None:
        while True:
            try:
                count = await self.service.store.purge(self.retention_days * 86400)
                log.info("purged %d idle conversation(s)", count)
            except StoreUnavailable as exc:
                log.warning("purge skipped, store unavailable: %s", exc)
            await asyncio.sleep(PURGE_EVERY_SECONDS)

    # -- shared steps -----------------------------------------------------------------------

    async def _retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        """Run a store call, trying again briefly while the store is unavailable."""
        for delay in self.store_retry_delays:
            try:
                return await call()
            except StoreUnavailable:
                log.warning("store unavailable; trying again in %.1f s", delay)
                await asyncio.sleep(delay)
        return await call()

    async def _apply(self, turn: Turn, event: Event) -> Outcome:
        log.debug("chat=%s event=%s", turn.chat_id, type(event).__name__)
        return await self._retrying(lambda: self.service.apply(turn.chat_id, event, turn.update_id))

    async def _current(self, turn: Turn) -> list[Outgoing]:
        """Record an update that changes nothing; the chat's current question, rendered."""
        conv = await self._retrying(lambda: self.service.record(turn.chat_id, turn.update_id))
        return self.renderer.render(self.engine.current(conv))

    async def _send(self, bot: Bot, chat_id: str, messages: Sequence[Outgoing]) -> None:
        """Send in order, as plain text: no parse mode, so nothing is read as markup."""
        for message in messages:
            await send_text(bot, int(chat_id), message.text, message.markup)

    async def _serve(
        self,
        update: Update,
        context: Context,
        work: Callable[[Turn], Awaitable[Sequence[Outgoing]]],
        on_store_down: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Run `work` for a private chat's update, once per update id and one at a time.

        `work` records the update in the store (`_apply`, `_current`) and returns the
        messages to send; a second delivery of the update raises `AlreadyApplied` there and
        sends nothing. When the store stays unavailable nothing was saved: the update is
        handed back for delivery again, and the user is told once (`on_store_down`, or a
        message) until an update of theirs goes through.
        """
        chat = update.effective_chat
        if chat is None or chat.type != ChatType.PRIVATE:
            return
        turn = Turn(str(chat.id), update.update_id)
        async with self._lock(turn.chat_id):
            try:
                messages = await work(turn)
            except AlreadyApplied:
                log.debug("chat=%s update %d already handled", turn.chat_id, turn.update_id)
                return
            except (StoreUnavailable, SaveConflict) as exc:
                log.warning("chat=%s not saved, to be delivered again: %r", turn.chat_id, exc)
                must_retry()
                if self._first_apology(turn.chat_id):
                    if on_store_down is not None:
                        await on_store_down()
                    else:
                        await self._send(context.bot, turn.chat_id, [self._say("sorry_store")])
                return
            self._apologised.pop(turn.chat_id, None)
            await self._send(context.bot, turn.chat_id, messages)

    def _first_apology(self, chat_id: str) -> bool:
        """True the first time a chat meets the store down (until one of its updates works)."""
        if chat_id in self._apologised:
            return False
        if len(self._apologised) >= APOLOGIES_KEPT:
            self._apologised.pop(next(iter(self._apologised)))
        self._apologised[chat_id] = None
        return True

    def _say(self, key: str, **values: str | int) -> Outgoing:
        return Outgoing(self.renderer.text(key, **values))

    async def _step(
        self,
        update: Update,
        context: Context,
        event: Event,
        before: Sequence[Outgoing] = (),
        welcome: bool = False,
    ) -> None:
        """Apply one event and send what the engine replies, after `before`."""

        async def work(turn: Turn) -> Sequence[Outgoing]:
            outcome = await self._apply(turn, event)
            return [*before, *self.renderer.render(outcome.replies, welcome=welcome)]

        await self._serve(update, context, work)

    # -- commands ---------------------------------------------------------------------------

    async def on_start(self, update: Update, context: Context) -> None:
        """/start opens the menu; `/start <flow_id>` (a deep link) begins that situation."""
        payload = context.args[0] if context.args else None
        if payload is None or payload == SHARE_START:
            await self._step(update, context, Start(), welcome=True)
        else:
            await self._step(update, context, Start(payload))

    async def on_help(self, update: Update, context: Context) -> None:
        """/help (and any unknown command): how it works, then where the chat stands."""

        async def work(turn: Turn) -> Sequence[Outgoing]:
            return [self.renderer.help(), *await self._current(turn)]

        await self._serve(update, context, work)

    async def on_back(self, update: Update, context: Context) -> None:
        """/back: the previous question."""
        await self._step(update, context, Back())

    async def on_restart(self, update: Update, context: Context) -> None:
        """/restart: this situation again from its first question."""
        await self._step(update, context, Restart())

    async def on_cancel(self, update: Update, context: Context) -> None:
        """/cancel: stop and show the menu."""
        await self._step(update, context, Start(), before=[self._say("cancelled")])

    async def on_forget(self, update: Update, context: Context) -> None:
        """/forget: ask before deleting everything kept for the chat."""

        async def work(turn: Turn) -> Sequence[Outgoing]:
            await self._current(turn)  # records the update, so it is answered once
            return [self.renderer.forget_confirmation()]

        await self._serve(update, context, work)

    # -- messages ---------------------------------------------------------------------------

    async def on_text(self, update: Update, context: Context) -> None:
        """Typed text answers the current question; the engine checks it."""
        assert update.message is not None and update.message.text is not None
        text = update.message.text
        if len(text) <= TEXT_LIMIT:
            await self._step(update, context, Text(text))
            return

        async def refuse(turn: Turn) -> Sequence[Outgoing]:
            log.debug("chat=%s text refused: %d characters", turn.chat_id, len(text))
            too_long = self._say("too_long", max=TEXT_LIMIT, length=len(text))
            return [too_long, *await self._current(turn)]

        await self._serve(update, context, refuse)

    async def on_not_text(self, update: Update, context: Context) -> None:
        """Stickers, photos, voice and the rest: a nudge, then the current question."""

        async def work(turn: Turn) -> Sequence[Outgoing]:
            return [self._say("not_text"), *await self._current(turn)]

        await self._serve(update, context, work)

    # -- buttons ----------------------------------------------------------------------------

    async def on_button(self, update: Update, context: Context) -> None:
        """A tapped button: answer the query, record the answer on the question, go on."""
        query = update.callback_query
        assert query is not None
        answer = _CallbackAnswer(query)
        message = query.message
        data = query.data or ""

        async def work(turn: Turn) -> Sequence[Outgoing]:
            if data in (FORGET_YES, FORGET_NO):
                return await self._forget_answer(turn, data, answer, message)
            event = decode(data)
            if event is None:  # forged, or from a version of the bot that is gone
                current = await self._current(turn)
                await answer()
                return [self._say("stale_button"), *current]
            outcome = await self._apply(turn, event)
            await answer()
            if outcome.changed:
                await self._record_answer(message, data)
            return self.renderer.render(outcome.replies)

        async def store_down() -> None:
            await answer(self.renderer.common["sorry_store"])

        try:
            await self._serve(update, context, work, on_store_down=store_down)
        finally:
            await answer()

    async def _forget_answer(
        self, turn: Turn, data: str, answer: _CallbackAnswer, message: object
    ) -> Sequence[Outgoing]:
        """Yes deletes every trace of the chat (its update ids too, so a repeated tap
        deletes nothing more and says so again); No records the tap and goes on."""
        if data == FORGET_YES:
            await self._retrying(lambda: self.service.store.forget(turn.chat_id))
            log.debug("chat=%s forgotten", turn.chat_id)  # not at INFO: who used /forget
            await answer()
            await self._record_answer(message, data)
            return [self._say("forgotten")]
        current = await self._current(turn)
        await answer()
        await self._record_answer(message, data)
        return [self._say("forget_kept"), *current]

    async def _record_answer(self, message: object, data: str) -> None:
        """Edit the tapped message to show the chosen answer and drop its keyboard."""
        if not isinstance(message, Message) or not message.text:
            return
        label = ""
        if message.reply_markup is not None:
            for row in message.reply_markup.inline_keyboard:
                for button in row:
                    if button.callback_data == data:
                        label = button.text
        if not label:  # data the message never offered: leave the message as it is
            return
        try:
            text = self.renderer.answered(message.text, label)
            await edit_text(message.get_bot(), message.chat.id, message.message_id, text)
        except (BadRequest, NetworkError) as exc:  # not modified, too old, or timed out
            log.debug("chat=%s answer not recorded: %s", message.chat.id, exc)

    # -- inline mode ------------------------------------------------------------------------

    async def on_inline(self, update: Update, context: Context) -> None:
        """Offer the user's latest result for sharing in any chat (`@bot` or the Share button).

        The result is composed again from the user's private conversation (its chat id is the
        user id), so it needs no extra storage and is the same in every worker.
        """
        query = update.inline_query
        assert query is not None
        user_id = str(query.from_user.id)
        empty_text = self.renderer.common["inline_empty"]
        articles = []
        try:
            conv = await self._retrying(lambda: self.service.store.load(user_id))
        except StoreUnavailable as exc:
            log.warning("user=%s inline query without store: %s", user_id, exc)
            conv, empty_text = None, self.renderer.common["sorry_store"]
        if conv is not None:
            for reply in self.engine.current(conv):
                if isinstance(reply, ResultReply):
                    articles.extend(self.renderer.inline_results(reply))
        log.debug("user=%s inline query: %d result(s)", user_id, len(articles))
        button = None
        if not articles:
            button = InlineQueryResultsButton(text=empty_text, start_parameter=SHARE_START)
        await query.answer(articles, cache_time=0, is_personal=True, button=button)

    # -- errors -----------------------------------------------------------------------------

    async def on_error(self, update: object, context: Context) -> None:
        """Log the failure for the operator (never user text) and apologise to the user."""
        error = context.error
        if isinstance(error, Forbidden):
            log.info("a chat blocked the bot: %s", error)
            return
        if update is None and isinstance(error, NetworkError):
            log.warning("Telegram is unreachable: %s", error)
            return
        if isinstance(error, RetryAfter):
            log.warning("rate limited by Telegram after retries: %s", error)
        chat = update.effective_chat if isinstance(update, Update) else None
        log.error(
            "update failed (chat=%s, kind=%s)",
            chat.id if chat else "-",
            update_kind(update),
            exc_info=error,
        )
        if chat is None or chat.type != ChatType.PRIVATE:
            return
        try:
            await context.bot.send_message(chat.id, self.renderer.common["sorry_error"])
        except TelegramError as exc:
            log.warning("chat=%s apology not sent: %s", chat.id, exc)


class _Application(Application[Any, Any, Any, Any, Any, Any]):
    """PTB's Application without bookkeeping for a persistence doorajar does not have.

    After every update PTB notes the chat and user ids for its persistence to save, and only a
    persistence ever empties those sets: without one they keep every id the bot has seen, about
    220 bytes a chat, for as long as the process runs. The store already has what matters.
    """

    def _mark_for_persistence_update(self, *, update: object = None, job: Any = None) -> None:
        if self.persistence is not None:
            super()._mark_for_persistence_update(update=update, job=job)

    async def initialize(self) -> None:
        """PTB's, closing the Bot API connections when it fails (a wrong token, no network).

        `Application.shutdown` does nothing for an application that never finished
        initialising, so without this the aiohttp session opened for `getMe` stays open.
        """
        try:
            await super().initialize()
        except BaseException:
            await self.bot.shutdown()
            raise


def build_application(
    service: ChatService,
    *,
    token: str,
    base_url: str | None = None,
    request: BaseRequest | None = None,
    rate_limit: bool = True,
    max_rate: float = MAX_RATE,
    retention_days: int = 0,
    store_retry_delays: Sequence[float] = STORE_RETRY_DELAYS,
) -> Application[Any, Any, Any, Any, Any, Any]:
    """The PTB application with doorajar's handlers, ready to poll or serve a webhook.

    `request` replaces the HTTP layer (tests use a recording fake; by default Bot API calls go
    through aiohttp, at half the CPU of PTB's httpx); `base_url` points the bot at another Bot
    API server, such as a local one (`http://127.0.0.1:8081/bot`). `max_rate` is the most
    messages per second the rate limiter lets through (the benchmark lifts it).
    """
    catalog = service.engine.catalog
    renderer = Renderer(catalog.common[catalog.default_lang])
    front = TelegramFrontEnd(
        service, renderer, store_retry_delays=store_retry_delays, retention_days=retention_days
    )
    builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = (
        ApplicationBuilder()
        .application_class(_Application)
        .token(token)
        .concurrent_updates(CONCURRENT_UPDATES)
        .post_init(front.post_init)
        .post_shutdown(front.post_shutdown)
    )
    if base_url:
        builder = builder.base_url(base_url).base_file_url(file_base_url(base_url))
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    else:
        builder = builder.request(AiohttpRequest())
    if rate_limit:
        limiter = AIORateLimiter(overall_max_rate=max_rate, max_retries=RATE_LIMIT_RETRIES)
        builder = builder.rate_limiter(limiter)
    app = builder.build()
    front.install(app)
    return app


def _webhook_problem(args: argparse.Namespace) -> str | None:
    if not args.webhook_url:
        return "--webhook needs --webhook-url (or DOORAJAR_WEBHOOK_URL): the public HTTPS URL"
    if not args.webhook_secret:
        return "--webhook needs --webhook-secret (or DOORAJAR_WEBHOOK_SECRET)"
    if not SECRET_RE.fullmatch(args.webhook_secret):
        return "the webhook secret may use only A-Z, a-z, 0-9, _ and -, up to 256 characters"
    return None


def run_bot(catalog: Catalog, args: argparse.Namespace) -> int:
    """Run the bot until interrupted: long polling, or a webhook server with `--webhook`."""
    token = os.environ.get("TELEGRAM_BOT_TOKEN", "").strip()
    if not token:
        print("TELEGRAM_BOT_TOKEN is not set (see .env.example, docs/telegram.md)", file=sys.stderr)
        return 2
    store_password = urlparse(args.store or "").password or ""
    configure_logging(args.log_level, token, args.webhook_secret or "", store_password)
    if args.webhook and (problem := _webhook_problem(args)):
        print(problem, file=sys.stderr)
        return 2
    try:
        store = open_store(args.store)
    except StoreUnavailable as exc:
        print(exc, file=sys.stderr)
        return 1
    service = ChatService(Engine(catalog), store)
    app = build_application(
        service,
        token=token,
        base_url=args.api_base_url,
        retention_days=args.retention_days,
        max_rate=args.max_rate,
    )
    receive: Receiver
    if args.webhook:
        settings = WebhookSettings(
            url=args.webhook_url,
            path="/" + urlparse(args.webhook_url).path.strip("/"),
            secret=args.webhook_secret,
            listen=args.listen,
            port=args.port,
            allowed_updates=ALLOWED_UPDATES,
        )
        receive = functools.partial(serve_webhook, app, settings)
    else:
        receive = functools.partial(poll, app, allowed_updates=ALLOWED_UPDATES)
    try:
        asyncio.run(run_application(app, receive))
    except (TelegramError, OSError) as exc:  # a wrong token, a port in use, ...
        log.error("stopped: %s", exc)
        return 1
    return 0
