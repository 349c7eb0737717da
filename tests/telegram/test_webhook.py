"""doorajar's webhook server in-process: the secret, 200 only once saved, 503 while the store is
down, redeliveries and duplicates applied once, and what it registers with Telegram."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.content.catalog import Catalog
from bot.service import Handled
from bot.store.sqlite import SqliteStore
from bot.telegram.startup import ALLOWED_UPDATES
from bot.telegram.webhook import (
    SECRET_HEADER,
    WebhookAnswer,
    WebhookServer,
    WebhookSettings,
    serve_webhook,
)
from tests import figures
from tests.fake_bot_api import Call
from tests.harness import HOOK_PATH, SECRET, running_bot
from tests.redis_server import free_port

DECIDED = "Email"


def texts(calls: list[Call]) -> list[str]:
    return [call.params["text"] for call in calls if call.method == "sendMessage"]


async def test_requests_without_the_right_secret_are_refused_and_change_nothing(
    catalog: Catalog,
) -> None:
    async with running_bot(catalog, webhook=True) as bot:
        update = bot.user.text("/start decline_offer")
        mark = bot.api.mark()
        for secret in (None, "", "wrong", SECRET + "x", SECRET[:-1], "sécret"):
            assert await bot.post(update, secret=secret) == 403
        assert bot.api.calls_since(mark) == []
        assert await bot.conversation() is None
        assert await bot.post(update) == 200


async def test_bodies_that_are_not_updates_are_refused(catalog: Catalog) -> None:
    async with running_bot(catalog, webhook=True) as bot:
        mark = bot.api.mark()
        for body in (b"", b"not json", b"[1, 2]", b'{"update_id": "7"}', b'{"message": {}}'):
            assert await bot.post(body) == 400
        assert bot.api.calls_since(mark) == []


async def test_an_update_the_library_cannot_read_is_acknowledged_not_retried(
    catalog: Catalog,
) -> None:
    async with running_bot(catalog, webhook=True) as bot:
        mark = bot.api.mark()
        assert await bot.post({"update_id": 5, "message": {"text": "no chat, no date"}}) == 200
        assert bot.api.calls_since(mark) == []


async def test_the_answer_comes_only_after_the_conversation_was_saved(catalog: Catalog) -> None:
    async with running_bot(catalog, webhook=True) as bot:
        bot.store.save_delay = 0.2  # a slow store: the answer must wait for it
        assert await bot.post(bot.user.text("/start decline_offer")) == 200
        conv = await bot.conversation()
        assert conv is not None and conv.flow == "decline_offer" and conv.version == 1
        (question,) = texts(bot.api.calls_since(0))
        assert "How will you tell them" in question


async def test_store_down_answers_503_apologises_once_and_the_redelivery_applies_once(
    catalog: Catalog,
) -> None:
    async with running_bot(catalog, webhook=True) as bot:
        assert await bot.post(bot.user.text("/start decline_offer")) == 200
        before = await bot.conversation()
        tap = bot.user.tap(DECIDED)
        typed = bot.user.text("/help")
        bot.store.down = True
        mark = bot.api.mark()
        statuses = [await bot.post(tap) for _ in range(3)] + [await bot.post(typed)]
        assert statuses == [503, 503, 503, 503]
        toasts = [c.params.get("text") for c in bot.api.calls_since(mark, "answerCallbackQuery")]
        assert toasts.count(bot.common["sorry_store"]) == 1  # told once, not per delivery
        assert texts(bot.api.calls_since(mark)) == []
        assert await bot.conversation() == before  # nothing half-written
        bot.store.down = False
        mark = bot.api.mark()
        assert await bot.post(tap) == 200  # Telegram delivers it again: applied now
        assert await bot.post(tap) == 200  # and once more: applied once
        assert await bot.post(typed) == 200
        after = await bot.conversation()
        assert after is not None and before is not None
        assert after.answers == {"channel": "email"} and after.version == before.version + 2
        replies = texts(bot.api.calls_since(mark))
        assert sum("main reason" in text for text in replies) == 2  # the answer, then /help
        figures.record(
            "webhook_store_down",
            statuses_while_down=statuses,
            apologies=toasts.count(bot.common["sorry_store"]),
            applied_after_recovery=after.version - before.version,
        )


async def test_a_message_while_the_store_is_down_gets_one_apology_message(
    catalog: Catalog,
) -> None:
    async with running_bot(catalog, webhook=True) as bot:
        bot.store.down = True
        update = bot.user.text("/start")
        assert [await bot.post(update) for _ in range(3)] == [503, 503, 503]
        assert texts(bot.api.calls) == [bot.common["sorry_store"]]
        bot.store.down = False
        assert await bot.post(update) == 200
        bot.store.down = True  # a new outage: told again, once
        assert await bot.post(bot.user.text("/help")) == 503
        assert texts(bot.api.calls).count(bot.common["sorry_store"]) == 2


async def test_sqlite_locked_by_another_writer_answers_503_then_applies_once(
    catalog: Catalog, tmp_path: Path
) -> None:
    path = tmp_path / "doorajar.db"
    async with running_bot(catalog, SqliteStore(path, busy_timeout=0.05), webhook=True) as bot:
        assert await bot.post(bot.user.text("/start decline_offer")) == 200
        tap = bot.user.tap(DECIDED)
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        try:
            assert await bot.post(tap) == 503
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert [await bot.post(tap), await bot.post(tap)] == [200, 200]
        conv = await bot.conversation()
        assert conv is not None and conv.version == 2 and conv.answers == {"channel": "email"}
        await bot.store.close()


async def test_duplicates_sequential_and_concurrent_are_applied_once(catalog: Catalog) -> None:
    async with running_bot(catalog, webhook=True) as bot:
        assert await bot.post(bot.user.text("/start decline_offer")) == 200
        tap = bot.user.tap(DECIDED)
        mark = bot.api.mark()
        sequential = [await bot.post(tap) for _ in range(3)]
        concurrent_tap = bot.user.tap("I'd rather not say")
        concurrent = await asyncio.gather(*(bot.post(concurrent_tap) for _ in range(5)))
        assert sequential == [200] * 3 and list(concurrent) == [200] * 5
        conv = await bot.conversation()
        assert conv is not None and conv.version == 3
        assert conv.answers == {"channel": "email", "reason": "private"}
        questions = texts(bot.api.calls_since(mark))
        assert len(questions) == 2  # one reply per update, however often it came
        figures.record(
            "webhook_duplicates",
            deliveries=len(sequential) + len(concurrent),
            distinct_updates=2,
            applied=conv.version - 1,
            replies=len(questions),
        )


async def test_serve_webhook_registers_the_secret_keeps_pending_updates_and_stops_cleanly(
    catalog: Catalog,
) -> None:
    async with running_bot(catalog) as bot:
        port = free_port()
        settings = WebhookSettings(
            url="https://bot.example.test/hooks/doorajar",
            path="/hooks/doorajar",
            secret=SECRET,
            listen="127.0.0.1",
            port=port,
            allowed_updates=ALLOWED_UPDATES,
        )
        stop = asyncio.Event()
        serving = asyncio.create_task(serve_webhook(bot.gateway, settings, stop))
        await wait_until(lambda: bool(bot.api.calls_since(0, "setWebhook")))
        (call,) = bot.api.calls_since(0, "setWebhook")
        assert call.params["url"] == settings.url
        assert call.params["secret_token"] == SECRET
        assert call.params["drop_pending_updates"] == "false"  # updates waiting are kept
        assert call.params["allowed_updates"] == list(ALLOWED_UPDATES)
        stop.set()
        await asyncio.wait_for(serving, 5)
        assert bot.api.calls_since(0, "deleteWebhook") == []  # other workers still serve it


async def wait_until(condition: object, timeout: float = 5.0) -> None:
    """Wait, without blocking the loop, until `condition()` holds."""
    assert callable(condition)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_a_stopping_server_finishes_the_update_in_progress() -> None:
    started, release = asyncio.Event(), asyncio.Event()

    async def slow(data: dict[str, Any]) -> WebhookAnswer:
        started.set()
        await release.wait()
        return WebhookAnswer(Handled.APPLIED)

    server = WebhookServer(HOOK_PATH, SECRET, slow)
    port = await server.start("127.0.0.1", 0)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        headers = {SECRET_HEADER: SECRET}
        posting = asyncio.create_task(
            client.post(HOOK_PATH, content=b'{"update_id": 1}', headers=headers)
        )
        await asyncio.wait_for(started.wait(), 5)
        stopping = asyncio.create_task(server.stop(grace=5))
        await asyncio.sleep(0.05)
        assert not stopping.done()  # waits for the update in progress
        release.set()
        await asyncio.wait_for(stopping, 5)
        assert (await posting).status_code == 200
        with pytest.raises(httpx.ConnectError):
            await client.post(HOOK_PATH, content=b'{"update_id": 2}', headers=headers)
