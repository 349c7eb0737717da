"""Hand Telegram updates to the application and learn whether each one is done.

Telegram delivers an update again until it is acknowledged: a webhook request answered with
2xx, or a long poll whose next offset is past it. So an update is acknowledged only once its
conversation was saved. Handlers run inside `Application.process_update`, which swallows
their errors, so they report back through a receipt held in a context variable: a handler
that could not save (the store is unavailable) calls `must_retry()`, and `deliver` returns
`Delivery.RETRY` for the webhook to answer 503 and the poller to try again.

`run_application` runs an application under a receiver (the webhook server or the poller)
until SIGTERM or SIGINT, instead of PTB's `run_webhook`/`run_polling`, which acknowledge an
update as soon as it is queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import signal
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from telegram import Update
from telegram.ext import Application

log = logging.getLogger("doorajar.delivery")

App = Application[Any, Any, Any, Any, Any, Any]
Receiver = Callable[[asyncio.Event], Awaitable[None]]
"""Receives updates until the event is set: the webhook server or the poller."""


class Delivery(enum.Enum):
    """What became of one delivered update."""

    DONE = "done"
    """Handled: saved and answered, a duplicate, or nothing to save. Acknowledge it."""
    RETRY = "retry"
    """Nothing was saved (the store was unavailable): have it delivered again."""


@dataclass
class _Receipt:
    retry: bool = False


_RECEIPT: ContextVar[_Receipt | None] = ContextVar("doorajar_receipt", default=None)


def must_retry() -> None:
    """Report, from a handler, that its update was not saved and must be delivered again."""
    receipt = _RECEIPT.get()
    if receipt is not None:
        receipt.retry = True


async def deliver(app: App, update: Update) -> Delivery:
    """Run the application's handlers for `update` to the end; say whether it is done."""
    receipt = _Receipt()
    token = _RECEIPT.set(receipt)
    try:
        await app.process_update(update)
    finally:
        _RECEIPT.reset(token)
    return Delivery.RETRY if receipt.retry else Delivery.DONE


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep `seconds`, waking early when `stop` is set; True when stopping."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


async def run_application(app: App, receive: Receiver) -> None:
    """Initialise `app`, run `receive` until SIGTERM/SIGINT, then shut everything down.

    The application's `post_init` and `post_shutdown` run as under PTB's own runners.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on this platform
            loop.add_signal_handler(sig, stop.set)
    async with app:
        if app.post_init is not None:
            await app.post_init(app)
        try:
            await receive(stop)
        finally:
            if app.post_shutdown is not None:
                await app.post_shutdown(app)
    log.info("stopped")
