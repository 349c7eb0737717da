"""A real `doorajar run` killed with SIGKILL while it sends reminders, again and again: no
reminder is lost, and only the ones in flight when the worker died go out twice.

The fake Bot API delivers one reminder's message and then holds its answer until the worker is
killed, so that reminder was seen by the user but never marked sent: the worst moment. A check
sends its batch (up to `CLAIM_BATCH`, 30) at once, so the kill also finds others of the batch
delivered and not yet marked (each is marked right after its own send, a millisecond later):
"in flight" is every reminder delivered and not marked sent when the worker died, and exactly
those go out twice. The
claim's lease (5 minutes) is what brings such a reminder back; rather than wait for it, the test
moves the lease's end of the rows still claimed to now after each kill, exactly what 5 minutes
passing would do to them, and the next worker sends them.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.reminders import Reminder
from bot.store.sqlite import SqliteStore
from bot.telegram.reminders import SENDING_AT_ONCE
from tests import figures
from tests.fake_bot_api import FakeBotApiServer, FakeTelegram
from tests.faults.test_crash import kill
from tests.faults.test_telegram_e2e import BotProcess, bot_env, start_polling

REMINDERS = 150
KILLS = 3
HOLD_AT = (15, 60, 105)
"""The sendMessage (counted from the first) whose answer is held until the worker is killed."""
WAIT = 30.0
FIRST_CHAT = 7000
ANSWERS = {
    "channel": "email",
    "reply_by": "Friday",
    "company": "Northwind Traders",
    "role": "Data Analyst",
    "recipient": "Jordan",
    "your_name": "Sam Carter",
}


class HoldingTelegram(FakeTelegram):
    """Delivers every sendMessage; the ones numbered in `hold_at` are then left unanswered
    until `release` (by then the worker that sent them is dead)."""

    def __init__(self) -> None:
        super().__init__()
        self.sends = 0
        self.hold_at: set[int] = set(HOLD_AT)
        self.held = threading.Event()
        self.release = threading.Event()
        self.held_chats: list[int] = []

    def api_sendmessage(self, params: dict[str, Any]) -> Any:
        message = super().api_sendmessage(params)
        with self._cond:
            self.sends += 1
            hold = self.sends in self.hold_at
            if hold:
                self.held_chats.append(int(params["chat_id"]))
        if hold:
            self.held.set()
            self.release.wait(WAIT)
        return message


@pytest.fixture
def holding_api() -> Iterator[tuple[HoldingTelegram, FakeBotApiServer]]:
    fake = HoldingTelegram()
    with FakeBotApiServer(fake) as server:
        yield fake, server


def seed(path: Path, now: float) -> None:
    """REMINDERS reminders, one per chat, all due a minute ago."""

    async def add() -> None:
        store = SqliteStore(path)
        for index in range(REMINDERS):
            chat = str(FIRST_CHAT + index)
            await store.add_reminder(
                Reminder(chat, "r1", now - 60, "ask_for_time", "days2", ANSWERS, created_at=now)
            )
        await store.close()

    asyncio.run(add())


def claimed_not_sent(path: Path, now: float) -> set[int]:
    """Chats whose reminder is claimed (its lease ends after now) and not marked sent."""
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT chat_id FROM reminders WHERE next_look > ?", (now,)).fetchall()
    return {int(row[0]) for row in rows}


def end_leases(path: Path, now: float) -> None:
    """What 5 minutes passing does to the claimed rows: their lease ends, they are due."""
    with sqlite3.connect(path) as db:
        db.execute("UPDATE reminders SET next_look = ? WHERE next_look > ?", (now - 1, now))


def pending(path: Path) -> int:
    with sqlite3.connect(path) as db:
        row = db.execute("SELECT count(*) FROM reminders WHERE next_look IS NOT NULL").fetchone()
    return int(row[0])


def test_a_worker_killed_while_sending_reminders_loses_none_and_repeats_only_those_in_flight(
    holding_api: tuple[HoldingTelegram, FakeBotApiServer], tmp_path: Path
) -> None:
    api, server = holding_api
    path = tmp_path / "store.db"
    seed(path, time.time())
    env = bot_env(server, path)
    chats = range(FIRST_CHAT, FIRST_CHAT + REMINDERS)
    in_flight: set[int] = set()
    bots: list[BotProcess] = []

    def start(number: int) -> BotProcess:
        bot = BotProcess([], env, tmp_path / f"bot{number}.log")
        bots.append(bot)
        start_polling(api, bot)
        return bot

    try:
        bot = start(0)
        for number in range(KILLS):
            assert api.held.wait(WAIT), bot.log()  # a reminder delivered, its answer held
            kill(bot)
            api.release.set()  # the held answer goes nowhere: its worker is dead
            time.sleep(0.2)  # requests the dead worker had on the wire are answered
            unmarked = claimed_not_sent(path, time.time())
            in_flight |= {chat for chat in unmarked if api.chat_messages(chat)}
            end_leases(path, time.time())
            api.held.clear()
            api.release = threading.Event()
            bot = start(number + 1)
        api.wait_for(lambda: all(api.chat_messages(chat) for chat in chats), WAIT)
        deadline = time.monotonic() + WAIT
        while pending(path) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert pending(path) == 0, bot.log()
    finally:
        for each in bots:
            each.stop()
    delivered = {chat: len(api.chat_messages(chat)) for chat in chats}
    lost = [chat for chat, count in delivered.items() if count == 0]
    twice = {chat for chat, count in delivered.items() if count > 1}
    figures.record(
        "reminders_killed_while_sending",
        reminders=REMINDERS,
        kills=KILLS,
        lost=len(lost),
        sent_twice=len(twice),
        in_flight_at_kills=len(in_flight),
        held_answers=len(api.held_chats),
        sent_more_than_twice=sum(count > 2 for count in delivered.values()),
    )
    assert lost == []
    assert set(api.held_chats) <= in_flight
    assert twice == in_flight  # the ones in flight went out again, and nothing else did
    assert len(in_flight) <= SENDING_AT_ONCE * KILLS  # a kill catches at most that many
    assert max(delivered.values()) == 2
