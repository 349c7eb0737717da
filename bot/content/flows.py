"""Flow files: questions as states, branches as conditions, checked and built into machines.

transitions does not validate a configuration (an unknown target fails only when the trigger
fires), so every check happens here, at load time, and each problem names `file:line`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import cast

from transitions import Machine

from bot.content.catalog import (
    HOLDS,
    KEEP,
    PERSON_FORMS,
    SKIP,
    Branch,
    Flow,
    Holds,
    Refinement,
    State,
    TypedSlot,
)
from bot.content.conditions import ALWAYS, Condition
from bot.content.reminders import parse_reminder_plan
from bot.content.report import (
    ID_RE,
    Report,
    check_keys,
    parse_when,
    read_content,
    read_flag,
    read_int,
)
from bot.content.yamlread import YamlList, YamlMap
from bot.events import CALLBACK_LIMIT, Choose, Refine, Start, data_bytes

ALLOWED_ANSWER_KEYS = {
    "flow": {
        "id",
        "group",
        "start",
        "states",
        "order",
        "defaults",
        "refinements",
        "reminders",
    },
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
        "example",
        "opt_in",
        "holds",
        "lead",
        "joins_with",
        "excludes",
    },
}
TYPED_KEYS = ("holds", "lead", "joins_with", "excludes")


def _parse_branches(raw: object, line: int, report: Report) -> tuple[Branch, ...]:
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
        check_keys(item, {"if", "to"}, "a branch", report)
        condition = parse_when(item.get("if"), item.line_of("if"), report)
        branches.append(Branch(item["to"], condition))
    if branches and branches[-1].condition is not ALWAYS:
        report.add(raw.line_of(len(raw) - 1), "the last branch of 'next' must have no 'if'")
    return tuple(branches)


def _parse_typed(name: str, data: YamlMap, report: Report) -> TypedSlot | None:
    """What a text state declares about how its answer is written (see `TypedSlot`)."""
    if not any(key in data for key in TYPED_KEYS):
        return None
    if data.get("ask") != "text":
        key = next(key for key in TYPED_KEYS if key in data)
        report.add(data.line_of(key), f"'{key}' is for text states only (state '{name}')")
        return None
    holds: Holds | None = None
    raw_holds = data.get("holds")
    if raw_holds is not None:
        if raw_holds in HOLDS:
            holds = raw_holds
        else:
            report.add(data.line_of("holds"), f"'holds' must be one of {', '.join(HOLDS)}")
    raw_lead = data.get("lead", [])
    leads = raw_lead if isinstance(raw_lead, list) else [raw_lead]
    if not all(isinstance(lead, str) and lead.strip() for lead in leads):
        report.add(data.line_of("lead"), "'lead' must be the words to finish, or a list of them")
        leads = []
    joins_with = data.get("joins_with")
    if joins_with is not None and (not isinstance(joins_with, str) or not joins_with.isalpha()):
        report.add(data.line_of("joins_with"), "'joins_with' must be one word, e.g. at")
        joins_with = None
    if holds in ("person", "people", "company") and (leads or joins_with):
        report.add(data.line_of("holds"), "a name takes no 'lead' or 'joins_with'")
    excludes = data.get("excludes")
    if excludes is not None and (holds != "people" or not isinstance(excludes, str)):
        report.add(data.line_of("excludes"), "'excludes' names a person slot, on 'holds: people'")
        excludes = None
    return TypedSlot(holds, tuple(lead.strip() for lead in leads), joins_with, excludes)


def _check_typed(
    states: Mapping[str, State], slots: Mapping[str, State], raw: YamlMap, report: Report
) -> None:
    """A list of people leaves out a person slot; a name's placeholders clash with no slot."""
    for state in states.values():
        typed = state.typed
        if typed is None:
            continue
        line = (
            raw[state.name].line_of("excludes")
            if isinstance(raw[state.name], YamlMap)
            else state.line
        )
        if typed.excludes is not None:
            other = slots.get(typed.excludes)
            if other is None or other.typed is None or other.typed.holds != "person":
                report.add(line, f"'excludes: {typed.excludes}' must name a 'holds: person' slot")
        if typed.holds == "person":
            for form in PERSON_FORMS:
                if f"{state.slot}_{form}" in slots:
                    report.add(
                        state.line,
                        f"slot '{state.slot}_{form}' clashes with the placeholder "
                        f"'{{{state.slot}_{form}}}' that 'holds: person' adds",
                    )


def _parse_state(name: str, data: object, line: int, report: Report) -> State | None:
    if not ID_RE.match(name):
        report.add(line, f"state name '{name}' must be lower_snake_case")
    if not isinstance(data, YamlMap):
        report.add(line, f"state '{name}' must be a mapping")
        return None
    check_keys(data, ALLOWED_ANSWER_KEYS["state"], f"state '{name}'", report)
    if read_flag(data, "end", report):
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
    min_length = read_int(data, "min_length", 1, report)
    max_length = read_int(data, "max_length", 100, report)
    example = _parse_example(data, ask, pattern, min_length, max_length, report)
    opt_in = None
    if "opt_in" in data:
        if ask != "text":
            report.add(data.line_of("opt_in"), "only a text answer takes 'opt_in'")
        else:
            opt_in = parse_when(data["opt_in"], data.line_of("opt_in"), report)
    return State(
        name=name,
        line=line,
        ask=ask,
        slot=slot if isinstance(slot, str) else name,
        options=tuple(options),
        next=branches,
        optional=read_flag(data, "optional", report),
        remember=read_flag(data, "remember", report),
        min_length=min_length,
        max_length=max_length,
        pattern=str(pattern) if pattern is not None else None,
        example=example,
        opt_in=opt_in,
        typed=_parse_typed(name, data, report),
    )


def _parse_example(
    data: YamlMap,
    ask: str,
    pattern: object,
    min_length: int,
    max_length: int,
    report: Report,
) -> str | None:
    """The state's example answer, which must pass the state's own rules (the every-path walk
    types it); a state with a pattern must have one, since no stand-in text could match."""
    line = data.line_of("example")
    raw = data.get("example")
    if raw is None:
        if ask == "text" and pattern is not None:
            report.add(line, "a text question with a 'pattern' needs an 'example' answer")
        return None
    if ask != "text":
        report.add(line, "only a text question takes an 'example' answer")
        return None
    if isinstance(raw, bool) or not isinstance(raw, str | int | float) or not str(raw).strip():
        report.add(line, "'example' must be text (quote dates and yes/no words)")
        return None
    example = str(raw).strip()
    if not min_length <= len(example) <= max_length:
        report.add(
            line,
            f"the example is {len(example)} characters; the question takes "
            f"{min_length} to {max_length}",
        )
    if pattern is not None and not re.fullmatch(str(pattern), example):
        report.add(line, "the example does not match the question's 'pattern'")
    return example


def check_condition_slots(
    condition: Condition, line: int, slots: Mapping[str, State], report: Report
) -> None:
    if condition is ALWAYS:  # most parts and choices have no `when`: nothing to check
        return
    for slot, values in condition.slots().items():
        state = slots.get(slot)
        if state is None:
            report.add(line, f"condition reads unknown answer '{slot}'")
            continue
        unknown = (
            sorted(values.difference(state.options)) if state.ask == "choice" else sorted(values)
        )
        for value in unknown:
            if state.ask == "choice":
                report.add(line, f"'{slot}' has no option '{value}'")
            else:
                report.add(line, f"'{slot}' is free text: test it with {{filled: true|false}}")


def reachable(flow: Flow, roots: list[str]) -> set[str]:
    """The states reachable from `roots` by following `next` (the roots included)."""
    reached = {root for root in roots if root in flow.states}
    todo = list(reached)
    while todo:
        for branch in flow.states[todo.pop()].next:
            if branch.target in flow.states and branch.target not in reached:
                reached.add(branch.target)
                todo.append(branch.target)
    return reached


def _check_graph(flow: Flow, report: Report) -> None:
    """Every state is reached from the start or from a refinement's start, and reaches an end."""
    edges = {name: [b.target for b in state.next] for name, state in flow.states.items()}
    reached = reachable(flow, [flow.start, *(r.start for r in flow.refinements.values())])
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
            also = " or a refinement" if flow.refinements else ""
            report.add(state.line, f"state '{name}' cannot be reached from '{flow.start}'{also}")
        elif name not in can_end and ends:
            report.add(state.line, f"state '{name}' cannot reach an end state")


def _parse_defaults(
    raw: object, line: int, slots: Mapping[str, State], report: Report
) -> dict[str, str]:
    """`defaults:` maps choice slots to one of their options."""
    if raw is None:
        return {}
    if not isinstance(raw, YamlMap):
        report.add(line, "'defaults' must map choice answers to an option, e.g. {tone: warm}")
        return {}
    defaults: dict[str, str] = {}
    for slot, option in raw.items():
        slot_line = raw.line_of(slot)
        state = slots.get(slot)
        if state is None:
            report.add(slot_line, f"default for unknown answer '{slot}'")
        elif state.ask != "choice":
            report.add(
                slot_line, f"'{slot}' is typed, not chosen: only choice answers have defaults"
            )
        elif isinstance(option, bool):
            report.add(slot_line, "option ids yes/no/on/off read as booleans: quote them")
        elif not isinstance(option, str) or option not in state.options:
            known = ", ".join(state.options)
            report.add(slot_line, f"default '{option}' is not an option of '{slot}' ({known})")
        else:
            defaults[slot] = option
    return defaults


def _parse_refinements(
    raw: object, line: int, states: Mapping[str, State], slots: Mapping[str, State], report: Report
) -> dict[str, Refinement]:
    """`refinements:` maps an id (the button) to `{start: <state>, when: {...}}`."""
    if raw is None:
        return {}
    if not isinstance(raw, YamlMap):
        report.add(line, "'refinements' must map ids to {start: <state>, when: {...}}")
        return {}
    refinements: dict[str, Refinement] = {}
    for ref_id, entry in raw.items():
        ref_line = raw.line_of(ref_id)
        if not ID_RE.match(ref_id):
            report.add(ref_line, f"refinement id '{ref_id}' must be lower_snake_case")
            continue
        if data_bytes(Refine(ref_id)) > CALLBACK_LIMIT:
            report.add(ref_line, f"refinement id '{ref_id}' is too long for button data")
        if not isinstance(entry, YamlMap):
            report.add(ref_line, f"refinement '{ref_id}' needs 'start: <state>'")
            continue
        check_keys(entry, {"start", "when"}, f"refinement '{ref_id}'", report)
        start = entry.get("start")
        if not isinstance(start, str) or start not in states:
            report.add(
                entry.line_of("start"), f"refinement '{ref_id}' starts at unknown state {start!r}"
            )
            continue
        if states[start].end:
            report.add(entry.line_of("start"), f"refinement '{ref_id}' must start at a question")
            continue
        when = parse_when(entry.get("when"), entry.line_of("when"), report)
        check_condition_slots(when, entry.line_of("when"), slots, report)
        refinements[ref_id] = Refinement(ref_id, start, ref_line, when)
    return refinements


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


def parse_flow(path: Path, report: Report) -> Flow | None:
    """Read and check one flow file (its own structure; phrases are checked later)."""
    data = read_content(path, report)
    if data is None:
        return None
    if not isinstance(data, YamlMap):
        report.add(1, "a flow file must be a mapping with id, group, start and states")
        return None
    check_keys(data, ALLOWED_ANSWER_KEYS["flow"], "a flow", report)
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
    _check_typed(states, slots, raw_states, report)
    for state in states.values():
        if state.opt_in is not None:
            opt_in_line = raw_state_maps[state.name].line_of("opt_in")
            check_condition_slots(state.opt_in, opt_in_line, slots, report)
            if state.slot in state.opt_in.slots():
                report.add(opt_in_line, "'opt_in' must name another answer (a choice)")
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
            check_condition_slots(branch.condition, line, slots, report)
        for option in (*state.options, SKIP, KEEP):
            size = data_bytes(Choose(state.name, option))
            if size > CALLBACK_LIMIT:
                report.add(
                    state.line,
                    f"button data for '{state.name}/{option}' is {size} bytes "
                    f"(Telegram allows {CALLBACK_LIMIT}): shorten the ids",
                )
    if data_bytes(Start(flow_id)) > CALLBACK_LIMIT:
        report.add(data.line_of("id"), "the flow id is too long for button data")
    flow = Flow(
        id=flow_id,
        group=group,
        start=start,
        states=states,
        path=report.path,
        order=read_int(data, "order", 100, report),
        defaults=_parse_defaults(data.get("defaults"), data.line_of("defaults"), slots, report),
        refinements=_parse_refinements(
            data.get("refinements"), data.line_of("refinements"), states, slots, report
        ),
        reminders=parse_reminder_plan(
            data.get("reminders"), data.line_of("reminders"), flow_id, slots, report
        ),
    )
    flow = replace(flow, main_states=frozenset(reachable(flow, [flow.start])))
    _check_graph(flow, report)
    return flow
