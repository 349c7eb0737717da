"""A real `doorajar run` killed after the save and before the reply (issue 11, item 1), again
and again: when it is back, the user has the current question, and the answer they type again
(they never saw the next question) is not filed under the next question.

The fake Bot API holds the first `sendMessage` of the step (the save is done by then: replies
go out after it) until the worker is killed, and never delivers it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.content.catalog import Catalog
from bot.conversation import Conversation
from bot.engine import Engine
from bot.telegram.outbox import Renderer
from tests import figures
from tests.fake_bot_api import ApiError, FakeBotApiServer, FakeTelegram, FakeUser
from tests.faults.test_crash import kill
from tests.faults.test_telegram_e2e import BotProcess, bot_env, start_polling

KILLS = 20
COMPANY = "Acme Robotics"
WAIT = 15.0


class HoldingTelegram(FakeTelegram):
    """A fake Telegram that can hold the next sendMessage unanswered and undelivered."""

    def __init__(self) -> None:
        super().__init__()
        self.hold_next = False
        self.held = threading.Event()
        self.release = threading.Event()

    def api_sendmessage(self, params: dict[str, Any]) -> Any:
        if self.hold_next:
            self.hold_next = False
            self.held.set()
            self.release.wait(WAIT)
            raise ApiError(502, "Bad Gateway")  # never delivered
        return super().api_sendmessage(params)


@pytest.fixture
def holding_api() -> Iterator[tuple[HoldingTelegram, FakeBotApiServer]]:
    fake = HoldingTelegram()
    with FakeBotApiServer(fake) as server:
        yield fake, server


def stored(path: Path, chat: int) -> Conversation | None:
    with sqlite3.connect(path) as db:
        row = db.execute(
            "SELECT data, version, updated_at FROM conversations WHERE chat_id = ?", (str(chat),)
        ).fetchone()
    if row is None:
        return None
    return Conversation.from_json(row[0], chat_id=str(chat), version=row[1], updated_at=row[2])


def settle(api: HoldingTelegram, bot: BotProcess) -> None:
    """Wait until the bot confirmed every update handed to it."""
    api.wait_for(lambda: not api.pending or not bot.alive(), WAIT)


def test_a_worker_killed_after_the_save_leaves_no_user_without_the_question(
    catalog: Catalog, holding_api: tuple[HoldingTelegram, FakeBotApiServer], tmp_path: Path
) -> None:
    api, server = holding_api
    path = tmp_path / "store.db"
    env = bot_env(server, path)
    engine = Engine(catalog)
    renderer = Renderer(catalog.common["en"])
    bots: list[BotProcess] = []
    without_question = misfiled = 0

    def start(number: int) -> BotProcess:
        bot = BotProcess([], env, tmp_path / f"bot{number}.log")
        bots.append(bot)
        start_polling(api, bot)
        return bot

    bot = start(0)
    try:
        for number in range(KILLS):
            user = FakeUser(api, user_id=5000 + number)
            api.push(user.text("/start decline_offer"))
            settle(api, bot)
            for label in ("Email", "I'd rather not say"):
                api.wait_for(lambda user=user: any(True for _ in user.buttons()), WAIT)
                api.push(user.tap(label))
                settle(api, bot)
            api.wait_for(
                lambda user=user: "company" in user.bot_messages()[-1]["text"].lower(), WAIT
            )
            api.held.clear()
            api.release.clear()
            api.hold_next = True
            api.push(user.text(COMPANY))
            api.held.wait(WAIT)  # saved, and sending the next question
            kill(bot)
            api.release.set()
            api.push(user.text(COMPANY))  # nothing came back: the user types it again
            bot = start(number + 1)
            settle(api, bot)
            conv = stored(path, user.id)
            assert conv is not None
            want = renderer.render(engine.current(conv))[-1].text
            shown = [m for m in user.bot_messages() if "reply_markup" in m]
            without_question += not shown or shown[-1]["text"] != want
            misfiled += conv.answers.get("company") != COMPANY or "role" in conv.answers
    finally:
        for each in bots:
            each.stop()
    figures.record(
        "killed_after_save_before_reply",
        kills=KILLS,
        users_left_without_the_current_question=without_question,
        answers_misfiled=misfiled,
    )
    assert (without_question, misfiled) == (0, 0)
