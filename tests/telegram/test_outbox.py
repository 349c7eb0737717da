"""Rendering replies as Telegram messages, and the log filter that keeps secrets out of logs."""

from __future__ import annotations

import json
import logging
import re

import pytest

from bot.compose import ComposedMessage, ComposedResult
from bot.content.catalog import Advice, Catalog
from bot.replies import Button, ResultReply
from bot.telegram.logs import OMITTED, REDACTED, RedactSecrets, configure_logging
from bot.telegram.outbox import (
    COPY_TEXT_LIMIT,
    MESSAGE_LIMIT,
    Renderer,
    answered,
    first_words,
    split_text,
)
from bot.telegram.startup import file_base_url

TOKEN = "123456:AAExampleSecretToken"


@pytest.fixture
def renderer(catalog: Catalog) -> Renderer:
    return Renderer(catalog.common["en"])


def result_reply(*messages: ComposedMessage, advice: tuple[Advice, ...] = ()) -> ResultReply:
    legal = (Advice("Offers are not contracts until signed.", kind="legal"),)
    result = ComposedResult(messages=messages, advice=advice, legal=legal)
    actions = ((Button("Another wording", "w"),),)
    return ResultReply("decline_offer", "Turn down a job offer", result, actions)


def test_short_text_is_one_message() -> None:
    assert split_text("hello") == ["hello"]


def test_long_text_is_cut_at_paragraphs_within_the_limit() -> None:
    paragraphs = [("word " * 150).strip() for _ in range(12)]
    text = "\n\n".join(paragraphs)
    chunks = split_text(text)
    assert len(chunks) > 1
    assert all(len(chunk) <= MESSAGE_LIMIT for chunk in chunks)
    assert " ".join(" ".join(chunks).split()) == " ".join(text.split())


def test_text_without_breaks_is_cut_hard() -> None:
    chunks = split_text("x" * (MESSAGE_LIMIT * 2 + 5))
    assert [len(chunk) for chunk in chunks] == [MESSAGE_LIMIT, MESSAGE_LIMIT, 5]


def test_answered_question_shows_the_label_without_the_check_mark() -> None:
    assert answered("Which tone?", "✓ Formal") == "Which tone?\n\n→ Formal"


def test_answered_text_question_drops_the_invitation_to_type(renderer: Renderer) -> None:
    question = f"Your name?\n\n{renderer.common['type_answer']}"
    assert renderer.answered(question, "Skip") == "Your name?\n\n→ Skip"


def test_answered_question_stays_within_the_message_limit() -> None:
    assert len(answered("q" * MESSAGE_LIMIT, "Formal")) == MESSAGE_LIMIT


def test_first_words_marks_what_was_left_out() -> None:
    assert first_words("one two three", 2) == "one two…"
    assert first_words("one two", 2) == "one two"


def test_file_url_follows_the_api_url() -> None:
    assert file_base_url("http://127.0.0.1:8081/bot") == "http://127.0.0.1:8081/file/bot"
    assert file_base_url("https://api.telegram.org/bot") == "https://api.telegram.org/file/bot"
    assert file_base_url("http://h/api/bot{token}") == "http://h/api/file/bot{token}"


def test_advice_message_marks_warnings_and_notes_the_legal_disclaimer(
    renderer: Renderer,
) -> None:
    warning = Advice("Don't mention salary.", kind="warning")
    tip = Advice("Send it today.")
    reply = result_reply(ComposedMessage("email", "Hi.", "No thanks"), advice=(tip, warning))
    *messages, advice = renderer.render([reply])
    assert [m.text for m in messages] == ["Subject: No thanks\n\nHi."]
    assert messages[0].markup is None
    assert "• Send it today." in advice.text
    assert "⚠ Don't mention salary." in advice.text
    assert f"{renderer.common['legal_heading']} ({renderer.common['legal_disclaimer']})" in (
        advice.text
    )
    assert "• Offers are not contracts until signed." in advice.text


def copy_buttons(markup: str | None) -> list[dict[str, object]]:
    rows = json.loads(markup or "{}").get("inline_keyboard", [])
    return [button for row in rows for button in row if "copy_text" in button]


def test_a_short_message_gets_a_copy_button_and_a_long_one_does_not(renderer: Renderer) -> None:
    short = ComposedMessage("messenger", "Hi Ana, thanks for the offer. I'll pass on it. Sam")
    *_, advice = renderer.render([result_reply(short)])
    label = renderer.text("copy_message", label=renderer.common["message_label_messenger"])
    assert copy_buttons(advice.markup) == [{"text": label, "copy_text": {"text": short.text}}]
    assert "callback_data" not in copy_buttons(advice.markup)[0]
    assert '"switch_inline_query"' in (advice.markup or "")
    longer = ComposedMessage("messenger", "x" * (COPY_TEXT_LIMIT + 1))
    *_, advice = renderer.render([result_reply(longer)])
    assert copy_buttons(advice.markup) == []


def test_a_copy_button_copies_the_subject_too_and_skips_the_phone_script(
    renderer: Renderer,
) -> None:
    email = ComposedMessage("email", "Hi Ana,\n\nNo, thank you.", "My decision")
    script = ComposedMessage("script", "Say hello, then say no.")
    *_, advice = renderer.render([result_reply(script, email)])
    assert [b["copy_text"] for b in copy_buttons(advice.markup)] == [{"text": email.text}]


def test_inline_articles_share_exactly_the_message_text(renderer: Renderer) -> None:
    reply = result_reply(
        ComposedMessage("script", "Say hello. Then say no, kindly and clearly."),
        ComposedMessage("email", "Dear Ana,\n\nThank you.", "My decision"),
    )
    articles = renderer.inline_results(reply)
    assert [a["input_message_content"]["message_text"] for a in articles] == [
        "Say hello. Then say no, kindly and clearly.",
        "Subject: My decision\n\nDear Ana,\n\nThank you.",
    ]
    assert articles[0]["title"].startswith(renderer.common["message_label_script"])
    assert articles[1]["title"] == f"{renderer.common['message_label_email']}: My decision"
    assert len({a["id"] for a in articles}) == 2
    assert all(a["type"] == "article" for a in articles)


def test_command_list_is_valid_for_telegram(renderer: Renderer) -> None:
    for command in renderer.commands():
        assert re.fullmatch(r"[a-z0-9_]{1,32}", command.command)
        assert 1 <= len(command.description) <= 256


def make_record(name: str, msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord(name, logging.WARNING, __file__, 1, msg, args, None)


def test_token_is_redacted_from_messages_and_tracebacks() -> None:
    redactor = RedactSecrets(TOKEN)
    record = make_record("httpx", "GET https://api.telegram.org/bot%s/getMe", TOKEN)
    try:
        raise ValueError(f"cannot reach /bot{TOKEN}/getUpdates")
    except ValueError as exc:
        record.exc_info = (type(exc), exc, exc.__traceback__)
    assert redactor.filter(record)
    formatted = logging.Formatter().format(record)
    assert TOKEN not in formatted
    assert f"bot{REDACTED}/getMe" in formatted


def test_library_log_payloads_are_omitted_but_plain_values_kept() -> None:
    update = {"message": {"text": "Jane Doe"}}
    record = make_record("telegram.ext.Updater", "Received %r (update %d)", update, 7)
    RedactSecrets(TOKEN).filter(record)
    assert record.getMessage() == f"Received '{OMITTED}' (update 7)"
    lone = make_record("telegram.ext._utils.webhookhandler", "Received data was %r", update)
    RedactSecrets(TOKEN).filter(lone)
    assert lone.getMessage() == f"Received data was '{OMITTED}'"
    ours = make_record("doorajar.telegram", "chat=%s event=%s", 42, "Text")
    RedactSecrets(TOKEN).filter(ours)
    assert ours.getMessage() == "chat=42 event=Text"


def test_debug_level_keeps_library_loggers_quiet() -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure_logging("DEBUG", TOKEN)
        assert logging.getLogger("doorajar").getEffectiveLevel() == logging.DEBUG
        assert logging.getLogger("telegram.ext").getEffectiveLevel() == logging.INFO
        assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING
        assert all(
            any(isinstance(f, RedactSecrets) for f in handler.filters) for handler in root.handlers
        )
    finally:
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
            for added in [f for f in handler.filters if isinstance(f, RedactSecrets)]:
                handler.removeFilter(added)
        root.setLevel(level)
        for name in ("httpx", "httpcore", "transitions", "telegram", "tornado", "apscheduler"):
            logging.getLogger(name).setLevel(logging.NOTSET)
