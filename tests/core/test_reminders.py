"""Reminders end to end below the front ends: set under a draft, kept across a restart, sent
once across workers, and what their buttons open. The clock is the service's, set by the test."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from telegram.error import Forbidden

from bot.content.loader import load_catalog
from bot.engine import Engine
from bot.events import RemindAt, ReminderAction, ShowDraft, decode
from bot.reminders import Interval, Reminder
from bot.replies import Notice, ReminderReply, ResultReply
from bot.service import ChatService
from bot.store.memory import MemoryStore
from bot.store.sqlite import SqliteStore
from bot.telegram.reminders import send_reminder

DAY = 86400.0
START = 1_700_000_000.0  # a Tuesday
ANSWERS = (
    ("channel", "email"),
    ("reply_by", "Friday"),
    ("company", "Northwind Traders"),
    ("role", "Data Analyst"),
    ("recipient", "Jordan"),
    ("your_name", "Sam Carter"),
)


class Clock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(load_catalog())


async def set_reminder(service: ChatService, chat: str = "42", choice: str = "days2") -> None:
    """Open the ask_for_time draft, tap "Remind me", pick `choice` (update 7)."""
    step = await service.apply(chat, ShowDraft("ask_for_time", ANSWERS))
    assert step.outcome is not None and isinstance(step.outcome.replies[-1], ResultReply)
    buttons = [b.data for row in step.outcome.replies[-1].actions for b in row]
    assert "rm" in buttons  # the Remind me button under the result
    picker = await service.apply(chat, decode("rm"))
    assert picker.outcome is not None
    (choices,) = picker.outcome.replies
    assert isinstance(choices, ReminderReply)
    assert [b.data for row in choices.buttons for b in row] == [
        "ra:days2",
        "ra:tomorrow",
        "ra:days3",
    ]
    confirmed = await service.apply(chat, RemindAt(choice), update_id=7)
    assert confirmed.outcome is not None
    (notice,) = confirmed.outcome.replies
    assert isinstance(notice, Notice) and "In 2 days" in notice.text
    assert "Thursday 16 November" in notice.text  # two days after Tuesday 14 November


async def test_a_reminder_survives_a_restart_and_is_sent_after_it(
    engine: Engine, tmp_path: Path
) -> None:
    clock = Clock()
    first = ChatService(engine, SqliteStore(tmp_path / "db.sqlite"), clock=clock)
    await set_reminder(first)
    assert await first.claim_reminders() == []  # not due yet
    await first.close()
    clock.now = START + 3 * DAY  # the bot was down when it came due
    second = ChatService(engine, SqliteStore(tmp_path / "db.sqlite"), clock=clock)
    (due,) = await second.claim_reminders()
    reply = second.reminder_reply(due)
    assert reply is not None
    assert "You told Northwind Traders you would give your answer by Friday." in reply.text
    assert "offline" not in reply.text  # a day late at most: not marked late
    await second.reminder_sent(due)
    assert await second.claim_reminders() == []
    clock.now = START + 10 * DAY
    late = engine.reminder_reply(due, clock.now)
    assert late is not None and "offline" in late.text
    await second.close()


async def test_the_same_update_delivered_twice_sets_one_reminder(engine: Engine) -> None:
    service = ChatService(engine, MemoryStore(), clock=Clock())
    await set_reminder(service)
    await service.apply("42", RemindAt("days2"), update_id=7)
    assert len(await service.store.pending_reminders("42")) == 1


async def test_the_next_situation_opens_with_the_reused_answers(engine: Engine) -> None:
    clock = Clock()
    service = ChatService(engine, MemoryStore(), clock=clock)
    await set_reminder(service)
    clock.now += 2 * DAY
    (due,) = await service.claim_reminders()
    step = await service.apply("42", ReminderAction("next", due.id))
    assert step.outcome is not None
    conv = step.outcome.conversation
    assert conv.flow == "decline_offer"
    assert conv.answers == {
        "company": "Northwind Traders",
        "role": "Data Analyst",
        "recipient": "Jordan",
        "your_name": "Sam Carter",
    }
    draft = await service.apply("42", ReminderAction("draft", due.id))
    assert draft.outcome is not None and isinstance(draft.outcome.replies[-1], ResultReply)
    assert "Northwind Traders" in draft.outcome.replies[-1].result.messages[0].text
    snoozed = await service.apply("42", ReminderAction("snooze", due.id))
    assert snoozed.outcome is not None and "Friday 17 November" in snoozed.outcome.replies[0].text
    listed = await service.apply("42", ReminderAction("cancel", due.id))
    assert listed.outcome is not None
    assert await service.store.pending_reminders("42") == []


async def test_forget_deletes_pending_reminders(engine: Engine) -> None:
    service = ChatService(engine, MemoryStore(), clock=Clock())
    await set_reminder(service)
    async with service.turn("42") as turn:
        await turn.forget()
    assert await service.store.pending_reminders("42") == []


class BlockedOutbox:
    def __init__(self) -> None:
        self.sent = 0

    async def reply(self, chat_id: int, replies: Any) -> None:
        self.sent += 1
        raise Forbidden("Forbidden: bot was blocked by the user")


class Gatewayish:
    def __init__(self, service: ChatService, outbox: Any) -> None:
        self.service = service
        self.outbox = outbox


async def test_a_chat_that_blocked_the_bot_has_its_reminders_dropped(engine: Engine) -> None:
    clock = Clock()
    service = ChatService(engine, MemoryStore(), clock=clock)
    await set_reminder(service)
    await service.apply("42", RemindAt("days3"), update_id=8)
    clock.now += 2 * DAY
    (due,) = await service.claim_reminders()
    outbox = BlockedOutbox()
    assert await send_reminder(Gatewayish(service, outbox), due) == "dropped"  # type: ignore[arg-type]
    assert outbox.sent == 1
    assert await service.store.pending_reminders("42") == []
    clock.now += 30 * DAY
    assert await service.claim_reminders() == []  # not retried


@pytest.mark.slow
async def test_two_workers_on_redis_send_each_of_1000_due_reminders_once(
    tmp_path: Path,
) -> None:
    from bot.store.redis import RedisStore
    from tests.redis_server import RedisServer

    server = RedisServer(tmp_path)
    url = server.start()
    try:
        setup = RedisStore.from_url(url)
        for index in range(1000):
            await setup.add_reminder(Reminder(str(index % 97), f"r{index}", START, "f", "c"))
        await setup.close()
        sends: Counter[str] = Counter()

        async def worker() -> None:
            store = RedisStore.from_url(url)
            while claimed := await store.claim_reminders(START + 1, 30, 300.0):
                for reminder in claimed:
                    sends[reminder.key] += 1
                    await asyncio.sleep(0)  # "sending"
                    await store.reminder_sent(reminder, START + 1)
            await store.close()

        await asyncio.gather(worker(), worker())
        assert len(sends) == 1000
        assert set(sends.values()) == {1}
    finally:
        server.stop()


def test_intervals_fall_on_the_expected_days() -> None:
    assert Interval(5, "working_days").due_after(START) == START + 7 * DAY  # over a weekend
    assert Interval(1, "months").due_after(START) == START + 30 * DAY
