"""The webhook server: answers Telegram only after the update's conversation was saved.

Telegram POSTs each update as JSON to the webhook URL with the secret token in the
`X-Telegram-Bot-Api-Secret-Token` header, and sends it again until it gets a 2xx answer.
So the server

* refuses a request without the right secret with 403 (compared in constant time), and a body
  that is not an update (not JSON, nested deeper than any update, an update id out of range)
  with 400, before anything is handed to the bot;
* hands the update to the bot and waits for it to be handled to the end;
* answers 200 when it is done, and 503 when the gateway hands it back (`Handled.RETRY`:
  nothing could be saved, or the reply could not be sent after the save), so Telegram
  delivers it again later;
* answers a tapped button in the body of its 200 (`{"method": "answerCallbackQuery", ...}`),
  which Telegram carries out when it reads it: one request to the Bot API less per tap.

It is tornado (which python-telegram-bot's `webhooks` extra installs) on the running asyncio
loop; it speaks plain HTTP, behind a reverse proxy that terminates TLS. Slow or idle clients
cannot hold it: request headers must arrive within `HEADER_TIMEOUT_SECONDS` (which is also how
long an idle connection is kept) and a body within `BODY_TIMEOUT_SECONDS`; at most
`connection_cap()` connections are open, and when that many are, a new one takes the place of
the oldest that has not sent a whole request yet (requests being handled are never dropped).
Refused requests and connections are logged as one warning, then counted and summed up once a
minute, so a flood cannot fill the log.
"""

from __future__ import annotations

import asyncio
import errno
import hmac
import json
import logging
import resource
import socket
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import tornado.httpserver
import tornado.httputil
import tornado.iostream
import tornado.netutil
import tornado.web
from telegram import Bot, Update
from telegram.error import NetworkError, TelegramError
from tornado.ioloop import IOLoop

from bot.service import Handled
from bot.telegram.outbox import Carried
from bot.telegram.polling import wait_or_stop

if TYPE_CHECKING:
    from bot.telegram.gateway import Gateway

log = logging.getLogger("doorajar.webhook")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY_BYTES = 1 << 20
"""Updates are a few kilobytes; anything bigger is not from Telegram."""
MAX_HEADER_BYTES = 16 << 10
MAX_JSON_DEPTH = 32
"""Updates nest a dozen levels at most; deeper JSON is not from Telegram."""
MAX_UPDATE_ID = 2**53
"""Update ids are positive and well below this (the largest integer JSON carries exactly)."""
HEADER_TIMEOUT_SECONDS = 5.0
"""How long a connection may take to send a request's headers, and stay idle between requests."""
BODY_TIMEOUT_SECONDS = 5.0
"""How long a request may take to send its body once its headers arrived."""
MAX_CONNECTIONS = 1000
"""Open connections at most (Telegram itself opens at most 100 per bot), and at most half the
process's file descriptor limit: the rest are for the Bot API, the store and the logs."""
MIN_CONNECTIONS = 16
ACCEPT_PAUSE_SECONDS = 0.1
"""How long to stop accepting after the system refused a new socket (out of descriptors)."""
REFUSALS_WINDOW_SECONDS = 60.0
"""Refused requests after the first are summed up in one warning per this many seconds."""
REFUSAL_KINDS_KEPT = 16
STOP_GRACE_SECONDS = 10.0
"""How long a stopping server lets requests in progress finish."""
SET_WEBHOOK_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class WebhookAnswer:
    """What the webhook answers Telegram for one update: a status, and perhaps a Bot API call
    for Telegram to make (`Carried`)."""

    handled: Handled
    call: dict[str, object] | None = None

    @property
    def status(self) -> int:
        """200 when Telegram may forget the update, 503 to have it delivered again."""
        return 200 if self.handled.acknowledged else 503

    def body(self) -> bytes:
        """The call as JSON, or nothing (a 503 carries nothing)."""
        if self.call is None or not self.handled.acknowledged:
            return b""
        return json.dumps(self.call, ensure_ascii=False, separators=(",", ":")).encode()


Handle = Callable[[dict[str, Any]], Awaitable[WebhookAnswer]]


def connection_cap(limit: int = MAX_CONNECTIONS) -> int:
    """Connections the server keeps open at most: `limit`, or half the descriptor limit."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return limit
    return max(MIN_CONNECTIONS, min(limit, soft // 2))


def read_update(body: bytes) -> dict[str, Any] | None:
    """The update a webhook body holds, or None when it is not one Telegram would send."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or nested past Python's own limit
        return None
    if not isinstance(data, dict) or _nested_deeper_than(data, MAX_JSON_DEPTH):
        return None
    update_id = data.get("update_id")
    if type(update_id) is not int or not 0 <= update_id <= MAX_UPDATE_ID:
        return None
    return data


def _nested_deeper_than(value: object, limit: int) -> bool:
    """Whether JSON data nests more than `limit` levels (walked without recursion)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Iterable[object] = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


class RefusalLog:
    """Refused requests and connections: the first one logged at once, the rest counted and
    summed up in one warning per window, as long as they keep coming."""

    def __init__(self, window: float = REFUSALS_WINDOW_SECONDS) -> None:
        self.window = window
        self.counts: Counter[str] = Counter()
        self._timer: asyncio.TimerHandle | None = None

    def note(self, what: str) -> None:
        """Count one refusal; `what` comes from a small fixed set of descriptions."""
        if self._timer is None:
            log.warning("refused: %s (more are summed up every %d s)", what, self.window)
            self._timer = asyncio.get_running_loop().call_later(self.window, self.flush)
            return
        if what not in self.counts and len(self.counts) >= REFUSAL_KINDS_KEPT:
            what = "other"
        self.counts[what] += 1

    def flush(self) -> None:
        """Log what was counted since the last warning (if anything) and start a new window."""
        self._timer = None
        if not self.counts:
            return
        kinds = ", ".join(f"{what} x{count}" for what, count in self.counts.most_common())
        log.warning("refused %d more in the last %d s: %s", self.counts.total(), self.window, kinds)
        self.counts.clear()
        self._timer = asyncio.get_running_loop().call_later(self.window, self.flush)

    def close(self) -> None:
        """Log what is still counted and stop the timer."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.counts:
            kinds = ", ".join(f"{what} x{count}" for what, count in self.counts.most_common())
            log.warning("refused %d more: %s", self.counts.total(), kinds)
            self.counts.clear()


_TORNADO_NOISE = {
    "Timeout reading body": "body not sent in time",
    "Malformed HTTP message": "malformed HTTP request",
}


class _CountTornadoNoise(logging.Filter):
    """Counts tornado's one-line-per-connection messages as refusals instead of logging them."""

    def __init__(self, refusals: RefusalLog) -> None:
        super().__init__()
        self.refusals = refusals

    def filter(self, record: logging.LogRecord) -> bool:
        for start, what in _TORNADO_NOISE.items():
            if isinstance(record.msg, str) and record.msg.startswith(start):
                self.refusals.note(what)
                return False
        return True


class _UpdateHandler(tornado.web.RequestHandler):
    """POST /path: one update."""

    def initialize(self, server: WebhookServer) -> None:
        self.server = server

    async def post(self) -> None:
        given = self.request.headers.get(SECRET_HEADER, "").encode("utf-8", "replace")
        if not hmac.compare_digest(given, self.server.secret.encode()):
            self.set_status(403)
            return
        data = read_update(self.request.body)
        if data is None:
            self.set_status(400)
            return
        self.server.in_flight += 1
        try:
            answer = await self.server.handle(data)
        finally:
            self.server.in_flight -= 1
        self.set_status(answer.status)
        body = answer.body()
        if body:
            self.set_header("Content-Type", "application/json")
            self.write(body)


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})


class _RequestRead(tornado.httputil.HTTPMessageDelegate):
    """Passes a request on, telling the server when the whole request has arrived."""

    def __init__(
        self,
        inner: tornado.httputil.HTTPMessageDelegate,
        on_read: Callable[[], None],
    ) -> None:
        self.inner = inner
        self.on_read = on_read

    def headers_received(
        self,
        start_line: tornado.httputil.RequestStartLine | tornado.httputil.ResponseStartLine,
        headers: tornado.httputil.HTTPHeaders,
    ) -> Awaitable[None] | None:
        return self.inner.headers_received(start_line, headers)

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        return self.inner.data_received(chunk)

    def finish(self) -> None:
        self.on_read()
        self.inner.finish()

    def on_connection_close(self) -> None:
        self.inner.on_connection_close()


class _GuardedHTTPServer(tornado.httpserver.HTTPServer):
    """tornado's HTTP server with a connection cap and calm handling of accept errors.

    At the cap, a new connection takes the place of the oldest one still sending (or idle
    before) a request; requests being handled are never dropped. When the system refuses to
    accept (out of file descriptors), the oldest such connection is dropped to make room, or,
    with none to drop, accepting pauses briefly instead of failing in a loop.
    """

    def initialize(  # type: ignore[override]
        self, *args: Any, max_connections: int, refusals: RefusalLog, **kwargs: Any
    ) -> None:
        super().initialize(*args, **kwargs)
        self.max_connections = max_connections
        self.refusals = refusals
        self._reading: dict[Any, None] = {}
        """Connections not handling a request, oldest first: the ones that may be dropped."""

    def handle_stream(self, stream: tornado.iostream.IOStream, address: tuple[Any, ...]) -> None:
        if len(self._connections) >= self.max_connections and not self._drop_oldest_reading():
            self.refusals.note("connection refused: too many open")
            stream.close()
            return
        super().handle_stream(stream, address)

    def _drop_oldest_reading(self) -> bool:
        if not self._reading:
            return False
        oldest = next(iter(self._reading))
        del self._reading[oldest]
        self.refusals.note("connection dropped for a newer one: too many open")
        oldest.stream.close()
        return True

    def start_request(
        self, server_conn: object, request_conn: tornado.httputil.HTTPConnection
    ) -> tornado.httputil.HTTPMessageDelegate:
        self._reading.pop(server_conn, None)
        self._reading[server_conn] = None  # the newest, until its request has arrived
        inner = super().start_request(server_conn, request_conn)
        return _RequestRead(inner, lambda: self._reading.pop(server_conn, None))

    def on_close(self, server_conn: object) -> None:
        self._reading.pop(server_conn, None)
        super().on_close(server_conn)

    def add_sockets(self, sockets: Iterable[socket.socket]) -> None:
        for sock in sockets:
            self._sockets[sock.fileno()] = sock
            self._handlers[sock.fileno()] = self._accept_calmly(sock)

    def _accept_calmly(self, sock: socket.socket) -> Callable[[], None]:
        """tornado's `add_accept_handler`, pausing when `accept` fails instead of spinning."""
        io_loop = IOLoop.current()
        removed = False
        paused = False

        def resume() -> None:
            nonlocal paused
            paused = False
            if not removed:
                io_loop.add_handler(sock, accept, IOLoop.READ)

        def accept(fd: socket.socket, events: int) -> None:
            nonlocal paused
            for _ in range(128):  # then let other work run, as tornado does
                if removed:
                    return
                try:
                    connection, address = sock.accept()
                except BlockingIOError:
                    return
                except ConnectionAbortedError:
                    continue
                except OSError as exc:  # EMFILE, ENFILE, ENOBUFS...: out of descriptors
                    name = errno.errorcode.get(exc.errno or 0, "error")
                    self.refusals.note(f"cannot accept a connection ({name})")
                    if self._drop_oldest_reading():  # frees one at once
                        continue
                    io_loop.remove_handler(sock)
                    paused = True
                    io_loop.call_later(ACCEPT_PAUSE_SECONDS, resume)
                    return
                self._handle_connection(connection, address)

        def remove() -> None:
            nonlocal removed
            if not paused:
                io_loop.remove_handler(sock)
            removed = True

        io_loop.add_handler(sock, accept, IOLoop.READ)
        return remove


@dataclass
class WebhookServer:
    """Serves one path; `handle` is awaited for each update and says whether it is done."""

    path: str
    secret: str
    handle: Handle
    in_flight: int = 0
    max_connections: int = 0
    """0: `connection_cap()`."""

    def __post_init__(self) -> None:
        self.refusals = RefusalLog()
        app = tornado.web.Application(
            [(self.path, _UpdateHandler, {"server": self})], log_function=self._log_request
        )
        self._http = _GuardedHTTPServer(
            app,
            max_connections=self.max_connections or connection_cap(),
            refusals=self.refusals,
            max_body_size=MAX_BODY_BYTES,
            max_header_size=MAX_HEADER_BYTES,
            idle_connection_timeout=HEADER_TIMEOUT_SECONDS,
            body_timeout=BODY_TIMEOUT_SECONDS,
        )
        self._sockets: list[socket.socket] = []
        self._noise = _CountTornadoNoise(self.refusals)

    def _log_request(self, handler: tornado.web.RequestHandler) -> None:
        """Accepted requests at DEBUG; refused ones summed up (no bodies, ever)."""
        status = handler.get_status()
        request = handler.request
        if status < 400:
            log.debug("%d %s %s", status, request.method, request.path)
            return
        method = request.method if request.method in _METHODS else "other method"
        path = request.path if request.path == self.path else "other path"
        self.refusals.note(f"{status} {method} {path}")

    async def start(self, listen: str, port: int) -> int:
        """Listen on `listen`:`port` (0 picks a free port); return the port."""
        self._sockets = tornado.netutil.bind_sockets(port, listen)
        self._http.add_sockets(self._sockets)
        logging.getLogger("tornado.general").addFilter(self._noise)
        bound: int = self._sockets[0].getsockname()[1]
        return bound

    async def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Stop listening, let requests in progress finish (up to `grace` s), close the rest."""
        self._http.stop()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while self.in_flight and loop.time() < deadline:
            await asyncio.sleep(0.02)
        await self._http.close_all_connections()
        logging.getLogger("tornado.general").removeFilter(self._noise)
        self.refusals.close()


async def handle_update(gateway: Gateway, data: dict[str, Any]) -> WebhookAnswer:
    """Turn a webhook body into an update and have the gateway handle it.

    A body the library cannot read would fail the same way every time, so it is
    acknowledged (and logged without its content) rather than retried forever.
    """
    try:
        update = Update.de_json(data, gateway.bot)
    except Exception as exc:  # any parsing failure is the same to us
        log.warning("update %s could not be read: %s", data.get("update_id"), type(exc).__name__)
        return WebhookAnswer(Handled.IGNORED)
    return await answer_update(gateway, update)


async def answer_update(gateway: Gateway, update: Update) -> WebhookAnswer:
    """Have the gateway handle a parsed update; what to answer Telegram."""
    carried = Carried()
    handled = await gateway.handle(update, carried)
    return WebhookAnswer(handled, carried.body())


@dataclass(frozen=True)
class WebhookSettings:
    """Where to listen and what to register with Telegram."""

    url: str
    path: str
    secret: str
    listen: str
    port: int
    allowed_updates: Sequence[str]


async def set_webhook(bot: Bot, settings: WebhookSettings, stop: asyncio.Event) -> None:
    """Register the webhook (keeping pending updates), trying again on network errors."""
    for attempt in range(SET_WEBHOOK_ATTEMPTS):
        try:
            await bot.set_webhook(
                settings.url,
                secret_token=settings.secret,
                allowed_updates=list(settings.allowed_updates),
                drop_pending_updates=False,
            )
            return
        except NetworkError as exc:
            if attempt == SET_WEBHOOK_ATTEMPTS - 1:
                raise
            log.warning("setWebhook failed, trying again: %s", exc)
            if await wait_or_stop(stop, 0.5 * 2**attempt):
                return


async def serve_webhook(gateway: Gateway, settings: WebhookSettings, stop: asyncio.Event) -> None:
    """Serve the webhook until `stop` is set, then finish the requests in progress."""
    server = WebhookServer(settings.path, settings.secret, lambda d: handle_update(gateway, d))
    port = await server.start(settings.listen, settings.port)
    log.info("receiving updates by webhook on %s:%d%s", settings.listen, port, settings.path)
    try:
        await set_webhook(gateway.bot, settings, stop)
        await stop.wait()
    except TelegramError as exc:
        log.error("cannot register the webhook: %s", exc)
        raise
    finally:
        await server.stop()
