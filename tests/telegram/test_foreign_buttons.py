"""Forged and foreign buttons (issue 11, item 5): only a button of the current question, or a
command the user types, changes a conversation; any other tap shows where the chat stands."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.content.catalog import Catalog
from tests.harness import unversioned
from tests.telegram.test_gateway import (
    OFFERS_GROUP,
    Chat,
    answer_up_to_company,
    running_chat,
    sent,
)
from tests.telegram.test_never_stuck import current_question

FOREIGN = ["g:nope", "f:does_not_exist", "f:decline_offer", "g:offers", "m", "b", "r", "w", "v:x"]


@pytest.fixture
async def chat(catalog: Catalog) -> AsyncIterator[Chat]:
    async with running_chat(catalog) as each:
        yield each


@pytest.mark.parametrize("data", FOREIGN)
async def test_a_button_the_current_question_does_not_offer_changes_nothing(
    chat: Chat, data: str
) -> None:
    await answer_up_to_company(chat)
    before = await chat.conversation()
    question = chat.user.bot_messages()[-1]
    replies = sent(await chat.send(chat.user.tap_data(question, data)))
    after = await chat.conversation()
    assert unversioned(after) == unversioned(before)
    assert replies[-1]["text"] == current_question(chat, after)


async def test_an_old_back_button_does_not_act_on_the_current_question(chat: Chat) -> None:
    await answer_up_to_company(chat)
    first = next(m for m in chat.user.bot_messages() if "reply_markup" in m)  # the old menu
    before = await chat.conversation()
    assert before is not None
    for data in ("b", "r", "b:channel", "r:channel", "c:channel:email"):
        sent(await chat.send(chat.user.tap_data(first, data)))
        assert unversioned(await chat.conversation()) == unversioned(before), data


async def test_the_current_questions_back_button_and_the_back_command_still_go_back(
    chat: Chat,
) -> None:
    await answer_up_to_company(chat)
    start = await chat.conversation()
    assert start is not None and start.state == "company"
    await chat.tap("« Back")
    back = await chat.conversation()
    assert back is not None and back.state != "company"
    await chat.say("/back")
    again = await chat.conversation()
    assert again is not None and len(again.history) == len(back.history) - 1


async def test_an_old_menu_button_tapped_in_a_situation_does_not_reset_it(chat: Chat) -> None:
    await chat.say("/start")
    menu = chat.user.bot_messages()[-1]
    await answer_up_to_company(chat)
    before = await chat.conversation()
    for button in (b for row in menu["reply_markup"]["inline_keyboard"] for b in row):
        await chat.send(chat.user.tap_data(menu, button["callback_data"]))
    assert unversioned(await chat.conversation()) == unversioned(before)
    assert OFFERS_GROUP  # the menu offered the groups tapped above
