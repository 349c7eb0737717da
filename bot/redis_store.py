"""The scale-out store: several webhook workers share one Redis (redis-py asyncio).

Keys, all under a prefix (default `doorajar`), with the chat id as a hash tag:

* `{chat}:conv` - a hash: `v` the version, `d` the conversation JSON, `u` the update time;
* `{chat}:seen` - a sorted set of update ids scored by arrival, expiring after a day;
* `idle` - a sorted set of chat ids scored by their last update, for retention.

Saving is compare-and-set in one Lua script, so two workers never lose each other's answers.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import redis.asyncio as redis
from redis.exceptions import RedisError

from bot.conversation import Conversation
from bot.store import SEEN_KEEP_SECONDS, StoreUnavailable

_SAVE = """
local current = redis.call('HGET', KEYS[1], 'v')
if (current or '0') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'd', ARGV[3], 'u', ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])
return 1
"""
_SEEN = """
local added = redis.call('ZADD', KEYS[1], 'NX', ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return added
"""


class RedisStore:
    """Keeps the `ConversationStore` promises on Redis."""

    def __init__(self, client: redis.Redis, prefix: str = "doorajar") -> None:
        self._redis = client
        self._prefix = prefix
        self._save = client.register_script(_SAVE)
        self._seen = client.register_script(_SEEN)

    @classmethod
    def from_url(cls, url: str, prefix: str = "doorajar") -> RedisStore:
        """A store for `redis://host:port/db` (or rediss://, unix://)."""
        client = redis.Redis.from_url(
            url, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30
        )
        return cls(client, prefix)

    def _key(self, chat_id: str, kind: str) -> str:
        return f"{self._prefix}:{{{chat_id}}}:{kind}"

    @property
    def _idle(self) -> str:
        return f"{self._prefix}:idle"

    async def _call(self, awaitable: Any) -> Any:
        try:
            return await awaitable
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"Redis: {type(exc).__name__}") from exc

    async def load(self, chat_id: str) -> Conversation | None:
        data = await self._call(self._redis.hget(self._key(chat_id, "conv"), "d"))
        return Conversation.from_json(data) if data else None

    async def save(self, conv: Conversation) -> Conversation | None:
        saved = replace(conv, version=conv.version + 1, updated_at=time.time())
        keys = [self._key(conv.chat_id, "conv"), self._idle]
        args: list[str | int | float] = [
            conv.version,
            saved.version,
            saved.to_json(),
            saved.updated_at,
            conv.chat_id,
        ]
        written = await self._call(self._save(keys=keys, args=args))
        return saved if written == 1 else None

    async def seen(self, chat_id: str, update_id: int) -> bool:
        now = time.time()
        args = [now, update_id, now - SEEN_KEEP_SECONDS, SEEN_KEEP_SECONDS]
        added = await self._call(self._seen(keys=[self._key(chat_id, "seen")], args=args))
        return bool(added == 0)

    async def forget(self, chat_id: str) -> None:
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(self._key(chat_id, "conv"), self._key(chat_id, "seen"))
        pipe.zrem(self._idle, chat_id)
        await self._call(pipe.execute())

    async def purge(self, idle_seconds: float) -> int:
        cutoff = time.time() - idle_seconds
        chats = await self._call(self._redis.zrangebyscore(self._idle, "-inf", cutoff))
        removed = 0
        for raw in chats:
            chat_id = raw.decode() if isinstance(raw, bytes) else str(raw)
            # Re-check under the same rule: a chat updated since the scan is kept.
            updated = await self._call(self._redis.hget(self._key(chat_id, "conv"), "u"))
            if updated is not None and float(updated) >= cutoff:
                continue
            await self.forget(chat_id)
            removed += 1
        return removed

    async def close(self) -> None:
        await self._redis.aclose()
