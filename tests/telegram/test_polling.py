"""doorajar's poller: an update the store could not take is retried, never skipped; each chat's
updates keep their order; a stopped poller leaves unhandled updates for the next start."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from telegram import Bot, Update

from bot.content.catalog import Catalog
from bot.engine import Engine
from bot.service import ChatService, Handled
from bot.store.memory import MemoryStore
from bot.telegram.gateway import Gateway
from bot.telegram.polling import Backoff, handle_batch, handle_once, poll
from bot.telegram.startup import ALLOWED_UPDATES, build_gateway
from tests import figures
from tests.fake_bot_api import TOKEN, FakeBotApiServer, FakeTelegram, FakeUser
from tests.harness import SwitchableStore, wire

FAST = Backoff(first=0.01, cap=0.05)
DECIDED = "Email"


class CountingStore(SwitchableStore):
    """Counts the calls refused while switched off."""

    refused = 0

    def _check(self) -> None:
        if self.down:
            self.refused += 1
        super()._check()


@dataclass
class Poller:
    """A bot polling a fake Telegram over HTTP, in this process."""

    gateway: Gateway
    api: FakeTelegram
    store: CountingStore
    user: FakeUser
    common: Any
    stop: asyncio.Event
    task: asyncio.Task[None]

    async def wait(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait without blocking the loop (the fake answers from its own threads)."""
        await asyncio.to_thread(self.api.wait_for, condition, timeout)

    def offsets(self, mark: int = 0) -> list[int]:
        calls = self.api.calls_since(mark, "getUpdates")
        return [int(call.params.get("offset") or 0) for call in calls]

    async def push_and_wait(self, update: dict[str, Any]) -> None:
        mark = self.api.mark()
        self.api.push(update)
        await self.wait(lambda: any("reply_markup" in c.params for c in self.api.calls_since(mark)))


@asynccontextmanager
async def polling(
    catalog: Catalog, store: CountingStore | None = None, api: FakeTelegram | None = None
) -> AsyncIterator[Poller]:
    api = api or FakeTelegram()
    store = store or CountingStore(MemoryStore())
    with FakeBotApiServer(api) as server:
        gateway = build_gateway(
            ChatService(Engine(catalog), store, retry_delays=()),
            token=TOKEN,
            base_url=server.base_url,
            rate_limit=False,
        )
        await gateway.bot.initialize()
        stop = asyncio.Event()
        task = asyncio.create_task(poll(gateway, stop, ALLOWED_UPDATES, backoff=FAST))
        poller = Poller(gateway, api, store, FakeUser(api), catalog.common["en"], stop, task)
        try:
            yield poller
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)
            await gateway.bot.shutdown()


async def test_an_update_the_store_cannot_take_is_retried_never_skipped(catalog: Catalog) -> None:
    async with polling(catalog) as bot:
        await bot.push_and_wait(bot.user.text("/start decline_offer"))
        tap = bot.user.tap(DECIDED)
        bot.store.down = True
        mark = bot.api.mark()
        bot.api.push(tap)
        await bot.wait(lambda: bot.store.refused >= 5)
        assert all(offset <= tap["update_id"] for offset in bot.offsets(mark))
        toasts = [c.params.get("text") for c in bot.api.calls_since(mark, "answerCallbackQuery")]
        assert toasts.count(bot.common["sorry_store"]) == 1
        retries = bot.store.refused
        bot.store.down = False
        await bot.wait(lambda: tap["update_id"] + 1 in bot.offsets(mark))
        conv = await bot.store.inner.load(str(bot.user.id))
        assert conv is not None and conv.answers == {"channel": "email"} and conv.version == 2
        questions = [
            c for c in bot.api.calls_since(mark, "sendMessage") if "reply_markup" in c.params
        ]
        assert len(questions) == 1 and "main reason" in questions[0].params["text"]
        figures.record(
            "polling_store_down",
            refused_store_calls=retries,
            apologies=toasts.count(bot.common["sorry_store"]),
            applied=conv.version - 1,
            next_questions=len(questions),
        )


async def test_a_poller_stopped_while_the_store_is_down_leaves_the_update_for_the_next_start(
    catalog: Catalog,
) -> None:
    api = FakeTelegram()
    store = CountingStore(MemoryStore())
    async with polling(catalog, store, api) as bot:
        await bot.push_and_wait(bot.user.text("/start decline_offer"))
        tap = bot.user.tap(DECIDED)
        store.down = True
        bot.api.push(tap)
        await bot.wait(lambda: store.refused >= 2)
    assert [u["update_id"] for u in api.pending] == [tap["update_id"]]  # not confirmed
    store.down = False
    async with polling(catalog, store, api) as bot:
        await bot.wait(lambda: not api.pending and bool(api.calls_since(0, "editMessageText")))
    conv = await store.inner.load(str(bot.user.id))
    assert conv is not None and conv.answers == {"channel": "email"} and conv.version == 2


async def test_an_update_the_library_cannot_read_is_passed_over(catalog: Catalog) -> None:
    async with polling(catalog) as bot:
        unreadable = {"update_id": bot.api.next_update_id(), "message": {"text": "no chat"}}
        bot.api.push(unreadable)
        await bot.push_and_wait(bot.user.text("/start"))
        await bot.wait(lambda: not bot.api.pending)
        assert not bot.task.done()


async def test_telegram_errors_on_get_updates_are_waited_out(catalog: Catalog) -> None:
    api = FakeTelegram()
    api.fail("getUpdates", 502, "Bad Gateway")
    api.fail("getUpdates", 0, "timeout")
    api.fail("getUpdates", 409, "Conflict: terminated by other getUpdates request")
    async with polling(catalog, api=api) as bot:
        await bot.push_and_wait(bot.user.text("/start"))
        assert not bot.task.done()


# -- the batch logic, with a stand-in for the bot ---------------------------------------------


def update(update_id: int, chat_id: int) -> Update:
    data = {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 0,
            "chat": {"id": chat_id, "type": "private"},
            "text": "hi",
        },
    }
    return Update.de_json(wire(data), Bot(TOKEN))


async def test_a_chat_whose_update_failed_keeps_its_order_while_other_chats_go_on() -> None:
    handled: list[int] = []
    failing = {1}

    async def handle(u: Update) -> Handled:
        if u.update_id in failing:
            return Handled.RETRY
        handled.append(u.update_id)
        return Handled.APPLIED

    batch = [update(1, 100), update(2, 200), update(3, 100), update(4, 200)]
    left = await handle_once(batch, handle)
    assert [u.update_id for u in left] == [1, 3]  # chat 100 waits behind its first update
    assert handled == [2, 4]
    failing.clear()
    assert await handle_once(left, handle) == []
    assert handled == [2, 4, 1, 3]


async def test_a_batch_is_retried_until_done_or_returns_the_oldest_update_left() -> None:
    stop = asyncio.Event()
    tries = 0

    async def flaky(u: Update) -> Handled:
        nonlocal tries
        tries += 1
        return Handled.RETRY if tries < 3 else Handled.APPLIED

    assert await handle_batch([update(7, 1)], flaky, stop, FAST) is None
    assert tries == 3

    async def down(u: Update) -> Handled:
        stop.set()
        return Handled.RETRY

    assert await handle_batch([update(7, 1), update(9, 2)], down, stop, FAST) == 7


@pytest.mark.parametrize("attempt, expected", [(0, 0.25), (1, 0.5), (3, 2.0), (10, 8.0)])
def test_backoff_doubles_up_to_its_cap(attempt: int, expected: float) -> None:
    assert Backoff().delay(attempt) == expected
