"""What the Redis store does on its own to save round trips: it writes commands itself (a
worker's own last save is kept without loading it again: tests/store/test_kept_copies.py)."""

from __future__ import annotations

from redis.asyncio.connection import Connection

from bot.store.redis import resp_command


def test_commands_are_written_as_redis_py_writes_them() -> None:
    args = ("EVALSHA", "5f0c", 3, "p:{42}:conv", "p:{42}:seen", "p:idle", 7, 8)
    args += ('{"answers":{"name":"Zoë \\u2014 «x»"}}', "", 1767225600.25, -3, 86400)
    packed = Connection().pack_command(*args)  # type: ignore[no-untyped-call]
    assert resp_command(*args) == b"".join(packed)
