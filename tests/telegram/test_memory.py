"""Nothing per chat stays in the bot's memory between updates: the store keeps it all."""

from __future__ import annotations

import gc

from bot.content.catalog import Catalog
from tests.fake_bot_api import FakeUser
from tests.harness import running_bot


async def test_the_gateway_keeps_nothing_per_chat_between_updates(catalog: Catalog) -> None:
    async with running_bot(catalog) as bot:
        for user_id in range(100, 105):
            user = FakeUser(bot.api, user_id)
            await bot.deliver(user.text("/start decline_offer"))
        assert await bot.store.inner.load("104") is not None
        gc.collect()
        # a chat's lock lives only while a turn holds or awaits it
        assert len(bot.gateway.service._locks) == 0
        assert not bot.gateway._apologised
