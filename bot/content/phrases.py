"""Phrase files: what a flow says in one language (questions, messages, advice), and the bot's
own words (`_common.yaml`), checked against the flow they belong to."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.content.catalog import (
    PERSON_FORMS,
    PLACEHOLDER_RE,
    SAYINGS,
    Advice,
    AdviceKind,
    CommonPhrases,
    Flow,
    FlowPhrases,
    MessageKind,
    MessageTemplate,
    Part,
    Question,
    SayRule,
    State,
    Variant,
)
from bot.content.conditions import ALWAYS
from bot.content.flows import check_condition_slots
from bot.content.reminders import COMMON_REMINDER_KEYS, parse_reminder_words
from bot.content.report import Report, check_keys, parse_when, read_content, read_flag
from bot.content.yamlread import YamlList, YamlMap

MESSAGE_KINDS: tuple[MessageKind, ...] = ("email", "linkedin", "messenger", "script")
ADVICE_KINDS: tuple[AdviceKind, ...] = ("tip", "warning", "legal")
SEED_UNITS = range(1, 26)
COMMON_FILE = "_common.yaml"
COMMON_KEYS = (
    # the core's words (engine and results); each front end names its own extra keys, which
    # the loader is given (`load_catalog(phrase_keys=...)`)
    "menu_prompt",
    "menu_group_prompt",
    "back",
    "restart",
    "menu",
    "skip",
    "keep",
    "another",
    "previous_answer",
    "required",
    "too_short",
    "too_long",
    "stale_button",
    "not_in_flow",
    "tap_a_button",
    "result_intro",
    "advice_heading",
    "legal_heading",
    "legal_disclaimer",
    "unknown_flow",
)


def _text_list(raw: object, line: int, what: str, report: Report) -> tuple[str, ...]:
    if isinstance(raw, str):
        return (raw.strip(),)
    items = raw if isinstance(raw, list) else [raw]
    texts = tuple([item.strip() for item in items if isinstance(item, str)])
    # An empty text is allowed on purpose: "when this holds, say nothing here".
    if not texts or len(texts) != len(items):
        report.add(line, f"{what} must be a text or a list of texts")
    return texts


def placeholder_names(flow: Flow) -> set[str]:
    """The placeholders a flow's phrases may use: each typed slot, and for a slot that
    `holds: person` its forms too ({recipient_first}, {recipient_formal})."""
    names = set()
    for state in flow.states.values():
        if state.end or state.ask != "text":
            continue
        names.add(state.slot)
        if state.typed is not None and state.typed.holds == "person":
            names.update(f"{state.slot}_{form}" for form in PERSON_FORMS)
    return names


def _check_placeholders(
    texts: Iterable[str], line: int, text_slots: set[str], report: Report
) -> None:
    for text in texts:
        if "{" not in text and "}" not in text:
            continue  # no placeholder and no lone brace
        for name in PLACEHOLDER_RE.findall(text):
            if name in text_slots:
                continue
            base, _, form = name.rpartition("_")
            if form in PERSON_FORMS and base in text_slots:
                report.add(
                    line,
                    f"placeholder '{{{name}}}' needs 'holds: person' on the state that fills "
                    f"'{base}'",
                )
            else:
                known = ", ".join(sorted(text_slots)) or "none"
                report.add(line, f"unknown placeholder '{{{name}}}' (known: {known})")
        stripped = PLACEHOLDER_RE.sub("", text)
        if "{" in stripped or "}" in stripped:
            report.add(line, "a lone '{' or '}' in text: placeholders look like {company}")


_PART_KEYS = frozenset({"id", "join", "choose", "text", "when", "seed", "says"})
_CHOICE_KEYS = frozenset({"when", "text", "seed", "says"})


@dataclass(frozen=True, slots=True)
class _FlowContext:
    flow: Flow
    slots: Mapping[str, State]
    text_slots: set[str]


def _parse_part(raw: object, line: int, ctx: _FlowContext, report: Report) -> Part | None:
    if isinstance(raw, str):
        raw = YamlMap(text=raw)
        raw.line = line
        raw.key_lines = {}
    if not isinstance(raw, YamlMap):
        report.add(line, "a part must be a text or a mapping with 'text' or 'choose'")
        return None
    check_keys(raw, _PART_KEYS, "a message part", report)
    join = raw.get("join", "paragraph")
    if join not in ("paragraph", "line", "space"):
        report.add(raw.line_of("join"), "'join' must be paragraph, line or space")
        join = "paragraph"
    raw_variants: list[tuple[YamlMap, int]] = []
    if "choose" in raw:
        choose = raw["choose"]
        if not isinstance(choose, YamlList) or not choose:
            report.add(raw.line_of("choose"), "'choose' must be a list of {when, text}")
            return None
        for index, item in enumerate(choose):
            if isinstance(item, YamlMap):
                raw_variants.append((item, choose.line_of(index)))
            else:
                report.add(choose.line_of(index), "each choice must be a mapping with 'text'")
    elif "text" in raw:
        raw_variants.append((raw, raw.line))
    else:
        report.add(raw.line, "a part needs 'text' or 'choose'")
        return None
    # With `choose`, a `when` or `seed` beside it applies to the whole part.
    part_condition = ALWAYS
    part_seed: tuple[int, ...] = ()
    part_says: frozenset[str] = frozenset()
    if "choose" in raw:
        part_condition = parse_when(raw.get("when"), raw.line_of("when"), report)
        check_condition_slots(part_condition, raw.line_of("when"), ctx.slots, report)
        part_seed = _seed_units(raw.get("seed"), raw.line_of("seed"), report)
        part_says = _sayings(raw.get("says"), raw.line_of("says"), "says", report)
    variants = []
    for item, _ in raw_variants:
        if item is not raw:
            check_keys(item, _CHOICE_KEYS, "a choice", report)
        text_line = item.line_of("text")
        texts = _text_list(item.get("text"), text_line, "'text'", report)
        _check_placeholders(texts, text_line, ctx.text_slots, report)
        # Most choices have no `when`, `seed` or `says`: those read nothing then (an absent
        # key and `key: null` both mean "none", as the readers below take them).
        condition = ALWAYS
        seed: tuple[int, ...] = ()
        says: frozenset[str] = frozenset()
        if (raw_when := item.get("when")) is not None:
            when_line = item.line_of("when")
            condition = parse_when(raw_when, when_line, report)
            check_condition_slots(condition, when_line, ctx.slots, report)
        if (raw_seed := item.get("seed")) is not None:
            seed = _seed_units(raw_seed, item.line_of("seed"), report)
        if (raw_says := item.get("says")) is not None:
            says = _sayings(raw_says, item.line_of("says"), "says", report)
        variants.append(Variant(texts, condition, part_seed + seed, part_says | says))
    return Part(tuple(variants), join, part_condition)


def _sayings(raw: object, line: int, key: str, report: Report) -> frozenset[str]:
    """A `says:` or `claims:` list: names from SAYINGS, so a typo is caught at load time."""
    if raw is None:
        return frozenset()
    items = raw if isinstance(raw, list) else [raw]
    known = []
    for item in items:
        if item in SAYINGS:
            known.append(str(item))
        else:
            report.add(line, f"'{key}' takes names from: {', '.join(SAYINGS)}; not {item!r}")
    return frozenset(known)


def _say_rules(item: YamlMap, key: str, ctx: _FlowContext, report: Report) -> tuple[SayRule, ...]:
    """`must_say` / `must_not_say`: a list of {say: <saying>, when: {...}} (or bare sayings)."""
    raw = item.get(key)
    if raw is None:
        return ()
    if not isinstance(raw, YamlList):
        report.add(item.line_of(key), f"'{key}' must be a list of {{say: ..., when: ...}}")
        return ()
    rules = []
    for index, entry in enumerate(raw):
        line = raw.line_of(index)
        if isinstance(entry, str):
            entry = YamlMap(say=entry)
            entry.line = line
            entry.key_lines = {}
        if not isinstance(entry, YamlMap):
            report.add(line, f"each '{key}' entry is a saying or {{say: ..., when: ...}}")
            continue
        check_keys(entry, {"say", "when"}, f"a '{key}' entry", report)
        says = _sayings(entry.get("say"), entry.line_of("say"), "say", report)
        if len(says) != 1:
            if "say" not in entry:
                report.add(line, f"each '{key}' entry needs 'say'")
            continue
        condition = parse_when(entry.get("when"), entry.line_of("when"), report)
        check_condition_slots(condition, entry.line_of("when"), ctx.slots, report)
        rules.append(SayRule(next(iter(says)), condition))
    return tuple(rules)


def _seed_units(raw: object, line: int, report: Report) -> tuple[int, ...]:
    if raw is None:
        return ()
    items = raw if isinstance(raw, list) else [raw]
    units = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int) or item not in SEED_UNITS:
            report.add(line, f"seed units are whole numbers 1-25, not {item!r}")
        else:
            units.append(item)
    return tuple(units)


def _parse_messages(
    raw: object, line: int, ctx: _FlowContext, report: Report
) -> tuple[MessageTemplate, ...]:
    if not isinstance(raw, YamlList) or not raw:
        report.add(line, "'result' needs 'messages': a list with at least one message")
        return ()
    messages = []
    for index, item in enumerate(raw):
        item_line = raw.line_of(index)
        if not isinstance(item, YamlMap):
            report.add(item_line, "a message must be a mapping with kind and parts")
            continue
        allowed = {
            "kind",
            "when",
            "subject",
            "parts",
            "max_length",
            "decision",
            "must_say",
            "must_not_say",
        }
        check_keys(item, allowed, "a message", report)
        kind = item.get("kind")
        if kind not in MESSAGE_KINDS:
            report.add(
                item.line_of("kind"), f"message kind must be one of {', '.join(MESSAGE_KINDS)}"
            )
            continue
        condition = parse_when(item.get("when"), item.line_of("when"), report)
        check_condition_slots(condition, item.line_of("when"), ctx.slots, report)
        subject = None
        if "subject" in item:
            subject = _parse_part(item["subject"], item.line_of("subject"), ctx, report)
        elif kind == "email":
            report.add(item_line, "an email message needs a 'subject'")
        raw_parts = item.get("parts")
        if not isinstance(raw_parts, YamlList) or not raw_parts:
            report.add(item.line_of("parts"), "a message needs 'parts': a list")
            continue
        parts = [
            part
            for i, p in enumerate(raw_parts)
            if (part := _parse_part(p, raw_parts.line_of(i), ctx, report)) is not None
        ]
        max_length = item.get("max_length")
        if max_length is not None and (
            isinstance(max_length, bool) or not isinstance(max_length, int)
        ):
            report.add(item.line_of("max_length"), "'max_length' must be a whole number")
            max_length = None
        decision = read_flag(item, "decision", report)
        messages.append(
            MessageTemplate(
                kind,
                condition,
                tuple(parts),
                subject,
                max_length,
                decision,
                must_say=_say_rules(item, "must_say", ctx, report),
                must_not_say=_say_rules(item, "must_not_say", ctx, report),
            )
        )
    return tuple(messages)


def _parse_advice(raw: object, line: int, ctx: _FlowContext, report: Report) -> tuple[Advice, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, YamlList):
        report.add(line, "'advice' must be a list")
        return ()
    advice = []
    for index, item in enumerate(raw):
        item_line = raw.line_of(index)
        if not isinstance(item, YamlMap) or not isinstance(item.get("text"), str):
            report.add(item_line, "each advice entry needs 'text'")
            continue
        allowed = {"id", "text", "when", "kind", "seed", "claims"}
        check_keys(item, allowed, "an advice entry", report)
        kind = item.get("kind", "tip")
        if kind not in ADVICE_KINDS:
            report.add(
                item.line_of("kind"), f"advice kind must be one of {', '.join(ADVICE_KINDS)}"
            )
            kind = "tip"
        _check_placeholders([item["text"]], item.line_of("text"), ctx.text_slots, report)
        condition = parse_when(item.get("when"), item.line_of("when"), report)
        check_condition_slots(condition, item.line_of("when"), ctx.slots, report)
        seed = _seed_units(item.get("seed"), item.line_of("seed"), report)
        claims = _sayings(item.get("claims"), item.line_of("claims"), "claims", report)
        advice.append(Advice(item["text"].strip(), condition, kind, seed, claims))
    return tuple(advice)


def _parse_questions(
    raw: object, line: int, ctx: _FlowContext, report: Report
) -> dict[str, Question]:
    questions: dict[str, Question] = {}
    if not isinstance(raw, YamlMap):
        report.add(line, "'questions' must be a mapping of state names")
        raw = YamlMap()
        raw.key_lines = {}
    for name, entry in raw.items():
        entry_line = raw.line_of(name)
        state = ctx.flow.states.get(name)
        if state is None or state.end:
            report.add(entry_line, f"unknown phrase key: no question state '{name}' in the flow")
            continue
        if not isinstance(entry, YamlMap) or not isinstance(entry.get("text"), str):
            report.add(entry_line, f"question '{name}' needs 'text'")
            continue
        check_keys(entry, {"text", "options", "skip", "invalid", "hint"}, "a question", report)
        labels = entry.get("options", YamlMap())
        if not isinstance(labels, YamlMap):
            report.add(entry.line_of("options"), "'options' must map option ids to labels")
            labels = YamlMap()
        for option, label in labels.items():
            if option not in state.options:
                report.add(
                    labels.line_of(option), f"unknown phrase key: '{name}' has no option '{option}'"
                )
            elif not isinstance(label, str) or not label.strip():
                report.add(labels.line_of(option), f"the label of '{option}' must be text")
        for option in state.options:
            if option not in labels:
                report.add(entry_line, f"missing label for option '{option}' of '{name}'")
        if state.pattern and not isinstance(entry.get("invalid"), str):
            report.add(entry_line, f"question '{name}' has a pattern, so it needs 'invalid' text")
        for key in ("text", "hint"):
            if isinstance(entry.get(key), str):
                _check_placeholders([entry[key]], entry.line_of(key), ctx.text_slots, report)
        questions[name] = Question(
            text=entry["text"].strip(),
            options={k: str(v).strip() for k, v in labels.items()},
            skip=entry.get("skip"),
            invalid=entry.get("invalid"),
            hint=entry.get("hint"),
        )
    for name, state in ctx.flow.states.items():
        if not state.end and name not in questions and name not in raw:
            report.add(
                state.line, f"missing phrase: no question text for state '{name}' in {report.path}"
            )
    return questions


def _parse_refinement_labels(raw: object, line: int, flow: Flow, report: Report) -> dict[str, str]:
    """`refinements:` maps each refinement id of the flow to its button label."""
    labels: dict[str, str] = {}
    if raw is None:
        raw = YamlMap()
        raw.key_lines = {}
    if not isinstance(raw, YamlMap):
        report.add(line, "'refinements' must map refinement ids to button labels")
        return labels
    for ref_id, label in raw.items():
        if ref_id not in flow.refinements:
            report.add(
                raw.line_of(ref_id), f"unknown phrase key: no refinement '{ref_id}' in the flow"
            )
        elif not isinstance(label, str) or not label.strip():
            report.add(raw.line_of(ref_id), f"the label of refinement '{ref_id}' must be text")
        else:
            labels[ref_id] = label.strip()
    for ref_id in flow.refinements:
        if ref_id not in raw:
            report.add(line or 1, f"missing label for refinement '{ref_id}' in {report.path}")
    return labels


def parse_phrases(path: Path, flow: Flow, report: Report) -> FlowPhrases | None:
    """Read and check one flow's phrases against the flow."""
    data = read_content(path, report)
    if data is None:
        return None
    if not isinstance(data, YamlMap):
        report.add(1, "a phrases file must be a mapping")
        return None
    allowed = {
        "title",
        "summary",
        "questions",
        "refinements",
        "result",
        "advice",
        "shared",
        "reminders",
    }
    check_keys(data, allowed, "phrases", report)
    slots = {s.slot: s for s in flow.states.values() if not s.end}
    ctx = _FlowContext(flow, slots, placeholder_names(flow))
    for key in ("title", "summary"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            report.add(data.line_of(key), f"'{key}' must be text")
    questions = _parse_questions(data.get("questions"), data.line_of("questions"), ctx, report)
    result = data.get("result")
    if not isinstance(result, YamlMap):
        report.add(data.line_of("result"), "phrases need 'result' with 'messages'")
        messages: tuple[MessageTemplate, ...] = ()
    else:
        check_keys(result, {"messages"}, "result", report)
        messages = _parse_messages(result.get("messages"), result.line_of("messages"), ctx, report)
    advice = _parse_advice(data.get("advice"), data.line_of("advice"), ctx, report)
    labels = _parse_refinement_labels(
        data.get("refinements"), data.line_of("refinements"), flow, report
    )
    return FlowPhrases(
        flow_id=flow.id,
        path=report.path,
        title=str(data.get("title", flow.id)).strip(),
        summary=str(data.get("summary", "")).strip(),
        questions=questions,
        messages=messages,
        advice=advice,
        typed=flow.typed_slots,
        refinements=labels,
        reminders=parse_reminder_words(
            data.get("reminders"), data.line_of("reminders"), flow, report
        ),
    )


def parse_common(
    path: Path,
    groups: set[str],
    report: Report,
    front_end_keys: Mapping[str, Collection[str]] | None = None,
) -> CommonPhrases | None:
    """Read and check the bot's own words for one language: the core's (`COMMON_KEYS`) and
    those each front end in `front_end_keys` (front end name -> keys) uses."""
    data = read_content(path, report)
    if data is None:
        return None
    if not isinstance(data, YamlMap):
        report.add(1, "the common phrases file must be a mapping")
        return None
    strings = data.get("strings")
    labels = data.get("groups")
    if not isinstance(strings, YamlMap):
        report.add(data.line_of("strings"), "'strings' must be a mapping")
        return None
    if not isinstance(labels, YamlMap):
        report.add(data.line_of("groups"), "'groups' must map group ids to labels")
        return None
    reminder_strings = data.get("reminders")
    if reminder_strings is not None:
        # The reminder phrases live in a block of their own, added after `strings`.
        if not isinstance(reminder_strings, YamlMap):
            report.add(data.line_of("reminders"), "'reminders' must be a mapping of phrases")
        else:
            for key in reminder_strings:
                if key in strings:
                    report.add(reminder_strings.line_of(key), f"'{key}' is also in 'strings'")
            merged = YamlMap({**strings, **reminder_strings})
            merged.line = strings.line
            merged.key_lines = {**strings.key_lines, **reminder_strings.key_lines}
            strings = merged
    users: dict[str, list[str]] = {key: ["the core"] for key in COMMON_KEYS}
    for key in COMMON_REMINDER_KEYS:
        users.setdefault(key, ["reminders"])
    for front_end, keys in sorted((front_end_keys or {}).items()):
        for key in keys:
            users.setdefault(key, []).append(front_end)
    for key, used_by in users.items():
        if not isinstance(strings.get(key), str):
            report.add(
                strings.line, f"missing common phrase '{key}' (used by {', '.join(used_by)})"
            )
    for group in sorted(groups):
        if not isinstance(labels.get(group), str):
            report.add(labels.line, f"missing label for menu group '{group}'")
    words = data.get("decision_words")
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words) or not words:
        report.add(data.line_of("decision_words"), "'decision_words' must be a list of phrases")
        words = []
    return CommonPhrases(
        strings={k: str(v).strip() for k, v in strings.items()},
        groups={k: str(v).strip() for k, v in labels.items()},
        decision_words=tuple(w.casefold() for w in words),
    )
