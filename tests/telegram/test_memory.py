"""Nothing per chat stays in the bot's memory between updates: the store keeps it all."""

from __future__ import annotations

from bot.content.catalog import Catalog
from tests.fake_bot_api import FakeUser
from tests.harness import running_bot


async def test_the_application_keeps_nothing_per_chat_between_updates(catalog: Catalog) -> None:
    async with running_bot(catalog) as bot:
        for user_id in range(100, 105):
            user = FakeUser(bot.api, user_id)
            await bot.deliver(user.text("/start decline_offer"))
        app = bot.app
        assert await bot.store.inner.load("104") is not None
        # PTB notes chat and user ids for a persistence to save; without one nothing drains them
        assert not app._chat_ids_to_be_updated_in_persistence
        assert not app._user_ids_to_be_updated_in_persistence
        assert not app.chat_data and not app.user_data
