"""The scale-out store: several webhook workers share one Redis (redis-py asyncio).

Keys, all under a prefix (default `doorajar`), with the chat id as a hash tag:

* `{chat}:conv` - a hash: `v` the version, `d` the conversation JSON, `u` the update time;
* `{chat}:seen` - a sorted set of applied update ids scored by time; old ids are trimmed on
  every save and the key expires `SEEN_KEEP_SECONDS` after the chat's last save;
* `idle` - a sorted set of chat ids scored by their last update, for retention;
* `{chat}:rem` - a hash of the chat's reminders, id -> `Reminder` JSON;
* `rdue` - a sorted set of pending reminders (`chat:id`) scored by when each is looked at
  next (its due time, or the end of a claim's lease): a check reads only the due end;
* `rdone` - a sorted set of every reminder scored by when it was sent (its due time while
  pending), for the retention purge;
* `stats:YYYY-MM-DD` - a hash per UTC day of stats counters (`situation/counter` -> number),
  added to by the save script itself (and by forget's transaction); no chat id in it.

A claim is one Lua script (ZRANGEBYSCORE of the due end, then ZADD each to the end of its
lease), so two workers never claim the same reminder.

Every write is one Lua script, so it is atomic: a save checks the update id, compares the
version, writes the conversation and records the id at once, and two workers never lose each
other's answers or apply one update twice. The `idle` index is shared by all chats, so this
needs one Redis primary (with replicas or Sentinel if you like), not Redis Cluster.

An update costs at most two round trips, `load` (HGET) and `save` (EVALSHA of the cached
script), and usually one: a worker keeps its own last save of a chat for up to a minute
(`bot.store.copies`) and changes that copy without loading, the save comparing the time of the
last save as well as the version, so a copy another worker has saved over is refused and loaded
afresh (1.17 round trips per update, measured with `strace -c`: README, Performance).
Those two go over connections the store keeps itself, rather than through
`Redis.execute_command`, whose pool checks every connection for unread data (one more turn of
the event loop), asks for the process id a dozen times and records metrics per command. For a
`redis://` or `unix://` URL they are `bot.store.resp.SocketConnection`s, which wait for a
nearby server's reply in place for up to 200 us before awaiting it on the event loop; for
anything else (TLS, RESP3) redis-py's own (`ClientConnection`). Everything else (forget, purge,
reminders) uses the client as it is.

"No acknowledged answer is lost" holds across a Redis crash only with the append-only file on
(`appendonly yes`): snapshots alone lose whatever was written since the last one.
`persistence_problem` checks that at start (`open_store` logs a warning).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol
from urllib.parse import urlparse

import redis as redis_sync
import redis.asyncio as redis
from redis.exceptions import (
    ConnectionError as RedisConnectionError,
)
from redis.exceptions import (
    MasterDownError,
    NoScriptError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisError,
    ResponseError,
    TryAgainError,
)

from bot import stats
from bot.conversation import Conversation
from bot.reminders import Reminder
from bot.store.copies import KeptCopies
from bot.store.protocol import DUPLICATE, SEEN_KEEP_SECONDS, SaveResult, StoreUnavailable
from bot.store.resp import SocketConnection, WaitBudget, resp_command, speakable

PURGE_BATCH = 500
"""Idle chats looked at per round trip while purging."""
IDLE_CHECK_SECONDS = 30.0
"""A spare connection idle this long has its health checked (a PING) before its next command,
as the client's own `health_check_interval` would."""
_TRANSIENT_REPLIES = (ReadOnlyError, OutOfMemoryError, TryAgainError, MasterDownError)
"""Error replies that pass (a fail-over, a full memory); other error replies are bugs."""

# KEYS: conv, seen, idle, today's stats hash. ARGV: expected version, new version, JSON, now,
# chat id, update id ('' for none), oldest id time to keep, seconds to keep the ids, expected
# save time ('' for any), then the stats counters to add one to. Returns 1 saved, 0 lost the
# compare-and-set, -1 duplicate update id.
_SAVE = """
if ARGV[6] ~= '' and redis.call('ZSCORE', KEYS[2], ARGV[6]) then return -1 end
local current = redis.call('HMGET', KEYS[1], 'v', 'u')
if (current[1] or '0') ~= ARGV[1] then return 0 end
if ARGV[9] ~= '' and current[2] ~= ARGV[9] then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'd', ARGV[3], 'u', ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[5])
if ARGV[6] ~= '' then
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[6])
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[7])
  redis.call('EXPIRE', KEYS[2], ARGV[8])
end
for i = 10, #ARGV do redis.call('HINCRBY', KEYS[4], ARGV[i], 1) end
return 1
"""
# KEYS: conv, seen, idle. ARGV: cutoff, chat id. Forgets the chat unless it was saved since
# the scan. Returns 1 when a conversation was deleted, 2 for an index entry without one,
# 0 when the chat was kept.
_PURGE_ONE = """
local updated = redis.call('HGET', KEYS[1], 'u')
if updated and tonumber(updated) >= tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[2])
if updated then return 1 end
return 2
"""


# KEYS: rdue. ARGV: now, limit, lease end, prefix. Claims due reminders; returns their JSON.
_CLAIM = """
local members = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local out = {}
for _, member in ipairs(members) do
  local chat, id = string.match(member, '^(.*):([^:]*)$')
  local data = redis.call('HGET', ARGV[4] .. ':{' .. chat .. '}:rem', id)
  if data then
    redis.call('ZADD', KEYS[1], ARGV[3], member)
    out[#out + 1] = data
  else
    redis.call('ZREM', KEYS[1], member)
  end
end
return out
"""
# KEYS: rem, rdue, rdone. ARGV: id, JSON, next look ('' once sent), done time, member, mode
# ('add': only when new; 'set': only when it exists). Returns 1 written, 0 not.
_PUT_REMINDER = """
local exists = redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1
if (ARGV[6] == 'add' and exists) or (ARGV[6] == 'set' and not exists) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if ARGV[3] == '' then
  redis.call('ZREM', KEYS[2], ARGV[5])
else
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[5])
end
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[5])
return 1
"""
# KEYS: rem, rdue, rdone. ARGV: the chat's key prefix ('chat:'), ids ('' for all).
# Deletes reminders; returns how many.
_DELETE_REMINDERS = """
local ids = {}
if ARGV[2] == '' then ids = redis.call('HKEYS', KEYS[1]) else ids = {ARGV[2]} end
local removed = 0
for _, id in ipairs(ids) do
  removed = removed + redis.call('HDEL', KEYS[1], id)
  redis.call('ZREM', KEYS[2], ARGV[1] .. id)
  redis.call('ZREM', KEYS[3], ARGV[1] .. id)
end
return removed
"""


_PING = resp_command("PING")


class Link(Protocol):
    """A connection `_command` uses: `SocketConnection`, or `ClientConnection`."""

    last_used: float

    async def request(self, packed: bytes) -> Any: ...

    async def close(self) -> None: ...


class ClientConnection:
    """A connection of redis-py's own, for what `SocketConnection` does not speak (TLS, ...)."""

    __slots__ = ("_connection", "_timeout", "last_used")

    def __init__(self, client: redis.Redis, timeout: float | None) -> None:
        self._connection = client.connection_pool.make_connection()  # type: ignore[no-untyped-call]
        # The timeout below covers sending and reading; per step, redis-py would wrap the
        # send in asyncio.wait_for, which (before Python 3.12) runs it as a task of its own.
        self._connection.socket_timeout = None
        self._timeout = timeout
        self.last_used = time.monotonic()

    async def request(self, packed: bytes) -> Any:
        """Send one packed command (connecting first if need be); its reply."""
        async with asyncio.timeout(self._timeout):
            # Health is checked by the store, which knows how long the connection idled.
            await self._connection.send_packed_command(packed, check_health=False)
            reply = await self._connection.read_response()
        self.last_used = time.monotonic()
        return reply

    async def close(self) -> None:
        await self._connection.disconnect()


class RedisStore:
    """Keeps the `ConversationStore` promises on Redis."""

    def __init__(self, client: redis.Redis, prefix: str = "doorajar") -> None:
        self._redis = client
        self._prefix = prefix
        self._save_sha = hashlib.sha1(_SAVE.encode()).hexdigest()
        self._purge_one = client.register_script(_PURGE_ONE)
        self._claim = client.register_script(_CLAIM)
        self._put_reminder = client.register_script(_PUT_REMINDER)
        self._delete_reminders = client.register_script(_DELETE_REMINDERS)
        self._spare: list[Link] = []
        """Idle connections for `_command`, the last used last."""
        self._copies = KeptCopies()
        pool = client.connection_pool
        self._timeout: float | None = pool.connection_kwargs.get("socket_timeout")
        self._speak: Mapping[str, Any] | None = (
            pool.connection_kwargs
            if speakable(pool.connection_class, pool.connection_kwargs)
            else None
        )
        """The connection settings `SocketConnection` speaks, when it can."""
        self._budget = WaitBudget()

    @classmethod
    def from_url(cls, url: str, prefix: str = "doorajar", timeout: float = 5.0) -> RedisStore:
        """A store for `redis://host:port/db` (or rediss://, unix://)."""
        client = redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            health_check_interval=IDLE_CHECK_SECONDS,
        )
        return cls(client, prefix)

    def _key(self, chat_id: str, kind: str) -> str:
        return f"{self._prefix}:{{{chat_id}}}:{kind}"

    def _stats_key(self, day: str) -> str:
        return f"{self._prefix}:stats:{day}"

    @property
    def _idle(self) -> str:
        return f"{self._prefix}:idle"

    async def _call(self, awaitable: Awaitable[Any]) -> Any:
        """Await a Redis call; an unreachable or failing-over server is `StoreUnavailable`."""
        try:
            return await awaitable
        except ResponseError as exc:
            if isinstance(exc, _TRANSIENT_REPLIES):
                raise StoreUnavailable(f"Redis: {type(exc).__name__}") from exc
            raise  # a wrong command or script: a bug, not an outage
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"Redis: {type(exc).__name__}") from exc

    async def _command(self, *args: str | int | float) -> Any:
        """One command over an idle connection (or a new one); its reply.

        A connection whose command failed or was cancelled midway is closed, since its next
        reply could be this one's; one that failed to reach the server closes every idle
        one too, as they most likely lost the server with it.
        """
        packed = resp_command(*args)
        connection = await self._connection()
        try:
            reply = await connection.request(packed)
        except ResponseError:
            self._spare.append(connection)  # an error reply: the connection is fine
            raise
        except BaseException as exc:
            await connection.close()
            if isinstance(exc, RedisConnectionError | OSError):
                await self._drop_spare()
            raise
        self._spare.append(connection)
        return reply

    async def _connection(self) -> Link:
        """An idle connection, its health checked (a PING) when it idled `IDLE_CHECK_SECONDS`
        (as redis-py's `health_check_interval` would), else a new one."""
        if self._spare:
            connection = self._spare.pop()
            if time.monotonic() - connection.last_used < IDLE_CHECK_SECONDS:
                return connection
            try:
                await connection.request(_PING)
                return connection
            except BaseException as exc:
                await connection.close()
                if not isinstance(exc, RedisError | OSError):
                    raise
                await self._drop_spare()  # idle as long: most likely dropped as well
        if self._speak is not None:
            return await SocketConnection.open(self._speak, self._budget)
        return ClientConnection(self._redis, self._timeout)

    async def _drop_spare(self) -> None:
        spare, self._spare = self._spare, []
        for connection in spare:
            await connection.close()

    async def load(self, chat_id: str) -> Conversation | None:
        data = await self._call(self._command("HGET", self._key(chat_id, "conv"), "d"))
        return Conversation.from_json(data) if data else None

    async def load_to_change(self, chat_id: str) -> Conversation | None:
        """The conversation to change and `save`: this worker's copy of its own last save,
        when it has a recent one (no round trip), else `load`.

        Another worker may have saved since. Then `save` refuses the change, since it compares
        the time of the last save as well as the version (which alone would let a chat that
        was forgotten and built up again to the same version pass), and the caller loads
        again, as after any lost compare-and-set.
        """
        copy = self._copies.fresh(chat_id)
        return copy if copy is not None else await self.load(chat_id)

    async def save(
        self, conv: Conversation, update_id: int | None = None, counts: Sequence[str] = ()
    ) -> SaveResult:
        # The copy's save time as stored (the `u` field), which only that save has.
        saved_at = self._copies.saved_at(conv)
        expected_save = "" if saved_at is None else repr(saved_at)
        saved = conv.stamped(conv.version + 1, time.time())
        json = saved.to_json()
        keys = [
            self._key(conv.chat_id, "conv"),
            self._key(conv.chat_id, "seen"),
            self._idle,
            self._stats_key(stats.day(saved.updated_at)),
        ]
        args: list[str | int | float] = [
            conv.version,
            saved.version,
            json,
            repr(saved.updated_at),
            conv.chat_id,
            "" if update_id is None else update_id,
            repr(saved.updated_at - SEEN_KEEP_SECONDS),
            SEEN_KEEP_SECONDS,
            expected_save,
            *counts,
        ]
        written = await self._call(self._run_save(keys, args))
        if written == -1:
            return DUPLICATE
        if written != 1:
            return None
        self._copies.keep(saved)
        return saved

    async def _run_save(self, keys: list[str], args: list[str | int | float]) -> Any:
        """The save script by its digest; by its text when the server does not have it yet."""
        try:
            return await self._command("EVALSHA", self._save_sha, len(keys), *keys, *args)
        except NoScriptError:
            return await self._command("EVAL", _SAVE, len(keys), *keys, *args)

    async def seen(self, chat_id: str, update_id: int) -> bool:
        score = await self._call(self._redis.zscore(self._key(chat_id, "seen"), update_id))
        return score is not None

    async def forget(self, chat_id: str, counts: Sequence[str] = ()) -> None:
        self._copies.drop(chat_id)
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(self._key(chat_id, "conv"), self._key(chat_id, "seen"))
        pipe.zrem(self._idle, chat_id)
        for name in counts:
            pipe.hincrby(self._stats_key(stats.day()), name, 1)
        await self._call(pipe.execute())
        await self.drop_reminders(chat_id)

    async def tallies(self, days: Sequence[str]) -> list[stats.DayCount]:
        pipe = self._redis.pipeline(transaction=False)
        for day in days:
            pipe.hgetall(self._stats_key(day))
        replies = await self._call(pipe.execute())
        return [
            stats.DayCount(day, *stats.split(name.decode()), int(n))
            for day, counters in zip(days, replies, strict=True)
            for name, n in counters.items()
        ]

    async def purge(self, idle_seconds: float) -> int:
        self._copies.clear()
        cutoff = time.time() - idle_seconds
        removed = 0
        while True:
            chats = await self._call(
                self._redis.zrangebyscore(self._idle, "-inf", cutoff, start=0, num=PURGE_BATCH)
            )
            progressed = False
            for raw in chats:
                chat_id = raw.decode() if isinstance(raw, bytes) else str(raw)
                keys = [self._key(chat_id, "conv"), self._key(chat_id, "seen"), self._idle]
                done = await self._call(self._purge_one(keys=keys, args=[repr(cutoff), chat_id]))
                removed += done == 1
                progressed = progressed or done != 0
            # A full batch in which every chat was kept would come back unchanged: stop there.
            if len(chats) < PURGE_BATCH or not progressed:
                break
        while True:  # reminders sent (or due and never sent) before the cutoff
            old = await self._call(
                self._redis.zrangebyscore(self._rdone, "-inf", cutoff, start=0, num=PURGE_BATCH)
            )
            for raw in old:
                chat_id, _, reminder_id = _text(raw).rpartition(":")
                await self._delete(chat_id, reminder_id)
            if len(old) < PURGE_BATCH:
                return removed

    # -- reminders --------------------------------------------------------------------------

    @property
    def _rdue(self) -> str:
        return f"{self._prefix}:rdue"

    @property
    def _rdone(self) -> str:
        return f"{self._prefix}:rdone"

    async def _put(
        self, reminder: Reminder, next_look: float | None, done: float, mode: str
    ) -> bool:
        keys = [self._key(reminder.chat_id, "rem"), self._rdue, self._rdone]
        args = [
            reminder.id,
            reminder.to_json(),
            "" if next_look is None else repr(next_look),
            repr(done),
            reminder.key,
            mode,
        ]
        return bool(await self._call(self._put_reminder(keys=keys, args=args)))

    async def _delete(self, chat_id: str, reminder_id: str) -> int:
        keys = [self._key(chat_id, "rem"), self._rdue, self._rdone]
        return int(
            await self._call(self._delete_reminders(keys=keys, args=[f"{chat_id}:", reminder_id]))
        )

    async def add_reminder(self, reminder: Reminder) -> None:
        await self._put(replace(reminder, sent_at=None), reminder.due, reminder.due, "add")

    async def claim_reminders(self, now: float, limit: int, lease: float) -> list[Reminder]:
        args: list[str | int] = [repr(now), limit, repr(now + lease), self._prefix]
        rows = await self._call(self._claim(keys=[self._rdue], args=args))
        return sorted((Reminder.from_json(row) for row in rows), key=lambda r: r.due)

    async def reminder_sent(self, reminder: Reminder, now: float) -> None:
        await self._put(replace(reminder, sent_at=now), None, now, "set")

    async def reminder(self, chat_id: str, reminder_id: str) -> Reminder | None:
        data = await self._call(self._redis.hget(self._key(chat_id, "rem"), reminder_id))
        return Reminder.from_json(data) if data else None

    async def pending_reminders(self, chat_id: str) -> list[Reminder]:
        rows = await self._call(self._redis.hvals(self._key(chat_id, "rem")))
        reminders = (Reminder.from_json(row) for row in rows)
        return sorted((r for r in reminders if r.sent_at is None), key=lambda r: r.due)

    async def reschedule_reminder(self, chat_id: str, reminder_id: str, due: float) -> bool:
        current = await self.reminder(chat_id, reminder_id)
        if current is None:
            return False
        return await self._put(replace(current, due=due, sent_at=None), due, due, "set")

    async def delete_reminder(self, chat_id: str, reminder_id: str) -> bool:
        return await self._delete(chat_id, reminder_id) > 0

    async def drop_reminders(self, chat_id: str) -> int:
        return await self._delete(chat_id, "")

    async def close(self) -> None:
        self._copies.clear()
        await self._drop_spare()
        await self._redis.aclose()


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


PERSISTENCE_CHECK_SECONDS = 2.0


def persistence_problem(url: str, timeout: float = PERSISTENCE_CHECK_SECONDS) -> str | None:
    """Why a Redis crash could lose acknowledged answers (AOF off, or unknown), or None.

    Asks `CONFIG GET appendonly`, or `INFO persistence` where CONFIG is disabled (as on many
    managed services). Names the server by host and port only: the URL may hold a password.
    """
    parsed = urlparse(url)
    where = parsed.path if parsed.scheme == "unix" else f"{parsed.hostname}:{parsed.port or 6379}"
    client = redis_sync.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        try:
            enabled = client.config_get("appendonly").get("appendonly") == "yes"
        except ResponseError:  # CONFIG renamed or disabled
            enabled = bool(client.info("persistence").get("aof_enabled"))
    except (RedisError, OSError) as exc:
        return (
            f"could not check whether Redis at {where} keeps an append-only file "
            f"({type(exc).__name__}); without `appendonly yes` a Redis crash loses answers "
            "already acknowledged to Telegram"
        )
    finally:
        client.close()
    if enabled:
        return None
    return (
        f"Redis at {where} runs without an append-only file (appendonly no): a Redis crash or "
        "restart loses answers already acknowledged to Telegram. Set `appendonly yes` "
        "(README: Reliability)"
    )
