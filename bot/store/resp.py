"""Talking to Redis over a plain socket, for the two commands an update costs (load and save).

A Redis on the same host or in the same rack answers in tens of microseconds, and awaiting
that through the event loop costs more than the wait itself: redis-py's layers, two turns of
the loop, a future and a task step. So a command sent here waits for its reply right where it
is, for up to `WAIT_SECONDS` (`select` on its socket: the process sleeps, the event loop waits
with it), and only a reply later than that is awaited on the event loop (`loop.sock_recv`,
under the store's timeout). Measured on the benchmark's machine, a tier (a) update on Redis
cost ~6 % less CPU than through redis-py's asyncio connections (README, Performance).

Holding the loop pays only while replies come that quickly: `WaitBudget` stops it when most
recent replies took longer (a Redis far away, or one too busy to answer at once), and starts
it again when most come within it, so a far server costs six short waits in vain, and a near
one's occasional slow reply changes nothing.

Commands are packed by hiredis as redis-py packs them and replies read by its `Reader`; an
error reply becomes redis-py's own exception for it (`NoScriptError`, `ReadOnlyError`, ...).
Only what a `redis://` or `unix://` URL holds is spoken here (host or path, database, user and
password); anything else (TLS, RESP3, a client name) goes through redis-py (`speakable`).
"""

from __future__ import annotations

import asyncio
import select
import socket
import time
from collections.abc import Mapping
from typing import Any

import hiredis
from redis._parsers import BaseParser
from redis.asyncio.connection import Connection, UnixDomainSocketConnection
from redis.exceptions import ConnectionError as RedisConnectionError

WAIT_SECONDS = 200e-6
"""Longest a command waits for its reply in place before it waits on the event loop."""
RECENT_WEIGHT = 0.125
"""How much the latest reply moves `WaitBudget`'s share of quick replies: six slow replies in a
row stop the waits in place for a server that was quick, and six quick ones start them again
for one that was long slow."""
SELECT_LIMIT = 1024
"""`select` takes file descriptors below this (FD_SETSIZE); a socket numbered higher (in a
process with very many open files) always waits on the event loop."""
READ_SIZE = 65536

_SPOKEN = {"host", "port", "path", "db", "username", "password"}
_SPOKEN |= {"socket_timeout", "socket_connect_timeout", "health_check_interval"}
_BOOKKEEPING = {"himport_registry", "maint_notifications_pool_handler"}
_BOOKKEEPING |= {"maint_notifications_config", "orig_host_address"}
_BOOKKEEPING |= {"orig_socket_timeout", "orig_socket_connect_timeout"}
"""redis-py's own entries in a pool's connection settings, which change nothing on the wire."""


def resp_command(*args: str | int | float) -> bytes:
    """A command as Redis reads it (RESP), its arguments written as redis-py writes them
    (hiredis, in C: a third of the time of doing it in Python)."""
    packed: bytes = hiredis.pack_command(args)  # type: ignore[arg-type]  # its stub: 1-tuples
    return packed


def speakable(connection_class: type, settings: Mapping[str, Any]) -> bool:
    """Whether a pool's connections (their class and settings) can be spoken here."""
    known = connection_class in (Connection, UnixDomainSocketConnection)
    return known and set(settings) - _BOOKKEEPING <= _SPOKEN


class WaitBudget:
    """How long the next command waits for its reply in place: `WAIT_SECONDS` while most
    recent replies came within that, none once most did not (until most do again; a reply
    awaited on the loop counts too). One per store, shared by its connections: it follows the
    server, not a connection."""

    __slots__ = ("_within", "seconds")

    def __init__(self) -> None:
        self.seconds = WAIT_SECONDS
        self._within = 1.0
        """The share of recent replies that came within `WAIT_SECONDS` (a moving average)."""

    def observe(self, elapsed: float) -> None:
        """A reply came `elapsed` seconds after its command was sent."""
        within = 1.0 if elapsed <= WAIT_SECONDS else 0.0
        self._within += (within - self._within) * RECENT_WEIGHT
        self.seconds = WAIT_SECONDS if self._within >= 0.5 else 0.0


async def _connected(
    loop: asyncio.AbstractEventLoop, family: int, proto: int, address: Any
) -> socket.socket:
    """A non-blocking stream socket connected to `address` (closed again if that fails)."""
    sock = socket.socket(family, socket.SOCK_STREAM, proto)
    try:
        sock.setblocking(False)
        await loop.sock_connect(sock, address)
    except BaseException:
        sock.close()
        raise
    return sock


async def _tcp(loop: asyncio.AbstractEventLoop, host: str, port: int) -> socket.socket:
    """A TCP connection to the first of the host's addresses that takes one, in the order the
    resolver gives them (as `socket.create_connection` tries them): "localhost" may name ::1
    first for a server listening on 127.0.0.1 only."""
    failure: OSError | None = None
    for family, _, proto, _, address in await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        try:
            sock = await _connected(loop, family, proto, address)
        except OSError as error:
            failure = error
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    raise failure or OSError(f"no address found for {host}")


class SocketConnection:
    """One connection; one command at a time (the store keeps several for concurrent updates)."""

    __slots__ = ("_budget", "_reader", "_selectable", "_sock", "_timeout", "last_used")

    def __init__(self, sock: socket.socket, budget: WaitBudget, timeout: float | None) -> None:
        self._sock = sock
        self._selectable = sock.fileno() < SELECT_LIMIT
        self._budget = budget
        self._timeout = timeout
        self._reader = hiredis.Reader()
        self.last_used = time.monotonic()

    @classmethod
    async def open(cls, settings: Mapping[str, Any], budget: WaitBudget) -> SocketConnection:
        """Connect as the settings say (`path`, or `host` and `port`), log in and pick the
        database, within `socket_connect_timeout`; each later wait for the server is bounded
        by `socket_timeout` (None: no bound), as in redis-py."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(settings.get("socket_connect_timeout")):
            if settings.get("path"):
                sock = await _connected(loop, socket.AF_UNIX, 0, settings["path"])
            else:
                host, port = settings.get("host", "localhost"), settings.get("port", 6379)
                sock = await _tcp(loop, host, port)
            connection = cls(sock, budget, settings.get("socket_timeout"))
            try:
                password, username = settings.get("password"), settings.get("username")
                if password is not None:
                    login = ("AUTH", username, password) if username else ("AUTH", password)
                    await connection.request(resp_command(*login))
                if int(settings.get("db") or 0):
                    await connection.request(resp_command("SELECT", settings["db"]))
            except BaseException:
                sock.close()
                raise
        return connection

    async def request(self, packed: bytes) -> Any:
        """Send one packed command; its reply (an error reply raised as redis-py raises it).

        Any other failure (OSError, a closed connection, cancellation) leaves the connection
        unusable: close it, since its next reply could be this command's.
        """
        sock = self._sock
        reader = self._reader
        started = time.perf_counter()
        try:
            sent = sock.send(packed)
        except BlockingIOError:
            sent = 0
        if sent < len(packed):
            async with asyncio.timeout(self._timeout):
                await asyncio.get_running_loop().sock_sendall(sock, memoryview(packed)[sent:])
        deadline = started + self._budget.seconds if self._selectable else 0.0
        reply: Any = False
        while reply is False:
            try:
                data = sock.recv(READ_SIZE)
            except BlockingIOError:
                left = deadline - time.perf_counter()
                if left > 0:
                    select.select((sock,), (), (), left)  # the event loop waits too
                    continue
                async with asyncio.timeout(self._timeout):
                    data = await asyncio.get_running_loop().sock_recv(sock, READ_SIZE)
            if not data:
                raise RedisConnectionError("Redis closed the connection")
            reader.feed(data)
            reply = reader.gets()
        self._budget.observe(time.perf_counter() - started)
        self.last_used = time.monotonic()
        if isinstance(reply, hiredis.ReplyError):
            error: Exception = BaseParser.parse_error(str(reply))  # type: ignore[no-untyped-call]
            raise error
        return reply

    async def close(self) -> None:
        self._sock.close()
