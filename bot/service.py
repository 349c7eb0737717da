"""The chat service: the one place that pairs the engine with a store, for every front end.

A front end (Telegram's gateway, the console, tests) takes a chat's turn and applies events in
it; what became of each is a value, `Step`, whose `Handled` says whether the update was
applied, was applied before, must be delivered again, or was not for the bot at all:

    async with service.turn(chat_id) as turn:
        step = await turn.apply(event, update_id)
        ...send step.outcome's replies, still in the turn...

One lock per chat: a turn holds it, so a chat's updates are applied, and their replies sent,
one at a time and in order within this process. Across processes the store's compare-and-set
does the same job (`ConversationStore.save`).

One retry loop (`_until_done`): a compare-and-set lost to another worker is tried again at
once, up to `SAVE_ATTEMPTS` times; a store that is unavailable is tried again after each of
`retry_delays`. When either runs out nothing was saved and the step is `Handled.RETRY`: the
receiver has Telegram deliver the update again.

Exactly once: a Telegram update carries an id, and `apply(..., update_id)` saves the new
conversation and records that id in one atomic store write. An update delivered again (after a
crash, a timeout, or to a second worker) finds its id recorded: `Handled.ALREADY_APPLIED`, and
nothing changes. Updates that change nothing (a refused answer, /help, a sticker) are recorded
the same way, by saving the unchanged conversation.

Never stuck: a redelivery means the reply may never have reached the user (the process died
after the save, or the send failed). When the update is still the chat's latest and was saved
more than `REDELIVERY_GRACE` seconds ago, the step carries where the chat stands, to be shown
again; a younger one is most likely a second worker handed the same update at the same moment,
whose first worker is still answering, so nothing is shown twice. A front end that knows the
reply was lost (`unanswered`) shows it whatever the age. A save that fails with the store
unavailable may still have been written: `seen` tells, and a written one counts as applied.

Never misfiled: typed text whose message id is the recorded `message_id + 1` was sent with
nothing from the bot in between (ids in a private chat are shared by both sides), so the user
has not seen the question it would answer: the question is shown instead.

The service also owns what else front ends need from the store: forgetting a chat, purging
idle ones, and the latest result (for sharing), so no front end touches the store.

Stats (`bot.stats`): the engine's `Outcome.counts`, plus a stop at the question when the chat
comes back after `IDLE_DROP_SECONDS`, go to the store with the save that applies the update,
so a duplicate counts nothing; `stats=False` (`DOORAJAR_STATS=off`) passes none.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import secrets
import time
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import TypeVar

from bot import stats
from bot.conversation import Conversation
from bot.engine import Engine, Outcome
from bot.events import (
    Event,
    FollowOn,
    ListReminders,
    Press,
    ReminderAction,
    ShowDraft,
    Text,
    decode,
)
from bot.reminders import (
    CLAIM_BATCH,
    LEASE_SECONDS,
    SNOOZE_DAYS,
    Interval,
    Reminder,
    date_in_words,
)
from bot.replies import ReminderReply, ResultReply
from bot.store.protocol import DUPLICATE, ConversationStore, StoreUnavailable

log = logging.getLogger("doorajar.service")

T = TypeVar("T")
SAVE_ATTEMPTS = 8
"""Compare-and-set attempts before giving up on a chat other workers keep changing."""
STORE_RETRY_DELAYS = (0.2, 0.6)
"""Seconds to wait before trying an unavailable store again, before giving up."""
REDELIVERY_GRACE = 1.0
"""Seconds after its save within which a redelivered update shows nothing: another worker
handed the same update is still sending its reply (its send starts milliseconds after the
save). Older, the reply is taken as lost and the current question is shown again."""


class Handled(enum.Enum):
    """What became of one update: the value every receiver reads."""

    APPLIED = "applied"
    """Saved (or nothing to save) and answered."""
    ALREADY_APPLIED = "already applied"
    """A redelivery: this update id was applied before; nothing changed."""
    RETRY = "retry"
    """Deliver again: nothing was saved (the store was unavailable, or other workers won every
    attempt), or it was saved but its reply could not be sent."""
    IGNORED = "ignored"
    """Not for the bot: a group chat, an edited message, an unreadable update."""
    FAILED = "failed"
    """An unexpected error, logged and apologised for; delivering it again would fail again."""

    @property
    def acknowledged(self) -> bool:
        """Whether Telegram may forget the update (a 2xx answer, a poll offset past it)."""
        return self is not Handled.RETRY


@dataclass(frozen=True, slots=True)
class Step:
    """What became of one event; `outcome` is set when it was applied."""

    handled: Handled
    outcome: Outcome | None = None


_RETRY = Step(Handled.RETRY)
_ALREADY = Step(Handled.ALREADY_APPLIED)


class ChatTurn:
    """A chat's turn: its lock, held from `async with` to the end of the block.

    Everything done inside (applying, forgetting, and the front end sending the replies)
    happens before the chat's next update is looked at in this process.
    """

    __slots__ = ("_lock", "chat_id", "service")

    def __init__(self, service: ChatService, chat_id: str, lock: asyncio.Lock) -> None:
        self.service = service
        self.chat_id = chat_id
        self._lock = lock

    async def __aenter__(self) -> ChatTurn:
        await self._lock.acquire()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._lock.release()

    async def apply(
        self,
        event: Event | None,
        update_id: int | None = None,
        *,
        message_id: int | None = None,
        unanswered: bool = False,
    ) -> Step:
        """Apply `event` (None: nothing happens, show where the chat stands) and save.

        With `update_id` the update is recorded, and applied at most once, even when its
        outcome changes nothing. Without it a step that changes nothing saves nothing.
        `message_id` is the chat message the update is about (the user's message, or the one
        whose button was tapped); typed text right after the recorded one is not taken as an
        answer (see the module's docstring). `unanswered`: this process knows the update's
        reply was lost, so a redelivery shows where the chat stands at any age.
        """
        service = self.service
        chat_id = self.chat_id
        store = service.store
        engine = service.engine
        load = store.load if update_id is None else service.load_to_change
        maybe_written = unanswered
        # A reminder set by this update has one id however often the update is retried or
        # delivered again, so the store adds it once.
        reminder_id = f"u{update_id}" if update_id is not None else secrets.token_hex(5)
        if isinstance(event, Press) and isinstance(tapped := decode(event.data), ReminderAction):
            # A reminder's buttons are checked against the chat's stored reminders, which the
            # engine never sees (a forged id finds none and changes nothing).
            event = tapped

        async def attempt() -> Step | None:
            nonlocal maybe_written
            conv = await load(chat_id) or Conversation(chat_id=chat_id)
            if event is None or (
                isinstance(event, Text)
                and message_id is not None
                and conv.message_id
                and message_id == conv.message_id + 1
            ):
                outcome = Outcome(conv, engine.current(conv), changed=False)
            elif isinstance(event, ReminderAction | ListReminders):
                outcome = await service._reminder_outcome(conv, event)
            else:
                outcome = engine.handle(conv, event)
            if outcome.reminder is not None:
                outcome = await service._keep_reminder(outcome, reminder_id)
            counts = service.counts(conv, outcome) if service.stats else ()
            if update_id is None:
                if not outcome.changed:
                    return Step(Handled.APPLIED, outcome)
                saved = await store.save(outcome.conversation, None, counts)
                if not isinstance(saved, Conversation):
                    return None  # another worker saved first: load again
                return Step(Handled.APPLIED, outcome.saved_as(saved))
            recorded = outcome.conversation.recorded(
                update_id, max(conv.message_id, message_id or 0)
            )
            try:
                saved = await store.save(recorded, update_id, counts)
            except StoreUnavailable:
                maybe_written = True  # the write may have happened before the answer was lost
                if not await self._recorded(update_id):
                    raise
                return await self._redelivered(update_id, show=True)
            if saved is DUPLICATE:
                return await self._redelivered(update_id, show=maybe_written)
            if saved is None:
                return None  # another worker saved first: load again
            return Step(Handled.APPLIED, outcome.saved_as(saved))

        return await service._until_done(chat_id, attempt, _RETRY)

    async def count(self, counts: tuple[str, ...], update_id: int) -> Handled:
        """Count something that changes no conversation (a result shared in inline mode):
        saved with the unchanged conversation and the update id, so it is counted once.
        A chat with no conversation counts nothing (nothing is created for it)."""
        service = self.service

        async def attempt() -> Handled | None:
            conv = await service.load_to_change(self.chat_id)
            if conv is None or not service.stats:
                return Handled.APPLIED
            saved = await service.store.save(conv, update_id, counts)
            if saved is DUPLICATE:
                return Handled.ALREADY_APPLIED
            return None if saved is None else Handled.APPLIED

        return await service._until_done(self.chat_id, attempt, Handled.RETRY)

    async def _recorded(self, update_id: int) -> bool:
        """Whether the update id is recorded; False when even that cannot be read."""
        try:
            return await self.service.store.seen(self.chat_id, update_id)
        except StoreUnavailable:
            return False

    async def _redelivered(self, update_id: int, *, show: bool) -> Step:
        """A recorded update: where the chat stands, to be shown again, when its reply may
        be lost (`show`, or it is the chat's latest update and older than the grace)."""
        conv = await self.service.store.load(self.chat_id)
        if conv is None or conv.update_id != update_id:
            return _ALREADY  # the chat has moved on since: its later reply showed where it is
        if not show and time.time() - conv.updated_at < REDELIVERY_GRACE:
            return _ALREADY
        current = self.service.engine.current(conv)
        return Step(Handled.ALREADY_APPLIED, Outcome(conv, current, changed=False))

    async def forget(self) -> Handled:
        """Delete everything kept for the chat: its conversation and its recorded update ids."""
        counts = (stats.FORGET_COUNT,) if self.service.stats else ()

        async def attempt() -> Handled:
            await self.service.store.forget(self.chat_id, counts)
            log.debug("a chat was forgotten")  # never which one: who used /forget is private
            return Handled.APPLIED

        return await self.service._until_done(self.chat_id, attempt, Handled.RETRY)


@dataclass
class ChatService:
    """Runs events for chats against one engine and one store.

    The engine is kept `without_draft_checks()`: nothing the service serves reads them.
    """

    engine: Engine
    store: ConversationStore
    retry_delays: Sequence[float] = STORE_RETRY_DELAYS
    clock: Callable[[], float] = time.time
    """Now, in Unix seconds: reminders are due by it (tests and `doorajar chat --now` move it)."""
    stats: bool = field(default_factory=stats.enabled)
    """Whether stats counters are kept (`DOORAJAR_STATS`, on unless `off`)."""
    _locks: weakref.WeakValueDictionary[str, asyncio.Lock] = field(
        default_factory=weakref.WeakValueDictionary, init=False, repr=False
    )

    def __post_init__(self) -> None:
        # What the service serves is sent, never checked: the draft checks (`bot.drafts`)
        # belong to `doorajar check`, stories and tests, which use an engine of their own.
        self.engine = self.engine.without_draft_checks()
        # A store may offer its own recent copy of what it last saved (Redis does, saving a
        # round trip): fine for a change, which `save` checks, never for reading alone.
        self.load_to_change: Callable[[str], Awaitable[Conversation | None]] = getattr(
            self.store, "load_to_change", self.store.load
        )

    def turn(self, chat_id: str) -> ChatTurn:
        """The chat's turn, to be entered with `async with` (one at a time per chat)."""
        lock = self._locks.get(chat_id)
        if lock is None:
            lock = self._locks[chat_id] = asyncio.Lock()
        return ChatTurn(self, chat_id, lock)

    async def apply(self, chat_id: str, event: Event | None, update_id: int | None = None) -> Step:
        """`ChatTurn.apply` in a turn of its own, for front ends that send nothing after it."""
        async with self.turn(chat_id) as turn:
            return await turn.apply(event, update_id)

    def counts(self, before: Conversation, outcome: Outcome) -> tuple[str, ...]:
        """The stats counters a step adds: the engine's, and a stop at the question where a
        chat was left longer than `IDLE_DROP_SECONDS` (counted once: saving makes it fresh)."""
        counts = outcome.counts
        if not before.updated_at or time.time() - before.updated_at <= stats.IDLE_DROP_SECONDS:
            return counts  # the usual case: not left idle, so no stop to add
        question = self.engine.stopped_at(before)
        if question is not None:
            stop = stats.count(before.flow, stats.stopped(question))
            if stop not in counts:  # left idle, then went to the menu: one stop
                counts = (*counts, stop)
        return counts

    async def shared(self, chat_id: str, situation: str, update_id: int) -> Handled:
        """Count a result shared in inline mode (`stats.SHARED`), once per update; an unknown
        situation (the result id comes back from the client) counts nothing."""
        if situation not in self.engine.catalog.flows:
            return Handled.IGNORED
        async with self.turn(chat_id) as turn:
            return await turn.count((stats.count(situation, stats.SHARED),), update_id)

    async def latest_result(self, chat_id: str) -> tuple[Handled, ResultReply | None]:
        """The chat's result, composed again from its conversation, if it stands at one.

        `Handled.RETRY` (and no result) when the store is unavailable.
        """

        async def attempt() -> tuple[Handled, ResultReply | None]:
            conv = await self.store.load(chat_id)
            if conv is not None:
                for reply in self.engine.current(conv):
                    if isinstance(reply, ResultReply):
                        return Handled.APPLIED, reply
            return Handled.APPLIED, None

        return await self._until_done(chat_id, attempt, (Handled.RETRY, None))

    async def purge(self, idle_seconds: float) -> int | None:
        """Forget every chat idle longer than `idle_seconds`; how many (None: store down)."""
        try:
            return await self.store.purge(idle_seconds)
        except StoreUnavailable as exc:
            log.warning("purge skipped, store unavailable: %s", exc)
            return None

    # -- reminders --------------------------------------------------------------------------

    async def _keep_reminder(self, outcome: Outcome, reminder_id: str) -> Outcome:
        """Store the reminder the engine asked for (added once per id) and confirm it."""
        request = outcome.reminder
        assert request is not None
        conv = outcome.conversation
        now = self.clock()
        due = request.after.due_after(now)
        await self.store.add_reminder(
            Reminder(
                chat_id=conv.chat_id,
                id=reminder_id,
                due=due,
                flow=request.flow,
                choice=request.choice,
                answers=dict(request.answers),
                lang=conv.lang,
                wording=request.wording,
                created_at=now,
            )
        )
        confirmation = self.engine.reminder_confirmation(conv.lang, request, due)
        return replace(outcome, replies=(*outcome.replies, confirmation), reminder=None)

    async def _reminder_outcome(
        self, conv: Conversation, event: ReminderAction | ListReminders
    ) -> Outcome:
        """/reminders and the buttons of a reminder: they need the stored reminder, which the
        engine never sees, so they are turned into engine events or notices here."""
        engine = self.engine
        store = self.store
        lang = conv.lang
        if isinstance(event, ListReminders):
            listed = engine.reminders_list(lang, await store.pending_reminders(conv.chat_id))
            return Outcome(conv, (listed,), changed=False)
        reminder = await store.reminder(conv.chat_id, event.reminder_id)
        if reminder is None:
            return Outcome(conv, (engine.notice(lang, "reminder_gone"),), changed=False)
        match event.action:
            case "next":
                plan = engine.catalog.flows.get(reminder.flow)
                next_flow = plan.reminders.next_flow if plan and plan.reminders else None
                if next_flow is not None:
                    reuse = plan.reminders.reuse if plan and plan.reminders else ()
                    carried = tuple(
                        (slot, reminder.answers[slot]) for slot in reuse if slot in reminder.answers
                    )
                    return engine.handle(conv, FollowOn(next_flow, carried))
            case "draft":
                answers = tuple(reminder.answers.items())
                return engine.handle(conv, ShowDraft(reminder.flow, answers, reminder.wording))
            case "snooze":
                due = Interval(SNOOZE_DAYS, "days").due_after(self.clock())
                await store.reschedule_reminder(conv.chat_id, reminder.id, due)
                notice = engine.notice(lang, "reminder_snoozed", date=date_in_words(due))
                return Outcome(conv, (notice,), changed=False)
            case "done":
                await store.delete_reminder(conv.chat_id, reminder.id)
                return Outcome(conv, (engine.notice(lang, "reminder_closed"),), changed=False)
            case "cancel":
                await store.delete_reminder(conv.chat_id, reminder.id)
                listed = engine.reminders_list(lang, await store.pending_reminders(conv.chat_id))
                return Outcome(conv, (listed,), changed=False)
        return Outcome(conv, (engine.notice(lang, "reminder_gone"),), changed=False)

    async def claim_reminders(self, limit: int = CLAIM_BATCH) -> list[Reminder]:
        """Claim reminders due now (each by one worker); send each, then `reminder_sent`.

        A claimed reminder not marked sent within `LEASE_SECONDS` is due again. Raises
        `StoreUnavailable` when the store is down (the periodic check tries again later).
        """
        return await self.store.claim_reminders(self.clock(), limit, LEASE_SECONDS)

    def reminder_reply(self, reminder: Reminder) -> ReminderReply | None:
        """What a due reminder says (late, when over a day late); None: content gone."""
        return self.engine.reminder_reply(reminder, self.clock())

    async def reminder_sent(self, reminder: Reminder) -> None:
        """Mark a reminder delivered: it keeps its buttons until closed or purged."""
        await self.store.reminder_sent(reminder, self.clock())

    async def drop_reminders(self, chat_id: str) -> int:
        """Delete every reminder of a chat that blocked the bot; how many."""
        return await self.store.drop_reminders(chat_id)

    async def close(self) -> None:
        """Release the store's connections."""
        await self.store.close()

    async def _until_done(
        self, chat_id: str, attempt: Callable[[], Awaitable[T | None]], gave_up: T
    ) -> T:
        """The retry loop: `attempt` until it returns a value; `gave_up` when it never did.

        None from `attempt` is a lost compare-and-set (tried again at once, `SAVE_ATTEMPTS`
        times in all); `StoreUnavailable` is tried again after each of `retry_delays`.
        """
        conflicts = 0
        outages = 0
        while True:
            try:
                done = await attempt()
            except StoreUnavailable as exc:
                if outages == len(self.retry_delays):
                    log.warning("chat=%s not saved, store unavailable: %s", chat_id, exc)
                    return gave_up
                delay = self.retry_delays[outages]
                outages += 1
                log.warning("store unavailable; trying again in %.1f s", delay)
                await asyncio.sleep(delay)
                continue
            if done is not None:
                return done
            conflicts += 1
            if conflicts == SAVE_ATTEMPTS:
                log.warning("chat=%s not saved: other workers won %d times", chat_id, conflicts)
                return gave_up
