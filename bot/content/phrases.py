"""Phrase files: what a flow says in one language (questions, messages, advice), and the bot's
own words (`_common.yaml`), checked against the flow they belong to."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.content.catalog import (
    PLACEHOLDER_RE,
    Advice,
    AdviceKind,
    CommonPhrases,
    Flow,
    FlowPhrases,
    MessageKind,
    MessageTemplate,
    Part,
    Question,
    State,
    Variant,
)
from bot.content.conditions import ALWAYS
from bot.content.flows import check_condition_slots
from bot.content.report import Report, check_keys, parse_when, read_content, read_flag
from bot.content.yamlread import YamlList, YamlMap

MESSAGE_KINDS: tuple[MessageKind, ...] = ("email", "linkedin", "messenger", "script")
ADVICE_KINDS: tuple[AdviceKind, ...] = ("tip", "warning", "legal")
SEED_UNITS = range(1, 26)
COMMON_FILE = "_common.yaml"
COMMON_KEYS = (
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
    "result_intro",
    "advice_heading",
    "legal_heading",
    "legal_disclaimer",
    "unknown_flow",
    # the Telegram front end's own words
    "welcome",
    "help",
    "not_text",
    "type_answer",
    "cancelled",
    "forget_confirm",
    "forget_yes",
    "forget_no",
    "forgotten",
    "forget_kept",
    "sorry_error",
    "sorry_store",
    "share",
    "inline_empty",
    "result_above",
    "result_above_many",
    "message_label_email",
    "message_label_linkedin",
    "message_label_messenger",
    "message_label_script",
    "command_start",
    "command_help",
    "command_back",
    "command_restart",
    "command_cancel",
    "command_forget",
)


def _text_list(raw: object, line: int, what: str, report: Report) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else [raw]
    texts = tuple(item.strip() for item in items if isinstance(item, str))
    # An empty text is allowed on purpose: "when this holds, say nothing here".
    if not texts or len(texts) != len(items):
        report.add(line, f"{what} must be a text or a list of texts")
    return texts


def _check_placeholders(
    texts: Iterable[str], line: int, text_slots: set[str], report: Report
) -> None:
    for text in texts:
        for name in PLACEHOLDER_RE.findall(text):
            if name not in text_slots:
                known = ", ".join(sorted(text_slots)) or "none"
                report.add(line, f"unknown placeholder '{{{name}}}' (known: {known})")
        stripped = PLACEHOLDER_RE.sub("", text)
        if "{" in stripped or "}" in stripped:
            report.add(line, "a lone '{' or '}' in text: placeholders look like {company}")


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
    check_keys(raw, {"id", "join", "choose", "text", "when", "seed"}, "a message part", report)
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
    if "choose" in raw:
        part_condition = parse_when(raw.get("when"), raw.line_of("when"), report)
        check_condition_slots(part_condition, raw.line_of("when"), ctx.slots, report)
        part_seed = _seed_units(raw.get("seed"), raw.line_of("seed"), report)
    variants = []
    for item, _ in raw_variants:
        if item is not raw:
            check_keys(item, {"when", "text", "seed"}, "a choice", report)
        texts = _text_list(item.get("text"), item.line_of("text"), "'text'", report)
        _check_placeholders(texts, item.line_of("text"), ctx.text_slots, report)
        condition = parse_when(item.get("when"), item.line_of("when"), report)
        check_condition_slots(condition, item.line_of("when"), ctx.slots, report)
        seed = _seed_units(item.get("seed"), item.line_of("seed"), report)
        variants.append(Variant(texts, condition, part_seed + seed))
    return Part(tuple(variants), join, part_condition)


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
        allowed = {"kind", "when", "subject", "parts", "max_length", "decision"}
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
            MessageTemplate(kind, condition, tuple(parts), subject, max_length, decision)
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
        check_keys(item, {"id", "text", "when", "kind", "seed"}, "an advice entry", report)
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
        advice.append(Advice(item["text"].strip(), condition, kind, seed))
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
    allowed = {"title", "summary", "questions", "refinements", "result", "advice", "shared"}
    check_keys(data, allowed, "phrases", report)
    slots = {s.slot: s for s in flow.states.values() if not s.end}
    ctx = _FlowContext(flow, slots, {s.slot for s in slots.values() if s.ask == "text"})
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
        refinements=labels,
    )


def parse_common(path: Path, groups: set[str], report: Report) -> CommonPhrases | None:
    """Read and check the bot's own words for one language."""
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
    for key in COMMON_KEYS:
        if not isinstance(strings.get(key), str):
            report.add(strings.line, f"missing common phrase '{key}'")
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
