"""The store contract: one suite, run against every store by subclassing (as transitions does)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from bot.conversation import Conversation
from bot.store import ConversationStore


class StoreContract:
    """Subclass and provide a `store` fixture."""

    @pytest.fixture
    async def store(self) -> AsyncIterator[ConversationStore]:  # pragma: no cover - overridden
        raise NotImplementedError
        yield

    async def test_load_of_unknown_chat_is_none(self, store: ConversationStore) -> None:
        assert await store.load("nobody") is None

    async def test_save_then_load_round_trips(self, store: ConversationStore) -> None:
        conv = Conversation(
            chat_id="7",
            flow="decline_offer",
            state="tone",
            answers={"company": "Zoë & Co {0}", "reason": "pay"},
            history=("sure", "reason"),
            remembered={"your_name": "Sam"},
        )
        saved = await store.save(conv)
        assert saved is not None and saved.version == 1
        loaded = await store.load("7")
        assert loaded == saved

    async def test_save_with_stale_version_is_refused(self, store: ConversationStore) -> None:
        first = await store.save(Conversation(chat_id="8"))
        assert first is not None
        second = await store.save(replace(first, state="a"))
        assert second is not None and second.version == 2
        assert await store.save(replace(first, state="b")) is None
        loaded = await store.load("8")
        assert loaded is not None and loaded.state == "a"

    async def test_two_new_conversations_for_one_chat_only_one_wins(
        self, store: ConversationStore
    ) -> None:
        results = await asyncio.gather(
            store.save(Conversation(chat_id="9", state="x")),
            store.save(Conversation(chat_id="9", state="y")),
        )
        assert sum(r is not None for r in results) == 1

    async def test_seen_reports_repeated_update_ids(self, store: ConversationStore) -> None:
        assert await store.seen("1", 100) is False
        assert await store.seen("1", 100) is True
        assert await store.seen("1", 101) is False
        assert await store.seen("2", 100) is False

    async def test_forget_deletes_everything_for_the_chat(self, store: ConversationStore) -> None:
        await store.save(Conversation(chat_id="5", answers={"company": "Acme"}))
        await store.seen("5", 1)
        await store.save(Conversation(chat_id="6"))
        await store.forget("5")
        assert await store.load("5") is None
        assert await store.seen("5", 1) is False
        assert await store.load("6") is not None

    async def test_purge_drops_only_idle_conversations(self, store: ConversationStore) -> None:
        await store.save(Conversation(chat_id="old"))
        await asyncio.sleep(0.05)
        cutoff_start = time.time()
        await store.save(Conversation(chat_id="new"))
        removed = await store.purge(time.time() - cutoff_start + 0.02)
        assert removed == 1
        assert await store.load("old") is None
        assert await store.load("new") is not None
