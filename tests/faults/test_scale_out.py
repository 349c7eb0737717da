"""Scale-out for real: two `doorajar run --webhook` worker processes share one redis-server and
talk to a fake Bot API; many chats walk a whole conversation at once, each chat's updates
alternating between the workers, some delivered twice (one after the other, or to both workers
at the same moment). The final conversations must equal those of a single sequential run."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from bot.content.catalog import Catalog
from bot.conversation import Conversation
from bot.telegram.webhook import SECRET_HEADER
from tests import figures
from tests.fake_bot_api import FakeBotApiServer, FakeTelegram, FakeUser
from tests.faults.test_telegram_e2e import (
    WEBHOOK_SECRET,
    WEBHOOK_URL,
    BotProcess,
    bot_env,
    free_port,
    wait_for_port,
)
from tests.harness import unversioned
from tests.redis_server import RedisServer
from tests.walk import chat_id, reference, update_for, walk

CHATS = 200
IN_FLIGHT = 12
"""Chats walking at the same moment."""
HOOK_PATH = "/hooks/doorajar"


def start_workers(
    server: FakeBotApiServer, store_url: str, folder: Path, count: int = 2
) -> tuple[list[BotProcess], list[int]]:
    """`count` webhook workers on free ports, sharing `store_url`; waits until they listen."""
    workers, ports = [], []
    for number in range(count):
        port = free_port()
        args = ["--webhook", "--webhook-url", WEBHOOK_URL, "--listen", "127.0.0.1"]
        env = bot_env(server, Path("unused"), DOORAJAR_WEBHOOK_SECRET=WEBHOOK_SECRET)
        env["DOORAJAR_STORE"] = store_url
        env["DOORAJAR_MAX_RATE"] = "1000000"  # the fake Bot API has no flood limit
        worker = BotProcess([*args, "--port", str(port)], env, folder / f"worker{number}.log")
        workers.append(worker)
        ports.append(port)
        worker.start()
    for worker, port in zip(workers, ports, strict=True):
        wait_for_port(port, worker)
    return workers, ports


def stored(store_url: str, chat: int) -> Conversation | None:
    """A worker-saved conversation, read straight from Redis."""
    client = redis.Redis.from_url(store_url)
    try:
        data = client.hget(f"doorajar:{{{chat}}}:conv", "d")
    finally:
        client.close()
    return Conversation.from_json(data) if isinstance(data, bytes) else None


@pytest.fixture
def fake_api() -> Iterator[tuple[FakeTelegram, FakeBotApiServer]]:
    fake = FakeTelegram()
    with FakeBotApiServer(fake) as server:
        yield fake, server


async def post(
    client: httpx.AsyncClient, port: int, update: dict[str, Any], api: FakeTelegram
) -> int:
    """POST an update to a worker as Telegram does, and carry out what its answer asks."""
    response = await client.post(
        f"http://127.0.0.1:{port}{HOOK_PATH}",
        content=json.dumps(update).encode(),
        headers={SECRET_HEADER: WEBHOOK_SECRET, "Content-Type": "application/json"},
    )
    api.webhook_answered(response.status_code, response.content)
    return response.status_code


async def walk_all_chats(api: FakeTelegram, ports: list[int]) -> dict[str, int]:
    """Every chat's walk, IN_FLIGHT chats at a time; some updates are delivered twice."""
    counts = {"posts": 0, "duplicates": 0, "not_200": 0}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(CHATS):
        queue.put_nowait(index)
    limits = httpx.Limits(max_connections=IN_FLIGHT * 2)

    async def one_chat(client: httpx.AsyncClient, index: int) -> None:
        user = FakeUser(api, user_id=chat_id(index))
        for number, step in enumerate(walk(index)):
            update = update_for(user, step)
            first, other = ports[(number + index) % 2], ports[(number + index + 1) % 2]
            if number % 3 == 1:  # to both workers at the same moment
                statuses = list(
                    await asyncio.gather(
                        post(client, first, update, api), post(client, other, update, api)
                    )
                )
            else:
                statuses = [await post(client, first, update, api)]
            if number % 4 == 2:  # again later, as after a lost acknowledgement
                statuses.append(await post(client, other, update, api))
            counts["posts"] += len(statuses)
            counts["duplicates"] += len(statuses) - 1
            counts["not_200"] += sum(status != 200 for status in statuses)

    async def runner(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            await one_chat(client, queue.get_nowait())

    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        await asyncio.gather(*(runner(client) for _ in range(IN_FLIGHT)))
    return counts


def test_two_webhook_workers_on_redis_lose_no_answer_and_apply_no_update_twice(
    catalog: Catalog, fake_api: tuple[FakeTelegram, FakeBotApiServer], tmp_path: Path
) -> None:
    api, server = fake_api
    expected = asyncio.run(reference(catalog, range(CHATS)))
    redis_server = RedisServer(tmp_path)
    store_url = redis_server.start()
    workers: list[BotProcess] = []
    try:
        workers, ports = start_workers(server, store_url, tmp_path)
        api.wait_for(lambda: len(api.calls_since(0, "setWebhook")) == 2)
        started = time.monotonic()
        counts = asyncio.run(walk_all_chats(api, ports))
        seconds = time.monotonic() - started
        lost = twice = not_applied = different = replies_twice = 0
        for index in range(CHATS):
            chat = chat_id(index)
            want = expected.conversations[chat]
            got = stored(store_url, chat)
            assert got is not None, f"chat {chat} has no conversation"
            lost += sum(got.answers.get(slot) != value for slot, value in want.answers.items())
            twice += max(0, got.version - want.version)
            not_applied += max(0, want.version - got.version)
            different += unversioned(got) != unversioned(want)
            sends = len([m for m in FakeUser(api, chat).bot_messages() if "text" in m])
            replies_twice += max(0, sends - expected.sends[chat])
    finally:
        codes = [worker.stop() for worker in workers]
        redis_server.stop()
    updates = sum(len(walk(index)) for index in range(CHATS))
    figures.record(
        "scale_out_two_workers_redis",
        chats=CHATS,
        chats_in_flight=IN_FLIGHT,
        distinct_updates=updates,
        posts=counts["posts"],
        duplicate_posts=counts["duplicates"],
        answers_lost=lost,
        updates_applied_twice=twice,
        updates_not_applied=not_applied,
        conversations_different=different,
        replies_sent_twice=replies_twice,
        non_200_answers=counts["not_200"],
        seconds=round(seconds, 2),
        posts_per_second=round(counts["posts"] / seconds, 1),
    )
    assert codes == [0, 0], [worker.log()[-2000:] for worker in workers]
    assert counts["not_200"] == 0
    assert (lost, twice, not_applied, different, replies_twice) == (0, 0, 0, 0, 0)
