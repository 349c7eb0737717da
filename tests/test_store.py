"""The store contract run against the in-memory and SQLite stores, and SQLite's durability."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.conversation import Conversation
from bot.redis_store import RedisStore
from bot.store import ConversationStore, MemoryStore, SqliteStore, StoreUnavailable, open_store
from tests.redis_server import free_port, redis_server
from tests.store_contract import StoreContract


class TestMemoryStore(StoreContract):
    @pytest.fixture
    async def store(self) -> AsyncIterator[ConversationStore]:
        yield MemoryStore()


class TestSqliteStore(StoreContract):
    @pytest.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[ConversationStore]:
        store = SqliteStore(tmp_path / "doorajar.db")
        yield store
        await store.close()


async def test_sqlite_conversation_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "data" / "doorajar.db"
    first = SqliteStore(path)
    saved = await first.save(Conversation(chat_id="1", state="tone", answers={"company": "Acme"}))
    await first.close()
    second = SqliteStore(path)
    assert await second.load("1") == saved
    await second.close()


async def test_sqlite_file_is_private_to_its_owner(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "doorajar.db")
    assert (tmp_path / "doorajar.db").stat().st_mode & 0o077 == 0
    await store.close()


def test_unwritable_sqlite_path_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreUnavailable):
        SqliteStore(blocker / "doorajar.db")


async def test_open_store_understands_the_settings(tmp_path: Path) -> None:
    assert isinstance(open_store("memory"), MemoryStore)
    for spec in (str(tmp_path / "a.db"), f"sqlite:///{tmp_path / 'b.db'}"):
        store = open_store(spec)
        assert isinstance(store, SqliteStore)
        await store.close()


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server for this module's tests."""
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


class TestRedisStore(StoreContract):
    @pytest.fixture
    async def store(self, redis_url: str) -> AsyncIterator[ConversationStore]:
        store = RedisStore.from_url(redis_url, prefix=f"test{uuid.uuid4().hex[:8]}")
        yield store
        await store.close()


async def test_redis_store_down_is_store_unavailable() -> None:
    store = RedisStore.from_url(f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(StoreUnavailable):
        await store.load("1")
    with pytest.raises(StoreUnavailable):
        await store.save(Conversation(chat_id="1"))
    await store.close()
