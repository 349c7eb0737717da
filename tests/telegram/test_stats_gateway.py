"""Stats through the Telegram front end: a duplicate update counts once, a share counts."""

from __future__ import annotations

from typing import Any

from bot import stats
from bot.content.catalog import Catalog
from bot.service import Handled
from bot.store.memory import MemoryStore
from bot.telegram.outbox import FORGET_YES
from tests.harness import Bot, running_bot


async def counted(store: MemoryStore) -> dict[str, int]:
    rows = await store.tallies(stats.days_back(1))
    return {stats.count(r.situation, r.counter): r.n for r in rows}


def chosen(bot: Bot, result_id: str) -> dict[str, Any]:
    """The update Telegram sends when the user picks one of the bot's inline results."""
    return {
        "update_id": bot.api.next_update_id(),
        "chosen_inline_result": {"result_id": result_id, "from": bot.user.user, "query": ""},
    }


async def test_an_update_delivered_twice_is_counted_once(catalog: Catalog) -> None:
    store = MemoryStore()
    async with running_bot(catalog, store) as bot:
        start = bot.user.text("/start decline_offer")
        assert await bot.deliver(start) is Handled.APPLIED
        assert await bot.deliver(start) is Handled.ALREADY_APPLIED
        menu = bot.user.text("/cancel")
        assert await bot.deliver(menu) is Handled.APPLIED
        assert await bot.deliver(menu) is Handled.ALREADY_APPLIED
    first = catalog.flows["decline_offer"].start
    assert await counted(store) == {
        stats.count("decline_offer", stats.STARTED): 1,
        stats.count("decline_offer", stats.stopped(first)): 1,
    }


async def test_a_chosen_inline_result_counts_one_share(catalog: Catalog) -> None:
    store = MemoryStore()
    async with running_bot(catalog, store) as bot:
        await bot.deliver(bot.user.text("/start decline_offer"))
        share = chosen(bot, "decline_offer:0:0")
        assert await bot.deliver(share) is Handled.APPLIED
        assert await bot.deliver(share) is Handled.ALREADY_APPLIED
        assert await bot.deliver(chosen(bot, "no_such_flow:0:0")) is Handled.IGNORED
    assert (await counted(store))[stats.count("decline_offer", stats.SHARED)] == 1


async def test_forget_is_counted_without_the_chat(catalog: Catalog) -> None:
    store = MemoryStore()
    async with running_bot(catalog, store) as bot:
        await bot.deliver(bot.user.text("/start decline_offer"))
        await bot.deliver(bot.user.text("/forget"))
        await bot.deliver(bot.user.tap_data(bot.user.bot_messages()[-1], FORGET_YES))
    got = await counted(store)
    assert got.get(stats.FORGET_COUNT) == 1
    # Counters are named by situation only ('' for /forget), never by chat.
    assert {stats.split(name)[0] for name in got} <= {"", *catalog.flows}
