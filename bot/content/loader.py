"""Load flows and phrases from YAML, validate everything, and build one state machine per flow.

transitions does not validate a configuration (an unknown target fails only when the trigger
fires), so every check happens here, at load time, and each problem names `file:line`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from transitions import Machine

from bot.content.catalog import (
    KEEP,
    PLACEHOLDER_RE,
    SKIP,
    Advice,
    AdviceKind,
    Branch,
    Catalog,
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
from bot.content.conditions import ALWAYS, Condition, ConditionError, parse_condition
from bot.content.yamlread import YamlList, YamlMap, YamlReadError, read_yaml

ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
CALLBACK_LIMIT = 64
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
    "change_tone",
    "change_channel",
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
ALLOWED_ANSWER_KEYS = {
    "flow": {"id", "group", "start", "states", "order"},
    "state": {
        "ask",
        "slot",
        "options",
        "next",
        "end",
        "optional",
        "remember",
        "min_length",
        "max_length",
        "pattern",
    },
}


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    """One thing wrong with the content, located at `path:line`."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class CatalogError(Exception):
    """The content has problems; the bot must not start with it."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in flows or phrases")
        self.problems = sorted(problems)


@dataclass
class _Report:
    """Collects problems for one file."""

    path: str
    problems: list[Problem] = field(default_factory=list)

    def add(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.path, line, message))


def default_content_root() -> Path:
    """The folder holding `flows/` and `phrases/`: $DOORAJAR_CONTENT, else this checkout."""
    configured = os.environ.get("DOORAJAR_CONTENT")
    return Path(configured) if configured else Path(__file__).resolve().parents[2]


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _read(path: Path, report: _Report) -> Any:
    try:
        data, duplicates = read_yaml(path)
    except YamlReadError as exc:
        report.add(exc.line, str(exc))
        return None
    for key, line in duplicates:
        report.add(line, f"duplicate key '{key}'")
    return data


def _condition(raw: object, line: int, report: _Report) -> Condition:
    try:
        return parse_condition(raw)
    except ConditionError as exc:
        report.add(line, str(exc))
        return ALWAYS


def _check_keys(data: YamlMap, allowed: set[str], what: str, report: _Report) -> None:
    for key in data:
        if key not in allowed:
            hint = ", ".join(sorted(allowed))
            report.add(data.line_of(key), f"unknown key '{key}' in {what} (known: {hint})")


def _int(data: YamlMap, key: str, default: int, report: _Report) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        report.add(data.line_of(key), f"'{key}' must be a whole number")
        return default
    return value


def _flag(data: YamlMap, key: str, report: _Report) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        report.add(data.line_of(key), f"'{key}' must be true or false")
        return False
    return value


def _parse_branches(raw: object, line: int, report: _Report) -> tuple[Branch, ...]:
    if isinstance(raw, str):
        return (Branch(raw),)
    if not isinstance(raw, YamlList) or not raw:
        report.add(line, "'next' must be a state name or a list of {if: ..., to: ...}")
        return ()
    branches = []
    for index, item in enumerate(raw):
        item_line = raw.line_of(index)
        if not isinstance(item, YamlMap) or not isinstance(item.get("to"), str):
            report.add(item_line, "each branch needs 'to: <state>' and may have 'if: {...}'")
            continue
        _check_keys(item, {"if", "to"}, "a branch", report)
        condition = _condition(item.get("if"), item.line_of("if"), report)
        branches.append(Branch(item["to"], condition))
    if branches and branches[-1].condition is not ALWAYS:
        report.add(raw.line_of(len(raw) - 1), "the last branch of 'next' must have no 'if'")
    return tuple(branches)


def _parse_state(name: str, data: object, line: int, report: _Report) -> State | None:
    if not ID_RE.match(name):
        report.add(line, f"state name '{name}' must be lower_snake_case")
    if not isinstance(data, YamlMap):
        report.add(line, f"state '{name}' must be a mapping")
        return None
    _check_keys(data, ALLOWED_ANSWER_KEYS["state"], f"state '{name}'", report)
    if _flag(data, "end", report):
        extra = [k for k in data if k != "end"]
        if extra:
            report.add(data.line_of(extra[0]), f"end state '{name}' takes nothing but 'end'")
        return State(name=name, line=line, end=True)
    ask = data.get("ask")
    if ask not in ("choice", "text"):
        report.add(data.line_of("ask"), f"state '{name}' needs 'ask: choice' or 'ask: text'")
        return None
    slot = data.get("slot", name)
    if not isinstance(slot, str) or not ID_RE.match(slot):
        report.add(data.line_of("slot"), f"slot '{slot}' must be lower_snake_case")
    options: list[str] = []
    raw_options = data.get("options", [])
    if ask == "choice":
        if not isinstance(raw_options, YamlList) or not raw_options:
            report.add(data.line_of("options"), f"choice state '{name}' needs a list of options")
            raw_options = YamlList()
        for index, option in enumerate(raw_options):
            option_line = raw_options.line_of(index)
            if isinstance(option, bool):
                report.add(option_line, "option ids yes/no/on/off read as booleans: quote them")
            elif not isinstance(option, str) or not ID_RE.match(option):
                report.add(option_line, f"option id {option!r} must be lower_snake_case")
            elif option in options:
                report.add(option_line, f"duplicate option id '{option}' in state '{name}'")
            else:
                options.append(option)
    elif "options" in data:
        report.add(data.line_of("options"), "text states take no options (use optional: true)")
    pattern = data.get("pattern")
    if pattern is not None:
        try:
            re.compile(str(pattern))
        except re.error as exc:
            report.add(data.line_of("pattern"), f"pattern is not a valid regular expression: {exc}")
            pattern = None
    if "next" not in data:
        report.add(line, f"state '{name}' needs 'next' (or 'end: true')")
    branches = _parse_branches(data.get("next"), data.line_of("next"), report)
    return State(
        name=name,
        line=line,
        ask=ask,
        slot=slot if isinstance(slot, str) else name,
        options=tuple(options),
        next=branches,
        optional=_flag(data, "optional", report),
        remember=_flag(data, "remember", report),
        min_length=_int(data, "min_length", 1, report),
        max_length=_int(data, "max_length", 100, report),
        pattern=str(pattern) if pattern is not None else None,
    )


def _check_condition_slots(
    condition: Condition, line: int, slots: Mapping[str, State], report: _Report
) -> None:
    for slot, values in condition.slots().items():
        state = slots.get(slot)
        if state is None:
            report.add(line, f"condition reads unknown answer '{slot}'")
            continue
        unknown = sorted(values - set(state.options)) if state.ask == "choice" else sorted(values)
        for value in unknown:
            if state.ask == "choice":
                report.add(line, f"'{slot}' has no option '{value}'")
            else:
                report.add(line, f"'{slot}' is free text: test it with {{filled: true|false}}")


def _check_graph(flow: Flow, report: _Report) -> None:
    edges = {name: [b.target for b in state.next] for name, state in flow.states.items()}
    reached = {flow.start}
    todo = [flow.start]
    while todo:
        for target in edges.get(todo.pop(), []):
            if target in flow.states and target not in reached:
                reached.add(target)
                todo.append(target)
    ends = {name for name, state in flow.states.items() if state.end}
    if not ends:
        report.add(1, "the flow has no end state (a state with 'end: true')")
    can_end = set(ends)
    changed = True
    while changed:
        changed = False
        for name, targets in edges.items():
            if name not in can_end and any(t in can_end for t in targets):
                can_end.add(name)
                changed = True
    for name, state in flow.states.items():
        if name not in reached:
            report.add(state.line, f"state '{name}' cannot be reached from '{flow.start}'")
        elif name not in can_end and ends:
            report.add(state.line, f"state '{name}' cannot reach an end state")


def _branches_for(state: State, trigger: str) -> list[Branch]:
    """The branches a trigger can take, in order; a branch decided by the trigger alone is
    resolved here, so firing it tests no condition at run time."""
    kept: list[Branch] = []
    for branch in state.next:
        condition = branch.condition
        own_slot_only = not condition.alternatives and all(
            test.slot == state.slot for test in condition.tests
        )
        if condition is ALWAYS or (own_slot_only and state.ask == "choice"):
            if condition.holds({state.slot: trigger}):
                kept.append(Branch(branch.target))
                break
            continue
        kept.append(branch)
    return kept


def build_machine(flow: Flow) -> Machine:
    """One `transitions.Machine` for the flow; each option id (or `text`) is a trigger."""
    machine = Machine(
        model=None,
        states=list(flow.states),
        initial=flow.start,
        auto_transitions=False,
    )
    for state in flow.states.values():
        triggers = list(state.options) if state.ask == "choice" else ["text"]
        if state.optional:
            triggers.append(SKIP)
        for trigger in triggers:
            for branch in _branches_for(state, trigger):
                conditions: list[str | Callable[..., bool | None]] = []
                if branch.condition is not ALWAYS:
                    conditions.append(branch.condition.holds)
                machine.add_transition(trigger, state.name, branch.target, conditions=conditions)
    return machine


def parse_flow(path: Path, report: _Report) -> Flow | None:
    """Read and check one flow file (its own structure; phrases are checked later)."""
    data = _read(path, report)
    if data is None:
        return None
    if not isinstance(data, YamlMap):
        report.add(1, "a flow file must be a mapping with id, group, start and states")
        return None
    _check_keys(data, ALLOWED_ANSWER_KEYS["flow"], "a flow", report)
    flow_id = data.get("id")
    if not isinstance(flow_id, str) or not ID_RE.match(flow_id):
        report.add(data.line_of("id"), "the flow needs 'id' in lower_snake_case")
        return None
    group = data.get("group", "other")
    if not isinstance(group, str) or not ID_RE.match(group):
        report.add(data.line_of("group"), "'group' must be lower_snake_case")
        group = "other"
    raw_states = data.get("states")
    if not isinstance(raw_states, YamlMap) or not raw_states:
        report.add(data.line_of("states"), "the flow needs 'states' (a mapping)")
        return None
    states: dict[str, State] = {}
    for name, raw in raw_states.items():
        state = _parse_state(name, raw, raw_states.line_of(name), report)
        if state is not None:
            states[name] = state
    start = data.get("start")
    if not isinstance(start, str) or start not in raw_states:
        report.add(data.line_of("start"), f"'start' must name one of the states, not {start!r}")
        return None
    slots: dict[str, State] = {}
    for state in states.values():
        if state.end:
            continue
        if state.slot in slots:
            report.add(state.line, f"duplicate slot '{state.slot}' (also filled by another state)")
        slots[state.slot] = state
    raw_state_maps = cast(Mapping[str, YamlMap], raw_states)
    for state in states.values():
        raw_next = raw_state_maps[state.name].get("next") if not state.end else None
        for index, branch in enumerate(state.next):
            line = (
                raw_next.line_of(index)
                if isinstance(raw_next, YamlList)
                else raw_state_maps[state.name].line_of("next")
            )
            if branch.target not in raw_states:
                report.add(line, f"unknown target state '{branch.target}' in state '{state.name}'")
            _check_condition_slots(branch.condition, line, slots, report)
        for option in (*state.options, SKIP, KEEP):
            data_bytes = len(f"c:{state.name}:{option}".encode())
            if data_bytes > CALLBACK_LIMIT:
                report.add(
                    state.line,
                    f"button data for '{state.name}/{option}' is {data_bytes} bytes "
                    f"(Telegram allows {CALLBACK_LIMIT}): shorten the ids",
                )
    if len(f"f:{flow_id}".encode()) > CALLBACK_LIMIT:
        report.add(data.line_of("id"), "the flow id is too long for button data")
    flow = Flow(
        id=flow_id,
        group=group,
        start=start,
        states=states,
        path=report.path,
        order=_int(data, "order", 100, report),
    )
    _check_graph(flow, report)
    return flow


def _text_list(raw: object, line: int, what: str, report: _Report) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else [raw]
    texts = tuple(item.strip() for item in items if isinstance(item, str))
    # An empty text is allowed on purpose: "when this holds, say nothing here".
    if not texts or len(texts) != len(items):
        report.add(line, f"{what} must be a text or a list of texts")
    return texts


def _check_placeholders(
    texts: Iterable[str], line: int, text_slots: set[str], report: _Report
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


def _parse_part(raw: object, line: int, ctx: _FlowContext, report: _Report) -> Part | None:
    if isinstance(raw, str):
        raw = YamlMap(text=raw)
        raw.line = line
        raw.key_lines = {}
    if not isinstance(raw, YamlMap):
        report.add(line, "a part must be a text or a mapping with 'text' or 'choose'")
        return None
    _check_keys(raw, {"id", "join", "choose", "text", "when", "seed"}, "a message part", report)
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
        part_condition = _condition(raw.get("when"), raw.line_of("when"), report)
        _check_condition_slots(part_condition, raw.line_of("when"), ctx.slots, report)
        part_seed = _seed_units(raw.get("seed"), raw.line_of("seed"), report)
    variants = []
    for item, _ in raw_variants:
        if item is not raw:
            _check_keys(item, {"when", "text", "seed"}, "a choice", report)
        texts = _text_list(item.get("text"), item.line_of("text"), "'text'", report)
        _check_placeholders(texts, item.line_of("text"), ctx.text_slots, report)
        condition = _condition(item.get("when"), item.line_of("when"), report)
        _check_condition_slots(condition, item.line_of("when"), ctx.slots, report)
        seed = _seed_units(item.get("seed"), item.line_of("seed"), report)
        variants.append(Variant(texts, condition, part_seed + seed))
    return Part(tuple(variants), join, part_condition)


def _seed_units(raw: object, line: int, report: _Report) -> tuple[int, ...]:
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
    raw: object, line: int, ctx: _FlowContext, report: _Report
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
        _check_keys(item, allowed, "a message", report)
        kind = item.get("kind")
        if kind not in MESSAGE_KINDS:
            report.add(
                item.line_of("kind"), f"message kind must be one of {', '.join(MESSAGE_KINDS)}"
            )
            continue
        condition = _condition(item.get("when"), item.line_of("when"), report)
        _check_condition_slots(condition, item.line_of("when"), ctx.slots, report)
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
        decision = _flag(item, "decision", report)
        messages.append(
            MessageTemplate(kind, condition, tuple(parts), subject, max_length, decision)
        )
    return tuple(messages)


def _parse_advice(raw: object, line: int, ctx: _FlowContext, report: _Report) -> tuple[Advice, ...]:
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
        _check_keys(item, {"id", "text", "when", "kind", "seed"}, "an advice entry", report)
        kind = item.get("kind", "tip")
        if kind not in ADVICE_KINDS:
            report.add(
                item.line_of("kind"), f"advice kind must be one of {', '.join(ADVICE_KINDS)}"
            )
            kind = "tip"
        _check_placeholders([item["text"]], item.line_of("text"), ctx.text_slots, report)
        condition = _condition(item.get("when"), item.line_of("when"), report)
        _check_condition_slots(condition, item.line_of("when"), ctx.slots, report)
        seed = _seed_units(item.get("seed"), item.line_of("seed"), report)
        advice.append(Advice(item["text"].strip(), condition, kind, seed))
    return tuple(advice)


def _parse_questions(
    raw: object, line: int, ctx: _FlowContext, report: _Report
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
        _check_keys(entry, {"text", "options", "skip", "invalid", "hint"}, "a question", report)
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


def parse_phrases(path: Path, flow: Flow, report: _Report) -> FlowPhrases | None:
    """Read and check one flow's phrases against the flow."""
    data = _read(path, report)
    if data is None:
        return None
    if not isinstance(data, YamlMap):
        report.add(1, "a phrases file must be a mapping")
        return None
    allowed = {"title", "summary", "questions", "result", "advice", "shared"}
    _check_keys(data, allowed, "phrases", report)
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
        _check_keys(result, {"messages"}, "result", report)
        messages = _parse_messages(result.get("messages"), result.line_of("messages"), ctx, report)
    advice = _parse_advice(data.get("advice"), data.line_of("advice"), ctx, report)
    return FlowPhrases(
        flow_id=flow.id,
        path=report.path,
        title=str(data.get("title", flow.id)).strip(),
        summary=str(data.get("summary", "")).strip(),
        questions=questions,
        messages=messages,
        advice=advice,
    )


def parse_common(path: Path, groups: set[str], report: _Report) -> CommonPhrases | None:
    """Read and check the bot's own words for one language."""
    data = _read(path, report)
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


def _flow_files(paths: Iterable[Path]) -> tuple[list[Path], Path]:
    """Expand the given paths into flow files and find the phrases folder beside them."""
    files: list[Path] = []
    phrases_root: Path | None = None
    for path in paths:
        if path.is_dir() and (path / "flows").is_dir():
            files.extend(sorted((path / "flows").glob("*.yaml")))
            phrases_root = phrases_root or path / "phrases"
        elif path.is_dir():
            files.extend(sorted(path.glob("*.yaml")))
            phrases_root = phrases_root or path.parent / "phrases"
        else:
            files.append(path)
            phrases_root = phrases_root or path.parent.parent / "phrases"
    return files, phrases_root or default_content_root() / "phrases"


def load_catalog(paths: Iterable[Path] | None = None) -> Catalog:
    """Load and validate flows and their phrases; raise `CatalogError` listing every problem.

    `paths` may name project folders (holding `flows/` and `phrases/`), `flows/` folders or
    single flow files; the default is the project's own content.
    """
    files, phrases_root = _flow_files(list(paths) if paths else [default_content_root()])
    problems: list[Problem] = []
    flows: dict[str, Flow] = {}
    broken: set[str] = set()  # flow files with problems: their phrases are not "unknown"
    if not files:
        problems.append(Problem(str(phrases_root.parent / "flows"), 0, "no flow files found"))
    for path in files:
        report = _Report(_display(path))
        if not path.is_file():
            report.add(0, "no such file")
        elif (flow := parse_flow(path, report)) is not None:
            if flow.id in flows:
                report.add(1, f"duplicate flow id '{flow.id}' (also in {flows[flow.id].path})")
            elif not report.problems:
                flows[flow.id] = flow
        if report.problems:
            broken.add(path.stem)
        problems.extend(report.problems)
    languages = (
        sorted(p for p in phrases_root.iterdir() if p.is_dir()) if phrases_root.is_dir() else []
    )
    if not languages:
        problems.append(Problem(_display(phrases_root), 0, "no phrases folder (phrases/<lang>/)"))
    phrases: dict[str, dict[str, FlowPhrases]] = {}
    common: dict[str, CommonPhrases] = {}
    groups = {flow.group for flow in flows.values()}
    for lang_dir in languages:
        lang = lang_dir.name
        phrases[lang] = {}
        common_report = _Report(_display(lang_dir / COMMON_FILE))
        if not (lang_dir / COMMON_FILE).is_file():
            common_report.add(0, f"missing {COMMON_FILE} for language '{lang}'")
        elif (parsed := parse_common(lang_dir / COMMON_FILE, groups, common_report)) is not None:
            common[lang] = parsed
        problems.extend(common_report.problems)
        for flow in flows.values():
            path = lang_dir / f"{flow.id}.yaml"
            if not path.is_file():
                problems.append(
                    Problem(flow.path, 1, f"flow '{flow.id}' has no phrases in {_display(path)}")
                )
                continue
            report = _Report(_display(path))
            if (parsed_flow := parse_phrases(path, flow, report)) is not None:
                phrases[lang][flow.id] = parsed_flow
            problems.extend(report.problems)
        for path in sorted(lang_dir.glob("*.yaml")):
            # A flow file that has problems, or was not asked for (`doorajar check
            # flows/one.yaml`), is not "unknown".
            beside = phrases_root.parent / "flows" / f"{path.stem}.yaml"
            if path.name != COMMON_FILE and path.stem not in flows and not beside.is_file():
                problems.append(
                    Problem(_display(path), 1, f"phrases for unknown flow '{path.stem}'")
                )
    if problems:
        raise CatalogError(problems)
    built = {
        flow_id: Flow(
            id=flow.id,
            group=flow.group,
            start=flow.start,
            states=flow.states,
            path=flow.path,
            order=flow.order,
            machine=build_machine(flow),
        )
        for flow_id, flow in flows.items()
    }
    default_lang = "en" if "en" in phrases else languages[0].name
    return Catalog(built, phrases, common, default_lang)
