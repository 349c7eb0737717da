"""What a SQLite store call costs on the event loop, and what handing it to a thread would add.

`python -m tests.store.sqlite_handoff [UPDATES]` times the store's per-update work (a load and
a save recording the update id) for UPDATES chats, three rounds each way, and prints CPU and
wall time per update: calls made on the loop's connection, as `SqliteStore` makes them, and
the same calls each handed to one dedicated worker thread (`run_in_executor`), the other way
to keep SQLite off the loop. Not collected by pytest: a figure, not a check.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from bot.conversation import Conversation
from bot.store.protocol import SaveResult
from bot.store.sqlite import SqliteStore

T = TypeVar("T")
ROUNDS = 3


def _finish(coroutine: Awaitable[T]) -> T:
    """Run a coroutine that never suspends (a store call with the database free) to its end."""
    step = coroutine.__await__()
    try:
        next(step)
    except StopIteration as done:
        result: T = done.value
        return result
    raise RuntimeError("the store call waited")


class HandedToThread:
    """The store's calls, each run by one worker thread."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self.worker = ThreadPoolExecutor(1)

    async def _call(self, make: Callable[[], Awaitable[T]]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.worker, lambda: _finish(make()))

    async def load(self, chat_id: str) -> Conversation | None:
        return await self._call(lambda: self.store.load(chat_id))

    async def save(self, conv: Conversation, update_id: int | None = None) -> SaveResult:
        return await self._call(lambda: self.store.save(conv, update_id))


async def _per_update(store: Any, updates: int, first_id: int) -> tuple[float, float]:
    """CPU and wall microseconds per update: load, then save with an update id."""
    answers = {"company": "Example Ltd", "role": "Engineer", "recipient": "Sam"}
    cpu, wall = time.process_time(), time.perf_counter()
    for number in range(updates):
        chat_id = str(number)
        conv = await store.load(chat_id) or Conversation(chat_id, state="tone", answers=answers)
        await store.save(conv, first_id + number)
    return (
        (time.process_time() - cpu) / updates * 1e6,
        (time.perf_counter() - wall) / updates * 1e6,
    )


async def main(updates: int) -> None:
    """Print the figures."""
    results: dict[str, list[tuple[float, float]]] = {"on the loop": [], "handed to a thread": []}
    with tempfile.TemporaryDirectory() as folder:
        for round_number in range(ROUNDS):
            for way in results:
                store = SqliteStore(Path(folder) / f"{round_number}-{len(way)}.db")
                await store.expire_seen()  # its first run, done: a thread may not wait for locks
                store._next_expiry = float("inf")
                tested = store if way == "on the loop" else HandedToThread(store)
                await _per_update(tested, 200, 10**6)  # warm up: the chats exist
                results[way].append(await _per_update(tested, updates, 2 * 10**6))
                await store.close()
    for way, figures in results.items():
        cpu = statistics.median(f[0] for f in figures)
        wall = statistics.median(f[1] for f in figures)
        print(f"{way:20} CPU {cpu:6.1f} us/update  wall {wall:6.1f} us/update (median of {ROUNDS})")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000))
