"""Checks on every composed message: the mistakes a careful reader would catch before sending.

They run on each result the bot composes (problems are logged for the operator) and, in the
test suite, on every path of every flow.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

from bot.compose import ComposedMessage
from bot.content.catalog import PLACEHOLDER_RE

# A slot whose value may appear in a message only when the user opted in to it.
OPT_IN: Mapping[str, tuple[str, str]] = {
    "figure": ("mention_figure", "with_figure"),
    "other_company": ("name_other", "name_it"),
}
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
) -> list[str]:
    """Everything wrong with one composed message, as short sentences (empty when fine).

    `typed_slots` names the free-text answers (all answers when None): their values are the
    user's words, left out of the checks on the bot's own wording.
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
    for slot, (switch, yes) in OPT_IN.items():
        value = answers.get(slot, "")
        # No switch answered: the value was asked by a refinement, which is the opt-in.
        if value and answers.get(switch, yes) != yes and value in message.text:
            problems.append(f"'{slot}' appears although the user chose not to mention it")
    if answers.get("mention_figure") != "with_figure" and MONEY_RE.search(own_words):
        problems.append("a salary figure appears although the user did not opt in")
    lowered = own_words.casefold()
    for word in UNKIND_WORDS:
        if word in lowered:
            problems.append(f"the wording contains '{word}'")
    if message.decision and decision_words:
        opening = _mask_user_text(first_sentences(message.body), typed).casefold()
        if not any(word in opening for word in decision_words):
            problems.append("the decision is not stated in the first two sentences")
    return problems
