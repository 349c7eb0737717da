"""Two bot workers sharing one Redis store, as behind a load balancer in webhook mode.

Each worker is a separate gateway with its own bot and store connection; updates of one chat
go to either of them, and Telegram may deliver an update twice.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from typing import Any

import pytest
from telegram import Update

from bot.content.catalog import Catalog
from bot.engine import Engine
from bot.service import ChatService
from bot.store.redis import RedisStore
from bot.telegram.gateway import Gateway
from bot.telegram.startup import build_gateway
from tests.fake_bot_api import TOKEN, Call, FakeTelegram, FakeUser, RecordingRequest
from tests.redis_server import redis_server

App = Gateway


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
async def workers(catalog: Catalog, redis_url: str) -> AsyncIterator[tuple[FakeTelegram, App, App]]:
    api = FakeTelegram()
    prefix = f"t{uuid.uuid4().hex[:8]}"
    async with AsyncExitStack() as stack:
        apps = []
        for _ in range(2):
            store = RedisStore.from_url(redis_url, prefix=prefix)
            service = ChatService(Engine(catalog), store)
            app = build_gateway(
                service, token=TOKEN, request=RecordingRequest(api), rate_limit=False
            )
            await app.bot.initialize()
            stack.push_async_callback(app.bot.shutdown)
            stack.push_async_callback(store.close)
            apps.append(app)
        yield api, apps[0], apps[1]


async def deliver(app: App, update: dict[str, Any], api: FakeTelegram) -> list[Call]:
    mark = api.mark()
    await app.handle(Update.de_json(json.loads(json.dumps(update)), app.bot))
    return api.calls_since(mark)


async def test_workers_share_the_conversation_and_apply_a_duplicate_once(
    workers: tuple[FakeTelegram, App, App],
) -> None:
    api, one, two = workers
    user = FakeUser(api)
    await deliver(one, user.text("/start decline_offer"), api)
    tap = user.tap("Email")
    first = await deliver(two, tap, api)
    again = await deliver(one, tap, api)  # Telegram retried it, and another worker got it
    assert "sendMessage" in [call.method for call in first]
    assert [call.method for call in again] == ["answerCallbackQuery"]
    calls = await deliver(one, user.tap("I'd rather not say"), api)
    question = next(call for call in calls if call.method == "sendMessage")
    assert "Which company made the offer?" in question.params["text"]


async def test_a_result_finished_on_one_worker_is_shared_from_the_other(
    workers: tuple[FakeTelegram, App, App],
) -> None:
    api, one, two = workers
    user = FakeUser(api)
    taps = ("Email", "I'd rather not say")
    await deliver(one, user.text("/start decline_offer"), api)
    for turn, label in enumerate(taps):
        await deliver((two, one)[turn % 2], user.tap(label), api)
    for turn, text in enumerate(("Acme", "Engineer", "Priya", "Zanele Okafor")):
        await deliver((two, one)[turn % 2], user.text(text), api)
    email = user.bot_messages()[-2]["text"]
    assert email.startswith("Subject: ")
    (answer,) = await deliver(one, user.inline(), api)
    shared = [r["input_message_content"]["message_text"] for r in answer.params["results"]]
    assert shared == [email]
