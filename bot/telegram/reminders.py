"""Sending reminders when they come due: a periodic check in every worker.

Each check claims a batch of due reminders from the store (atomically: with several workers,
each reminder is claimed by one), sends each through the `Outbox` (so the bot's rate limiter
paces them, and a burst of 10,000 due at once drains at the configured rate rather than as a
429 storm), and marks it sent. A worker killed between claim and mark loses nothing: the
claim's lease runs out and another check sends it again (the reminders in flight, at most
`SENDING_AT_ONCE`, may go out twice).

The first check runs as soon as the bot is up, so reminders that fell due while it was down go
out then (saying they are late only when more than a day late).

This is a plain asyncio task beside the receiver, not python-telegram-bot's JobQueue: JobQueue
needs an `Application`, which doorajar does not use (it acknowledges an update only once it is
handled; see `bot.telegram.startup`), and a loop of claim, send, sleep is all it would run.
"""

from __future__ import annotations

import asyncio
import logging

from telegram.error import BadRequest, Forbidden, TelegramError

from bot.reminders import Reminder
from bot.store.protocol import StoreUnavailable
from bot.telegram.gateway import Gateway

log = logging.getLogger("doorajar.reminders")

CHECK_EVERY_SECONDS = 5.0
"""Between checks when nothing was due; a full batch is followed by the next at once."""
SENDING_AT_ONCE = 4
"""Reminders of a batch in flight at the same time. Each is marked sent as soon as Telegram
has it, so a worker killed mid-batch sends again only those in flight (at most this many):
four keep up with Telegram's ~30 messages a second at ~100 ms a call, and the rate limiter
paces them."""


async def send_reminder(gateway: Gateway, reminder: Reminder) -> str:
    """Send one claimed reminder in its chat's turn; what became of it: `sent`, `dropped`
    (the chat blocked the bot: all its reminders go), `gone` (Telegram refused it, or the
    situation left the content: deleted), or `later` (a network error: the lease brings it
    back)."""
    service = gateway.service
    reply = service.reminder_reply(reminder)
    if reply is None:
        await service.store.delete_reminder(reminder.chat_id, reminder.id)
        return "gone"
    try:
        async with service.turn(reminder.chat_id):
            await gateway.outbox.reply(int(reminder.chat_id), (reply,))
    except Forbidden:
        await service.drop_reminders(reminder.chat_id)
        log.info("a chat blocked the bot: its reminders were dropped")
        return "dropped"
    except BadRequest as exc:  # chat not found, and the like: sending again would fail again
        await service.store.delete_reminder(reminder.chat_id, reminder.id)
        log.warning("reminder not deliverable, deleted: %s", exc)
        return "gone"
    except TelegramError as exc:
        log.warning("reminder not sent, will be tried again: %s", exc)
        return "later"
    await service.reminder_sent(reminder)
    return "sent"


async def check_reminders(gateway: Gateway) -> int:
    """One check: claim a batch of due reminders and send them; how many were claimed."""
    claimed = await gateway.service.claim_reminders()
    if claimed:
        slots = asyncio.Semaphore(SENDING_AT_ONCE)

        async def send(reminder: Reminder) -> str:
            async with slots:
                return await send_reminder(gateway, reminder)

        results = await asyncio.gather(*(send(r) for r in claimed))
        log.info(
            "reminders: %d sent, %d later, %d dropped or gone",
            results.count("sent"),
            results.count("later"),
            len(results) - results.count("sent") - results.count("later"),
        )
    return len(claimed)


async def remind_forever(gateway: Gateway, every: float = CHECK_EVERY_SECONDS) -> None:
    """Check for due reminders until cancelled: at once, then every `every` seconds (at once
    again after a full batch, so a backlog drains at the sending rate)."""
    while True:
        claimed = 0
        try:
            claimed = await check_reminders(gateway)
        except StoreUnavailable as exc:
            log.warning("reminder check skipped, store unavailable: %s", exc)
        except Exception:  # never let one bad reminder stop every later one
            log.exception("reminder check failed")
        if claimed == 0:
            await asyncio.sleep(every)
