"""The store contract run against the in-memory and SQLite stores, and SQLite's durability."""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot.conversation import Conversation
from bot.store import sqlite as sqlite_store
from bot.store.factory import open_store
from bot.store.memory import MemoryStore
from bot.store.protocol import SEEN_KEEP_SECONDS, ConversationStore, StoreUnavailable
from bot.store.redis import RedisStore
from bot.store.sqlite import SqliteStore
from tests.redis_server import free_port, redis_server
from tests.store.store_contract import StoreContract


class TestMemoryStore(StoreContract):
    @pytest.fixture
    async def store(self) -> AsyncIterator[ConversationStore]:
        yield MemoryStore()

    async def traces(self, store: ConversationStore, chat_id: str) -> list[str]:
        assert isinstance(store, MemoryStore)
        found = [f"conversation {chat_id}"] if chat_id in store._conversations else []
        found += [f"reminders {chat_id}"] * bool(store._reminders.get(chat_id))
        return found + [f"update ids {chat_id}"] * (chat_id in store._seen)

    async def stats_storage(self, store: ConversationStore) -> str:
        assert isinstance(store, MemoryStore)
        return repr(store._stats)


class TestSqliteStore(StoreContract):
    @pytest.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[ConversationStore]:
        store = SqliteStore(tmp_path / "doorajar.db")
        yield store
        await store.close()

    async def traces(self, store: ConversationStore, chat_id: str) -> list[str]:
        assert isinstance(store, SqliteStore)
        found = []
        for table in ("conversations", "seen_updates", "reminders"):
            query = f"SELECT count(*) FROM {table} WHERE chat_id = ?"
            found += [table] * store._db.execute(query, (chat_id,)).fetchone()[0]
        return found

    async def stats_storage(self, store: ConversationStore) -> str:
        assert isinstance(store, SqliteStore)
        columns = [row[1] for row in store._db.execute("PRAGMA table_info(stats)")]
        assert columns == ["day", "situation", "counter", "n"]
        return repr(store._db.execute("SELECT * FROM stats").fetchall())


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

    async def traces(self, store: ConversationStore, chat_id: str) -> list[str]:
        assert isinstance(store, RedisStore)
        keys = [k.decode() async for k in store._redis.scan_iter(f"{store._prefix}:*")]
        found = [key for key in keys if f"{{{chat_id}}}" in key]
        if await store._redis.zscore(f"{store._prefix}:idle", chat_id) is not None:
            found.append("idle index entry")
        return found

    async def stats_storage(self, store: ConversationStore) -> str:
        assert isinstance(store, RedisStore)
        keys = [k.decode() async for k in store._redis.scan_iter(f"{store._prefix}:stats:*")]
        assert keys  # the counters are there to scan
        # Without the test's random prefix, whose hex digits could hold "77" by chance.
        return repr(
            {key.removeprefix(store._prefix): await store._redis.hgetall(key) for key in keys}
        )


async def test_redis_store_down_changes_nothing_and_says_so() -> None:
    store = RedisStore.from_url(f"redis://127.0.0.1:{free_port()}/0", timeout=1)
    calls = (
        store.load("1"),
        store.save(Conversation(chat_id="1"), update_id=5),
        store.seen("1", 5),
        store.forget("1"),
        store.purge(60),
    )
    for call in calls:
        with pytest.raises(StoreUnavailable):
            await call
    await store.close()


async def test_redis_update_ids_expire_and_old_ones_are_trimmed(redis_url: str) -> None:
    store = RedisStore.from_url(redis_url, prefix=f"ttl{uuid.uuid4().hex[:8]}")
    seen_key = f"{store._prefix}:{{1}}:seen"
    try:
        saved = await store.save(Conversation(chat_id="1"), update_id=10)
        assert isinstance(saved, Conversation)
        assert 0 < await store._redis.ttl(seen_key) <= SEEN_KEEP_SECONDS
        two_days_ago = time.time() - 2 * 86400
        await store._redis.zadd(seen_key, {"9": two_days_ago})
        await store.save(saved, update_id=11)
        assert await store.seen("1", 9) is False
        assert await store.seen("1", 10) is True and await store.seen("1", 11) is True
    finally:
        await store.close()


async def test_redis_purge_goes_through_every_batch(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.store.redis.PURGE_BATCH", 3)
    store = RedisStore.from_url(redis_url, prefix=f"batch{uuid.uuid4().hex[:8]}")
    try:
        for chat in range(8):
            await store.save(Conversation(chat_id=str(chat)), update_id=chat)
        await asyncio.sleep(0.02)
        assert await store.purge(0.01) == 8
        assert [k async for k in store._redis.scan_iter(f"{store._prefix}:*")] == []
    finally:
        await store.close()


async def test_sqlite_locked_by_another_writer_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "doorajar.db"
    store = SqliteStore(path, busy_timeout=0.05)
    first = await store.save(Conversation(chat_id="1", state="a"), update_id=1)
    assert isinstance(first, Conversation)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreUnavailable):
            await store.save(replace(first, state="b"), update_id=2)
        with pytest.raises(StoreUnavailable):
            await store.forget("1")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert await store.load("1") == first  # nothing half-written
    assert await store.seen("1", 2) is False
    again = await store.save(replace(first, state="b"), update_id=2)
    assert isinstance(again, Conversation) and again.state == "b"
    await store.close()


async def test_sqlite_keeps_chat_id_version_and_time_only_in_their_columns(tmp_path: Path) -> None:
    import sqlite3

    store = SqliteStore(tmp_path / "doorajar.db")
    saved = await store.save(Conversation(chat_id="77", state="tone", answers={"company": "Acme"}))
    assert isinstance(saved, Conversation)
    assert await store.load("77") == saved
    await store.close()
    with sqlite3.connect(tmp_path / "doorajar.db") as db:
        (data,) = db.execute("SELECT data FROM conversations").fetchone()
    assert '"chat_id"' not in data and '"version"' not in data and '"updated_at"' not in data


async def test_sqlite_expires_old_update_ids_page_by_page_and_keeps_recent_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_store, "SCAN_ROWS", 7)  # many pages from a few rows
    monkeypatch.setattr(sqlite_store, "BATCH_ROWS", 3)
    store = SqliteStore(tmp_path / "expiry.db")
    for chat in range(12):
        conv = Conversation(chat_id=f"c{chat}")
        for update_id in range(5):
            saved = await store.save(conv, update_id=chat * 10 + update_id)
            assert isinstance(saved, Conversation)
            conv = saved
    db = sqlite3.connect(tmp_path / "expiry.db")
    with db:  # ids of even updates are two days old
        db.execute("UPDATE seen_updates SET seen_at = seen_at - 2 * 86400 WHERE update_id % 2 = 0")
    assert await store.expire_seen() == 36
    left = sorted(row[0] for row in db.execute("SELECT update_id FROM seen_updates"))
    assert left == sorted(chat * 10 + n for chat in range(12) for n in (1, 3))
    assert await store.seen("c3", 31) and not await store.seen("c3", 30)
    db.close()
    await store.close()


async def test_sqlite_drops_the_old_index_on_update_id_times(tmp_path: Path) -> None:
    path = tmp_path / "older.db"
    await SqliteStore(path).close()
    with sqlite3.connect(path) as db:  # as an older version made it
        db.execute("CREATE INDEX seen_updates_at ON seen_updates(seen_at)")
    store = SqliteStore(path)
    await store.close()
    with sqlite3.connect(path) as db:
        indexes = {
            row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='index'")
        }
    assert "seen_updates_at" not in indexes  # one page less written by every save
