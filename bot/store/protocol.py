"""Where conversations live between updates: the `ConversationStore` protocol and its stores.

Every store keeps the same promises, checked by one contract test suite
(`tests/store/store_contract.py`, run against the memory, SQLite and Redis stores):

* `load` returns the saved conversation or None;
* `save` is compare-and-set: it writes only when the stored version still equals the version
  the conversation was loaded with, and returns the conversation with its new version, or None
  when someone else saved first (the caller reloads and retries);
* `save(conv, update_id=...)` also records the Telegram update id, in the same transaction:
  an id already recorded for the chat makes it return `DUPLICATE` and write nothing, so an
  update delivered twice (a retry, or two workers) changes the conversation once. Ids are kept
  for `SEEN_KEEP_SECONDS`, longer than Telegram keeps an undelivered update;
* `seen` only reads: has this update id been recorded (a cheap check, never a write);
* `forget` deletes everything kept for a chat (conversation, recorded update ids, reminders);
  `purge` does the same for every chat idle longer than the retention period, and deletes
  reminders sent (or due) longer ago than it; a pending reminder is kept until it is sent.

Reminders (`bot.reminders.Reminder`), indexed by due time:

* `add_reminder` stores one; adding the same chat and id again changes nothing, so a retried
  update adds it once;
* `claim_reminders(now, limit, lease)` atomically claims up to `limit` reminders due by `now`
  and returns them: each is claimed by one caller only (across workers), and is due again at
  `now + lease` unless `reminder_sent` marks it sent first, so a worker that dies while
  sending loses none;
* `pending_reminders`, `reminder`, `reschedule_reminder`, `delete_reminder`,
  `drop_reminders` read and change one chat's reminders.

Stats (`bot.stats`): `save(..., counts=...)` and `forget(..., counts=...)` add one to each named
counter for today (UTC), in the same transaction as the write, and only when the write happens
(never for `DUPLICATE` or a lost compare-and-set); `tallies` reads them back. The counters are
kept apart from chats (no chat id, user id or text), so `forget` and `purge` leave them.

A store that cannot be reached raises `StoreUnavailable` and has changed nothing.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Final, Protocol

from bot.conversation import Conversation
from bot.reminders import Reminder
from bot.stats import DayCount

SEEN_KEEP_SECONDS = 24 * 3600
"""How long update ids are remembered: Telegram gives up on an update after 24 hours."""


class StoreUnavailable(Exception):
    """The store cannot be reached or written; nothing was changed."""


class Duplicate(enum.Enum):
    """What `save` returns for an update id already recorded for the chat."""

    UPDATE = "duplicate update"


DUPLICATE: Final = Duplicate.UPDATE
SaveResult = Conversation | Duplicate | None
"""A saved conversation (new version), `DUPLICATE`, or None after losing a compare-and-set."""


class ConversationStore(Protocol):
    """Keeps conversations by chat; every method is safe to call from one event loop."""

    async def load(self, chat_id: str) -> Conversation | None:
        """The chat's saved conversation, or None."""
        ...

    async def save(
        self, conv: Conversation, update_id: int | None = None, counts: Sequence[str] = ()
    ) -> SaveResult:
        """Write `conv` if the stored version is still `conv.version`; return it re-versioned.

        With `update_id`, atomically: `DUPLICATE` (and no write) when the id is already
        recorded for the chat, else the compare-and-set and, when it wins, the id recorded.
        `counts` (stats counter names) are added for today in the same write, when it wins.
        """
        ...

    async def seen(self, chat_id: str, update_id: int) -> bool:
        """Whether `save` has recorded `update_id` for the chat (reads only)."""
        ...

    async def forget(self, chat_id: str, counts: Sequence[str] = ()) -> None:
        """Delete the conversation and everything else kept for the chat; add `counts`."""
        ...

    async def tallies(self, days: Sequence[str]) -> list[DayCount]:
        """The stats counters stored for these UTC days (`YYYY-MM-DD`)."""
        ...

    async def purge(self, idle_seconds: float) -> int:
        """Forget every chat not updated for `idle_seconds`; return how many conversations."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...

    # -- reminders --------------------------------------------------------------------------

    async def add_reminder(self, reminder: Reminder) -> None:
        """Store a pending reminder; one with the same chat and id already stored is kept."""
        ...

    async def claim_reminders(self, now: float, limit: int, lease: float) -> list[Reminder]:
        """Claim up to `limit` pending reminders due by `now`, soonest first, atomically:
        each is due again at `now + lease` unless marked sent."""
        ...

    async def reminder_sent(self, reminder: Reminder, now: float) -> None:
        """Mark a claimed reminder sent: it leaves the due index and keeps its buttons."""
        ...

    async def reminder(self, chat_id: str, reminder_id: str) -> Reminder | None:
        """One of the chat's reminders, pending or sent, or None."""
        ...

    async def pending_reminders(self, chat_id: str) -> list[Reminder]:
        """The chat's reminders not sent yet, soonest first."""
        ...

    async def reschedule_reminder(self, chat_id: str, reminder_id: str, due: float) -> bool:
        """Make a reminder (pending or sent) pending again, due at `due`; False if gone."""
        ...

    async def delete_reminder(self, chat_id: str, reminder_id: str) -> bool:
        """Delete one reminder; False when there was none."""
        ...

    async def drop_reminders(self, chat_id: str) -> int:
        """Delete all the chat's reminders (it blocked the bot); how many."""
        ...
