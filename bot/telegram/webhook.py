"""The webhook server: answers Telegram only after the update's conversation was saved.

Telegram POSTs each update as JSON to the webhook URL with the secret token in the
`X-Telegram-Bot-Api-Secret-Token` header, and sends it again until it gets a 2xx answer.
So the server

* refuses a request without the right secret with 403 (compared in constant time);
* hands the update to the bot and waits for it to be handled to the end;
* answers 200 when it is done, and 503 when nothing could be saved (the store is down), so
  Telegram delivers it again later.

It is tornado (which python-telegram-bot's `webhooks` extra installs) on the running asyncio
loop; it speaks plain HTTP, behind a reverse proxy that terminates TLS.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import tornado.httpserver
import tornado.netutil
import tornado.web
from telegram import Bot, Update
from telegram.error import NetworkError, TelegramError

from bot.service import Handled
from bot.telegram.polling import wait_or_stop

if TYPE_CHECKING:
    from bot.telegram.gateway import Gateway

log = logging.getLogger("doorajar.webhook")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY_BYTES = 1 << 20
"""Updates are a few kilobytes; anything bigger is not from Telegram."""
STOP_GRACE_SECONDS = 10.0
"""How long a stopping server lets requests in progress finish."""
SET_WEBHOOK_ATTEMPTS = 5

Handle = Callable[[dict[str, Any]], Awaitable[Handled]]


class _UpdateHandler(tornado.web.RequestHandler):
    """POST /path: one update."""

    def initialize(self, server: WebhookServer) -> None:
        self.server = server

    async def post(self) -> None:
        given = self.request.headers.get(SECRET_HEADER, "").encode("utf-8", "replace")
        if not hmac.compare_digest(given, self.server.secret.encode()):
            self.set_status(403)
            return
        try:
            data = json.loads(self.request.body)
        except ValueError:
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            self.set_status(400)
            return
        self.server.in_flight += 1
        try:
            done = await self.server.handle(data)
        finally:
            self.server.in_flight -= 1
        self.set_status(200 if done.acknowledged else 503)


def _log_request(handler: tornado.web.RequestHandler) -> None:
    """One line per refused request; accepted ones only at DEBUG (no bodies, ever)."""
    status = handler.get_status()
    level = logging.DEBUG if status < 400 else logging.WARNING
    request = handler.request
    log.log(level, "%d %s %s", status, request.method, request.path)


@dataclass
class WebhookServer:
    """Serves one path; `handle` is awaited for each update and says whether it is done."""

    path: str
    secret: str
    handle: Handle
    in_flight: int = 0

    def __post_init__(self) -> None:
        app = tornado.web.Application(
            [(self.path, _UpdateHandler, {"server": self})], log_function=_log_request
        )
        self._http = tornado.httpserver.HTTPServer(app, max_body_size=MAX_BODY_BYTES)
        self._sockets: list[socket.socket] = []

    async def start(self, listen: str, port: int) -> int:
        """Listen on `listen`:`port` (0 picks a free port); return the port."""
        self._sockets = tornado.netutil.bind_sockets(port, listen)
        self._http.add_sockets(self._sockets)
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


async def handle_update(gateway: Gateway, data: dict[str, Any]) -> Handled:
    """Turn a webhook body into an update and have the gateway handle it.

    A body the library cannot read would fail the same way every time, so it is
    acknowledged (and logged without its content) rather than retried forever.
    """
    try:
        update = Update.de_json(data, gateway.bot)
    except Exception as exc:  # any parsing failure is the same to us
        log.warning("update %s could not be read: %s", data.get("update_id"), type(exc).__name__)
        return Handled.IGNORED
    return await gateway.handle(update)


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
