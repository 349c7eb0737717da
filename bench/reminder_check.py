"""The cost of the periodic reminder check with many reminders stored and few due.

`python -m bench.reminder_check STORED DUE [REDIS_URL]` prints one JSON line. STORED pending
reminders are written straight into a fresh SQLite store (and, with a URL, Redis) in the
store's own layout, DUE of them due now and the rest spread over the next six months. Then the
checks run as a worker runs them: each claims a batch (`CLAIM_BATCH`) and marks each reminder
of it sent, until none is due; then checks that find nothing due (what a worker does every 5
seconds). Figures are wall-clock milliseconds per check. SQLite's query plan for the claim is
recorded too: it must search the partial index on the due time, not scan the table.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bot.reminders import CLAIM_BATCH, LEASE_SECONDS, Reminder
from bot.store.protocol import ConversationStore
from bot.store.sqlite import SqliteStore

ANSWERS = {"company": "Northwind Traders", "role": "Data Analyst", "your_name": "Sam Carter"}
HALF_YEAR = 183 * 86400.0
IDLE_CHECKS = 20
INSERT_CHUNK = 10_000


def reminders(stored: int, due: int, now: float) -> Iterator[Reminder]:
    """`stored` reminders over chats of about 3 each; `due` of them (spread evenly) due now."""
    chooser = random.Random(7)
    every = max(stored // max(due, 1), 1)
    for index in range(stored):
        is_due = index % every == 0 and index // every < due
        when = now - chooser.uniform(1, 600) if is_due else now + chooser.uniform(60, HALF_YEAR)
        yield Reminder(
            str(10_000_000 + index // 3),
            f"r{index}",
            when,
            "ask_for_time",
            "days2",
            ANSWERS,
            created_at=now,
        )


def fill_sqlite(path: Path, stored: int, due: int, now: float) -> None:
    """Write the reminders in the store's own table, in big transactions."""

    async def schema() -> None:
        await SqliteStore(path).close()

    asyncio.run(schema())
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous=OFF")
    rows: list[tuple[str, str, float, float, str]] = []
    for reminder in reminders(stored, due, now):
        rows.append((reminder.chat_id, reminder.id, reminder.due, reminder.due, reminder.to_json()))
        if len(rows) == INSERT_CHUNK:
            db.executemany("INSERT INTO reminders VALUES (?, ?, ?, ?, ?)", rows)
            rows.clear()
    db.executemany("INSERT INTO reminders VALUES (?, ?, ?, ?, ?)", rows)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def claim_plan(path: Path) -> str:
    """SQLite's plan for the claim's search of due rows."""
    db = sqlite3.connect(path)
    rows = db.execute(
        "EXPLAIN QUERY PLAN SELECT chat_id, id FROM reminders WHERE next_look IS NOT NULL "
        "AND next_look <= ? ORDER BY next_look LIMIT ?",
        (time.time(), CLAIM_BATCH),
    ).fetchall()
    db.close()
    return "; ".join(str(row[-1]) for row in rows)


def fill_redis(url: str, stored: int, due: int, now: float) -> None:
    """Write the reminders in the Redis store's layout, pipelined."""
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    pipe = client.pipeline(transaction=False)
    for count, reminder in enumerate(reminders(stored, due, now), 1):
        pipe.hset(f"doorajar:{{{reminder.chat_id}}}:rem", reminder.id, reminder.to_json())
        pipe.zadd("doorajar:rdue", {reminder.key: reminder.due})
        pipe.zadd("doorajar:rdone", {reminder.key: reminder.due})
        if count % INSERT_CHUNK == 0:
            pipe.execute()
    pipe.execute()
    client.close()


async def run_checks(store: ConversationStore, now: float) -> dict[str, Any]:
    """Checks until nothing is due, then checks that find nothing; milliseconds each."""
    busy: list[float] = []
    claimed = 0
    while True:
        started = time.perf_counter()
        batch = await store.claim_reminders(now, CLAIM_BATCH, LEASE_SECONDS)
        for reminder in batch:
            await store.reminder_sent(reminder, now)
        elapsed = (time.perf_counter() - started) * 1000
        if not batch:
            break
        busy.append(elapsed)
        claimed += len(batch)
    idle = []
    for _ in range(IDLE_CHECKS):
        started = time.perf_counter()
        assert await store.claim_reminders(now, CLAIM_BATCH, LEASE_SECONDS) == []
        idle.append((time.perf_counter() - started) * 1000)
    await store.close()
    return {
        "claimed": claimed,
        "checks": len(busy),
        "check_median_ms": statistics.median(busy),
        "check_max_ms": max(busy),
        "idle_check_median_ms": statistics.median(idle),
    }


def measure(stored: int, due: int, redis_url: str | None) -> dict[str, Any]:
    """Both stores' figures (Redis when a URL is given)."""
    now = time.time()
    result: dict[str, Any] = {"stored": stored, "due": due, "batch": CLAIM_BATCH}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "reminders.db"
        started = time.monotonic()
        fill_sqlite(path, stored, due, now)
        result["sqlite_fill_s"] = time.monotonic() - started
        result["sqlite_plan"] = claim_plan(path)
        result["sqlite"] = asyncio.run(run_checks(SqliteStore(path), now))
    if redis_url is not None:
        from bot.store.redis import RedisStore

        started = time.monotonic()
        fill_redis(redis_url, stored, due, now)
        result["redis_fill_s"] = time.monotonic() - started
        result["redis"] = asyncio.run(run_checks(RedisStore.from_url(redis_url), now))
    return result


def main(argv: list[str]) -> int:
    stored, due = int(argv[0]), int(argv[1])
    print(json.dumps(measure(stored, due, argv[2] if len(argv) > 2 else None)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
