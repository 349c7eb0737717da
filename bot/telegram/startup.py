"""Process start-up for Telegram: check the settings, build the bot, run a receiver until told
to stop.

`build_gateway` makes the one `telegram.ext.ExtBot` (aiohttp requests, `AIORateLimiter`) and
the gateway around it; `serve` initialises the bot, publishes the command list, purges idle
conversations every few hours, and runs a receiver (the webhook server or the poller) until
SIGTERM or SIGINT, then shuts everything down. Beside the receiver it runs the periodic
reminder check (`bot.telegram.reminders`). python-telegram-bot's `Application` and its
`run_webhook`/`run_polling` are not used: they acknowledge an update as soon as it is queued,
and doorajar acknowledges one only once it is handled (`Handled.acknowledged`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import logging
import os
import re
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlparse

from telegram.error import TelegramError
from telegram.ext import AIORateLimiter, ExtBot
from telegram.request import BaseRequest, HTTPXRequest

from bot.content.catalog import Catalog
from bot.engine import Engine
from bot.service import ChatService
from bot.store.factory import open_store
from bot.store.protocol import StoreUnavailable
from bot.telegram.gateway import Gateway
from bot.telegram.logs import configure_logging
from bot.telegram.outbox import AiohttpRequest, Outbox
from bot.telegram.polling import poll
from bot.telegram.reminders import remind_forever
from bot.telegram.webhook import WebhookSettings, serve_webhook

log = logging.getLogger("doorajar.telegram")

Receiver = Callable[[asyncio.Event], Awaitable[None]]
"""Receives updates until the event is set: the webhook server or the poller."""

ALLOWED_UPDATES = ("message", "callback_query", "inline_query", "chosen_inline_result")
"""chosen_inline_result (stats: shares) also needs /setinlinefeedback in BotFather."""
RATE_LIMIT_RETRIES = 3
MAX_RATE = 30
"""Messages per second for the whole bot: Telegram's broadcast limit."""
PURGE_EVERY_SECONDS = 6 * 3600
SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
TELEGRAM_BASE_URL = "https://api.telegram.org/bot"


def file_base_url(base_url: str) -> str:
    """The file download URL that goes with a Bot API base URL (…/bot -> …/file/bot)."""
    head, sep, tail = base_url.rpartition("/bot")
    return f"{head}/file/bot{tail}" if sep else base_url.rstrip("/") + "/file/bot"


def build_gateway(
    service: ChatService,
    *,
    token: str,
    base_url: str | None = None,
    request: BaseRequest | None = None,
    rate_limit: bool = True,
    max_rate: float = MAX_RATE,
) -> Gateway:
    """The gateway for `service`, with its bot (not yet initialised: see `serve`).

    `request` replaces the HTTP layer (tests use a recording fake; by default Bot API calls go
    through aiohttp, at half the CPU of PTB's httpx, and long polling through PTB's own);
    `base_url` points the bot at another Bot API server, such as a local one
    (`http://127.0.0.1:8081/bot`). `max_rate` is the most messages per second the rate
    limiter lets through (the benchmark lifts it).
    """
    limiter = None
    if rate_limit:
        limiter = AIORateLimiter(overall_max_rate=max_rate, max_retries=RATE_LIMIT_RETRIES)
    base_url = base_url or TELEGRAM_BASE_URL
    bot: ExtBot[Any] = ExtBot(
        token,
        base_url=base_url,
        base_file_url=file_base_url(base_url),
        request=request or AiohttpRequest(),
        get_updates_request=request or HTTPXRequest(connection_pool_size=1),
        rate_limiter=limiter,
    )
    catalog = service.engine.catalog
    return Gateway(service, Outbox(bot, catalog.common[catalog.default_lang]))


async def start(gateway: Gateway) -> None:
    """Initialise the bot (getMe) and publish its command list."""
    try:
        await gateway.bot.initialize()
    except BaseException:
        # `Bot.shutdown` does nothing for a bot that never finished initialising, so the
        # connections opened for getMe (a wrong token, no network) are closed here.
        await gateway.bot.request.shutdown()
        raise
    await gateway.outbox.publish_commands()
    settle()
    log.info("bot @%s is ready", gateway.bot.username)


def settle() -> None:
    """Keep the garbage collector off what start-up built (the catalogue, its machines, the
    libraries), which lives as long as the process: every full collection would walk it
    again, and updates make collections run often."""
    gc.collect()
    gc.freeze()


async def purge_forever(service: ChatService, retention_days: int) -> None:
    """Every few hours, forget the chats idle longer than `retention_days`."""
    while True:
        count = await service.purge(retention_days * 86400)
        if count is not None:
            log.info("purged %d idle conversation(s)", count)
        await asyncio.sleep(PURGE_EVERY_SECONDS)


async def serve(gateway: Gateway, receive: Receiver, retention_days: int = 0) -> None:
    """Start the bot, run `receive` until SIGTERM/SIGINT, then shut everything down."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on this platform
            loop.add_signal_handler(sig, stop.set)
    purger = None
    reminder = None
    try:
        await start(gateway)
        if retention_days > 0:
            purger = asyncio.create_task(purge_forever(gateway.service, retention_days))
        # A plain task, not PTB's JobQueue, which needs the Application doorajar does not use
        # (bot.telegram.reminders says more).
        reminder = asyncio.create_task(remind_forever(gateway))
        await receive(stop)
    finally:
        if purger is not None:
            purger.cancel()
        if reminder is not None:
            reminder.cancel()
        await gateway.service.close()
        await gateway.bot.shutdown()
    log.info("stopped")


def _webhook_problem(args: argparse.Namespace) -> str | None:
    if not args.webhook_url:
        return "--webhook needs --webhook-url (or DOORAJAR_WEBHOOK_URL): the public HTTPS URL"
    if not args.webhook_secret:
        return "--webhook needs --webhook-secret (or DOORAJAR_WEBHOOK_SECRET)"
    if not SECRET_RE.fullmatch(args.webhook_secret):
        return "the webhook secret may use only A-Z, a-z, 0-9, _ and -, up to 256 characters"
    return None


def run_bot(catalog: Catalog, args: argparse.Namespace) -> int:
    """Run the bot until interrupted: long polling, or a webhook server with `--webhook`."""
    token = os.environ.get("TELEGRAM_BOT_TOKEN", "").strip()
    if not token:
        print("TELEGRAM_BOT_TOKEN is not set (see .env.example, docs/telegram.md)", file=sys.stderr)
        return 2
    store_password = urlparse(args.store or "").password or ""
    configure_logging(args.log_level, token, args.webhook_secret or "", store_password)
    if args.webhook and (problem := _webhook_problem(args)):
        print(problem, file=sys.stderr)
        return 2
    try:
        store = open_store(args.store)
    except StoreUnavailable as exc:
        print(exc, file=sys.stderr)
        return 1
    gateway = build_gateway(
        ChatService(Engine(catalog), store),
        token=token,
        base_url=args.api_base_url,
        max_rate=args.max_rate,
    )
    receive: Receiver
    if args.webhook:
        settings = WebhookSettings(
            url=args.webhook_url,
            path="/" + urlparse(args.webhook_url).path.strip("/"),
            secret=args.webhook_secret,
            listen=args.listen,
            port=args.port,
            allowed_updates=ALLOWED_UPDATES,
        )
        receive = functools.partial(serve_webhook, gateway, settings)
    else:
        receive = functools.partial(poll, gateway, allowed_updates=ALLOWED_UPDATES)
    try:
        asyncio.run(serve(gateway, receive, args.retention_days))
    except (TelegramError, OSError) as exc:  # a wrong token, a port in use, ...
        log.error("stopped: %s", exc)
        return 1
    return 0
