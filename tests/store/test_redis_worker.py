"""What the Redis store does on its own to save round trips: it writes commands itself, and a
worker changes its own last save without loading it again, never over another worker's."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace

import pytest
from redis.asyncio.connection import Connection

from bot.conversation import Conversation
from bot.store.redis import RedisStore, resp_command
from tests.redis_server import redis_server


def test_commands_are_written_as_redis_py_writes_them() -> None:
    args = ("EVALSHA", "5f0c", 3, "p:{42}:conv", "p:{42}:seen", "p:idle", 7, 8)
    args += ('{"answers":{"name":"Zoë \\u2014 «x»"}}', "", 1767225600.25, -3, 86400)
    packed = Connection().pack_command(*args)  # type: ignore[no-untyped-call]
    assert resp_command(*args) == b"".join(packed)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
async def workers(redis_url: str) -> AsyncIterator[tuple[RedisStore, RedisStore]]:
    prefix = f"w{uuid.uuid4().hex[:8]}"
    one, two = RedisStore.from_url(redis_url, prefix), RedisStore.from_url(redis_url, prefix)
    yield one, two
    await one.close()
    await two.close()


async def test_a_worker_changes_its_own_last_save_without_loading_it(
    workers: tuple[RedisStore, RedisStore],
) -> None:
    one, two = workers
    saved = await one.save(Conversation(chat_id="7", state="a"), update_id=1)
    await two.forget("8")  # any other work in between
    copy = await one.load_to_change("7")
    assert copy == saved
    again = await one.save(replace(copy, state="b"), update_id=2)
    assert isinstance(again, Conversation) and again.version == 2
    assert await two.load("7") == again


async def test_a_copy_another_worker_saved_over_is_refused_then_loaded_afresh(
    workers: tuple[RedisStore, RedisStore],
) -> None:
    one, two = workers
    first = await one.save(Conversation(chat_id="7", state="a"))
    assert isinstance(first, Conversation)
    second = await two.save(replace(first, state="b"))  # the chat's next update went to two
    stale = await one.load_to_change("7")
    assert stale == first
    assert await one.save(replace(first, state="c"), update_id=3) is None
    assert await one.load_to_change("7") == second  # loaded again after the refusal


async def test_a_chat_forgotten_and_built_up_again_to_the_same_version_is_not_overwritten(
    workers: tuple[RedisStore, RedisStore],
) -> None:
    one, two = workers
    first = await one.save(Conversation(chat_id="7", state="old", answers={"name": "Sam"}))
    assert isinstance(first, Conversation) and first.version == 1
    await two.forget("7")
    rebuilt = await two.save(Conversation(chat_id="7", state="new"))
    assert isinstance(rebuilt, Conversation) and rebuilt.version == 1  # the same version
    stale = await one.load_to_change("7")
    assert stale is not None and stale.answers == {"name": "Sam"}
    assert await one.save(replace(stale, state="moved")) is None
    assert await two.load("7") == rebuilt  # what was forgotten stays forgotten


async def test_forget_drops_the_workers_copy(workers: tuple[RedisStore, RedisStore]) -> None:
    one, _two = workers
    await one.save(Conversation(chat_id="7", answers={"name": "Sam"}))
    await one.forget("7")
    assert await one.load_to_change("7") is None
