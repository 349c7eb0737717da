"""Synthetic traffic: users walking the whole decline_offer flow, as Telegram would send it.

Each user sends /start, taps the menu group and the situation, then answers every question:
a tap on a random option, or typed text (sometimes Skip where a question is optional), until
the result. The updates are written as Telegram's JSON, with the tapped message (its text and
keyboard) inside each callback query, exactly as doorajar rendered it; every bot in the
benchmark gets the same updates. doorajar's own engine and renderer walk the flow here, so
every typed answer passes the question's rules and every tapped button is one the message has.

Users come in waves: a wave's users are interleaved step by step (as concurrent chats are),
waves follow each other. A round is a file of whole waves.
"""

from __future__ import annotations

import itertools
import json
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import FLOW
from bot.check.walk import sample_text
from bot.content.catalog import SKIP
from bot.conversation import Conversation
from bot.engine import Engine, Outcome
from bot.events import Event, Start, Text, decode, encode
from bot.telegram.outbox import Outgoing, Renderer
from tests.fake_bot_api import BOT_USER

WAVE = 50
"""Users whose steps are interleaved with each other."""
SKIP_SHARE = 0.25
"""How often an optional text question is skipped."""
CHAT_BASE = 10_000_000
DATE = 1_767_225_600

Step = Callable[[Conversation, Event], Outcome]


@dataclass
class SimulatedUser:
    """One Telegram user in a private chat with the bot, remembering what the bot showed."""

    index: int
    engine: Engine
    renderer: Renderer
    step: Step
    conv: Conversation = field(init=False)
    keyboard_message: dict[str, Any] | None = field(default=None, init=False)
    _message_ids: Iterator[int] = field(default_factory=lambda: itertools.count(1), init=False)
    _query_ids: Iterator[int] = field(default_factory=lambda: itertools.count(1), init=False)

    def __post_init__(self) -> None:
        self.chat_id = CHAT_BASE + self.index
        self.conv = Conversation(chat_id=str(self.chat_id))
        self.user = {
            "id": self.chat_id,
            "is_bot": False,
            "first_name": "Ada",
            "language_code": "en",
        }
        self.chat = {"id": self.chat_id, "first_name": "Ada", "type": "private"}
        self.rng = random.Random(self.index)

    def _apply(self, event: Event, welcome: bool = False) -> None:
        outcome = self.step(self.conv, event)
        if not outcome.changed:
            raise AssertionError(f"user {self.index}: {event!r} changed nothing")
        self.conv = outcome.conversation
        for message in self.renderer.render(outcome.replies, welcome=welcome):
            self._bot_sends(message)

    def _bot_sends(self, message: Outgoing) -> None:
        sent: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "from": BOT_USER,
            "chat": self.chat,
            "date": DATE,
            "text": message.text,
        }
        if message.markup is not None:
            sent["reply_markup"] = json.loads(message.markup)
            self.keyboard_message = sent

    def _typed(self, text: str, command: bool = False) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "from": self.user,
            "chat": self.chat,
            "date": DATE,
            "text": text,
        }
        if command:
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text)}]
        return {"message": message}

    def _tap(self, data: str) -> dict[str, Any]:
        message = self.keyboard_message
        assert message is not None
        offered = [
            b["callback_data"]
            for row in message["reply_markup"]["inline_keyboard"]
            for b in row
            if "callback_data" in b
        ]
        if data not in offered:
            raise AssertionError(f"user {self.index}: no button {data!r} in {offered}")
        event = decode(data)
        assert event is not None
        self._apply(event)
        query = {
            "id": f"{self.chat_id}-{next(self._query_ids)}",
            "from": self.user,
            "message": message,
            "chat_instance": f"-{self.chat_id}",
            "data": data,
        }
        return {"callback_query": query}

    def walk(self) -> Iterator[dict[str, Any]]:
        """The user's updates, without update ids, from /start to the result."""
        start = self._typed("/start", command=True)
        self._apply(Start(), welcome=True)
        yield start
        flow = self.engine.catalog.flows[FLOW]
        if self.conv.flow == "" and len(self.engine.catalog.groups()) > 1:
            yield self._tap(f"g:{flow.group}")
        yield self._tap(encode(Start(FLOW)))
        while not (state := flow.states[self.conv.state]).end:
            if state.ask == "choice":
                yield self._tap(f"c:{state.name}:{self.rng.choice(state.options)}")
            elif state.optional and self.rng.random() < SKIP_SHARE:
                yield self._tap(f"c:{state.name}:{SKIP}")
            else:
                text = sample_text(state)
                typed = self._typed(text)
                self._apply(Text(text))
                yield typed


def interleave(walks: Sequence[Iterator[dict[str, Any]]]) -> Iterator[dict[str, Any]]:
    """Step by step across users: the first update of each, then the second of each, ..."""
    active = list(walks)
    while active:
        still = []
        for walk in active:
            update = next(walk, None)
            if update is not None:
                yield update
                still.append(walk)
        active = still


@dataclass(frozen=True)
class TrafficSet:
    """Where a set of rounds lies on disk, and its size."""

    rounds: list[Path]
    waves: list[list[int]]
    """Per round, the number of updates after each whole wave (to cut a round short)."""
    users: int
    updates: int

    def to_json(self) -> dict[str, Any]:
        """The set as JSON, for the manifest."""
        return {
            "rounds": [str(p) for p in self.rounds],
            "waves": self.waves,
            "users": self.users,
            "updates": self.updates,
        }


def write_traffic(
    engine: Engine, folder: Path, users_per_round: list[int], first_user: int = 0
) -> TrafficSet:
    """Write one JSON-lines file per round of whole users; update ids increase throughout."""
    folder.mkdir(parents=True, exist_ok=True)
    renderer = Renderer(engine.catalog.common[engine.catalog.default_lang])
    update_ids = itertools.count(1)
    user = first_user
    paths: list[Path] = []
    waves: list[list[int]] = []
    total = 0
    for number, count in enumerate(users_per_round):
        path = folder / f"round-{number}.jsonl"
        cuts: list[int] = []
        written = 0
        with path.open("w") as out:
            for start in range(0, count, WAVE):
                batch = range(user + start, user + min(start + WAVE, count))
                walks = [SimulatedUser(i, engine, renderer, engine.handle).walk() for i in batch]
                for update in interleave(walks):
                    out.write(json.dumps({"update_id": next(update_ids), **update}))
                    out.write("\n")
                    written += 1
                cuts.append(written)
        user += count
        total += written
        paths.append(path)
        waves.append(cuts)
    return TrafficSet(paths, waves, user - first_user, total)


def timed_walks(engine: Engine, users: int, first_user: int = 0) -> list[float]:
    """Walk `users` users through the engine alone; seconds each `handle` call took."""
    renderer = Renderer(engine.catalog.common[engine.catalog.default_lang])
    times: list[float] = []

    def step(conv: Conversation, event: Event) -> Outcome:
        start = time.perf_counter()
        outcome = engine.handle(conv, event)
        times.append(time.perf_counter() - start)
        return outcome

    for index in range(first_user, first_user + users):
        for _ in SimulatedUser(index, engine, renderer, step).walk():
            pass
    return times


def write_openings(engine: Engine, path: Path, users: int, steps: int, first_user: int) -> int:
    """The first `steps` updates of each of `users` users, interleaved in waves: conversations
    left open part-way, to see what a bot holds per conversation. Returns the update count."""
    renderer = Renderer(engine.catalog.common[engine.catalog.default_lang])
    update_ids = itertools.count(1)
    written = 0
    with path.open("w") as out:
        for start in range(first_user, first_user + users, WAVE):
            batch = range(start, min(start + WAVE, first_user + users))
            walks = [
                itertools.islice(SimulatedUser(i, engine, renderer, engine.handle).walk(), steps)
                for i in batch
            ]
            for update in interleave(walks):
                out.write(json.dumps({"update_id": next(update_ids), **update}))
                out.write("\n")
                written += 1
    return written
