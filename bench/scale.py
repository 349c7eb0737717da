"""A store holding many conversations: bytes each, and whether the bot's memory notices.

`python -m bench.scale PATH COUNT` fills a fresh SQLite store at PATH with COUNT realistic
conversations and prints one JSON line (file size, bytes per conversation, seconds taken).

Realistic means: users walked through the whole decline_offer flow by the engine, each final
conversation saved by the store's own `save`, and those rows copied with other chat ids, in
random chat-id order (as users arrive), with update times spread over the retention period.
Copying rows rather than writing SQL for them keeps this right whatever columns the store has.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.traffic import SimulatedUser
from bot.content.loader import load_catalog
from bot.conversation import Conversation
from bot.engine import Engine
from bot.store.sqlite import SqliteStore
from bot.telegram.outbox import Renderer

SAMPLES = 64
"""Different finished conversations to copy from."""
SPREAD_SECONDS = 25 * 86400
"""Update times lie within the last 25 days (the default retention is 30)."""
CHAT_IDS = (1_000_000_000, 8_000_000_000)
"""Telegram user ids (a private chat's id is the user's) are this long."""
BATCH = 50_000


def finished_conversations(engine: Engine, count: int) -> list[Conversation]:
    """Conversations of `count` users who walked the whole flow, as the engine left them."""
    renderer = Renderer(engine.catalog.common[engine.catalog.default_lang])
    found = []
    for index in range(count):
        user = SimulatedUser(500_000 + index, engine, renderer, engine.handle)
        for _ in user.walk():
            pass
        found.append(user.conv)
    return found


async def _saved_rows(samples: list[Conversation]) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The rows the store writes for the samples: column names and values."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "samples.db"
        store = SqliteStore(path)
        for conv in samples:
            saved = await store.save(conv)
            assert isinstance(saved, Conversation), "the store refused a sample"
        await store.close()
        with sqlite3.connect(path) as db:
            cursor = db.execute("SELECT * FROM conversations")
            rows = cursor.fetchall()
            columns = [d[0] for d in cursor.description]
        return columns, rows


def fill(path: Path, count: int, seed: int = 6) -> dict[str, Any]:
    """Fill a fresh store at `path` with `count` conversations; size and time taken."""
    started = time.perf_counter()
    samples = finished_conversations(Engine(load_catalog()), SAMPLES)
    columns, rows = asyncio.run(_saved_rows(samples))
    templates = [
        [v.split(conv.chat_id) if isinstance(v, str) else v for v in row]
        for conv, row in zip(samples, rows, strict=True)
    ]
    updated_at = columns.index("updated_at") if "updated_at" in columns else None
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    asyncio.run(SqliteStore(path).close())  # the store's own schema
    rng = random.Random(seed)
    chat_ids = rng.sample(range(*CHAT_IDS), count)
    now = time.time()

    def values() -> Iterator[list[Any]]:
        for number, chat_id in enumerate(chat_ids):
            text = str(chat_id)
            row = [text.join(v) if isinstance(v, list) else v for v in templates[number % SAMPLES]]
            if updated_at is not None:
                row[updated_at] = now - SPREAD_SECONDS * (1 - number / count)
            yield row

    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-1000000")
    marks = ", ".join("?" * len(columns))
    insert = f"INSERT INTO conversations ({', '.join(columns)}) VALUES ({marks})"
    rows_iter = values()
    while True:
        batch = [row for _, row in zip(range(BATCH), rows_iter, strict=False)]
        if not batch:
            break
        db.execute("BEGIN")
        db.executemany(insert, batch)
        db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    size = sum(os.path.getsize(f"{path}{s}") for s in ("", "-wal") if os.path.exists(f"{path}{s}"))
    json_bytes = sum(len(conv.to_json(record=False).encode()) for conv in samples) / len(samples)
    return {
        "conversations": count,
        "file_bytes": size,
        "bytes_per_conversation": size / count,
        "json_bytes": json_bytes,
        "seconds": time.perf_counter() - started,
    }


def main(argv: list[str]) -> int:
    """Fill the store at argv[1] with argv[2] conversations; print the figures as JSON."""
    print(json.dumps(fill(Path(argv[1]), int(argv[2]))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
