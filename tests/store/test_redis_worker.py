"""What the Redis store does on its own to save work: it writes commands itself and checks a
connection's health only after it idled (a worker's own last save is kept without loading it
again: tests/store/test_kept_copies.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from redis.asyncio.connection import Connection

from bot.store import redis as redis_store
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


async def test_a_connection_is_health_checked_only_after_idling(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[bool] = []
    send = Connection.send_packed_command

    async def spy(self: Connection, command: Any, check_health: bool = True) -> None:
        if isinstance(command, bytes) and b"HGET" in command:  # not the connection's own
            checked.append(check_health)
        await send(self, command, check_health)

    monkeypatch.setattr(Connection, "send_packed_command", spy)
    store = RedisStore.from_url(redis_url, "h")
    await store.load("1")
    await store.load("1")  # the same connection, just used
    monkeypatch.setattr(redis_store, "IDLE_CHECK_SECONDS", 0.0)
    await store.load("1")  # idle "long enough": checked, as redis-py would
    await store.close()
    assert checked == [False, False, True]
