"""What the Redis store does on its own to save work: it writes commands itself, waits for the
replies of a nearby server in place rather than on the event loop (`bot.store.resp`), and checks a
connection's health only after it idled (a worker's own last save is kept without loading it
again: tests/store/test_kept_copies.py)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as redis
from redis.asyncio.connection import Connection
from redis.exceptions import NoScriptError

from bot.conversation import Conversation
from bot.store import redis as redis_store
from bot.store import resp
from bot.store.protocol import StoreUnavailable
from bot.store.redis import ClientConnection, RedisStore
from bot.store.resp import WAIT_SECONDS, SocketConnection, WaitBudget, speakable
from tests.redis_server import RedisServer, free_port, redis_server


def test_commands_are_written_as_redis_py_writes_them() -> None:
    args = ("EVALSHA", "5f0c", 3, "p:{42}:conv", "p:{42}:seen", "p:idle", 7, 8)
    args += ('{"answers":{"name":"Zoë \\u2014 «x»"}}', "", 1767225600.25, -3, 86400)
    packed = Connection().pack_command(*args)  # type: ignore[no-untyped-call]
    assert resp.resp_command(*args) == b"".join(packed)


@pytest.mark.parametrize(
    ("url", "spoken"),
    [
        ("redis://127.0.0.1:6379/0", True),
        ("redis://user:secret@redis.internal:6380/3", True),
        ("unix:///run/redis.sock?db=2", True),
        ("rediss://redis.example.com:6380/0", False),  # TLS: redis-py's own connections
        ("redis://127.0.0.1:6379/0?protocol=3", False),
        ("redis://127.0.0.1:6379/0?client_name=doorajar", False),
    ],
)
def test_what_a_socket_connection_speaks_and_what_goes_through_redis_py(
    url: str, spoken: bool
) -> None:
    pool = redis.Redis.from_url(url, socket_timeout=5.0).connection_pool
    assert speakable(pool.connection_class, pool.connection_kwargs) is spoken


def test_waits_in_place_stop_while_replies_are_slow_and_start_when_they_are_quick() -> None:
    budget = WaitBudget()
    assert budget.seconds == WAIT_SECONDS
    for n in range(100):  # a near server with a slow reply now and then: waits in place throughout
        budget.observe(0.004 if n % 10 == 0 else WAIT_SECONDS * 0.2)
        assert budget.seconds == WAIT_SECONDS
    slow = 0
    while budget.seconds:  # a far or busy server: the event loop should go on meanwhile
        budget.observe(0.004)
        slow += 1
    assert slow <= 8
    for _ in range(50):
        budget.observe(0.004)
    assert budget.seconds == 0.0
    quick = 0
    while not budget.seconds:  # near again (a reply waited for counts too)
        budget.observe(WAIT_SECONDS)
        quick += 1
    assert quick <= 8


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


def sample(chat_id: str) -> Conversation:
    answers = {"company": "Acme", "note": "é" * 40_000}  # a reply longer than one read
    return Conversation(chat_id=chat_id, flow="decline_offer", state="reason", answers=answers)


async def test_a_reply_later_than_the_wait_in_place_is_awaited_on_the_loop(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []
    select = resp.select.select

    def spy(read: Any, write: Any, error: Any, timeout: float) -> Any:
        waits.append(timeout)
        return select(read, write, error, timeout)

    monkeypatch.setattr(resp.select, "select", spy)
    store = RedisStore.from_url(redis_url, "slow")
    try:
        saved = await store.save(sample("1"))
        assert isinstance(saved, Conversation)
        # BLPOP on an empty list answers after its timeout (10 ms): far past the wait in place,
        # which holds the loop at most WAIT_SECONDS a command; about six of them stop it.
        for _ in range(40):  # whatever the first replies took (a script loaded): quick lately
            store._budget.observe(0.0)
        held: list[bool] = []
        for _ in range(8):
            waits.clear()
            assert await store._command("BLPOP", "slow:nothing", 0.01) is None
            assert max(waits, default=0) <= WAIT_SECONDS
            held.append(bool(waits))
        assert held[:4] == [True] * 4
        assert held[-2:] == [False, False]
        assert held == sorted(held, reverse=True)  # once stopped, stopped
        assert store._budget.seconds == 0.0
        assert await store.load("1") == saved  # awaited on the loop
    finally:
        await store.close()


@pytest.mark.parametrize("setting", ["WAIT_SECONDS", "SELECT_LIMIT"])
async def test_without_waits_in_place_every_reply_is_awaited_on_the_loop(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, setting: str
) -> None:
    monkeypatch.setattr(resp, setting, 0)  # no wait, or every socket beyond select's numbers
    waits: list[object] = []
    monkeypatch.setattr(resp.select, "select", lambda *args: waits.append(args))
    store = RedisStore.from_url(redis_url, f"wait{setting}")
    try:
        saved = await store.save(sample("2"), update_id=5)
        assert isinstance(saved, Conversation)
        assert await store.load("2") == saved
        assert waits == []  # never held the event loop
    finally:
        await store.close()


async def test_a_server_slower_than_the_timeout_is_unavailable_and_the_connection_closed(
    redis_url: str,
) -> None:
    store = RedisStore.from_url(redis_url, "late", timeout=0.05)
    try:
        await store.load("3")
        [idle] = store._spare
        with pytest.raises(StoreUnavailable):
            await store._call(store._command("BLPOP", "late:nothing", 1))
        assert store._spare == []  # its late reply must never be read as another's
        with pytest.raises(OSError):
            await idle.request(resp.resp_command("PING"))
        assert await store.load("3") is None  # a new connection
    finally:
        await store.close()


async def test_a_cancelled_command_closes_its_connection(redis_url: str) -> None:
    store = RedisStore.from_url(redis_url, "cancel")
    try:
        command = asyncio.ensure_future(store._command("BLPOP", "cancel:nothing", 1))
        await asyncio.sleep(0.05)
        command.cancel()
        with pytest.raises(asyncio.CancelledError):
            await command
        assert store._spare == []
        assert await store._command("PING") == b"PONG"
    finally:
        await store.close()


async def test_an_error_reply_is_redis_pys_exception_and_keeps_the_connection(
    redis_url: str,
) -> None:
    store = RedisStore.from_url(redis_url, "err")
    try:
        with pytest.raises(NoScriptError):
            await store._command("EVALSHA", "0" * 40, 0)
        assert len(store._spare) == 1
        assert await store.save(sample("4"), update_id=1) is not None  # EVALSHA, then EVAL
    finally:
        await store.close()


async def test_a_password_a_database_and_a_unix_socket(tmp_path: Path) -> None:
    socket_path = tmp_path / "redis.sock"
    options = ("--requirepass", "s3cret", "--unixsocket", str(socket_path))
    server = RedisServer(tmp_path, options=options)
    server.start()
    urls = [
        f"redis://:s3cret@127.0.0.1:{server.port}/4",
        f"redis://default:s3cret@127.0.0.1:{server.port}/4",
        f"unix://:s3cret@{socket_path}?db=4",
    ]
    try:
        for n, url in enumerate(urls):
            store = RedisStore.from_url(url, "auth")
            saved = await store.save(sample(str(n)))
            assert isinstance(store._spare[0], SocketConnection)
            await store.close()
            check = redis.Redis.from_url(url)
            assert await check.hget(f"auth:{{{n}}}:conv", "v") == b"1"  # in database 4
            await check.aclose()
            assert saved is not None
        wrong = RedisStore.from_url(f"redis://:nope@127.0.0.1:{server.port}/4", "auth")
        with pytest.raises(StoreUnavailable):
            await wrong.load("1")
        await wrong.close()
    finally:
        server.stop()


async def test_every_address_of_the_host_is_tried_in_turn(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As socket.create_connection does: "localhost" may give ::1 before 127.0.0.1."""
    loop = asyncio.get_running_loop()
    port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    dead = ("127.0.0.1", free_port())  # nothing listens there: refused

    async def addresses(host: str, port_: int, **kwargs: Any) -> list[Any]:
        assert (host, port_) == ("redis.test", port)
        tcp = (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "")
        return [(*tcp, dead), (*tcp, ("127.0.0.1", port))]

    monkeypatch.setattr(loop, "getaddrinfo", addresses)
    store = RedisStore.from_url(f"redis://redis.test:{port}/0", "addr")
    try:
        assert await store._command("PING") == b"PONG"
    finally:
        await store.close()


async def test_a_connection_is_health_checked_only_after_idling(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[bytes] = []
    request = SocketConnection.request

    async def spy(self: SocketConnection, packed: bytes) -> Any:
        sent.append(packed.split(b"\r\n")[2])  # the command's name
        return await request(self, packed)

    monkeypatch.setattr(SocketConnection, "request", spy)
    store = RedisStore.from_url(redis_url, "h")
    await store.load("1")
    await store.load("1")  # the same connection, just used
    monkeypatch.setattr(redis_store, "IDLE_CHECK_SECONDS", 0.0)
    await store.load("1")  # idle "long enough": checked first, as redis-py would
    await store.close()
    assert sent == [b"HGET", b"HGET", b"PING", b"HGET"]


async def test_a_connection_that_died_while_idle_is_replaced_unseen(tmp_path: Path) -> None:
    server = RedisServer(tmp_path, durable=True)
    store = RedisStore.from_url(server.start(), "dead")
    try:
        saved = await store.save(sample("5"))
        server.kill()
        server.start()  # same port: every idle connection is now dead
        redis_store.IDLE_CHECK_SECONDS, before = 0.0, redis_store.IDLE_CHECK_SECONDS
        try:
            assert await store.load("5") == saved  # the PING failed; a new connection
        finally:
            redis_store.IDLE_CHECK_SECONDS = before
    finally:
        await store.close()
        server.stop()


async def test_a_tls_url_uses_redis_pys_connections(redis_url: str) -> None:
    store = RedisStore.from_url(redis_url, "py")
    store._speak = None  # as for rediss://, which this test cannot serve
    try:
        saved = await store.save(sample("6"), update_id=3)
        assert isinstance(store._spare[0], ClientConnection)
        assert await store.load("6") == saved
    finally:
        await store.close()
