"""The `reminders:` blocks of flow and phrases files, and the common reminder phrases.

In a flow file::

    reminders:
      choices:                      # the first is the default
        week: {after: 7 days}       # N days | N working days | N weeks | N months
        days_5: {after: 5 days}
      next: follow_up_interview     # optional: the situation the reminder opens
      reuse: [company, role, recipient, your_name]   # answers it carries over

In its phrases file::

    reminders:
      choices: {week: In a week, days_5: In 5 days}   # button labels
      planned:                      # alternatives: the first whose answers are all there
        - You told {company} you would answer by {reply_by}.
        - You planned to answer about the offer.
      now: Decide, then write the yes or the no.
      next: Write my answer         # the label of the button that opens `next`

Every problem is reported at `file:line`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from bot.content.catalog import PLACEHOLDER_RE, Flow, ReminderPlan, ReminderWords
from bot.content.report import ID_RE, Problem, Report, check_keys
from bot.content.yamlread import YamlList, YamlMap
from bot.events import CALLBACK_LIMIT, RemindAt, data_bytes
from bot.reminders import parse_interval

REUSABLE_SLOTS = frozenset({"company", "role", "recipient", "your_name"})
"""Answers a reminder may carry into the next situation: who and what, never reasons."""
COMMON_REMINDER_KEYS = (
    "remind_me",
    "remind_prompt",
    "remind_confirm",
    "reminder_late",
    "reminder_draft",
    "reminder_snooze",
    "reminder_done",
    "reminder_snoozed",
    "reminder_closed",
    "reminder_gone",
    "reminders_none",
    "reminders_heading",
    "reminders_item",
    "reminder_cancel",
)
"""The common phrases reminders use (a `reminders:` block in `_common.yaml`)."""


def parse_reminder_plan(
    raw: object, line: int, flow_id: str, slots: Mapping[str, object], report: Report
) -> ReminderPlan | None:
    """Read a flow's `reminders:` block (None when it has none)."""
    if raw is None:
        return None
    if not isinstance(raw, YamlMap):
        report.add(line, "'reminders' must be a mapping with 'choices'")
        return None
    check_keys(raw, {"choices", "next", "reuse"}, "reminders", report)
    choices = raw.get("choices")
    parsed = {}
    if not isinstance(choices, YamlMap) or not choices:
        report.add(raw.line_of("choices"), "'reminders' needs 'choices' (id: {after: 3 days})")
    else:
        for choice, spec in choices.items():
            at = choices.line_of(choice)
            if not ID_RE.match(choice):
                report.add(at, f"reminder choice '{choice}' must be lower_snake_case")
                continue
            if data_bytes(RemindAt(choice)) > CALLBACK_LIMIT:
                report.add(at, f"reminder choice '{choice}' is too long for button data")
            after = spec.get("after") if isinstance(spec, YamlMap) else None
            interval = parse_interval(after)
            if interval is None:
                report.add(
                    at,
                    f"reminder choice '{choice}' needs 'after: N days' (or working days, "
                    f"weeks, months), not {after!r}",
                )
                continue
            parsed[choice] = interval
    next_flow = raw.get("next")
    if next_flow is not None and (not isinstance(next_flow, str) or not ID_RE.match(next_flow)):
        report.add(raw.line_of("next"), "'next' must name a situation (a flow id)")
        next_flow = None
    reuse = raw.get("reuse", [])
    kept: list[str] = []
    if not isinstance(reuse, YamlList | list):
        report.add(raw.line_of("reuse"), "'reuse' must be a list of answers")
    else:
        for slot in reuse:
            if slot not in REUSABLE_SLOTS:
                report.add(
                    raw.line_of("reuse"),
                    f"'reuse' may name {', '.join(sorted(REUSABLE_SLOTS))}, not {slot!r}",
                )
            elif slot not in slots:
                report.add(raw.line_of("reuse"), f"'{slot}' is not an answer of '{flow_id}'")
            else:
                kept.append(slot)
    if kept and next_flow is None:
        report.add(raw.line_of("reuse"), "'reuse' needs 'next': the situation that reuses them")
    return ReminderPlan(parsed, line, next_flow, tuple(kept))


def check_next_flows(flows: Mapping[str, Flow]) -> list[Problem]:
    """Each `next:` names a situation, which has every answer `reuse:` carries over.

    A situation not loaded (`doorajar check flows/one.yaml`) is unknown only when no flow
    file of that name lies beside.
    """
    problems: list[Problem] = []
    for flow in flows.values():
        plan = flow.reminders
        if plan is None or plan.next_flow is None:
            continue
        report = Report(flow.path)
        target = flows.get(plan.next_flow)
        if target is None:
            if not (Path(flow.path).parent / f"{plan.next_flow}.yaml").is_file():
                report.add(
                    plan.line, f"reminders 'next' names unknown situation '{plan.next_flow}'"
                )
        else:
            for slot in plan.reuse:
                if target.slot_state(slot) is None:
                    report.add(plan.line, f"'{plan.next_flow}' has no answer '{slot}' to reuse")
        problems.extend(report.problems)
    return problems


def parse_reminder_words(
    raw: object, line: int, flow: Flow, report: Report
) -> ReminderWords | None:
    """Read a phrases file's `reminders:` block against its flow's plan."""
    plan = flow.reminders
    if raw is None:
        if plan is not None:
            report.add(1, f"'{flow.id}' has reminders: its phrases need a 'reminders' block")
        return None
    if not isinstance(raw, YamlMap):
        report.add(line, "'reminders' must be a mapping")
        return None
    if plan is None:
        report.add(line, f"'reminders' wording, but flows/{flow.id}.yaml has no 'reminders'")
        return None
    check_keys(raw, {"choices", "planned", "now", "next"}, "reminders", report)
    labels = raw.get("choices")
    choices: dict[str, str] = {}
    if not isinstance(labels, YamlMap):
        report.add(raw.line_of("choices"), "'reminders' needs 'choices' (id: button label)")
    else:
        for choice in plan.choices:
            label = labels.get(choice)
            if not isinstance(label, str) or not label.strip():
                report.add(labels.line, f"no label for reminder choice '{choice}'")
            else:
                choices[choice] = label.strip()
        for choice in labels:
            if choice not in plan.choices:
                report.add(labels.line_of(choice), f"unknown reminder choice '{choice}'")
    planned = _planned(raw.get("planned"), raw.line_of("planned"), flow, report)
    now = raw.get("now")
    if not isinstance(now, str) or not now.strip():
        report.add(raw.line_of("now"), "'now' must say what to do when the reminder comes")
        now = ""
    label = raw.get("next", "")
    if plan.next_flow is not None and (not isinstance(label, str) or not label.strip()):
        report.add(raw.line_of("next"), f"'next' must label the button opening {plan.next_flow}")
        label = ""
    return ReminderWords(choices, planned, now.strip(), str(label).strip())


def _planned(raw: object, line: int, flow: Flow, report: Report) -> tuple[str, ...]:
    """What was planned, in alternatives; the last must be fillable from any draft: it may use
    only typed answers of the main path that are not optional."""
    items = raw if isinstance(raw, list) else [raw]
    texts = tuple(t.strip() for t in items if isinstance(t, str) and t.strip())
    if not texts or len(texts) != len(items):
        report.add(line, "'planned' must be a sentence or a list of sentences")
        return texts
    typed = {s.slot: s for s in flow.states.values() if s.ask == "text"}
    always = {s.slot for s in typed.values() if s.name in flow.main_states and not s.optional}
    for text in texts:
        for name in PLACEHOLDER_RE.findall(text):
            if name not in typed:
                report.add(line, f"'planned' uses {{{name}}}, which is not a typed answer")
    for name in PLACEHOLDER_RE.findall(texts[-1]):
        if name in typed and name not in always:
            report.add(
                line,
                f"the last 'planned' sentence uses {{{name}}}, which may be unanswered: "
                "end with one every draft can fill",
            )
    return texts
