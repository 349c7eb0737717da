"""The per-update cost of stats counters: the chat service on SQLite, stats on vs off.

`python -m bench.stats_cost USERS ROUNDS` prints one JSON line. The same recorded walks (users
through the whole decline_offer flow, as `bench.traffic` walks them) are applied with
`ChatService.apply(chat, event, update_id)`, load + engine + save with the update id, to two
SQLite stores, one with stats on and one off, round after round alternating which goes first,
so drift on a shared machine hits both alike. Figures are CPU microseconds per update of the
thread that runs the event loop (`time.thread_time`: the store's maintenance thread, which
checkpoints the WAL whenever it likes, is left out), the median round for each setting, and the
extra cost is the median of the rounds' paired ratios, which shared-machine noise moves least.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.traffic import SimulatedUser
from bot.content.loader import load_catalog
from bot.conversation import Conversation
from bot.engine import Engine, Outcome
from bot.events import Event
from bot.service import ChatService
from bot.store.sqlite import SqliteStore
from bot.telegram.outbox import Renderer


def recorded_walks(engine: Engine, users: int) -> list[list[Event]]:
    """Each user's events through the flow, recorded once and replayed for both settings."""
    renderer = Renderer(engine.catalog.common[engine.catalog.default_lang])
    walks: list[list[Event]] = []
    for index in range(users):
        events: list[Event] = []

        def step(conv: Conversation, event: Event, events: list[Event] = events) -> Outcome:
            events.append(event)
            return engine.handle(conv, event)

        for _ in SimulatedUser(index, engine, renderer, step).walk():
            pass
        walks.append(events)
    return walks


async def replay(service: ChatService, walks: list[list[Event]], first_chat: int) -> float:
    """CPU microseconds per update for the walks applied in waves of interleaved users."""
    updates = 0
    cpu = time.thread_time()
    for number, events in enumerate(walks):
        chat_id = str(first_chat + number)
        for update_id, event in enumerate(events, 1):
            await service.apply(chat_id, event, update_id)
            updates += 1
    return (time.thread_time() - cpu) / updates * 1e6


async def measure(users: int, rounds: int) -> dict[str, float]:
    engine = Engine(load_catalog())
    walks = recorded_walks(engine, users)
    with tempfile.TemporaryDirectory() as folder:
        services = {
            mode: ChatService(engine, SqliteStore(Path(folder) / f"{mode}.db"), stats=on)
            for mode, on in (("on", True), ("off", False))
        }
        await replay(services["on"], walks, 10_000_000)  # warm-up
        await replay(services["off"], walks, 10_000_000)
        figures: dict[str, list[float]] = {"on": [], "off": []}
        for round_number in range(rounds):
            order = ("on", "off") if round_number % 2 == 0 else ("off", "on")
            for mode in order:
                first = 20_000_000 + round_number * users
                figures[mode].append(await replay(services[mode], walks, first))
        for service in services.values():
            await service.close()
    on, off = statistics.median(figures["on"]), statistics.median(figures["off"])
    paired = [a / b for a, b in zip(figures["on"], figures["off"], strict=True)]
    return {
        "stats_on_us": on,
        "stats_off_us": off,
        "stats_extra_pct": (statistics.median(paired) - 1) * 100,
        "updates_per_round": sum(len(w) for w in walks),
        "rounds": rounds,
    }


def main(argv: list[str]) -> int:
    """Measure and print the figures as JSON."""
    print(json.dumps(asyncio.run(measure(int(argv[1]), int(argv[2])))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
