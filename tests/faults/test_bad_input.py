"""Bad input, generated: random and huge texts, control and right-to-left characters, emoji,
format strings, forged and over-long button data, and updates of kinds the bot does not handle.

Each example is a fresh chat placed at a question, then one update through the in-process
application (as the poller and the webhook deliver it). Nothing may raise past the handlers
(no ERROR log record), and input the bot refuses must leave the conversation as it was.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.content.catalog import Catalog
from bot.conversation import Conversation
from bot.engine import clean_text
from bot.events import Choose, decode
from bot.service import Handled
from bot.telegram.gateway import TEXT_LIMIT
from bot.telegram.webhook import handle_update
from tests import figures
from tests.fake_bot_api import BOT_USER, private_chat
from tests.harness import Bot, running_bot, unversioned, wire
from tests.walk import TAPS

HANDLED_WELL = (Handled.APPLIED, Handled.ALREADY_APPLIED, Handled.IGNORED)
"""Acknowledged, and not because something failed."""
EXAMPLES = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
CHOICE_STATE = "channel"
TEXT_STATE = "company"
NASTY = [
    "{0.__class__}",
    "{company}",
    "%s%s%n%x",
    "${jndi:ldap://x}",
    "\u202eevil\u202c",
    "\u200f\u05e9\u05dc\u05d5\u05dd",
    "👨‍👩‍👧‍👦" * 50,
    "\x00\x1b[31mred\x07",
    "<b>bold</b> *md* _it_",
    "\ufeff\u2066x\u2069",
    " ",
    "\n\n\t",
]
# Everything except lone surrogates, which JSON from Telegram never carries.
CHARS = st.characters(exclude_categories=("Cs",))
TEXTS = st.one_of(
    st.text(CHARS, max_size=80),
    st.sampled_from(NASTY),
    st.tuples(st.text(CHARS, min_size=1, max_size=12), st.integers(80, 500)).map(
        lambda pair: pair[0] * pair[1]
    ),
)
BUTTON_DATA = st.one_of(
    st.text(CHARS, max_size=100),
    st.sampled_from(["c:channel:nope", "c:reason:pay", "c::", "f:", "g:", "v:", "x:forget:maybe"]),
    st.text(st.sampled_from("cfgvx:_ab01"), max_size=70),
)


class ErrorCounter(logging.Handler):
    """Counts ERROR (and worse) records: an exception that escaped a handler."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class Lab:
    """One running bot and the conversations to place fresh chats at."""

    runner: asyncio.Runner
    bot: Bot
    at: dict[str, Conversation]
    errors: ErrorCounter
    ids: Iterator[int]
    choice_words: set[str]
    text_max: int
    examples: int = 0
    refused_unchanged: int = 0

    def place(self, state: str) -> str:
        """A new chat whose conversation stands at `state` of decline_offer."""
        chat_id = str(next(self.ids))
        template = replace(self.at[state], chat_id=chat_id, version=0)
        self.runner.run(self.bot.store.inner.save(template))
        return chat_id

    def send(self, update: dict[str, Any]) -> Handled:
        self.examples += 1
        return self.runner.run(handle_update(self.bot.gateway, wire(update))).handled

    def conversation(self, chat_id: str) -> Conversation | None:
        return self.runner.run(self.bot.store.inner.load(chat_id))


@pytest.fixture(scope="module")
def lab(catalog: Catalog) -> Iterator[Lab]:
    errors = ErrorCounter()
    logging.getLogger().addHandler(errors)
    with asyncio.Runner() as runner:
        context = running_bot(catalog)
        bot = runner.run(context.__aenter__())
        try:
            at = runner.run(_positions(bot))
            flow = catalog.flows["decline_offer"]
            question = catalog.phrases["en"]["decline_offer"].questions[CHOICE_STATE]
            words = {w.casefold() for pair in question.options.items() for w in pair}
            text_max = flow.states[TEXT_STATE].max_length
            lab = Lab(runner, bot, at, errors, itertools.count(10_000), words, text_max)
            yield lab
            figures.record(
                "bad_input",
                examples=lab.examples,
                unhandled_exceptions=len(errors.records),
                refused_and_unchanged=lab.refused_unchanged,
            )
        finally:
            runner.run(context.__aexit__(None, None, None))
            logging.getLogger().removeHandler(errors)


async def _positions(bot: Bot) -> dict[str, Conversation]:
    """Walk once to the choice and the text question and keep those conversations."""
    chat = str(bot.user.id)
    positions = {}
    await bot.deliver(bot.user.text("/start decline_offer"))
    positions[CHOICE_STATE] = await bot.store.inner.load(chat)
    for label in TAPS:
        await bot.deliver(bot.user.tap(label))
    positions[TEXT_STATE] = await bot.store.inner.load(chat)
    assert all(conv is not None for conv in positions.values())
    assert positions[TEXT_STATE] is not None and positions[TEXT_STATE].state == TEXT_STATE
    return {state: conv for state, conv in positions.items() if conv is not None}


def message_update(chat_id: str, update_id: int, **fields: Any) -> dict[str, Any]:
    user = {"id": int(chat_id), "is_bot": False, "first_name": "Ada"}
    message = {"message_id": 1, "date": 0, "chat": private_chat(int(chat_id)), "from": user}
    message.update(fields)
    return {"update_id": update_id, "message": message}


def tap_update(chat_id: str, update_id: int, data: str, with_message: bool) -> dict[str, Any]:
    user = {"id": int(chat_id), "is_bot": False, "first_name": "Ada"}
    query: dict[str, Any] = {"id": f"q{update_id}", "from": user, "chat_instance": "1"}
    if data:
        query["data"] = data
    if with_message:
        keyboard = [[{"text": "Yes", "callback_data": "c:channel:email"}]]
        query["message"] = {
            "message_id": 2,
            "date": 0,
            "chat": private_chat(int(chat_id)),
            "from": BOT_USER,
            "text": "How will you tell them?",
            "reply_markup": {"inline_keyboard": keyboard},
        }
    return {"update_id": update_id, "callback_query": query}


def assert_no_errors(lab: Lab) -> None:
    assert not lab.errors.records, lab.errors.records[0].getMessage()


def refused(lab: Lab, state: str, text: str) -> bool:
    """Whether the bot certainly refuses `text` typed at `state` (a command never is)."""
    if text.startswith("/"):
        return False
    cleaned = clean_text(text)
    if len(text) > TEXT_LIMIT or not cleaned:
        return True
    if state == CHOICE_STATE:
        return cleaned.casefold() not in lab.choice_words
    return len(cleaned) > lab.text_max


@EXAMPLES
@given(text=TEXTS)
def test_typed_text_never_breaks_the_bot_and_a_refused_answer_changes_nothing(
    lab: Lab, text: str
) -> None:
    for state in (CHOICE_STATE, TEXT_STATE):
        chat_id = lab.place(state)
        before = lab.conversation(chat_id)
        assert lab.send(message_update(chat_id, next(lab.ids), text=text)) in HANDLED_WELL
        assert_no_errors(lab)
        if refused(lab, state, text):
            assert unversioned(lab.conversation(chat_id)) == unversioned(before)
            lab.refused_unchanged += 1


@EXAMPLES
@given(data=BUTTON_DATA, with_message=st.booleans())
def test_forged_button_data_never_breaks_the_bot_or_changes_the_conversation(
    lab: Lab, data: str, with_message: bool
) -> None:
    chat_id = lab.place(CHOICE_STATE)
    before = lab.conversation(chat_id)
    assert before is not None
    done = lab.send(tap_update(chat_id, next(lab.ids), data, with_message))
    assert done in HANDLED_WELL
    assert_no_errors(lab)
    event = decode(data)
    offered = isinstance(event, Choose) and event.state == before.state
    if event is None or (isinstance(event, Choose) and not offered):
        assert unversioned(lab.conversation(chat_id)) == unversioned(before)
        lab.refused_unchanged += 1


def other_kinds(chat_id: str, update_id: int, text: str) -> list[dict[str, Any]]:
    """Updates of kinds the bot does not handle (or handles by staying silent)."""
    chat = private_chat(int(chat_id))
    user = {"id": int(chat_id), "is_bot": False, "first_name": "Ada"}
    channel = {"id": -1001, "type": "channel", "title": "News"}
    group = {"id": -42, "type": "group", "title": "Team"}
    post = {"message_id": 3, "date": 0, "chat": channel, "text": text}
    edited = {"message_id": 1, "date": 0, "edit_date": 1, "chat": chat, "from": user, "text": text}
    member = {
        "chat": chat,
        "from": user,
        "date": 0,
        "old_chat_member": {"status": "member", "user": BOT_USER},
        "new_chat_member": {"status": "kicked", "user": BOT_USER, "until_date": 0},
    }
    poll = {
        "id": "p1",
        "question": text[:255] or "?",
        "options": [{"text": "a", "voter_count": 0}, {"text": "b", "voter_count": 0}],
        "total_voter_count": 0,
        "is_closed": False,
        "is_anonymous": True,
        "type": "regular",
        "allows_multiple_answers": False,
    }
    group_message = {"message_id": 4, "date": 0, "chat": group, "from": user, "text": text}
    return [
        {"update_id": update_id, "edited_message": edited},
        {"update_id": update_id, "channel_post": post},
        {"update_id": update_id, "edited_channel_post": post},
        {"update_id": update_id, "poll": poll},
        {"update_id": update_id, "poll_answer": {"poll_id": "p1", "user": user, "option_ids": [0]}},
        {"update_id": update_id, "my_chat_member": member},
        {"update_id": update_id, "chat_member": member},
        {"update_id": update_id, "message": group_message},
        {
            "update_id": update_id,
            "inline_query": {"id": "i", "from": user, "query": text[:256], "offset": ""},
        },
        {
            "update_id": update_id,
            "chosen_inline_result": {"result_id": "r", "from": user, "query": text},
        },
    ]


@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=TEXTS)
def test_updates_of_other_kinds_never_break_the_bot_or_change_a_conversation(
    lab: Lab, text: str
) -> None:
    chat_id = lab.place(CHOICE_STATE)
    before = lab.conversation(chat_id)
    for update in other_kinds(chat_id, next(lab.ids), text):
        assert lab.send(update) in HANDLED_WELL
        assert_no_errors(lab)
    assert lab.conversation(chat_id) == before  # not even the version moved
    lab.refused_unchanged += 1
