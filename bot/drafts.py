"""Checks on every composed message: the mistakes a careful reader would catch before sending.

The engine runs them on each result it composes and carries what they find on the reply
(`ResultReply.draft_problems`); `doorajar check` runs them on every path of every flow and on
every story, and fails on any problem, so content that trips them never ships.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

from bot.compose import ComposedMessage
from bot.content.catalog import PLACEHOLDER_RE
from bot.content.conditions import Condition

MONEY_RE = re.compile(
    r"[$£€₽¥]\s?\d|\d\s?[$£€₽¥]|\b\d+(?:[.,]\d+)?\s?[kK]\b|\b\d{1,3}(?:[,.\s]\d{3})+\b|\b\d{5,}\b"
    r"|\b\d+\s?(?:USD|EUR|GBP|RUB|dollars|pounds|euros)\b"
)
SENTENCE_END_RE = re.compile(r"(?<=[.!?])\s+")
# Words that read as criticism or boasting in a message meant to keep a door open.
UNKIND_WORDS = (
    "awful",
    "terrible",
    "toxic",
    "incompetent",
    "unprofessional",
    "insulting",
    "lowball",
    "disrespectful",
    "waste of my time",
    "better offer",
    "better job",
    "better package",
)
GREETING_RE = re.compile(r"^(?:dear|hi|hello|hey)\b[^\n]*,\s*\n", re.IGNORECASE)


def _mask_user_text(text: str, typed: Mapping[str, str]) -> str:
    """The text with every typed answer removed, so only the bot's own words are checked."""
    for value in sorted((v for v in typed.values() if v), key=len, reverse=True):
        text = text.replace(value, " ")
    return text


def first_sentences(body: str, count: int = 2) -> str:
    """The first `count` sentences of a message body, after any greeting line."""
    body = GREETING_RE.sub("", body.lstrip(), count=1)
    return " ".join(SENTENCE_END_RE.split(body.strip())[:count])


def check_message(
    message: ComposedMessage,
    answers: Mapping[str, str],
    decision_words: tuple[str, ...] = (),
    typed_slots: Collection[str] | None = None,
    opt_in: Mapping[str, Condition] | None = None,
) -> list[str]:
    """Everything wrong with one composed message, as short sentences (empty when fine).

    `typed_slots` names the free-text answers (all answers when None): their values are the
    user's words, left out of the checks on the bot's own wording. `opt_in` maps an answer to
    the condition under which a message may contain it (a flow's `opt_in:` states).
    """
    problems: list[str] = []
    typed = answers if typed_slots is None else {s: answers.get(s, "") for s in typed_slots}
    own_words = _mask_user_text(message.text, typed)
    if PLACEHOLDER_RE.search(own_words) or "{" in own_words or "}" in own_words:
        problems.append("a placeholder was left in the text")
    if "[" in own_words or "]" in own_words:
        problems.append("a bracketed placeholder was left in the text")
    if not message.body.strip():
        problems.append("the message is empty")
    if len(message.body) > message.max_length:
        problems.append(
            f"{message.kind} is {len(message.body)} characters; the limit is {message.max_length}"
        )
    if message.kind == "email" and not (message.subject or "").strip():
        problems.append("the email has no subject")
    if message.kind != "email" and message.subject:
        problems.append(f"a {message.kind} message should not have a subject")
    for slot, condition in (opt_in or {}).items():
        value = answers.get(slot, "")
        if value and not condition.holds(answers) and value in message.text:
            problems.append(f"'{slot}' appears although the user chose not to mention it")
    if MONEY_RE.search(own_words):
        # A figure may come only from the user's own (opted-in) answer, never from the wording.
        problems.append("a money figure appears in the bot's own wording")
    lowered = own_words.casefold()
    for word in UNKIND_WORDS:
        if word in lowered:
            problems.append(f"the wording contains '{word}'")
    if message.decision and decision_words:
        opening = _mask_user_text(first_sentences(message.body), typed).casefold()
        if not any(word in opening for word in decision_words):
            problems.append("the decision is not stated in the first two sentences")
    return problems
