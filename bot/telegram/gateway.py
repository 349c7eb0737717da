"""The Telegram gateway: one update in, one `Handled` value out.

The receivers (`bot.telegram.webhook`, `bot.telegram.polling`) parse an update and await
`Gateway.handle`; what it returns tells them whether Telegram may forget the update (200, or a
poll offset past it) or must deliver it again (`Handled.RETRY`: 503, or the same offset).

The gateway decides nothing about the conversation. It reads what kind of update this is
(a command, typed text, something else, a tapped button, an inline query), turns it into an
event, applies the event in the chat's turn of the `ChatService` (which loads, runs the engine,
saves, and retries), and, still in that turn, has the `Outbox` render and send the replies, so
a chat's replies go out in the order its updates were applied. No handler classes of
python-telegram-bot are involved: it only parses updates and sends Bot API calls, and keeps no
chat or user data of its own.

When the store stays unavailable nothing was saved: the update comes back as `Handled.RETRY`
and the user is told once (until one of their updates goes through) that it will be picked up,
with nothing to send again. When a reply cannot be sent (a dropped connection, a 5xx, a
timeout) after the save, the update also comes back as `Handled.RETRY`, so Telegram delivers
it again, and the redelivery shows where the chat stands (`ChatTurn.apply`, `unanswered`).
Any other failure is apologised for together with the current question, never with an
invitation to send the answer again (which would answer the next question).

A receiver that can carry a Bot API call back with its answer to Telegram (the webhook) passes
a `Carried`: a tapped button is then answered that way, one request less per tap. An update
handed back (`Handled.RETRY`) carries nothing, so the call is then made as a request.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from telegram import CallbackQuery, ChosenInlineResult, InlineQuery, Message, MessageEntity, Update
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.events import Back, Event, ListReminders, Press, Restart, Start, Text
from bot.service import ChatService, Handled, Step
from bot.telegram.outbox import FORGET_NO, FORGET_YES, SHARE_START, Carried, Outbox, Say, Tap

log = logging.getLogger("doorajar.telegram")

TEXT_LIMIT = 1000
"""Longest typed message passed to the engine; longer ones are refused at once."""
APOLOGIES_KEPT = 10_000
"""Chats remembered as already told that the store is down (until one of their updates works)."""
UNANSWERED_KEPT = 10_000
"""Update ids remembered as saved here but not answered (their redelivery shows the question)."""
COMMAND_EVENTS: dict[str, Event] = {
    "back": Back(),
    "restart": Restart(),
    "cancel": Start(),
    "reminders": ListReminders(),
}
"""Commands that are just an event (/start, /help and /forget do more)."""


def update_kind(update: Update) -> str:
    """What sort of update this is (message, callback_query, ...), for logs."""
    for kind in ("message", "callback_query", "inline_query", "edited_message"):
        if getattr(update, kind) is not None:
            return kind
    return "other"


class Gateway:
    """Handles updates for one chat service, sending through one outbox."""

    def __init__(self, service: ChatService, outbox: Outbox) -> None:
        self.service = service
        self.outbox = outbox
        self.bot = outbox.bot
        self._apologised: dict[int, None] = {}
        self._unanswered: dict[int, None] = {}

    async def handle(self, update: Update, carried: Carried | None = None) -> Handled:
        """Handle one update to the end: applied, saved and answered, or why not.

        With `carried`, a tapped button's answer is left in it for the receiver's answer to
        Telegram, unless the update is handed back.
        """
        handled = await self._handle(update, carried)
        if carried is not None and not handled.acknowledged:
            try:
                await self.outbox.send_carried(carried)
            except TelegramError as error:  # rate limited past its retries: the spinner stops
                log.warning("a tap handed back was not answered: %s", error)  # by itself
        return handled

    async def _handle(self, update: Update, carried: Carried | None) -> Handled:
        try:
            if update.callback_query is not None:
                return await self._button(update.update_id, update.callback_query, carried)
            if update.inline_query is not None:
                return await self._inline(update.inline_query)
            if update.chosen_inline_result is not None:
                return await self._shared(update.update_id, update.chosen_inline_result)
            message = update.message  # new messages only: edits and channel posts are left
            if message is None or message.chat.type != ChatType.PRIVATE:
                return Handled.IGNORED
            return await self._message(update.update_id, message)
        except Exception as error:  # the update is acknowledged: it would fail again
            await self._failed(update, error)
            return Handled.FAILED

    # -- one event, applied and answered ----------------------------------------------------

    async def _step(
        self,
        chat_id: int,
        update_id: int,
        event: Event | None,
        before: Sequence[Say] = (),
        welcome: bool = False,
        tap: Tap | None = None,
        show_choice: bool | None = None,
        message_id: int | None = None,
    ) -> Handled:
        """Apply `event` (None: record the update, show where the chat stands) in the chat's
        turn, and send `before` and the replies while the turn is held.

        A tap is answered first; the tapped question shows the chosen answer when the event
        moved the conversation on (or when `show_choice` says so). When the replies cannot be
        sent the update is handed back (`Handled.RETRY`) and its redelivery shows them.
        """
        log.debug("chat=%s event=%s", chat_id, type(event).__name__)
        unanswered = update_id in self._unanswered
        async with self.service.turn(str(chat_id)) as turn:
            step = await turn.apply(event, update_id, message_id=message_id, unanswered=unanswered)
            if step.outcome is not None:
                if show_choice is None:
                    show_choice = tap is not None and step.outcome.changed
                try:
                    await self.outbox.reply(
                        chat_id,
                        step.outcome.replies,
                        before=before,
                        welcome=welcome,
                        tap=tap,
                        show_choice=show_choice,
                    )
                except BadRequest:
                    raise  # would fail the same way again
                except NetworkError as error:  # lost on the way: have Telegram deliver it again
                    log.warning("chat=%s reply not sent, update handed back: %s", chat_id, error)
                    self._remember_unanswered(update_id)
                    return Handled.RETRY
        if unanswered and step.handled is not Handled.RETRY:
            self._unanswered.pop(update_id, None)
        return await self._settle(chat_id, step, tap)

    def _remember_unanswered(self, update_id: int) -> None:
        if len(self._unanswered) >= UNANSWERED_KEPT:
            self._unanswered.pop(next(iter(self._unanswered)))
        self._unanswered[update_id] = None

    async def _settle(self, chat_id: int, step: Step | Handled, tap: Tap | None) -> Handled:
        """After a turn: a duplicate stops the spinner; a store that stayed down is
        apologised for once per chat, and the update handed back for delivery again."""
        handled = step.handled if isinstance(step, Step) else step
        if handled is Handled.RETRY:
            first = self._first_apology(chat_id)
            if tap is not None:
                notice = self.outbox.renderer.common["sorry_store"] if first else None
                await self.outbox.answer(tap, notice)
            elif first:
                await self.outbox.apologise(chat_id, "sorry_store")
            return handled
        if tap is not None:
            await self.outbox.answer(tap)
        if handled is Handled.ALREADY_APPLIED:
            log.debug("chat=%s update already handled", chat_id)
        else:
            self._apologised.pop(chat_id, None)
        return handled

    def _first_apology(self, chat_id: int) -> bool:
        """True the first time a chat meets the store down (until one of its updates works)."""
        if chat_id in self._apologised:
            return False
        if len(self._apologised) >= APOLOGIES_KEPT:
            self._apologised.pop(next(iter(self._apologised)))
        self._apologised[chat_id] = None
        return True

    # -- messages ---------------------------------------------------------------------------

    async def _message(self, update_id: int, message: Message) -> Handled:
        """A command, typed text, or anything else (a sticker, a photo)."""
        chat_id = message.chat.id
        text = message.text
        if not text:
            not_text = [Say("not_text")]
            return await self._step(
                chat_id, update_id, None, not_text, message_id=message.message_id
            )
        entities = message.entities
        if entities and entities[0].type == MessageEntity.BOT_COMMAND and entities[0].offset == 0:
            command = (text, entities[0].length)
            return await self._command(chat_id, update_id, *command, message.message_id)
        if len(text) > TEXT_LIMIT:
            log.debug("chat=%s text refused: %d characters", chat_id, len(text))
            too_long = Say("too_long", {"max": TEXT_LIMIT, "length": len(text)})
            return await self._step(
                chat_id, update_id, None, [too_long], message_id=message.message_id
            )
        return await self._step(chat_id, update_id, Text(text), message_id=message.message_id)

    async def _command(
        self, chat_id: int, update_id: int, text: str, length: int, message_id: int
    ) -> Handled:
        """/start [payload], /help, /back, /restart, /cancel, /reminders, /forget; others get
        the help.

        Commands are explicit: the events they stand for are applied without the checks a
        tapped button or typed text go through.
        """
        at = message_id
        name, _, mention = text[1:length].partition("@")
        name = name.lower()
        if mention and mention.lower() != (self.bot.username or "").lower():
            name = "help"  # a command for another bot: as unknown
        if name == "start":
            args = text.split()[1:]
            payload = args[0] if args else None
            if payload is None or payload == SHARE_START:
                return await self._step(chat_id, update_id, Start(), welcome=True, message_id=at)
            return await self._step(chat_id, update_id, Start(payload), message_id=at)
        if name == "cancel":
            return await self._step(
                chat_id, update_id, Start(), before=[Say("cancelled")], message_id=at
            )
        if name in COMMAND_EVENTS:
            return await self._step(chat_id, update_id, COMMAND_EVENTS[name], message_id=at)
        if name == "forget":  # ask first; recording the update answers it once
            return await self._step_then(chat_id, update_id, Say("forget_confirm"))
        return await self._step(chat_id, update_id, None, before=[Say("help")], message_id=at)

    async def _step_then(self, chat_id: int, update_id: int, say: Say) -> Handled:
        """Record the update, changing nothing, and send only `say`."""
        async with self.service.turn(str(chat_id)) as turn:
            step = await turn.apply(None, update_id)
            if step.outcome is not None:
                await self.outbox.reply(chat_id, before=[say])
        return await self._settle(chat_id, step, None)

    # -- buttons ----------------------------------------------------------------------------

    async def _button(
        self, update_id: int, query: CallbackQuery, carried: Carried | None
    ) -> Handled:
        """A tapped button: answer the query, show the answer on the question, go on."""
        tap = Tap(query, carried)
        try:
            message = query.message
            chat = message.chat if message is not None else None
            if chat is None or chat.type != ChatType.PRIVATE:
                return Handled.IGNORED
            if tap.data in (FORGET_YES, FORGET_NO):
                return await self._forget_answer(chat.id, update_id, tap)
            # The engine takes the data only from a button of the current question; anything
            # else (forged, an older message's, a gone version's) shows where the chat stands.
            assert message is not None
            event = Press(tap.data)
            return await self._step(
                chat.id, update_id, event, tap=tap, message_id=message.message_id
            )
        finally:
            await self.outbox.answer(tap)

    async def _forget_answer(self, chat_id: int, update_id: int, tap: Tap) -> Handled:
        """Yes deletes every trace of the chat (its update ids too, so a repeated tap
        deletes nothing more and says so again); No records the tap and goes on."""
        if tap.data == FORGET_NO:
            before = [Say("forget_kept")]
            return await self._step(chat_id, update_id, None, before, tap=tap, show_choice=True)
        async with self.service.turn(str(chat_id)) as turn:
            handled = await turn.forget()
            if handled is Handled.APPLIED:
                forgotten = [Say("forgotten")]
                await self.outbox.reply(chat_id, before=forgotten, tap=tap, show_choice=True)
        return await self._settle(chat_id, handled, tap)

    # -- inline mode ------------------------------------------------------------------------

    async def _inline(self, query: InlineQuery) -> Handled:
        """Offer the user's latest result for sharing in any chat (`@bot` or the Share button).

        The result is composed again from the user's private conversation (its chat id is the
        user id), so it needs no extra storage and is the same in every worker.
        """
        user_id = query.from_user.id
        handled, result = await self.service.latest_result(str(user_id))
        empty = "sorry_store" if handled is Handled.RETRY else "inline_empty"
        count = await self.outbox.share(query.id, result, empty)
        log.debug("user=%s inline query: %d result(s)", user_id, count)
        return Handled.APPLIED

    async def _shared(self, update_id: int, chosen: ChosenInlineResult) -> Handled:
        """A shared result (stats: `shared`); its id starts with the situation's id."""
        situation = chosen.result_id.partition(":")[0]
        return await self.service.shared(str(chosen.from_user.id), situation, update_id)

    # -- errors -----------------------------------------------------------------------------

    async def _failed(self, update: Update, error: Exception) -> None:
        """Log the failure for the operator (never user text) and apologise to the user,
        showing the question that stands (so an answer typed next answers that one)."""
        if isinstance(error, Forbidden):
            log.info("a chat blocked the bot: %s", error)
            return
        if isinstance(error, RetryAfter):
            log.warning("rate limited by Telegram after retries: %s", error)
        chat = update.effective_chat
        log.error(
            "update failed (chat=%s, kind=%s)",
            chat.id if chat else "-",
            update_kind(update),
            exc_info=error,
        )
        if chat is not None and chat.type == ChatType.PRIVATE:
            try:  # no update id: reads the conversation and saves nothing
                step = await self.service.apply(str(chat.id), None)
                current = step.outcome.replies if step.outcome is not None else ()
            except Exception as again:  # the apology must still go out
                log.warning("chat=%s current question not shown: %s", chat.id, type(again).__name__)
                current = ()
            await self.outbox.apologise(chat.id, "sorry_error", current)
