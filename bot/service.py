"""Apply events to stored conversations: load, decide, compare-and-set save, retry on conflict.

Front ends (Telegram, the console, tests) call `ChatService.apply`; it is the only place that
pairs the engine with a store.

Exactly once: a Telegram update carries an id, and `apply(..., update_id=...)` saves the new
conversation and records that id in one atomic store write. An update delivered again (after a
crash, a timeout, or to a second worker) finds its id recorded and raises `AlreadyApplied`
without changing anything; an update that could not be saved (store unavailable) left nothing
behind, so delivering it again applies it. Updates that change nothing (a refused answer,
/help, a sticker) are recorded the same way, by saving the unchanged conversation.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass, replace

from bot.conversation import Conversation
from bot.engine import Engine, Outcome
from bot.events import Event
from bot.store.protocol import DUPLICATE, ConversationStore

SAVE_ATTEMPTS = 8


class SaveConflict(Exception):
    """Another worker kept changing the conversation; the event was not applied."""


class AlreadyApplied(Exception):
    """This update id was applied before (a redelivery); nothing was changed."""


class ChatLocks:
    """One asyncio lock per chat, kept only while someone holds or awaits it."""

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def __call__(self, chat_id: str) -> asyncio.Lock:
        """The chat's lock."""
        lock = self._locks.get(chat_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[chat_id] = lock
        return lock


@dataclass
class ChatService:
    """Runs events for chats; one event per chat at a time within this process."""

    engine: Engine
    store: ConversationStore

    def __post_init__(self) -> None:
        self._lock = ChatLocks()

    async def current(self, chat_id: str) -> Conversation:
        """The stored conversation, or a new one at the main menu."""
        return await self.store.load(chat_id) or Conversation(chat_id=chat_id)

    async def apply(self, chat_id: str, event: Event, update_id: int | None = None) -> Outcome:
        """Apply `event`, save the result durably, and return what to show.

        With `update_id` the update is applied at most once, even when its outcome changes
        nothing. Raises `AlreadyApplied` for an update id applied before, `StoreUnavailable`
        when the store is down (nothing is half-written) and `SaveConflict` when other workers
        won every attempt.
        """
        async with self._lock(chat_id):
            for _ in range(SAVE_ATTEMPTS):
                conv = await self.current(chat_id)
                outcome = self.engine.handle(conv, event)
                if not outcome.changed and update_id is None:
                    return outcome
                saved = await self.store.save(outcome.conversation, update_id)
                if saved is DUPLICATE:
                    raise AlreadyApplied(chat_id)
                if saved is not None:
                    return replace(outcome, conversation=saved)
            raise SaveConflict(chat_id)

    async def record(self, chat_id: str, update_id: int) -> Conversation:
        """Record an update that changes nothing (/help, a sticker) and return the conversation.

        Saving the conversation unchanged, with the update id, makes a second delivery raise
        `AlreadyApplied`, like `apply`; it raises the same errors.
        """
        async with self._lock(chat_id):
            for _ in range(SAVE_ATTEMPTS):
                saved = await self.store.save(await self.current(chat_id), update_id)
                if saved is DUPLICATE:
                    raise AlreadyApplied(chat_id)
                if saved is not None:
                    return saved
            raise SaveConflict(chat_id)
