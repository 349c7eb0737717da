"""Scripted conversations for flow authors: each story plays through the engine and its result
must show what the story expects.

A story file (`stories/<flow>.yaml` in the content folder, beside `flows/` and `phrases/`)
names a flow and lists stories; each story is a list of steps and what the result must show::

    flow: decline_offer
    stories:
      - name: another offer, warm email
        steps:
          - choose: email          # an option id of the current question
          - text: Acme Ltd         # a typed answer
          - skip                   # the Skip button of an optional question
          - back                   # also: restart, keep, another, {refine: tone}, {at: state}
        expect:
          kinds: [email]                     # the messages, in order
          contains: [Acme Ltd]               # in some message (any case)
          contains_exact: [Hi Ana,]          # in some message, capitals as written
          not_contains: [salary]
          subject_contains: [offer]
          advice_includes: [in writing]      # in some advice bullet
          advice_excludes: [negotiat]
          legal_includes: [not legal advice]
          no_draft_problems: true            # the default

Reminders are played the way a person meets them: under a draft, `remind` taps "Remind me"
(its choices must be shown) and `{remind_at: choice}` picks one (the confirmation is kept);
`{reminder: next}` moves the story's clock to when that reminder is due, takes the message it
sends and taps its button that opens the next situation, with the answers the flow's `reuse:`
carries over (`{reminder: draft}` taps "Show my earlier draft" instead). `{keep: value}` checks
that the current question shows `value` as the earlier answer and taps its Keep button. The
story clock starts at `STORY_NOW` (Tuesday 14 November 2023, 22:13 UTC), so dates in the
confirmation are fixed::

      - name: asked for time, reminded, then declining with the answers reused
        steps:
          - ...                              # up to the draft
          - remind
          - {remind_at: days2}
          - {reminder: next}                 # now in the next situation
          - choose: email
          - {keep: Northwind Traders}
        expect:
          remind_confirm_contains: [In 2 days, Thursday 16 November]
          reminder_contains: [you would give your answer by Friday]
          kinds: [email]                     # the last draft: the next situation's

Every broken story is reported as `stories/<flow>.yaml:LINE: what went wrong`, at the story or
at the step that was refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.content.catalog import KEEP, SKIP, State
from bot.content.report import Problem, Report, display_path, read_content
from bot.content.yamlread import YamlList, YamlMap
from bot.conversation import Conversation
from bot.engine import Engine
from bot.events import (
    Another,
    Back,
    Choose,
    Event,
    FollowOn,
    Press,
    Refine,
    Remind,
    RemindAt,
    ReminderAction,
    Restart,
    ShowDraft,
    Start,
    Text,
    encode,
)
from bot.reminders import Reminder, carried_answers
from bot.replies import QuestionReply, ReminderReply, ResultReply

STORY_FOLDER = "stories"
STORIES_PER_FLOW = 2
EXPECT_KEYS = {
    "kinds",
    "contains",
    "contains_exact",
    "not_contains",
    "subject_contains",
    "advice_includes",
    "advice_excludes",
    "legal_includes",
    "legal_excludes",
    "no_draft_problems",
    "remind_confirm_contains",
    "reminder_contains",
}
STORY_NOW = 1_700_000_000.0
"""When every story's clock starts (Tuesday 14 November 2023, 22:13 UTC), so reminder dates in
a story's expectations are the same on every run."""


class StoryError(AssertionError):
    """A story did not go as scripted, or its result did not meet the expectations; `line` is
    where in the story file (0 when unknown)."""

    def __init__(self, message: str, line: int = 0, key: str = "") -> None:
        super().__init__(message)
        self.line = line
        self.key = key


@dataclass(frozen=True, slots=True)
class Story:
    """One scripted conversation, with the lines of its steps for error messages."""

    path: str
    line: int
    flow: str
    name: str
    steps: tuple[Any, ...]
    step_lines: tuple[int, ...]
    expect: Mapping[str, Any]
    expect_lines: Mapping[str, int] = field(default_factory=dict)


@dataclass
class StoryRun:
    """Walks a conversation through the engine, keeping the last result, the reminder set
    under it and the words shown for it."""

    engine: Engine
    conv: Conversation = field(default_factory=lambda: Conversation(chat_id="story"))
    result: ResultReply | None = None
    now: float = STORY_NOW
    reminder: Reminder | None = None
    remind_confirm: str = ""
    reminder_text: str = ""
    question: QuestionReply | None = None

    def send(self, event: Event) -> None:
        """Apply one event as the service would (versions aside)."""
        outcome = self.engine.handle(self.conv, event)
        self.conv = outcome.conversation
        results = [r for r in outcome.replies if isinstance(r, ResultReply)]
        self.result = results[-1] if results else None
        questions = [r for r in outcome.replies if isinstance(r, QuestionReply)]
        self.question = questions[-1] if questions else None

    def state(self) -> State:
        """The state the conversation is at."""
        flow = self.engine.catalog.flows[self.conv.flow]
        return flow.states[self.conv.state]

    def remind(self) -> None:
        """Tap "Remind me" under the draft: its choices must be shown."""
        if self.result is None or not _offers(self.result.actions, encode(Remind())):
            raise StoryError(f"no 'Remind me' button at '{self.conv.state}'")
        outcome = self.engine.handle(self.conv, Press(encode(Remind())))
        if not any(isinstance(reply, ReminderReply) for reply in outcome.replies):
            raise StoryError("'Remind me' showed no reminder choices")

    def remind_at(self, choice: str) -> None:
        """Pick a reminder choice: the reminder is kept as the chat service would keep it."""
        outcome = self.engine.handle(self.conv, Press(encode(RemindAt(choice))))
        request = outcome.reminder
        if request is None:
            raise StoryError(f"'{choice}' is not a reminder choice at '{self.conv.state}'")
        due = request.after.due_after(self.now)
        self.reminder = Reminder(
            self.conv.chat_id,
            "story",
            due,
            request.flow,
            request.choice,
            dict(request.answers),
            self.conv.lang,
            request.wording,
            self.now,
        )
        confirmation = self.engine.reminder_confirmation(self.conv.lang, request, due)
        self.remind_confirm = confirmation.text

    def reminder_due(self, action: str) -> None:
        """Move the clock to when the reminder is due and tap one of its buttons (`next`
        or `draft`), as the chat service answers them."""
        reminder = self.reminder
        if reminder is None:
            raise StoryError("no reminder was set (use remind and {remind_at: choice} first)")
        self.now = reminder.due
        reply = self.engine.reminder_reply(reminder, self.now)
        if reply is None:
            raise StoryError(f"the reminder of '{reminder.flow}' sends nothing")
        self.reminder_text = reply.text
        if action not in ("next", "draft"):
            raise StoryError(f"{{reminder: {action}}}: the buttons played are next and draft")
        if not _offers(reply.buttons, encode(ReminderAction(action, reminder.id))):
            raise StoryError(f"the reminder has no '{action}' button")
        plan = self.engine.catalog.flows[reminder.flow].reminders
        event: Event
        if action == "next" and plan is not None and plan.next_flow is not None:
            event = FollowOn(plan.next_flow, carried_answers(plan.reuse, reminder.answers))
        else:
            event = ShowDraft(reminder.flow, tuple(reminder.answers.items()), reminder.wording)
        self.send(event)

    def keep(self, expected: str) -> Event:
        """Check the question shows `expected` as the earlier answer; its Keep button."""
        question = self.question
        state = self.state()
        keep = encode(Choose(state.name, KEEP))
        if question is None or question.previous != expected:
            shown = question.previous if question else None
            raise StoryError(f"'{state.name}' shows {shown!r} to keep, expected {expected!r}")
        if not _offers(question.buttons, keep):
            raise StoryError(f"'{state.name}' has no Keep button")
        return Press(keep)


def _offers(rows: tuple[tuple[Any, ...], ...], data: str) -> bool:
    return any(button.data == data for row in rows for button in row)


def _step_event(run: StoryRun, step: Any) -> Event | None:
    state = run.state()
    match step:
        case "skip":
            return Choose(state.name, SKIP)
        case "keep":
            return Choose(state.name, KEEP)
        case "back":
            return Back()
        case "restart":
            return Restart()
        case "another":
            return Another()
        case {"choose": option}:
            return Choose(state.name, str(option))
        case {"text": text}:
            return Text(str(text))
        case {"refine": refinement} | {"revise": refinement}:
            return Refine(str(refinement))
        case {"keep": expected}:
            return run.keep(str(expected))
        case {"at": expected}:
            if state.name != expected:
                raise StoryError(f"expected to be at '{expected}', but at '{state.name}'")
            return None
        case "remind":
            run.remind()
            return None
        case {"remind_at": choice}:
            run.remind_at(str(choice))
            return None
        case {"reminder": action}:
            run.reminder_due(str(action))
            return None
    raise StoryError(f"unknown step {step!r}")


def run_story(engine: Engine, story: Story) -> ResultReply:
    """Play a story and check its expectations; return the result reached, or raise
    `StoryError` at the line of the story or of the step that went wrong."""
    run = StoryRun(engine)
    run.send(Start(story.flow))
    if run.conv.flow != story.flow:
        raise StoryError(f"flow '{story.flow}' did not start", story.line)
    for index, (step, line) in enumerate(zip(story.steps, story.step_lines, strict=True), 1):
        before = run.conv
        try:
            event = _step_event(run, step)
        except StoryError as exc:
            raise StoryError(f"step {index}: {exc}", line) from None
        if event is None:
            continue
        run.send(event)
        moved = run.conv != before or isinstance(event, Another)
        if not moved:
            raise StoryError(f"step {index} ({step!r}) was not accepted at '{before.state}'", line)
    if run.result is None:
        raise StoryError(f"the story ended at '{run.conv.state}', not at a result", story.line)
    try:
        check_expectations(run.result, story.expect)
        check_reminder_words(run, story.expect)
    except StoryError as exc:
        raise StoryError(str(exc), story.expect_lines.get(exc.key, story.line)) from None
    return run.result


def check_expectations(result: ResultReply, expect: Mapping[str, Any]) -> None:
    """Raise `StoryError` naming the first expectation the result misses."""
    texts = [message.text for message in result.result.messages]
    advice = [item.text for item in result.result.advice]
    legal = [item.text for item in result.result.legal]
    subjects = [message.subject or "" for message in result.result.messages]
    kinds = [message.kind for message in result.result.messages]
    if "kinds" in expect and kinds != list(expect["kinds"]):
        raise StoryError(f"messages are {kinds}, expected {expect['kinds']}", key="kinds")
    checks = (
        ("contains", texts, True),
        ("contains_exact", texts, True),
        ("not_contains", texts, False),
        ("subject_contains", subjects, True),
        ("advice_includes", advice, True),
        ("advice_excludes", advice, False),
        ("legal_includes", legal, True),
        ("legal_excludes", legal, False),
    )
    for key, haystack, wanted in checks:
        for needle in expect.get(key, []):
            if key == "contains_exact":  # capitals matter: "Hi Ana," and not "Hi ana,"
                found = any(str(needle) in text for text in haystack)
            else:
                found = any(str(needle).casefold() in text.casefold() for text in haystack)
            if found is not wanted:
                verb = "missing" if wanted else "unexpected"
                raise StoryError(f"{key}: {verb} {needle!r} in {haystack!r}", key=key)
    if expect.get("no_draft_problems", True) and result.draft_problems:
        problems = list(result.draft_problems)
        raise StoryError(f"draft problems: {problems}", key="no_draft_problems")


def check_reminder_words(run: StoryRun, expect: Mapping[str, Any]) -> None:
    """Raise `StoryError` when the reminder's confirmation or message misses a word."""
    for key, said in (
        ("remind_confirm_contains", run.remind_confirm),
        ("reminder_contains", run.reminder_text),
    ):
        for needle in expect.get(key, []):
            if str(needle).casefold() not in said.casefold():
                raise StoryError(f"{key}: missing {needle!r} in {said!r}", key=key)


def _parse_story(raw: object, line: int, flow: str, report: Report) -> Story | None:
    if not isinstance(raw, YamlMap):
        report.add(line, "a story must be a mapping with name, steps and expect")
        return None
    unknown = sorted(set(raw) - {"name", "steps", "expect"})
    for key in unknown:
        report.add(raw.line_of(key), f"unknown key '{key}' in a story (known: expect, name, steps)")
    steps = raw.get("steps", YamlList())
    if not isinstance(steps, YamlList):
        report.add(raw.line_of("steps"), "'steps' must be a list")
        return None
    expect = raw.get("expect", YamlMap())
    if not isinstance(expect, YamlMap):
        report.add(raw.line_of("expect"), "'expect' must be a mapping")
        return None
    for key in sorted(set(expect) - EXPECT_KEYS):
        report.add(expect.line_of(key), f"unknown expectation '{key}'")
    return Story(
        path=report.path,
        line=line,
        flow=flow,
        name=str(raw.get("name", f"line {line}")),
        steps=tuple(steps),
        step_lines=tuple(steps.line_of(i) for i in range(len(steps))),
        expect=expect,
        expect_lines={key: expect.line_of(key) for key in expect},
    )


def read_stories(folder: Path) -> tuple[list[Story], list[Problem]]:
    """Every story in a folder's `*.yaml` files, and the problems of files that cannot be
    read as stories."""
    stories: list[Story] = []
    problems: list[Problem] = []
    for path in sorted(folder.glob("*.yaml")):
        report = Report(display_path(path))
        data = read_content(path, report)
        if data is not None:
            if not isinstance(data, YamlMap) or not isinstance(data.get("flow"), str):
                report.add(1, "a story file needs 'flow: <flow id>' and 'stories: [...]'")
            elif not isinstance(data.get("stories"), YamlList):
                report.add(data.line_of("stories"), "'stories' must be a list")
            else:
                raw_stories: YamlList = data["stories"]
                for index, raw in enumerate(raw_stories):
                    line = raw_stories.line_of(index)
                    if (story := _parse_story(raw, line, data["flow"], report)) is not None:
                        stories.append(story)
        problems.extend(report.problems)
    return stories, problems


def check_stories(
    engine: Engine, stories: Iterable[Story], whole_content: bool = True
) -> list[Problem]:
    """Play every story of a loaded flow; each flow needs at least two stories.

    With `whole_content` false (one flow file checked), stories of other flows are passed over
    instead of being reported as naming an unknown flow.
    """
    problems: list[Problem] = []
    flows = engine.catalog.flows
    counts = dict.fromkeys(flows, 0)
    for story in stories:
        if story.flow not in flows:
            if whole_content:
                problems.append(Problem(story.path, story.line, f"unknown flow '{story.flow}'"))
            continue
        counts[story.flow] += 1
        try:
            run_story(engine, story)
        except StoryError as exc:
            where = exc.line or story.line
            problems.append(Problem(story.path, where, f"story '{story.name}': {exc}"))
    for flow_id, count in counts.items():
        if count < STORIES_PER_FLOW:
            problems.append(
                Problem(
                    flows[flow_id].path,
                    1,
                    f"flow '{flow_id}' has {count} stories; write at least {STORIES_PER_FLOW} "
                    f"in {STORY_FOLDER}/{flow_id}.yaml",
                )
            )
    return problems
