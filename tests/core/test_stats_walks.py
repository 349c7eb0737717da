"""Stats counters against what many random walks did, on every store; and no person in them.

Each walk taps the buttons the bot shows (as a Telegram client or the console would) and types
answers; the test keeps its own tally from what it did and what it saw (a question, a draft,
the menu), independently of the engine's counting, and compares it with the store's counters.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot import stats
from bot.check.walk import sample_text
from bot.content.catalog import Catalog
from bot.conversation import Conversation
from bot.engine import Engine
from bot.events import Another, Back, Event, Refine, Restart, Start, Text, decode
from bot.replies import MenuReply, QuestionReply, Reply, ResultReply
from bot.service import ChatService, Handled
from bot.store.memory import MemoryStore
from bot.store.protocol import ConversationStore
from bot.store.redis import RedisStore
from bot.store.sqlite import SqliteStore
from tests.redis_server import redis_server

WALKS = 60
STEPS = 40
CHAT_BASE = 987_650_000


def shown(replies: tuple[Reply, ...]) -> Reply:
    """What the chat shows after a step (the last reply: notices come first)."""
    return replies[-1]


def typed_answer(index: int, step: int) -> str:
    return f"Qvelt{index}x{step}"


class Walker:
    """Walks chats at random and tallies what should have been counted."""

    def __init__(self, catalog: Catalog, service: ChatService, seed: int) -> None:
        self.catalog = catalog
        self.service = service
        self.rng = random.Random(seed)
        self.expected: Counter[str] = Counter()
        self.typed: list[str] = []
        self.update_id = 1

    def choose(self, now: Reply, index: int, step: int) -> Event:
        rng = self.rng
        if rng.random() < 0.04:
            return Start()  # the menu command, from wherever
        if rng.random() < 0.03:
            return Restart()
        if isinstance(now, QuestionReply) and now.accepts_text and rng.random() < 0.8:
            state = self.catalog.flows[now.flow].states[now.state]
            if state.pattern:
                return Text(sample_text(state))
            text = typed_answer(index, step)
            self.typed.append(text)
            return Text(text[: state.max_length])
        buttons = [b for row in getattr(now, "buttons", getattr(now, "actions", ())) for b in row]
        event = decode(rng.choice(buttons).data) if buttons else None
        return event if event is not None else Start()

    def tally(self, before: Reply, event: Event, after: Reply, refining: bool) -> None:
        """Add what one step should count, from what it did and what it showed;
        `refining`: a refinement was under way before the step."""
        left = isinstance(before, QuestionReply) and (
            isinstance(after, MenuReply)
            or (isinstance(after, QuestionReply | ResultReply) and after.flow != before.flow)
        )
        if left:
            assert isinstance(before, QuestionReply)
            self.expected[stats.count(before.flow, stats.stopped(before.state))] += 1
        if isinstance(after, QuestionReply):
            first = self.catalog.flows[after.flow].start
            if isinstance(event, Start | Restart) and after.state == first:
                self.expected[stats.count(after.flow, stats.STARTED)] += 1
            elif isinstance(event, Refine):
                self.expected[stats.count(after.flow, stats.refinement(event.refinement))] += 1
        elif isinstance(after, ResultReply):
            if isinstance(before, QuestionReply) and before.flow == after.flow and not refining:
                self.expected[stats.count(after.flow, stats.FIRST_DRAFT)] += 1
            elif isinstance(event, Another):
                self.expected[stats.count(after.flow, stats.ANOTHER_WORDING)] += 1

    async def walk(self, index: int) -> None:
        chat_id = str(CHAT_BASE + index)
        step = await self.service.apply(chat_id, Start(), self.next_id())
        assert step.outcome is not None
        now = shown(step.outcome.replies)
        refining = False
        for number in range(STEPS):
            event = self.choose(now, index, number)
            step = await self.service.apply(chat_id, event, self.next_id())
            assert step.handled is Handled.APPLIED and step.outcome is not None
            after = shown(step.outcome.replies)
            self.tally(now, event, after, refining)
            refining = self.refining(step.outcome.conversation)
            now = after

    def refining(self, conv: Conversation) -> bool:
        """Whether a refinement is under way: the history holds the draft (README)."""
        flow = self.catalog.flows.get(conv.flow)
        if flow is None:
            return False
        return any(n in flow.states and flow.states[n].end for n in conv.history)

    def next_id(self) -> int:
        self.update_id += 1
        return self.update_id


async def counted(store: ConversationStore) -> Counter[str]:
    return Counter(
        {stats.count(r.situation, r.counter): r.n for r in await store.tallies(stats.days_back(1))}
    )


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ConversationStore]:
    if request.param == "memory":
        yield MemoryStore()
    elif request.param == "sqlite":
        sqlite = SqliteStore(tmp_path / "walks.db")
        yield sqlite
        await sqlite.close()
    else:
        (tmp_path / "redis").mkdir()
        with redis_server(tmp_path / "redis") as url:
            redis_store = RedisStore.from_url(url)
            yield redis_store
            await redis_store.close()


async def test_counters_match_what_many_random_walks_did(
    catalog: Catalog, store: ConversationStore, tmp_path: Path
) -> None:
    service = ChatService(Engine(catalog), store, stats=True)
    walker = Walker(catalog, service, seed=13)
    for index in range(WALKS):
        await walker.walk(index)
    got = await counted(store)
    assert got == walker.expected
    # The walks went through the whole funnel, so the comparison means something.
    kinds = {stats.split(name)[1].split(":")[0] for name in got}
    assert {"started", "first_draft", "refinement", "another_wording", "stopped"} <= kinds
    # Nothing in the stats storage names a chat or repeats what anyone typed.
    raw = await raw_stats(store)
    for index in range(WALKS):
        assert str(CHAT_BASE + index) not in raw
    assert walker.typed and not [text for text in walker.typed if text in raw]


async def raw_stats(store: ConversationStore) -> str:
    """Every stats row or key the store holds, as text."""
    if isinstance(store, MemoryStore):
        return repr(store._stats)
    if isinstance(store, SqliteStore):
        store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        with sqlite3.connect(store.path) as db:
            return repr(db.execute("SELECT * FROM stats").fetchall())
    assert isinstance(store, RedisStore)
    keys = [k async for k in store._redis.scan_iter(f"{store._prefix}:stats:*")]
    return repr({key: await store._redis.hgetall(key) for key in keys})


async def test_a_chat_left_idle_at_a_question_counts_one_stop(catalog: Catalog) -> None:
    store = MemoryStore()
    service = ChatService(Engine(catalog), store, stats=True)
    step = await service.apply("5", Start("decline_offer"), 1)
    assert step.outcome is not None
    conv = step.outcome.conversation
    question = conv.state
    # Make the conversation look a day and more old, as if the person had walked away.
    stale = replace(conv, updated_at=time.time() - stats.IDLE_DROP_SECONDS - 60)
    store._conversations["5"] = stale.to_json()
    await service.apply("5", Start(), 2)  # comes back, and goes to the menu: one stop
    await service.apply("5", Start("decline_offer"), 3)
    await service.apply("5", Back(), 4)  # leaves again at once: a second stop
    got = await counted(store)
    assert got[stats.count("decline_offer", stats.stopped(question))] == 2
    assert got[stats.count("decline_offer", stats.STARTED)] == 2


async def test_stats_off_stores_nothing(catalog: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOORAJAR_STATS", "off")
    store = MemoryStore()
    service = ChatService(Engine(catalog), store)
    await service.apply("6", Start("decline_offer"), 1)
    await service.apply("6", Start(), 2)
    async with service.turn("6") as turn:
        await turn.forget()
    assert await store.tallies(stats.days_back(1)) == []
    assert store._stats == {}
