"""The Telegram gateway in-process: updates in, Bot API calls out, through a fake Telegram."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from telegram import Update

from bot.content.catalog import Catalog
from bot.conversation import Conversation
from bot.engine import Engine
from bot.replies import ResultReply
from bot.service import ChatService, Handled
from bot.store.memory import MemoryStore
from bot.store.protocol import SaveResult, StoreUnavailable
from bot.telegram.gateway import TEXT_LIMIT, Gateway
from bot.telegram.outbox import FORGET_NO, FORGET_YES, SHARE_START, Carried
from bot.telegram.startup import build_gateway, start
from tests.fake_bot_api import TOKEN, Call, FakeTelegram, FakeUser, RecordingRequest
from tests.logscan import never_log

COMPANY = "Acme Robotics"
ROLE = "Platform Engineer"
RECIPIENT = "Priya"
NAME = "Zanele Okafor"
never_log(COMPANY, ROLE, RECIPIENT, NAME)
FLOW_TITLE = "Turn down a job offer"
OFFERS_GROUP = "I have a job offer"


class FlakyStore(MemoryStore):
    """A memory store that can be switched off, as a database or network can go away."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise StoreUnavailable("switched off by the test")

    async def load(self, chat_id: str) -> Conversation | None:
        self._check()
        return await super().load(chat_id)

    async def save(
        self, conv: Conversation, update_id: int | None = None, counts: Sequence[str] = ()
    ) -> SaveResult:
        self._check()
        return await super().save(conv, update_id, counts)

    async def seen(self, chat_id: str, update_id: int) -> bool:
        self._check()
        return await super().seen(chat_id, update_id)


@dataclass
class Chat:
    """A bot in this process, a fake Telegram, and a user chatting with it."""

    gateway: Gateway
    api: FakeTelegram
    user: FakeUser
    store: FlakyStore
    common: Any

    handled: list[Handled] = field(default_factory=list)

    async def send(self, update: dict[str, Any]) -> list[Call]:
        """Deliver one update to the bot; the Bot API calls it made in return."""
        mark = self.api.mark()
        wire = json.loads(json.dumps(update))  # as it arrives from Telegram
        self.handled.append(await self.gateway.handle(Update.de_json(wire, self.gateway.bot)))
        return self.api.calls_since(mark)

    async def say(self, text: str) -> list[Call]:
        return await self.send(self.user.text(text))

    async def tap(self, label: str) -> list[Call]:
        return await self.send(self.user.tap(label))

    async def conversation(self) -> Conversation | None:
        return await self.store.load(str(self.user.id))


@asynccontextmanager
async def running_chat(catalog: Catalog, rate_limit: bool = False) -> AsyncIterator[Chat]:
    api = FakeTelegram()
    store = FlakyStore()
    gateway = build_gateway(
        ChatService(Engine(catalog), store, retry_delays=()),
        token=TOKEN,
        request=RecordingRequest(api),
        rate_limit=rate_limit,
    )
    await gateway.bot.initialize()
    try:
        yield Chat(gateway, api, FakeUser(api), store, catalog.common["en"])
    finally:
        await gateway.bot.shutdown()


@pytest.fixture
async def chat(catalog: Catalog) -> AsyncIterator[Chat]:
    async with running_chat(catalog) as chat:
        yield chat


from tests.harness import unversioned  # noqa: E402


def sent(calls: list[Call]) -> list[dict[str, Any]]:
    return [call.params for call in calls if call.method == "sendMessage"]


def labels(params: dict[str, Any]) -> list[str]:
    rows = params.get("reply_markup", {}).get("inline_keyboard", [])
    return [button["text"] for row in rows for button in row]


def method_names(calls: list[Call]) -> list[str]:
    return [call.method for call in calls]


def assert_menu(params: dict[str, Any]) -> None:
    """A main menu: situations, or groups of them once there are several."""
    shown = labels(params)
    assert OFFERS_GROUP in shown or FLOW_TITLE in shown, shown


async def open_flow(chat: Chat) -> None:
    """/start, then through the menu (a group first, when there are groups) to the flow."""
    (menu,) = sent(await chat.say("/start"))
    if FLOW_TITLE not in labels(menu):
        await chat.tap(OFFERS_GROUP)
    await chat.tap(FLOW_TITLE)


async def answer_up_to_company(chat: Chat, channel: str = "A phone call, then an email") -> None:
    await open_flow(chat)
    for label in (channel, "I'd rather not say"):
        await chat.tap(label)


async def finish_flow(chat: Chat, channel: str = "A phone call, then an email") -> list[Call]:
    await answer_up_to_company(chat, channel)
    for text in (COMPANY, ROLE, RECIPIENT):
        await chat.say(text)
    return await chat.say(NAME)


# -- start, menu, commands -----------------------------------------------------------------


async def test_start_greets_and_shows_the_situations_as_buttons(chat: Chat) -> None:
    (menu,) = sent(await chat.say("/start"))
    assert menu["text"].startswith(chat.common["welcome"])
    assert_menu(menu)
    assert "parse_mode" not in menu


async def test_start_up_registers_the_commands(chat: Chat) -> None:
    await start(chat.gateway)
    names = [command["command"] for command in chat.api.commands]
    assert names == ["start", "help", "back", "restart", "cancel", "reminders", "forget"]
    assert all(command["description"] for command in chat.api.commands)


async def test_deep_link_start_jumps_straight_into_the_situation(chat: Chat) -> None:
    (question,) = sent(await chat.say("/start decline_offer"))
    assert "How will you tell them" in question["text"]
    assert "Email" in labels(question)


async def test_deep_link_to_an_unknown_situation_explains_and_shows_the_menu(chat: Chat) -> None:
    notice, menu = sent(await chat.say("/start no_such_flow"))
    assert notice["text"] == chat.common["unknown_flow"]
    assert_menu(menu)


async def test_share_deep_link_opens_the_menu(chat: Chat) -> None:
    (menu,) = sent(await chat.say(f"/start {SHARE_START}"))
    assert_menu(menu)


async def test_help_explains_and_repeats_the_current_question(chat: Chat) -> None:
    await chat.say("/start decline_offer")
    help_text, question = sent(await chat.say("/help"))
    assert help_text["text"] == chat.common["help"]
    assert "How will you tell them" in question["text"]


async def test_unknown_command_gets_the_help(chat: Chat) -> None:
    help_text, _ = sent(await chat.say("/whatever"))
    assert help_text["text"] == chat.common["help"]


async def test_back_and_restart_commands_move_through_the_flow(chat: Chat) -> None:
    await chat.say("/start decline_offer")
    await chat.tap("Email")
    (previous,) = sent(await chat.say("/back"))
    assert "How will you tell them" in previous["text"]
    assert "✓ Email" in labels(previous)
    await chat.tap("Email")
    (first,) = sent(await chat.say("/restart"))
    assert "How will you tell them" in first["text"]
    conv = await chat.conversation()
    assert conv is not None and conv.state == "channel" and not conv.answers


async def test_cancel_stops_and_returns_to_the_menu(chat: Chat) -> None:
    await chat.say("/start decline_offer")
    cancelled, menu = sent(await chat.say("/cancel"))
    assert cancelled["text"] == chat.common["cancelled"]
    assert_menu(menu)
    conv = await chat.conversation()
    assert conv is not None and conv.flow == ""


# -- questions and answers -------------------------------------------------------------------


async def test_tap_answers_the_query_records_the_answer_and_asks_the_next(chat: Chat) -> None:
    await chat.say("/start decline_offer")
    question_id = chat.user.bot_messages()[-1]["message_id"]
    calls = await chat.tap("Email")
    assert method_names(calls) == ["answerCallbackQuery", "editMessageText", "sendMessage"]
    edit = calls[1].params
    assert edit["message_id"] == question_id
    assert edit["text"].endswith("\n\n→ Email")
    assert edit["text"].startswith("How will you tell them")
    assert "reply_markup" not in edit
    shown = chat.user.bot_messages()
    assert "reply_markup" not in shown[-2]  # the answered question keeps no buttons
    assert "main reason" in shown[-1]["text"]


async def test_text_question_invites_typing_and_shows_the_earlier_answer(chat: Chat) -> None:
    await answer_up_to_company(chat)
    await chat.say(COMPANY)
    (again,) = sent(await chat.say("/back"))
    assert chat.common["type_answer"] in again["text"]
    assert f"Your earlier answer: {COMPANY}" in again["text"]
    assert f"Keep: {COMPANY}" in labels(again)


async def test_typed_answer_that_breaks_a_rule_is_asked_again_with_the_reason(chat: Chat) -> None:
    await answer_up_to_company(chat)
    (again,) = sent(await chat.say("x" * 70))
    assert again["text"].startswith("⚠ That's 70 characters")
    assert "Which company made the offer?" in again["text"]
    conv = await chat.conversation()
    assert conv is not None and conv.state == "company"


async def test_overlong_text_is_refused_before_it_reaches_the_engine(chat: Chat) -> None:
    await answer_up_to_company(chat)
    before = await chat.conversation()
    refusal, question = sent(await chat.say("y" * (TEXT_LIMIT + 1)))
    assert str(TEXT_LIMIT) in refusal["text"] and str(TEXT_LIMIT + 1) in refusal["text"]
    assert "Which company made the offer?" in question["text"]
    assert unversioned(await chat.conversation()) == unversioned(before)


async def test_sticker_gets_a_nudge_and_the_current_question(chat: Chat) -> None:
    await chat.say("/start decline_offer")
    nudge, question = sent(await chat.send(chat.user.sticker()))
    assert nudge["text"] == chat.common["not_text"]
    assert "How will you tell them" in question["text"]


async def test_stale_button_is_answered_and_the_current_question_sent_again(chat: Chat) -> None:
    await chat.say("/start decline_offer")
    first_question = chat.user.bot_messages()[-1]
    await chat.tap("Email")
    calls = await chat.send(chat.user.tap_data(first_question, "c:channel:phone"))
    assert method_names(calls)[0] == "answerCallbackQuery"
    notice, question = sent(calls)
    assert notice["text"] == chat.common["stale_button"]
    assert "main reason" in question["text"]
    conv = await chat.conversation()
    assert conv is not None and conv.answers == {"channel": "email"}


async def test_forged_button_data_is_answered_and_changes_nothing(chat: Chat) -> None:
    await chat.say("/start decline_offer")
    question = chat.user.bot_messages()[-1]
    before = await chat.conversation()
    for forged in ("zz:{0.__class__}", "c:channel:gone", "x" * 80, ""):
        calls = await chat.send(chat.user.tap_data(question, forged))
        assert method_names(calls).count("answerCallbackQuery") == 1
        assert "editMessageText" not in method_names(calls)
        assert "How will you tell them" in sent(calls)[-1]["text"]
    assert unversioned(await chat.conversation()) == unversioned(before)


async def test_duplicate_update_is_applied_once(chat: Chat) -> None:
    await chat.say("/start decline_offer")
    tap = chat.user.tap("Email")
    await chat.send(tap)
    again = await chat.send(tap)
    assert method_names(again) == ["answerCallbackQuery"]  # the spinner stops; nothing else
    conv = await chat.conversation()
    assert conv is not None and conv.state == "reason" and conv.version == 2


async def test_group_chats_are_ignored(chat: Chat) -> None:
    update = chat.user.text("/start")
    update["message"]["chat"] = {"id": -100, "type": "group", "title": "Team"}
    assert await chat.send(update) == []


# -- the result ------------------------------------------------------------------------------


async def test_result_messages_are_plain_and_alone_then_advice_with_actions(chat: Chat) -> None:
    calls = await finish_flow(chat)
    script, email, advice = sent(calls)
    for message in (script, email):
        assert "reply_markup" not in message and "parse_mode" not in message
    assert RECIPIENT in script["text"] and NAME in script["text"]
    assert email["text"].startswith("Subject: ")
    assert email["text"].rstrip().endswith(NAME)
    assert "Phone script (for you, not to send); Email" in advice["text"]
    assert chat.common["advice_heading"] in advice["text"]
    assert "parse_mode" not in advice
    assert labels(advice)[:3] == ["Another wording", "Change tone", "Thank someone by name"]
    assert "Change channel" in labels(advice)
    share = advice["reply_markup"]["inline_keyboard"][-1][0]
    assert share == {"text": chat.common["share"], "switch_inline_query": ""}


async def test_result_sends_exactly_what_the_engine_composed(chat: Chat, catalog: Catalog) -> None:
    calls = await finish_flow(chat, channel="Email")
    conv = await chat.conversation()
    assert conv is not None
    (result,) = Engine(catalog).current(conv)
    assert isinstance(result, ResultReply)
    email, advice = sent(calls)
    assert [email["text"]] == [message.text for message in result.result.messages]
    assert email["text"].startswith("Subject: ")
    assert "Your message is above (Email)" in advice["text"]


async def test_another_wording_records_the_tap_and_sends_a_new_result(chat: Chat) -> None:
    await finish_flow(chat, channel="Email")
    first_email = chat.user.bot_messages()[-2]["text"]
    calls = await chat.tap("Another wording")
    assert calls[1].method == "editMessageText"
    assert calls[1].params["text"].endswith("→ Another wording")
    email, _advice = sent(calls)
    assert email["text"] != first_email


async def test_user_text_is_never_sent_with_a_parse_mode(chat: Chat) -> None:
    await answer_up_to_company(chat, channel="Email")
    await chat.say("<b>Acme</b> & *Sons* _{0.__class__}_")
    for text in (ROLE, RECIPIENT, NAME):
        await chat.say(text)
    for call in chat.api.calls:
        assert "parse_mode" not in call.params
    email = chat.user.bot_messages()[-2]["text"]
    assert "<b>Acme</b> & *Sons* _{0.__class__}_" in email


# -- forget ----------------------------------------------------------------------------------


async def test_forget_asks_first_and_deletes_only_after_yes(chat: Chat) -> None:
    await chat.say("/start decline_offer")
    (confirm,) = sent(await chat.say("/forget"))
    assert confirm["text"] == chat.common["forget_confirm"]
    data = [b["callback_data"] for row in confirm["reply_markup"]["inline_keyboard"] for b in row]
    assert data == [FORGET_YES, FORGET_NO]
    assert await chat.conversation() is not None
    calls = await chat.tap(chat.common["forget_yes"])
    assert method_names(calls) == ["answerCallbackQuery", "editMessageText", "sendMessage"]
    assert sent(calls)[0]["text"] == chat.common["forgotten"]
    assert await chat.conversation() is None


async def test_forget_no_keeps_everything(chat: Chat) -> None:
    await chat.say("/start decline_offer")
    await chat.say("/forget")
    kept, question = sent(await chat.tap(chat.common["forget_no"]))
    assert kept["text"] == chat.common["forget_kept"]
    assert "How will you tell them" in question["text"]
    assert await chat.conversation() is not None


# -- sharing ---------------------------------------------------------------------------------


async def test_inline_query_offers_the_latest_result_as_plain_articles(chat: Chat) -> None:
    await finish_flow(chat)
    script, email = (m["text"] for m in chat.user.bot_messages()[-3:-1])
    (answer,) = await chat.send(chat.user.inline())
    assert answer.method == "answerInlineQuery"
    assert answer.params["is_personal"] is True and answer.params["cache_time"] == 0
    results = answer.params["results"]
    assert [r["input_message_content"]["message_text"] for r in results] == [script, email]
    assert all("parse_mode" not in r["input_message_content"] for r in results)
    assert results[1]["title"].startswith("Email: Confirming my decision")


async def test_inline_query_without_a_result_offers_to_open_the_bot(chat: Chat) -> None:
    await chat.say("/start decline_offer")
    (answer,) = await chat.send(chat.user.inline())
    assert answer.params["results"] == []
    assert answer.params["button"] == {
        "text": chat.common["inline_empty"],
        "start_parameter": SHARE_START,
    }


# -- failures --------------------------------------------------------------------------------


async def test_store_down_on_a_tap_says_sorry_and_keeps_the_buttons(chat: Chat) -> None:
    await chat.say("/start decline_offer")
    chat.store.down = True
    calls = await chat.tap("Email")
    assert method_names(calls) == ["answerCallbackQuery"]
    assert calls[0].params["text"] == chat.common["sorry_store"]
    chat.store.down = False
    calls = await chat.tap("Email")  # the same button still works
    assert "main reason" in sent(calls)[-1]["text"]


async def test_store_down_on_a_tap_by_webhook_says_sorry_by_a_request(chat: Chat) -> None:
    await chat.say("/start decline_offer")
    chat.store.down = True
    carried = Carried()
    mark = chat.api.mark()
    tap = chat.user.tap("Email")
    update = Update.de_json(json.loads(json.dumps(tap)), chat.gateway.bot)
    assert await chat.gateway.handle(update, carried) is Handled.RETRY
    (answer,) = chat.api.calls_since(mark)  # a 503 carries nothing: answered by a request
    assert answer.method == "answerCallbackQuery" and not answer.carried
    assert answer.params["text"] == chat.common["sorry_store"]
    assert carried.body() is None


async def test_a_tap_handed_back_whose_answer_fails_is_still_handed_back(
    chat: Chat, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")  # RetryAfter's own deprecation notice, not ours
    await chat.say("/start decline_offer")
    chat.store.down = True
    chat.api.fail("answerCallbackQuery", 429, "Too Many Requests: retry after 5", retry_after=5)
    update = Update.de_json(json.loads(json.dumps(chat.user.tap("Email"))), chat.gateway.bot)
    assert await chat.gateway.handle(update, Carried()) is Handled.RETRY
    assert "a tap handed back was not answered" in caplog.text


async def test_store_down_on_a_message_says_sorry(chat: Chat) -> None:
    chat.store.down = True
    (sorry,) = sent(await chat.say("/start"))
    assert sorry["text"] == chat.common["sorry_store"]


async def test_unexpected_error_is_apologised_for_with_the_question_that_stands(
    chat: Chat, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    await answer_up_to_company(chat)

    def broken(*args: object) -> None:
        raise RuntimeError("engine bug")

    monkeypatch.setattr(Engine, "handle", broken)
    with caplog.at_level(logging.DEBUG):
        (sorry,) = sent(await chat.say(COMPANY))
    # The apology comes with the question still asked, so what the user types next answers it.
    assert sorry["text"].startswith(f"⚠ {chat.common['sorry_error']}")
    assert "Which company made the offer?" in sorry["text"] and "reply_markup" in sorry
    assert "try again" not in sorry["text"]
    failure = next(r for r in caplog.records if r.levelno == logging.ERROR)
    assert "chat=42" in failure.getMessage() and "kind=message" in failure.getMessage()
    assert failure.exc_info is not None
    assert COMPANY not in caplog.text and TOKEN not in caplog.text


async def test_inline_query_with_the_store_down_says_sorry(chat: Chat) -> None:
    chat.store.down = True
    (answer,) = await chat.send(chat.user.inline())
    assert answer.params["results"] == []
    assert answer.params["button"]["text"] == chat.common["sorry_store"]


async def test_flood_limit_is_waited_out_and_the_message_still_sent(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")  # RetryAfter's own deprecation warning, not ours
    async with running_chat(catalog, rate_limit=True) as chat:
        chat.api.fail("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
        calls = await chat.say("/start")
        assert method_names(calls) == ["sendMessage", "sendMessage"]
        assert_menu(calls[1].params)


async def test_each_update_comes_back_as_what_became_of_it(chat: Chat) -> None:
    await chat.say("/start decline_offer")
    tap = chat.user.tap("Email")
    await chat.send(tap)
    await chat.send(tap)  # delivered again
    group = chat.user.text("/start")
    group["message"]["chat"] = {"id": -100, "type": "group", "title": "Team"}
    await chat.send(group)
    chat.store.down = True
    await chat.say("/help")
    assert chat.handled == [
        Handled.APPLIED,
        Handled.APPLIED,
        Handled.ALREADY_APPLIED,
        Handled.IGNORED,
        Handled.RETRY,
    ]
    assert [h.acknowledged for h in chat.handled] == [True, True, True, True, False]
