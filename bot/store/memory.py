"""The in-memory store: for tests and the console when nothing should be written."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

from bot import stats
from bot.conversation import Conversation
from bot.reminders import Reminder
from bot.store.protocol import DUPLICATE, SEEN_KEEP_SECONDS, SaveResult


class MemoryStore:
    """A store in a dict: for tests and the console when nothing should be written.

    Nothing awaits between a check and its write, so each call is atomic on the event loop.
    """

    def __init__(self) -> None:
        self._conversations: dict[str, str] = {}
        self._seen: dict[str, dict[int, float]] = {}
        self._reminders: dict[str, dict[str, Reminder]] = {}
        self._next_look: dict[tuple[str, str], float] = {}
        """(chat, id) -> when a pending reminder is looked at next: its due time, or the end
        of a claim's lease."""
        self._stats: dict[tuple[str, str], int] = {}

    async def load(self, chat_id: str) -> Conversation | None:
        text = self._conversations.get(chat_id)
        return Conversation.from_json(text) if text is not None else None

    async def save(
        self, conv: Conversation, update_id: int | None = None, counts: Sequence[str] = ()
    ) -> SaveResult:
        seen = self._seen.get(conv.chat_id, {})
        if update_id is not None and update_id in seen:
            return DUPLICATE
        current = self._conversations.get(conv.chat_id)
        stored_version = Conversation.from_json(current).version if current else 0
        if stored_version != conv.version:
            return None
        saved = conv.stamped(conv.version + 1, time.time())
        self._conversations[conv.chat_id] = saved.to_json()
        if update_id is not None:
            self._seen.setdefault(conv.chat_id, {})[update_id] = saved.updated_at
        self._add(counts)
        return saved

    def _add(self, counts: Sequence[str]) -> None:
        today = stats.day()
        for name in counts:
            self._stats[today, name] = self._stats.get((today, name), 0) + 1

    async def tallies(self, days: Sequence[str]) -> list[stats.DayCount]:
        wanted = set(days)
        return [
            stats.DayCount(day, *stats.split(name), n)
            for (day, name), n in self._stats.items()
            if day in wanted
        ]

    async def seen(self, chat_id: str, update_id: int) -> bool:
        return update_id in self._seen.get(chat_id, {})

    async def forget(self, chat_id: str, counts: Sequence[str] = ()) -> None:
        self._conversations.pop(chat_id, None)
        self._seen.pop(chat_id, None)
        await self.drop_reminders(chat_id)
        self._add(counts)

    async def purge(self, idle_seconds: float) -> int:
        now = time.time()
        cutoff = now - idle_seconds
        old = [
            chat
            for chat, text in self._conversations.items()
            if Conversation.from_json(text).updated_at < cutoff
        ]
        for chat in old:  # their pending reminders stay: they are purged by their own time
            self._conversations.pop(chat, None)
            self._seen.pop(chat, None)
        for chat, reminders in list(self._reminders.items()):
            for reminder in list(reminders.values()):
                if (reminder.sent_at or reminder.due) < cutoff:
                    await self.delete_reminder(chat, reminder.id)
        for ids in self._seen.values():
            for update_id in [i for i, at in ids.items() if at < now - SEEN_KEEP_SECONDS]:
                del ids[update_id]
        return len(old)

    async def close(self) -> None:
        return None

    # -- reminders: a dict per chat; claims scan the pending ones (tests only) -----------------

    async def add_reminder(self, reminder: Reminder) -> None:
        chat = self._reminders.setdefault(reminder.chat_id, {})
        if reminder.id not in chat:
            chat[reminder.id] = replace(reminder, sent_at=None)
            self._next_look[(reminder.chat_id, reminder.id)] = reminder.due

    async def claim_reminders(self, now: float, limit: int, lease: float) -> list[Reminder]:
        due = sorted((at, key) for key, at in self._next_look.items() if at <= now)[:limit]
        claimed = []
        for _, key in due:
            self._next_look[key] = now + lease
            claimed.append(self._reminders[key[0]][key[1]])
        return claimed

    async def reminder_sent(self, reminder: Reminder, now: float) -> None:
        chat = self._reminders.get(reminder.chat_id, {})
        if reminder.id in chat:
            chat[reminder.id] = replace(chat[reminder.id], sent_at=now)
            self._next_look.pop((reminder.chat_id, reminder.id), None)

    async def reminder(self, chat_id: str, reminder_id: str) -> Reminder | None:
        return self._reminders.get(chat_id, {}).get(reminder_id)

    async def pending_reminders(self, chat_id: str) -> list[Reminder]:
        chat = self._reminders.get(chat_id, {}).values()
        return sorted((r for r in chat if r.sent_at is None), key=lambda r: r.due)

    async def reschedule_reminder(self, chat_id: str, reminder_id: str, due: float) -> bool:
        chat = self._reminders.get(chat_id, {})
        if reminder_id not in chat:
            return False
        chat[reminder_id] = replace(chat[reminder_id], due=due, sent_at=None)
        self._next_look[(chat_id, reminder_id)] = due
        return True

    async def delete_reminder(self, chat_id: str, reminder_id: str) -> bool:
        self._next_look.pop((chat_id, reminder_id), None)
        return self._reminders.get(chat_id, {}).pop(reminder_id, None) is not None

    async def drop_reminders(self, chat_id: str) -> int:
        chat = self._reminders.pop(chat_id, {})
        for reminder_id in chat:
            self._next_look.pop((chat_id, reminder_id), None)
        return len(chat)
