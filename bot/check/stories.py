"""Scripted conversations for flow authors, and a walker that tries every path of a flow.

A story file (`tests/stories/*.yaml`) names a flow and lists stories; each story is a list of
steps and what the result must show::

    flow: decline_offer
    stories:
      - name: another offer, warm email
        steps:
          - choose: decided        # an option id of the current question
          - text: Acme Ltd         # a typed answer
          - skip                   # the Skip button of an optional question
          - back                   # also: restart, keep, another, {refine: tone}, {at: state}
        expect:
          kinds: [email]                     # the messages, in order
          contains: [Acme Ltd]               # in some message
          not_contains: [salary]
          subject_contains: [offer]
          advice_includes: [in writing]      # in some advice bullet
          advice_excludes: [negotiat]
          legal_includes: [not legal advice]
          no_draft_problems: true            # the default
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.content.catalog import KEEP, SKIP, Flow, State
from bot.content.yamlread import read_yaml
from bot.conversation import Conversation
from bot.engine import Engine
from bot.events import Another, Back, Choose, Event, Refine, Restart, Start, Text
from bot.replies import ResultReply

SAMPLE_TEXT: Mapping[str, str] = {
    "company": "Northwind Analytics",
    "other_company": "Bluebird Labs",
    "role": "Senior Data Analyst",
    "recipient": "Jordan Lee",
    "your_name": "Sam Carter",
    "figure": "85,000 a year",
    "people": "Priya and Tom",
    "deadline": "Friday",
    "date": "Tuesday 14 May",
    "start_date": "1 June",
    "reply_by": "Thursday",
    "draw": "the chance to build the new data platform",
    "appreciated": "the chance to lead the migration project",
    "last_day": "Friday 28 June",
    "extra_question": "the on-call rota",
    "wanted_role": "a product role on the payments team",
    "goal": "leading a small team",
    "decide_by": "the end of next week",
    "highlight": "the plans for the new data platform",
    "where_met": "at the Data Summit in March",
    "news_detail": "your post about hiring junior analysts",
    "congrats_detail": "your promotion to Head of Data",
    "update_detail": "I've just finished a course in data engineering",
    "article_detail": "this piece on remote onboarding",
    "article_link": "https://example.com/remote-onboarding",
    "roles_wanted": "data engineering",
    "future_roles": "senior UX roles in fintech",
    "alternatives": "Tuesday 21 May after 2pm, or Wednesday 22 May 10am to 12pm",
    "timezone": "UK time",
    "admired": "how openly the team talked about its plans",
    "mutual_contact": "Priya Shah",
    "background": "a product designer with five years in fintech",
    "admire": "how you've made banking simple for small farmers",
    "story": "I grew up on a farm and saw how hard it was to get a loan",
    "advice_topic": "moving from agency work into an in-house design team",
    "target_role": "product design",
}
FALLBACK_TEXT = ("the team's thoughtful interview process", "next Tuesday at 10am", "42", "a")


class StoryError(AssertionError):
    """A story did not go as scripted, or its result did not meet the expectations."""


@dataclass
class StoryRun:
    """Walks a conversation through the engine, keeping the last result."""

    engine: Engine
    conv: Conversation = field(default_factory=lambda: Conversation(chat_id="story"))
    result: ResultReply | None = None

    def send(self, event: Event) -> None:
        """Apply one event as the service would (versions aside)."""
        outcome = self.engine.handle(self.conv, event)
        self.conv = outcome.conversation
        results = [r for r in outcome.replies if isinstance(r, ResultReply)]
        self.result = results[-1] if results else None

    def state(self) -> State:
        flow = self.engine.catalog.flows[self.conv.flow]
        return flow.states[self.conv.state]


def sample_text(state: State) -> str:
    """A realistic answer for a text question that passes its rules."""
    candidates = [SAMPLE_TEXT[state.slot]] if state.slot in SAMPLE_TEXT else []
    candidates += FALLBACK_TEXT
    for text in candidates:
        fits = state.min_length <= len(text) <= state.max_length
        if fits and (not state.pattern or re.fullmatch(state.pattern, text)):
            return text
    raise StoryError(f"no sample text fits the rules of '{state.name}'; add one to SAMPLE_TEXT")


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
        case {"at": expected}:
            if state.name != expected:
                raise StoryError(f"expected to be at '{expected}', but at '{state.name}'")
            return None
    raise StoryError(f"unknown step {step!r}")


def run_story(engine: Engine, flow_id: str, story: Mapping[str, Any]) -> ResultReply:
    """Play a story and check its expectations; return the result reached."""
    run = StoryRun(engine)
    run.send(Start(flow_id))
    if run.conv.flow != flow_id:
        raise StoryError(f"flow '{flow_id}' did not start")
    for index, step in enumerate(story.get("steps", []), 1):
        before = run.conv
        event = _step_event(run, step)
        if event is None:
            continue
        run.send(event)
        moved = run.conv != before or isinstance(event, Another)
        if not moved:
            raise StoryError(f"step {index} ({step!r}) was not accepted at '{before.state}'")
    if run.result is None:
        raise StoryError(f"the story ended at '{run.conv.state}', not at a result")
    check_expectations(run.result, story.get("expect", {}))
    return run.result


def check_expectations(result: ResultReply, expect: Mapping[str, Any]) -> None:
    """Raise `StoryError` naming the first expectation the result misses."""
    texts = [message.text for message in result.result.messages]
    advice = [item.text for item in result.result.advice]
    legal = [item.text for item in result.result.legal]
    subjects = [message.subject or "" for message in result.result.messages]
    kinds = [message.kind for message in result.result.messages]
    if "kinds" in expect and kinds != list(expect["kinds"]):
        raise StoryError(f"messages are {kinds}, expected {expect['kinds']}")
    checks = (
        ("contains", texts, True),
        ("not_contains", texts, False),
        ("subject_contains", subjects, True),
        ("advice_includes", advice, True),
        ("advice_excludes", advice, False),
        ("legal_includes", legal, True),
        ("legal_excludes", legal, False),
    )
    for key, haystack, wanted in checks:
        for needle in expect.get(key, []):
            found = any(str(needle).casefold() in text.casefold() for text in haystack)
            if found is not wanted:
                verb = "missing" if wanted else "unexpected"
                raise StoryError(f"{key}: {verb} {needle!r} in {haystack!r}")
    if expect.get("no_draft_problems", True) and result.draft_problems:
        raise StoryError(f"draft problems: {list(result.draft_problems)}")


def load_story_files(folder: Path) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """Every story in a folder as (file name, flow id, story)."""
    for path in sorted(folder.glob("*.yaml")):
        data, duplicates = read_yaml(path)
        if duplicates:
            raise StoryError(f"{path}: duplicate keys {duplicates}")
        for story in data.get("stories", []):
            yield path.name, str(data["flow"]), story


def walk(engine: Engine, flow: Flow, walks: int, seed: int = 1) -> Iterator[ResultReply]:
    """Results of many walks through a flow: every option of every question is taken at least
    once, optional questions are both answered and skipped, the rest is chosen at random."""
    rng = random.Random(f"{flow.id}:{seed}")
    forced = [(s.name, o) for s in flow.states.values() for o in s.options]
    forced += [(s.name, SKIP) for s in flow.states.values() if s.optional]
    plans: list[dict[str, str]] = [{name: option} for name, option in forced]
    plans += [{} for _ in range(walks)]
    for plan in plans:
        run = StoryRun(engine)
        run.send(Start(flow.id))
        for _ in range(4 * len(flow.states)):
            state = run.state()
            if state.end:
                break
            choice = plan.get(state.name)
            if state.ask == "choice":
                option = choice if choice in state.options else rng.choice(state.options)
                run.send(Choose(state.name, option))
            elif choice == SKIP or (state.optional and choice is None and rng.random() < 0.3):
                run.send(Choose(state.name, SKIP))
            else:
                run.send(Text(sample_text(state)))
        if run.result is None:
            raise StoryError(f"{flow.id}: a walk did not reach a result ({run.conv.state})")
        yield run.result
        for wording in range(1, 3):
            run.send(Another())
            if run.result is not None and wording:
                yield run.result
