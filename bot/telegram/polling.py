"""Long polling that never skips an update the store could not take.

`getUpdates` confirms every update below the `offset` it is called with, so the offset moves
past a batch only once every update in it is done. Within a batch, each chat's updates run in
order and chats run side by side. An update handed back (`Handled.RETRY`: the store is down,
or its reply could not be sent after the save) is tried again, with its chat's later updates,
after a growing pause, until it is done or the bot stops; stopping leaves it unconfirmed, so
Telegram hands it out again at the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import warnings
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, TypeVar

from telegram import Bot, Update
from telegram.error import Conflict, NetworkError, RetryAfter, TelegramError
from telegram.warnings import PTBUserWarning

from bot.service import Handled

if TYPE_CHECKING:
    from bot.telegram.gateway import Gateway

log = logging.getLogger("doorajar.polling")

T = TypeVar("T")
POLL_TIMEOUT = 25
"""Seconds a long poll may wait for updates (Telegram answers as soon as there is one)."""
READ_MARGIN = 10
"""Seconds beyond the long poll before a silent connection counts as timed out."""
CONCURRENT_CHATS = 64
"""Chats of one batch handled side by side."""

# `fetch` reads getUpdates' raw answer so that one unreadable update cannot stop the bot;
# the library suggests `get_updates`, which fails on the whole batch instead.
warnings.filterwarnings("ignore", r"Please use 'Bot.getUpdates'", PTBUserWarning)


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep `seconds`, waking early when `stop` is set; True when stopping."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


@dataclass(frozen=True)
class Backoff:
    """Pauses that double from `first` up to `cap` seconds."""

    first: float = 0.25
    cap: float = 8.0

    def delay(self, attempt: int) -> float:
        """The pause before try number `attempt + 1`."""
        return float(min(self.cap, self.first * 2 ** min(attempt, 30)))


def retry_seconds(error: RetryAfter) -> float:
    """How long Telegram asked to wait (PTB gives seconds or a timedelta, by a setting)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PTB's notice about the timedelta switch
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def chat_key(update: Update) -> str:
    """Updates with the same key must be handled in order (one chat, or one user)."""
    if update.effective_chat is not None:
        return f"chat:{update.effective_chat.id}"
    if update.effective_user is not None:
        return f"user:{update.effective_user.id}"
    return f"update:{update.update_id}"


Handle = Callable[[Update], Awaitable[Handled]]


async def handle_once(updates: Sequence[Update], handle: Handle) -> list[Update]:
    """Handle updates, in order per chat; return those to try again (oldest first).

    When a chat's update must be retried, that chat's later updates wait with it.
    """
    by_chat: dict[str, list[Update]] = {}
    for update in updates:
        by_chat.setdefault(chat_key(update), []).append(update)
    limit = asyncio.Semaphore(CONCURRENT_CHATS)

    async def run_chat(queue: list[Update]) -> list[Update]:
        async with limit:
            for index, update in enumerate(queue):
                if not (await handle(update)).acknowledged:
                    return queue[index:]
            return []

    left = await asyncio.gather(*(run_chat(queue) for queue in by_chat.values()))
    return sorted((u for queue in left for u in queue), key=lambda u: u.update_id)


async def handle_batch(
    updates: Sequence[Update], handle: Handle, stop: asyncio.Event, backoff: Backoff
) -> int | None:
    """Handle a batch until every update is done (None) or the bot stops (the oldest update
    left, where polling must start again)."""
    pending = list(updates)
    attempt = 0
    while True:
        pending = await handle_once(pending, handle)
        if not pending:
            return None
        delay = backoff.delay(attempt)
        attempt += 1
        log.warning("%d update(s) not saved yet; trying again in %.2f s", len(pending), delay)
        if await wait_or_stop(stop, delay):
            return pending[0].update_id


async def fetch(bot: Bot, offset: int, allowed_updates: Sequence[str]) -> tuple[list[Update], int]:
    """One long poll: the updates, and the offset past all of them.

    An update the library cannot read would fail the same way every time, so it is logged
    (its id and the error, not its content) and passed over instead of stopping the bot.
    """
    raw = await bot.do_api_request(
        "getUpdates",
        api_kwargs={
            "offset": offset,
            "timeout": POLL_TIMEOUT,
            "allowed_updates": list(allowed_updates),
        },
        read_timeout=POLL_TIMEOUT + READ_MARGIN,
    )
    updates = []
    for data in raw or ():
        try:
            updates.append(Update.de_json(data, bot))
        except Exception as exc:  # any parsing failure is the same to us
            log.warning(
                "update %s could not be read: %s", data.get("update_id"), type(exc).__name__
            )
        offset = max(offset, int(data["update_id"]) + 1)
    return updates, offset


async def _unless_stopped(call: Awaitable[T], stop: asyncio.Event) -> T | None:
    """`call`'s result, or None (and `call` cancelled) when `stop` is set first."""
    task = asyncio.ensure_future(call)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if task.done():
        return task.result()
    task.cancel()
    return None


async def poll(
    gateway: Gateway,
    stop: asyncio.Event,
    allowed_updates: Sequence[str],
    backoff: Backoff = Backoff(),
) -> None:
    """Fetch and handle updates until `stop` is set; then confirm what was handled."""
    bot = gateway.bot
    await bot.delete_webhook(drop_pending_updates=False)
    log.info("receiving updates by long polling")
    offset = 0
    failures = 0
    while not stop.is_set():
        try:
            fetched = await _unless_stopped(fetch(bot, offset, allowed_updates), stop)
        except RetryAfter as exc:
            log.warning("getUpdates rate limited: %s", exc)
            await wait_or_stop(stop, retry_seconds(exc))
            continue
        except (NetworkError, Conflict) as exc:  # TimedOut is a NetworkError
            log.warning("getUpdates failed, trying again: %s", exc)
            await wait_or_stop(stop, backoff.delay(failures))
            failures += 1
            continue
        failures = 0
        if fetched is None:
            break
        updates, past = fetched
        left = await handle_batch(updates, gateway.handle, stop, backoff)
        offset = past if left is None else left
    if offset:
        try:  # confirms everything below the offset; the next start continues from there
            await bot.get_updates(offset=offset, timeout=0, limit=1)
        except TelegramError as exc:
            log.warning("could not confirm handled updates (they come again, once): %s", exc)
