"""Privacy through the running bot, on the real stores: /forget leaves no trace of the chat,
and the bot's periodic purge deletes conversations idle longer than the retention period."""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from bot.content.catalog import Catalog
from bot.store.protocol import ConversationStore
from bot.store.redis import RedisStore
from bot.store.sqlite import SqliteStore
from bot.telegram.startup import purge_forever
from tests.fake_bot_api import FakeUser
from tests.harness import running_bot
from tests.redis_server import redis_server

DAY = 86400


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


Traces = Callable[[str], Awaitable[list[str]]]
Age = Callable[[str, float], Awaitable[None]]


@pytest.fixture(params=["sqlite", "redis"])
async def real_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[ConversationStore, Traces, Age]]:
    """A real store, what it keeps about a chat, and a way to make a chat look idle."""
    if request.param == "sqlite":
        store = SqliteStore(tmp_path / "doorajar.db")

        async def traces(chat: str) -> list[str]:
            found = []
            for table in ("conversations", "seen_updates"):
                query = f"SELECT count(*) FROM {table} WHERE chat_id = ?"
                found += [table] * store._db.execute(query, (chat,)).fetchone()[0]
            return found

        async def age(chat: str, seconds: float) -> None:
            with sqlite3.connect(store.path) as db:
                for table, column in (("conversations", "updated_at"), ("seen_updates", "seen_at")):
                    db.execute(
                        f"UPDATE {table} SET {column} = {column} - ? WHERE chat_id = ?",
                        (seconds, chat),
                    )

        yield store, traces, age
        await store.close()
        return
    redis_url: str = request.getfixturevalue("redis_url")
    rstore = RedisStore.from_url(redis_url, prefix=f"p{uuid.uuid4().hex[:8]}")
    client, prefix = rstore._redis, rstore._prefix

    async def redis_traces(chat: str) -> list[str]:
        keys = [k.decode() async for k in client.scan_iter(f"{prefix}:*{{{chat}}}*")]
        if await client.zscore(f"{prefix}:idle", chat) is not None:
            keys.append("idle index entry")
        return keys

    async def redis_age(chat: str, seconds: float) -> None:
        updated = float(await client.hget(f"{prefix}:{{{chat}}}:conv", "u")) - seconds
        await client.hset(f"{prefix}:{{{chat}}}:conv", "u", repr(updated))
        await client.zadd(f"{prefix}:idle", {chat: updated})

    yield rstore, redis_traces, redis_age
    await rstore.close()


async def test_forget_leaves_no_trace_of_the_chat(
    catalog: Catalog, real_store: tuple[ConversationStore, Traces, Age]
) -> None:
    store, traces, _age = real_store
    async with running_bot(catalog, store) as bot:
        chat = str(bot.user.id)
        await bot.deliver(bot.user.text("/start decline_offer"))
        await bot.deliver(bot.user.tap("Email"))
        await bot.deliver(bot.user.text("/forget"))
        assert await traces(chat)  # the conversation and its update ids are kept until now
        await bot.deliver(bot.user.tap(bot.common["forget_yes"]))
        assert await traces(chat) == []
        assert await bot.conversation() is None


async def test_the_running_bot_purges_conversations_idle_past_the_retention_period(
    catalog: Catalog, real_store: tuple[ConversationStore, Traces, Age]
) -> None:
    store, traces, age = real_store
    async with running_bot(catalog, store) as bot:
        await bot.deliver(bot.user.text("/start decline_offer"))
        idle = str(bot.user.id)
        await age(idle, 31 * DAY)
        active = FakeUser(bot.api, user_id=4242)
        await bot.deliver(active.text("/start decline_offer"))
        # as `serve` starts it: every six hours, the first time now
        purger = asyncio.create_task(purge_forever(bot.gateway.service, retention_days=30))
        deadline = time.monotonic() + 5
        while await traces(idle) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        purger.cancel()
        assert await traces(idle) == []
        assert await traces("4242")  # the active chat stays
