"""Apply events to stored conversations: load, decide, compare-and-set save, retry on conflict.

Front ends (Telegram, the console, tests) call `ChatService.apply`; it is the only place that
pairs the engine with a store.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass, replace

from bot.conversation import Conversation
from bot.engine import Engine, Outcome
from bot.events import Event
from bot.store import ConversationStore

SAVE_ATTEMPTS = 8


class SaveConflict(Exception):
    """Another worker kept changing the conversation; the event was not applied."""


@dataclass
class ChatService:
    """Runs events for chats; one event per chat at a time within this process."""

    engine: Engine
    store: ConversationStore

    def __post_init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def _lock(self, chat_id: str) -> asyncio.Lock:
        lock = self._locks.get(chat_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[chat_id] = lock
        return lock

    async def current(self, chat_id: str) -> Conversation:
        """The stored conversation, or a new one at the main menu."""
        return await self.store.load(chat_id) or Conversation(chat_id=chat_id)

    async def apply(self, chat_id: str, event: Event) -> Outcome:
        """Apply `event`, save the result durably, and return what to show.

        Raises `StoreUnavailable` when the store is down (nothing is half-written) and
        `SaveConflict` when other workers won every attempt.
        """
        async with self._lock(chat_id):
            for _ in range(SAVE_ATTEMPTS):
                conv = await self.current(chat_id)
                outcome = self.engine.handle(conv, event)
                if not outcome.changed:
                    return outcome
                saved = await self.store.save(outcome.conversation)
                if saved is not None:
                    return replace(outcome, conversation=saved)
            raise SaveConflict(chat_id)
