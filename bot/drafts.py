"""Checks on every composed message: the mistakes a careful reader would catch before sending.

An engine built with `check_drafts` (the default: `doorajar check`, the story runner, the
tests) runs them on each result it composes and carries what they find on the reply
(`ResultReply.draft_problems`, described without quoting what the user typed); `doorajar
check` runs them on every path of every flow and on every story, and fails on any problem, so
content that trips them never ships. The chat service's engine skips them: nothing on the live
path reads them, and they were ~40 % of composing a draft.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping

from bot.compose import ComposedMessage, ComposedResult, placeholder_values
from bot.content.catalog import PERSON_FORMS, PLACEHOLDER_RE, TypedSlot
from bot.content.conditions import Condition
from bot.names import (
    PARTICLES,
    is_lower_case,
    looks_like_name,
    parse_person,
    same_person,
    split_people,
)

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
# "Hi Jordan," / "Dear Dr Meyer," anywhere (phone scripts greet mid-line): the name part.
NAMED_GREETING_RE = re.compile(r"(?<![\w'])(Dear|Hi|Hello|Hey)\s+([^\s,!.?\n][^,!?\n]*?)\s*[,!]")
INFORMAL_GREETINGS = ("Hi", "Hello", "Hey")
# Words after "Hi" that are not a name: "Hello again," "Hi there," "Hi all,".
NOT_A_NAME = frozenset({"there", "again", "all", "everyone", "everybody", "team", "folks"})
# Lead words the bot itself often writes before a typed fragment; flows declare more (`lead:`).
COMMON_LEADS = ("I'm", "I am", "We met")
NAME_WORD = r"[A-Z][\w'\u2019-]*"
NAMES = rf"{NAME_WORD}(?:\s+{NAME_WORD})*"
# Names right after thanks or regards: "my thanks to Ana and Luis", "thank Ana", "meet Luis".
NAME_LIST_RE = re.compile(
    rf"\b(?:to|thank|thanks|meeting|meet|met)\s+({NAMES}(?:(?:\s*,\s*|\s+and\s+|\s*&\s*){NAMES})*)"
)


def _mask_user_text(text: str, typed: Collection[str]) -> str:
    """The text with every typed answer removed, so only the bot's own words are checked."""
    for value in sorted((v for v in typed if v), key=len, reverse=True):
        text = text.replace(value, " ")
    return text


def _greeted_names(text: str) -> Iterator[tuple[str, str]]:
    for match in NAMED_GREETING_RE.finditer(text):
        yield match.group(1), match.group(2)


def _person_values(
    typed: Mapping[str, TypedSlot], answers: Mapping[str, str]
) -> list[tuple[str, str]]:
    """(slot, name) for each name typed into a slot that holds a person or people."""
    names: list[tuple[str, str]] = []
    for slot, spec in typed.items():
        value = answers.get(slot, "")
        if spec.holds == "person" and value:
            names.append((slot, value))
        elif spec.holds == "people" and value:
            names += [(slot, name) for name in split_people(value)]
    return names


def name_problems(
    message: ComposedMessage, answers: Mapping[str, str], typed: Mapping[str, TypedSlot]
) -> list[str]:
    """Names as a careful writer writes them: first names after "Hi", capitals, and never
    the reader in the list of people to thank or greet."""
    problems: list[str] = []
    text = message.text
    for greeting, name in _greeted_names(text):
        words = name.split()
        if not looks_like_name(name) or words[0].casefold() in NOT_A_NAME:
            continue
        person = parse_person(name)
        if greeting in INFORMAL_GREETINGS and person.given and person.surname:
            problems.append(f"a full name after '{greeting}': greet by the first name")
        lower = [w for w in words if w[:1].islower() and w not in PARTICLES]
        if lower:
            problems.append(f"a name in lower case after '{greeting}'")
    lines = [line for line in message.body.strip().splitlines() if line.strip()]
    sign_off = lines[-1].rpartition(",")[2].strip() if lines else ""
    for slot, value in _person_values(typed, answers):
        value = " ".join(value.split())
        if not is_lower_case(value) or not looks_like_name(value):
            continue
        pattern = re.compile(rf"(?<![\w'])({re.escape(value)})(?![\w'])")
        # A single ordinary word ("will") may be the bot's own; look where names go.
        distinctive = " " in value or "'" in value or "-" in value
        places = [text] if distinctive else [sign_off, message.subject or ""]
        if any(pattern.search(place) for place in places):
            problems.append(f"a name in all lower case ({slot})")
    for slot, spec in typed.items():
        reader = answers.get(spec.excludes or "", "") if spec.holds == "people" else ""
        if not reader or not looks_like_name(parse_person(reader).without_title or "-"):
            continue
        for match in NAME_LIST_RE.finditer(text):
            listed = split_people(match.group(1))
            if any(same_person(person, reader) for person in listed):
                problems.append(f"the reader is in the list of people to thank or greet ({slot})")
                break
    return problems


def doubled_lead_problems(text: str, typed: Mapping[str, TypedSlot]) -> list[str]:
    """A lead word typed again after the bot wrote it: "I'm I'm", "We met we met"."""
    leads = {*COMMON_LEADS, *(lead for spec in typed.values() for lead in spec.lead)}
    plain = text.replace("\u2019", "'")
    problems = []
    for lead in sorted(leads):
        words = re.escape(lead.replace("\u2019", "'").rstrip(".…"))
        if re.search(rf"(?<![\w']){words}[\s,.…]+{words}(?![\w'])", plain, re.IGNORECASE):
            problems.append(f"a doubled lead: '{lead} {lead}'")
    return problems


def saying_problems(message: ComposedMessage) -> list[str]:
    """What the phrases say this message must (or must not) do, against what its lines do."""
    problems = [
        f"the message should say '{say}' here (must_say) but no line used does"
        for say in sorted(message.must_say - message.says)
    ]
    problems += [
        f"the message says '{say}' where its phrases forbid it (must_not_say)"
        for say in sorted(message.must_not_say & message.says)
    ]
    return problems


def first_sentences(body: str, count: int = 2) -> str:
    """The first `count` sentences of a message body, after any greeting line."""
    body = GREETING_RE.sub("", body.lstrip(), count=1)
    return " ".join(SENTENCE_END_RE.split(body.strip())[:count])


def check_message(
    message: ComposedMessage,
    answers: Mapping[str, str],
    decision_words: tuple[str, ...] = (),
    typed_slots: Collection[str] | None = None,
    *,
    written: Mapping[str, TypedSlot] | None = None,
    opt_in: Mapping[str, Condition] | None = None,
) -> list[str]:
    """Everything wrong with one composed message, as short sentences (empty when fine).

    `typed_slots` names the free-text answers (all answers when None): their values are the
    user's words, left out of the checks on the bot's own wording. `written` is what the
    flow declares about them (`FlowPhrases.typed`): names and fragments are checked with it,
    and the forms compose wrote them in ("O'Neill" for "o'neill") count as the user's words.
    `opt_in` maps an answer to the condition under which a message may contain it (a
    flow's `opt_in:` states).
    """
    problems: list[str] = []
    written = written or {}
    typed = answers if typed_slots is None else {s: answers.get(s, "") for s in typed_slots}
    values = placeholder_values(written, answers)
    forms = [f"{slot}_{form}" for slot in written for form in PERSON_FORMS]
    user_words = [*typed.values(), *(values.get(name, "") for name in (*written, *forms))]
    own_words = _mask_user_text(message.text, user_words)
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
        opening = _mask_user_text(first_sentences(message.body), user_words).casefold()
        if not any(word in opening for word in decision_words):
            problems.append("the decision is not stated in the first two sentences")
    problems += name_problems(message, answers, written)
    problems += doubled_lead_problems(message.text, written)
    problems += saying_problems(message)
    return problems


def check_result(
    result: ComposedResult,
    answers: Mapping[str, str],
    decision_words: tuple[str, ...] = (),
    typed_slots: Collection[str] | None = None,
    *,
    written: Mapping[str, TypedSlot] | None = None,
    opt_in: Mapping[str, Condition] | None = None,
) -> list[str]:
    """Everything wrong with a composed result: each message ("email: ..."), then advice that
    claims (`claims:`) the message does something no line of any message declares it does."""
    problems = [
        f"{message.kind}: {problem}"
        for message in result.messages
        for problem in check_message(
            message, answers, decision_words, typed_slots, written=written, opt_in=opt_in
        )
    ]
    said = frozenset().union(*(message.says for message in result.messages))
    for item in (*result.advice, *result.legal):
        for claim in sorted(item.claims - said):
            problems.append(f"advice: claims the message says '{claim}' but no message does")
    return problems
