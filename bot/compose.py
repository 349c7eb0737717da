"""Compose the tailored message and choose the advice, from phrases and a conversation's answers.

User text is only ever a value put into a template: the substitution is a plain look-up of
`{slot}` names, so text such as `{0.__class__}` typed as a company name stays literal.

Before that look-up, typed answers are written as a careful writer would (`placeholder_values`):
a slot that `holds: person` gets its capitals back when typed all in lower case and adds
`{slot_first}` and `{slot_formal}`; a company typed all in lower case gets them back when they
can be told (`names.company_name`); a list of people leaves out the person it `excludes`; a
fragment loses the `lead` words it repeats and gains the preposition it `joins_with`.
Conditions still test the answers as typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from bot.content.catalog import (
    PLACEHOLDER_RE,
    Advice,
    FlowPhrases,
    MessageKind,
    MessageTemplate,
    Part,
    TypedSlot,
    Variant,
)
from bot.fragments import join_fragment
from bot.names import company_name, parse_person, people_list

Answers = Mapping[str, str]

MAX_ADVICE = 6
JOINERS = {"paragraph": "\n\n", "line": "\n", "space": " "}
# Longest body a channel should carry: about a screen of email, a few sentences elsewhere.
KIND_LIMITS: Mapping[MessageKind, int] = {
    "email": 2000,
    "linkedin": 1000,
    "messenger": 700,
    "script": 2400,
}


@dataclass(frozen=True, slots=True)
class ComposedMessage:
    """One ready-to-send message: an email has a subject, the others do not."""

    kind: MessageKind
    body: str
    subject: str | None = None
    max_length: int = 2000
    decision: bool = False
    says: frozenset[str] = frozenset()
    """What the lines used declare they do (`says:` in phrases): thanks, apology, ..."""
    must_say: frozenset[str] = frozenset()
    must_not_say: frozenset[str] = frozenset()

    @property
    def text(self) -> str:
        """The message as the user forwards or copies it; an email's subject comes first."""
        if self.subject:
            return f"Subject: {self.subject}\n\n{self.body}"
        return self.body


@dataclass(frozen=True, slots=True)
class ComposedResult:
    """Everything a finished conversation produces."""

    messages: tuple[ComposedMessage, ...]
    advice: tuple[Advice, ...]
    legal: tuple[Advice, ...]


def placeholder_values(typed: Mapping[str, TypedSlot], answers: Answers) -> dict[str, str]:
    """What each placeholder stands for: the answers, written as their states declare."""
    values = dict(answers)
    for slot, spec in typed.items():
        raw = answers.get(slot, "")
        if spec.holds == "person":
            person = parse_person(raw)
            values[slot] = person.full if raw else ""
            values[f"{slot}_first"] = person.first
            values[f"{slot}_formal"] = person.formal
        elif not raw:
            continue
        elif spec.holds == "people":
            without = answers.get(spec.excludes, "") if spec.excludes else ""
            values[slot] = people_list(raw, without)
        elif spec.holds == "company":
            values[slot] = company_name(raw)
        elif spec.lead or spec.joins_with:
            values[slot] = join_fragment(raw, spec.lead, spec.joins_with)
    return values


def fill(template: str, answers: Answers) -> str | None:
    """Put answers into `{slot}` placeholders; None when any of them is unanswered.

    A typed answer that ends with the punctuation the template puts right after it ("I've
    been leading a team." + ".") loses its own, so the message never reads "..".
    """
    pieces: list[str] = []
    end = 0
    for match in PLACEHOLDER_RE.finditer(template):
        value = answers.get(match.group(1), "")
        if not value:
            return None
        following = template[match.end() : match.end() + 1]
        if following and following in ".!?,;:" and value[-1] in ".!?,;:":
            value = value.rstrip(".!?,;:")
        pieces += [template[end : match.start()], value]
        end = match.end()
    pieces.append(template[end:])
    return "".join(pieces)


def _render_variant(
    part: Part, answers: Answers, wording: int, values: Answers
) -> tuple[str, Variant] | None:
    if not part.condition.holds(answers):
        return None
    for variant in part.variants:
        if not variant.condition.holds(answers):
            continue
        count = len(variant.texts)
        for shift in range(count):
            text = fill(variant.texts[(wording + shift) % count], values)
            if text is not None:
                return text.strip(), variant
    return None


def render_part(
    part: Part, answers: Answers, wording: int, values: Answers | None = None
) -> str | None:
    """The text of the first variant that holds and whose placeholders are all answered.

    `wording` picks among a variant's alternative texts, so "another wording" cycles them.
    Conditions test `answers`; placeholders take `values` (the answers when None).
    """
    rendered = _render_variant(part, answers, wording, answers if values is None else values)
    return rendered[0] if rendered else None


def render_message(
    template: MessageTemplate, answers: Answers, wording: int, values: Answers | None = None
) -> ComposedMessage:
    """Join a message's parts; parts with nothing to say are left out."""
    values = answers if values is None else values
    body = ""
    says: set[str] = set()
    for part in template.parts:
        rendered = _render_variant(part, answers, wording, values)
        if rendered is None or not rendered[0]:
            continue
        text, variant = rendered
        says |= variant.says
        body = f"{body}{JOINERS[part.join]}{text}" if body else text
    subject = render_part(template.subject, answers, wording, values) if template.subject else None
    limit = template.max_length or KIND_LIMITS[template.kind]
    return ComposedMessage(
        template.kind,
        body,
        subject,
        limit,
        template.decision,
        frozenset(says),
        frozenset(rule.say for rule in template.must_say if rule.condition.holds(answers)),
        frozenset(rule.say for rule in template.must_not_say if rule.condition.holds(answers)),
    )


def choose_advice(
    phrases: FlowPhrases, answers: Answers, values: Answers | None = None
) -> tuple[tuple[Advice, ...], tuple[Advice, ...]]:
    """The advice bullets (warnings first, at most six) and the legal notes that apply.

    `values` are the placeholder values when already worked out (`placeholder_values`).
    """
    if values is None:
        values = placeholder_values(phrases.typed, answers)
    matching = []
    for item in phrases.advice:
        if item.condition.holds(answers) and (text := fill(item.text, values)) is not None:
            matching.append(replace(item, text=text) if text != item.text else item)
    warnings = [item for item in matching if item.kind == "warning"]
    tips = [item for item in matching if item.kind == "tip"]
    legal = tuple(item for item in matching if item.kind == "legal")
    return tuple((warnings + tips)[:MAX_ADVICE]), legal


def compose_result(phrases: FlowPhrases, answers: Answers, wording: int = 0) -> ComposedResult:
    """The messages and advice for a finished conversation."""
    values = placeholder_values(phrases.typed, answers)
    messages = tuple(
        render_message(template, answers, wording, values)
        for template in phrases.messages
        if template.condition.holds(answers)
    )
    advice, legal = choose_advice(phrases, answers, values)
    return ComposedResult(messages, advice, legal)


def wording_count(phrases: FlowPhrases, answers: Answers) -> int:
    """How many alternative wordings the chosen variants offer (the longest list wins)."""
    longest = 1
    for template in phrases.messages:
        if not template.condition.holds(answers):
            continue
        for part in template.parts:
            for variant in part.variants:
                if variant.condition.holds(answers):
                    longest = max(longest, len(variant.texts))
                    break
    return longest
