"""The bot process killed with SIGKILL mid-conversation, again and again, and its store going
away: every answer the user saw acknowledged is still there after a restart, every update is
applied exactly once, and while the store is down Telegram is told to deliver again.

Kill points are random (seeded) moments after an update was handed over: before the bot read
it, while it was saving, or while it was answering. That moment is the point of the test, so
it is a short random sleep; everything else waits for a condition.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import random
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.content.catalog import Catalog
from bot.conversation import Conversation
from tests import figures
from tests.fake_bot_api import FakeBotApiServer, FakeTelegram, FakeUser
from tests.faults.test_scale_out import stored as stored_in_redis
from tests.faults.test_telegram_e2e import (
    WEBHOOK_SECRET,
    WEBHOOK_URL,
    BotProcess,
    bot_env,
    free_port,
    post,
    start_polling,
    wait_for_port,
)
from tests.harness import unversioned
from tests.redis_server import RedisServer
from tests.walk import Reference, chat_id, reference, update_for, walk

KILLS = 5
DECIDED = "Email"
STEP_TIMEOUT = 10.0
INDEX = 3  # which chat of the walks (its typed names)
Send = Callable[[BotProcess, dict[str, Any], random.Random], None]
"""Hand an update to the bot as Telegram would, returning once it is acknowledged."""


@pytest.fixture
def fake_api() -> Iterator[tuple[FakeTelegram, FakeBotApiServer]]:
    fake = FakeTelegram()
    with FakeBotApiServer(fake) as server:
        yield fake, server


@pytest.fixture(scope="module")
def expected(catalog: Catalog) -> Reference:
    return asyncio.run(reference(catalog, [INDEX]))


def kill(bot: BotProcess) -> None:
    """SIGKILL: no clean-up, no last words."""
    assert bot.process is not None
    bot.process.kill()
    bot.process.wait(STEP_TIMEOUT)
    bot.stop()


def answered(api: FakeTelegram, mark: int, chat: int) -> bool:
    """Whether the bot finished a turn in `chat` since `mark`: a message with buttons."""
    return any(
        "reply_markup" in call.params and int(call.params["chat_id"]) == chat
        for call in api.calls_since(mark, "sendMessage")
    )


def wait_answered(api: FakeTelegram, mark: int, chat: int) -> None:
    api.wait_for(lambda: answered(api, mark, chat), STEP_TIMEOUT)


@dataclass
class Tally:
    """What happened across the kills."""

    kills: int = 0
    acknowledged_lost: int = 0
    replies_lost_in_a_kill: int = 0
    updates: set[int] = field(default_factory=set)

    def check_acknowledged(self, conv: Conversation | None, acknowledged: Conversation) -> None:
        """Every answer the user saw acknowledged must be in the stored conversation."""
        kept = conv.answers if conv is not None else {}
        self.acknowledged_lost += sum(
            kept.get(slot) != value for slot, value in acknowledged.answers.items()
        )


def walk_with_kills(
    api: FakeTelegram,
    expected: Reference,
    seed: int,
    start: Callable[[int], BotProcess],
    send: Send,
    read: Callable[[], Conversation | None],
) -> Tally:
    """Walk the conversation, killing the bot at KILLS random steps and starting it again."""
    rng = random.Random(seed)
    steps = walk(INDEX)
    kill_at = set(rng.sample(range(len(steps)), KILLS))
    user = FakeUser(api, user_id=chat_id(INDEX))
    after = expected.after_step[user.id]
    tally = Tally()
    bot = start(0)
    for number, step in enumerate(steps):
        update = update_for(user, step)
        tally.updates.add(update["update_id"])
        mark = api.mark()
        if number not in kill_at:
            send(bot, update, rng)
            wait_answered(api, mark, user.id)
            continue
        send_and_kill(bot, update, rng, send)
        tally.kills += 1
        seen = answered(api, mark, user.id)
        acknowledged = after[number] if seen else after[number - 1] if number else None
        if acknowledged is not None:
            tally.check_acknowledged(read(), acknowledged)
        bot = start(tally.kills)
        send(bot, update, rng)  # Telegram delivers an unacknowledged update again
        if not answered(api, mark, user.id):  # saved, but the reply died with the process
            tally.replies_lost_in_a_kill += 1
            help_update = user.text("/help")
            tally.updates.add(help_update["update_id"])
            help_mark = api.mark()
            send(bot, help_update, rng)
            wait_answered(api, help_mark, user.id)
    return tally


def send_and_kill(
    bot: BotProcess,
    update: dict[str, Any],
    rng: random.Random,
    send: Send,
) -> None:
    """Hand the update over and kill the bot a random moment later."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        sending = pool.submit(send, bot, update, rng)
        sending_started = rng.uniform(0.0, 0.06)
        concurrent.futures.wait([sending], timeout=sending_started)
        kill(bot)
        concurrent.futures.wait([sending], timeout=STEP_TIMEOUT)


def finish(tally: Tally, conv: Conversation | None, expected: Reference, name: str) -> None:
    want = expected.conversations[chat_id(INDEX)]
    assert conv is not None
    twice = max(0, conv.version - len(tally.updates))
    missing = max(0, len(tally.updates) - conv.version)
    figures.record(
        name,
        kills=tally.kills,
        acknowledged_answers_lost=tally.acknowledged_lost,
        updates=len(tally.updates),
        updates_applied_twice=twice,
        updates_not_applied=missing,
        final_conversation_equal=unversioned(conv) == unversioned(want),
        replies_lost_with_the_process=tally.replies_lost_in_a_kill,
    )
    assert tally.kills == KILLS
    assert tally.acknowledged_lost == 0
    assert (twice, missing) == (0, 0)
    assert unversioned(conv) == unversioned(want)


def test_a_polling_bot_on_sqlite_killed_five_times_keeps_every_acknowledged_answer(
    fake_api: tuple[FakeTelegram, FakeBotApiServer], tmp_path: Path, expected: Reference
) -> None:
    api, server = fake_api
    path = tmp_path / "store.db"
    env = bot_env(server, path)
    bots: list[BotProcess] = []

    def start(number: int) -> BotProcess:
        bot = BotProcess([], env, tmp_path / f"bot{number}.log")
        bots.append(bot)
        start_polling(api, bot)
        return bot

    def send(bot: BotProcess, update: dict[str, Any], rng: random.Random) -> None:
        if update["update_id"] not in delivered:  # pushed once; it stays until confirmed
            delivered.add(update["update_id"])
            api.push(update)
        # Handled once it is confirmed (gone from the queue); a dead bot confirms nothing.
        api.wait_for(
            lambda: (
                not bot.alive() or all(u["update_id"] != update["update_id"] for u in api.pending)
            ),
            STEP_TIMEOUT,
        )

    def read() -> Conversation | None:
        chat = str(chat_id(INDEX))
        with sqlite3.connect(path) as db:
            row = db.execute(
                "SELECT data, version, updated_at FROM conversations WHERE chat_id = ?", (chat,)
            ).fetchone()
        if row is None:
            return None
        return Conversation.from_json(row[0], chat_id=chat, version=row[1], updated_at=row[2])

    delivered: set[int] = set()
    try:
        tally = walk_with_kills(api, expected, 11, start, send, read)
    finally:
        for each in bots:
            each.stop()
    finish(tally, read(), expected, "sigkill_polling_sqlite")


def webhook_worker(
    server: FakeBotApiServer, store_url: str
) -> tuple[int, list[str], dict[str, str]]:
    """A free port, the flags and the environment of a webhook worker on `store_url`."""
    port = free_port()
    args = ["--webhook", "--webhook-url", WEBHOOK_URL, "--listen", "127.0.0.1"]
    args += ["--port", str(port)]
    env = bot_env(server, Path("unused"), DOORAJAR_WEBHOOK_SECRET=WEBHOOK_SECRET)
    env["DOORAJAR_STORE"] = store_url
    return port, args, env


def test_a_webhook_worker_on_redis_killed_five_times_keeps_every_acknowledged_answer(
    fake_api: tuple[FakeTelegram, FakeBotApiServer], tmp_path: Path, expected: Reference
) -> None:
    api, server = fake_api
    redis_server = RedisServer(tmp_path, durable=True)
    store_url = redis_server.start()
    port, args, env = webhook_worker(server, store_url)
    bots: list[BotProcess] = []

    def start(number: int) -> BotProcess:
        bot = BotProcess(args, env, tmp_path / f"worker{number}.log")
        bots.append(bot)
        bot.start()
        wait_for_port(port, bot)
        return bot

    def send(bot: BotProcess, update: dict[str, Any], rng: random.Random) -> None:
        """POST as Telegram does: again and again until the answer is 200 (or the bot died)."""
        for _ in range(20):
            try:
                if post(port, update, WEBHOOK_SECRET, api) == 200:
                    return
            except OSError:  # the connection died with the process
                pass
            if not bot.alive():
                return

    def read() -> Conversation | None:
        return stored_in_redis(store_url, chat_id(INDEX))

    try:
        tally = walk_with_kills(api, expected, 7, start, send, read)
        conv = read()
    finally:
        for each in bots:
            each.stop()
        redis_server.stop()
    finish(tally, conv, expected, "sigkill_webhook_redis")


def apologies(api: FakeTelegram, mark: int, text: str) -> int:
    """Messages or button answers saying `text` since `mark`."""
    return sum(
        call.params.get("text") == text
        for call in api.calls_since(mark)
        if call.method in ("sendMessage", "answerCallbackQuery")
    )


def test_a_webhook_worker_answers_503_while_redis_is_down_then_applies_the_update_once(
    catalog: Catalog, fake_api: tuple[FakeTelegram, FakeBotApiServer], tmp_path: Path
) -> None:
    api, server = fake_api
    redis_server = RedisServer(tmp_path, durable=True)
    store_url = redis_server.start()
    port, args, env = webhook_worker(server, store_url)
    bot = BotProcess(args, env, tmp_path / "worker.log")
    user = FakeUser(api)
    sorry_store = catalog.common["en"]["sorry_store"]
    try:
        bot.start()
        wait_for_port(port, bot)
        assert post(port, user.text("/start decline_offer"), WEBHOOK_SECRET, api) == 200
        tap = user.tap(DECIDED)
        redis_server.kill()
        mark = api.mark()
        statuses = [post(port, tap, WEBHOOK_SECRET, api) for _ in range(2)]
        told = apologies(api, mark, sorry_store)
        redis_server.start()
        after = [post(port, tap, WEBHOOK_SECRET, api) for _ in range(2)]
        conv = stored_in_redis(store_url, user.id)
        questions = [c for c in api.calls_since(mark, "sendMessage") if "reply_markup" in c.params]
    finally:
        code = bot.stop()
        redis_server.stop()
    figures.record(
        "redis_down_webhook_subprocess",
        statuses_while_down=statuses,
        apologies=told,
        statuses_after=after,
        applied=conv.version - 1 if conv else 0,
    )
    assert code == 0, bot.log()
    assert statuses == [503, 503] and told == 1
    assert after == [200, 200]
    assert conv is not None and conv.version == 2 and conv.answers == {"channel": "email"}
    assert len(questions) == 1 and "main reason" in questions[0].params["text"]


def test_a_polling_bot_retries_while_redis_is_down_then_applies_the_update_once(
    catalog: Catalog, fake_api: tuple[FakeTelegram, FakeBotApiServer], tmp_path: Path
) -> None:
    api, server = fake_api
    redis_server = RedisServer(tmp_path, durable=True)
    store_url = redis_server.start()
    env = bot_env(server, Path("unused"))
    env["DOORAJAR_STORE"] = store_url
    bot = BotProcess([], env, tmp_path / "bot.log")
    user = FakeUser(api)
    sorry_store = catalog.common["en"]["sorry_store"]
    try:
        start_polling(api, bot)
        mark = api.mark()
        api.push(user.text("/start decline_offer"))
        wait_answered(api, mark, user.id)
        tap = user.tap(DECIDED)
        redis_server.kill()
        mark = api.mark()
        api.push(tap)
        api.wait_for(lambda: apologies(api, mark, sorry_store) == 1, STEP_TIMEOUT)
        api.wait_for(lambda: bot.log().count("not saved yet") >= 2, STEP_TIMEOUT)
        still_pending = any(u["update_id"] == tap["update_id"] for u in api.pending)
        redis_server.start()
        wait_answered(api, mark, user.id)
        api.wait_for(lambda: not api.pending, STEP_TIMEOUT)
        conv = stored_in_redis(store_url, user.id)
        told = apologies(api, mark, sorry_store)
    finally:
        code = bot.stop()
        redis_server.stop()
    figures.record(
        "redis_down_polling_subprocess",
        retries_logged=bot.log().count("not saved yet"),
        update_left_unconfirmed_while_down=still_pending,
        apologies=told,
        applied=conv.version - 1 if conv else 0,
    )
    assert code == 0, bot.log()
    assert still_pending and told == 1
    assert conv is not None and conv.version == 2 and conv.answers == {"channel": "email"}
