"""The in-memory store: for tests and the console when nothing should be written."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

from bot import stats
from bot.conversation import Conversation
from bot.store.protocol import DUPLICATE, SEEN_KEEP_SECONDS, SaveResult


class MemoryStore:
    """A store in a dict: for tests and the console when nothing should be written.

    Nothing awaits between a check and its write, so each call is atomic on the event loop.
    """

    def __init__(self) -> None:
        self._conversations: dict[str, str] = {}
        self._seen: dict[str, dict[int, float]] = {}
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
        saved = replace(conv, version=conv.version + 1, updated_at=time.time())
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
        self._add(counts)

    async def purge(self, idle_seconds: float) -> int:
        now = time.time()
        cutoff = now - idle_seconds
        old = [
            chat
            for chat, text in self._conversations.items()
            if Conversation.from_json(text).updated_at < cutoff
        ]
        for chat in old:
            await self.forget(chat)
        for ids in self._seen.values():
            for update_id in [i for i, at in ids.items() if at < now - SEEN_KEEP_SECONDS]:
                del ids[update_id]
        return len(old)

    async def close(self) -> None:
        return None
