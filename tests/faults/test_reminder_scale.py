"""Reminders at scale, through real `doorajar run` processes, their periodic sender and the
fake Bot API (sendMessage counted per reminder, by the reminder id in its buttons):

* two webhook workers on a real redis-server, 1,000 reminders due at once: each sent once;
* one worker draining 10,000 due at once through its rate limiter, against a fake Bot API
  that answers 429 above a flood limit: the send rate, the 429s, and each sent once.

The drain runs at `DRAIN_RATE` messages per second, not Telegram's 30 (10,000 at 30/s take 5.5
minutes); the limiter's behaviour does not depend on the rate, only the duration does.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter, deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from bot.reminders import Reminder
from bot.store.protocol import ConversationStore
from bot.store.redis import RedisStore
from bot.store.sqlite import SqliteStore
from tests import figures
from tests.fake_bot_api import ApiError, FakeBotApiServer, FakeTelegram
from tests.faults.test_scale_out import start_workers
from tests.faults.test_telegram_e2e import BotProcess, bot_env, start_polling
from tests.redis_server import RedisServer

ANSWERS = {
    "channel": "email",
    "reply_by": "Friday",
    "company": "Northwind Traders",
    "role": "Data Analyst",
    "recipient": "Jordan",
    "your_name": "Sam Carter",
}
CHATS = 100
"""Reminders are spread over this many chats (several per chat, as people set them)."""
WORKER_REMINDERS = 1000
DRAIN_REMINDERS = 10_000
DRAIN_RATE = 400
"""The drain worker's --max-rate (messages per second)."""
FLOOD_LIMIT = 500
"""The fake Bot API answers 429 to a sendMessage beyond this many in the last second."""
WAIT = 60.0
REMINDER_ID_RE = re.compile(r"^rx:(.+)$")  # the "Done" button names the reminder


class FloodTelegram(FakeTelegram):
    """A fake Bot API that counts sendMessage per reminder and answers 429 above a rate."""

    def __init__(self, flood_limit: float | None = None) -> None:
        super().__init__()
        self.flood_limit = flood_limit
        self.recent: deque[float] = deque()
        self.too_many = 0
        self.refused_at: list[float] = []
        self.per_reminder: Counter[str] = Counter()
        self.delivered_at: list[float] = []

    def api_sendmessage(self, params: dict[str, Any]) -> Any:
        now = time.monotonic()
        with self._cond:
            while self.recent and now - self.recent[0] > 1.0:
                self.recent.popleft()
            if self.flood_limit is not None and len(self.recent) >= self.flood_limit:
                self.too_many += 1
                self.refused_at.append(now)
                raise FloodError()
            self.recent.append(now)
        message = super().api_sendmessage(params)
        key = reminder_key(params.get("chat_id"), params.get("reply_markup"))
        with self._cond:
            self.delivered_at.append(now)
            if key is not None:
                self.per_reminder[key] += 1
        return message

    def sent(self) -> int:
        with self._cond:
            return sum(self.per_reminder.values())


class FloodError(ApiError):
    def __init__(self) -> None:
        super().__init__(429, "Too Many Requests: retry after 1")


def reminder_key(chat_id: Any, markup: Any) -> str | None:
    for row in (markup or {}).get("inline_keyboard", []):
        for button in row:
            found = REMINDER_ID_RE.match(button.get("callback_data", ""))
            if found:
                return f"{chat_id}:{found.group(1)}"
    return None


def handle_429_as_telegram(api: FloodTelegram) -> None:
    """Telegram's 429 body carries `parameters.retry_after`, which the limiter obeys."""
    original = api.handle

    def handle(
        method: str, params: dict[str, Any], *, carried: bool = False
    ) -> tuple[int, dict[str, Any]]:
        status, body = original(method, params, carried=carried)
        if status == 429:
            body["parameters"] = {"retry_after": 1}
        return status, body

    api.handle = handle  # type: ignore[method-assign]


def seed(store: ConversationStore, count: int, due: float) -> None:
    async def add() -> None:
        for index in range(count):
            chat = str(9000 + index % CHATS)
            reminder = Reminder(chat, f"r{index}", due, "ask_for_time", "days2", ANSWERS)
            await store.add_reminder(reminder)
        await store.close()

    asyncio.run(add())


@pytest.fixture
def flood_api() -> Iterator[tuple[FloodTelegram, FakeBotApiServer]]:
    fake = FloodTelegram()
    handle_429_as_telegram(fake)
    with FakeBotApiServer(fake) as server:
        yield fake, server


def wait_until_sent(api: FloodTelegram, count: int, workers: list[BotProcess]) -> None:
    deadline = time.monotonic() + WAIT
    while api.sent() < count and time.monotonic() < deadline:
        assert all(w.alive() for w in workers), [w.log() for w in workers]
        time.sleep(0.05)
    time.sleep(0.5)  # a duplicate would come now, if at all


def sent_by(worker: BotProcess) -> int:
    return sum(int(n) for n in re.findall(r"reminders: (\d+) sent", worker.log()))


def test_two_workers_on_redis_send_each_of_1000_due_reminders_once(
    flood_api: tuple[FloodTelegram, FakeBotApiServer], tmp_path: Path
) -> None:
    api, server = flood_api
    redis_server = RedisServer(tmp_path)
    url = redis_server.start()
    workers: list[BotProcess] = []
    try:
        seed(RedisStore.from_url(url), WORKER_REMINDERS, time.time() - 60)
        started = time.monotonic()
        workers, _ = start_workers(server, url, tmp_path)
        wait_until_sent(api, WORKER_REMINDERS, workers)
        took = time.monotonic() - started
        client = redis.Redis.from_url(url)
        pending = client.zcard("doorajar:rdue")
        client.close()
    finally:
        for worker in workers:
            worker.stop()
        redis_server.stop()
    counts = Counter(api.per_reminder.values())
    by_worker = [sent_by(worker) for worker in workers]
    figures.record(
        "reminders_two_workers_redis",
        reminders=WORKER_REMINDERS,
        sent_once=counts[1],
        sent_twice_or_more=sum(n for times, n in counts.items() if times > 1),
        never_sent=WORKER_REMINDERS - len(api.per_reminder),
        sent_by_each_worker=by_worker,
        seconds=round(took, 2),
    )
    assert len(api.per_reminder) == WORKER_REMINDERS
    assert set(api.per_reminder.values()) == {1}
    assert pending == 0
    assert all(n > 0 for n in by_worker), by_worker  # both workers took a share


def test_10000_due_at_once_drain_at_the_configured_rate_without_a_429_storm(
    flood_api: tuple[FloodTelegram, FakeBotApiServer], tmp_path: Path
) -> None:
    api, server = flood_api
    api.flood_limit = FLOOD_LIMIT
    path = tmp_path / "store.db"
    seed(SqliteStore(path), DRAIN_REMINDERS, time.time() - 60)
    env = bot_env(server, path, DOORAJAR_MAX_RATE=str(DRAIN_RATE))
    worker = BotProcess([], env, tmp_path / "drain.log")
    try:
        start_polling(api, worker)
        wait_until_sent(api, DRAIN_REMINDERS, [worker])
    finally:
        worker.stop()
    with api._cond:
        times = sorted(api.delivered_at)
    seconds = times[-1] - times[0]
    busiest = max_in_window(times, 1.0)
    figures.record(
        "reminders_drain",
        reminders=DRAIN_REMINDERS,
        configured_rate=DRAIN_RATE,
        flood_limit=FLOOD_LIMIT,
        seconds=round(seconds, 2),
        sends_per_second=round(len(times) / seconds, 1),
        busiest_second=busiest,
        answered_429=api.too_many,
        seconds_of_429s=sorted({int(at - times[0]) for at in api.refused_at}),
        sent_more_than_once=sum(n > 1 for n in api.per_reminder.values()),
    )
    assert len(api.per_reminder) == DRAIN_REMINDERS
    assert set(api.per_reminder.values()) == {1}
    assert api.too_many <= DRAIN_REMINDERS // 100  # no storm: under 1% ever refused
    assert len(times) / seconds <= DRAIN_RATE * 1.1  # the limiter held the rate


def max_in_window(times: list[float], window: float) -> int:
    """The most events in any `window` seconds."""
    best = start = 0
    for end, at in enumerate(times):
        while at - times[start] > window:
            start += 1
        best = max(best, end - start + 1)
    return best
