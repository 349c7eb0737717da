"""A reply lost after the save (issue 11, item 1), in-process: the redelivery shows the current
question, text typed before the user saw a question is not its answer, a store that timed out
after writing is not taken for one that wrote nothing, and no apology invites a misfiled retry.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from bot.content.catalog import Catalog
from bot.conversation import Conversation
from bot.events import Text
from bot.service import Handled
from bot.store.protocol import SaveResult, StoreUnavailable
from tests.telegram.test_gateway import (
    COMPANY,
    Chat,
    FlakyStore,
    answer_up_to_company,
    running_chat,
    sent,
)


@pytest.fixture
async def chat(catalog: Catalog) -> AsyncIterator[Chat]:
    async with running_chat(catalog) as each:
        yield each


def current_question(chat: Chat, conv: Conversation | None) -> str:
    """The text of the message the bot would show now for `conv`."""
    assert conv is not None
    replies = chat.gateway.service.engine.current(conv)
    return chat.gateway.outbox.renderer.render(replies)[-1].text


async def save_without_reply(chat: Chat, update: dict[str, Any]) -> None:
    """What a worker killed after the save and before the reply leaves behind."""
    message = update["message"]
    async with chat.gateway.service.turn(str(chat.user.id)) as turn:
        step = await turn.apply(
            Text(message["text"]), update["update_id"], message_id=message["message_id"]
        )
    assert step.handled is Handled.APPLIED


async def test_a_reply_that_failed_to_send_is_handed_back_and_its_redelivery_shows_the_question(
    chat: Chat,
) -> None:
    await answer_up_to_company(chat)
    answer = chat.user.text(COMPANY)
    chat.api.fail("sendMessage", 502, "Bad Gateway")
    await chat.send(answer)
    assert chat.handled[-1] is Handled.RETRY  # Telegram is asked to deliver it again
    conv = await chat.conversation()
    assert conv is not None and conv.answers["company"] == COMPANY
    again = sent(await chat.send(answer))
    assert chat.handled[-1] is Handled.ALREADY_APPLIED
    assert [m["text"] for m in again] == [current_question(chat, conv)]
    assert unchanged(conv, await chat.conversation())


def unchanged(before: Conversation | None, after: Conversation | None) -> bool:
    return before is not None and after is not None and before.version == after.version


async def test_a_redelivery_after_a_crash_shows_the_question_once_the_grace_has_passed(
    chat: Chat, monkeypatch: pytest.MonkeyPatch
) -> None:
    await answer_up_to_company(chat)
    answer = chat.user.text(COMPANY)
    await save_without_reply(chat, answer)
    monkeypatch.setattr("bot.service.REDELIVERY_GRACE", 0.0)  # the restart took that long
    again = sent(await chat.send(answer))
    conv = await chat.conversation()
    assert [m["text"] for m in again] == [current_question(chat, conv)]
    assert "company" in (conv.answers if conv else {})


async def test_a_duplicate_arriving_while_the_first_worker_answers_shows_nothing(
    chat: Chat,
) -> None:
    await answer_up_to_company(chat)
    answer = chat.user.text(COMPANY)
    first = sent(await chat.send(answer))
    assert len(first) == 1
    second = await chat.send(answer)  # the same moment, as a second worker would see it
    assert chat.handled[-1] is Handled.ALREADY_APPLIED
    assert sent(second) == []


async def test_a_duplicate_of_an_older_update_shows_nothing(
    chat: Chat, monkeypatch: pytest.MonkeyPatch
) -> None:
    await answer_up_to_company(chat)
    answer = chat.user.text(COMPANY)
    await chat.send(answer)
    await chat.say("Platform Engineer")
    monkeypatch.setattr("bot.service.REDELIVERY_GRACE", 0.0)
    assert sent(await chat.send(answer)) == []  # a later update's reply showed where we are


async def test_text_typed_before_the_question_was_shown_is_not_taken_as_its_answer(
    chat: Chat,
) -> None:
    await answer_up_to_company(chat)
    await save_without_reply(chat, chat.user.text(COMPANY))
    before = await chat.conversation()
    retyped = sent(await chat.say(COMPANY))  # nothing arrived, so the user types it again
    after = await chat.conversation()
    assert after is not None and before is not None
    assert after.answers == before.answers and after.state == before.state  # not misfiled
    assert [m["text"] for m in retyped] == [current_question(chat, after)]
    sent(await chat.say("Platform Engineer"))  # seen now: this one answers it
    answered = await chat.conversation()
    assert answered is not None and answered.answers.get("role") == "Platform Engineer"


async def test_two_messages_sent_before_the_first_reply_do_not_answer_two_questions(
    chat: Chat,
) -> None:
    await answer_up_to_company(chat)
    first, second = chat.user.text(COMPANY), chat.user.text("Platform Engineer")
    await chat.send(first)
    await chat.send(second)  # typed before the role question reached the user
    conv = await chat.conversation()
    assert conv is not None and "role" not in conv.answers


class WritesThenTimesOut(FlakyStore):
    """A store whose next save is written, but whose answer is lost (a timeout)."""

    lose_answer = False

    async def save(
        self, conv: Conversation, update_id: int | None = None, counts: Sequence[str] = ()
    ) -> SaveResult:
        saved = await super().save(conv, update_id, counts)
        if self.lose_answer:
            self.lose_answer = False
            raise StoreUnavailable("timed out after the write")
        return saved


async def test_a_store_timeout_after_the_write_is_not_reported_as_nothing_written(
    chat: Chat,
) -> None:
    store = WritesThenTimesOut()
    chat.gateway.service.store = store
    chat.gateway.service.load_to_change = store.load
    chat.store = store
    await answer_up_to_company(chat)
    store.lose_answer = True
    replies = sent(await chat.say(COMPANY))
    conv = await chat.conversation()
    assert chat.handled[-1].acknowledged
    assert conv is not None and conv.answers["company"] == COMPANY
    assert chat.common["sorry_store"] not in [m["text"] for m in replies]
    assert [m["text"] for m in replies] == [current_question(chat, conv)]


def test_no_apology_invites_sending_the_answer_again(chat: Chat) -> None:
    for key in ("sorry_error", "sorry_store"):
        text = chat.common[key].lower()
        assert "try again" not in text and "send it again" not in text, key


def test_recorded_update_and_message_ids_stay_out_of_json_until_set() -> None:
    assert set(json.loads(Conversation(chat_id="1").to_json())) == {"chat_id", "lang"}
