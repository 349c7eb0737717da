"""The every-path walk: many conversations through each flow, every option of every question
taken at least once, optional questions both answered and skipped, each typed answer the
state's own `example:`; every result it reaches must pass the rules a reader would apply.

The rules on each result: at least one message, 3 to 6 advice bullets, no draft problem
(`bot.drafts`: placeholders, length, subject, opt-in answers, money, unkind words, the decision
in the first two sentences, names and leads, `must_say`/`must_not_say`, advice `claims`), and
"Another wording" giving three different versions of every message. Each broken rule is
reported once, at the phrases line it comes from, with the choices of the first path that
showed it.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.check.stories import StoryRun
from bot.content.catalog import SKIP, Flow, FlowPhrases, State
from bot.content.report import Problem
from bot.content.yamlread import YamlList, YamlMap, YamlReadError, read_yaml
from bot.conversation import Conversation
from bot.engine import Engine
from bot.events import Another, Choose, Start, Text
from bot.replies import ResultReply

WALKS = 100
"""Random walks per flow, on top of one walk per option and per optional question."""
WORDINGS = 3
ADVICE_RANGE = range(3, 7)
FALLBACK_TEXT = ("the team's thoughtful interview process", "next Tuesday at 10am", "42", "a")
"""Answers tried, in order, for a typed question without an `example:`."""
PATH_SHOWN = 8
"""Choices quoted from a failing path (its first ones): enough to replay it by hand."""


class WalkError(AssertionError):
    """A walk could not go on: no answer fits a question, or it never reached a result;
    `line` is the state's line in the flow file."""

    def __init__(self, message: str, line: int = 1) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True, slots=True)
class PathResult:
    """One walk's end: its answers and the result in each wording (first, second, third)."""

    answers: Mapping[str, str]
    wordings: tuple[ResultReply, ...]


def sample_text(state: State) -> str:
    """The state's example answer, else a stand-in that passes its rules."""
    candidates = [state.example] if state.example else []
    candidates += FALLBACK_TEXT
    for text in candidates:
        fits = state.min_length <= len(text) <= state.max_length
        if fits and (not state.pattern or re.fullmatch(state.pattern, text)):
            return text
    raise WalkError(
        f"no answer fits the rules of '{state.name}': give it an 'example:'", state.line
    )


def _reachable(flow: Flow) -> Mapping[str, frozenset[str]]:
    """State -> the states some path leads to from it (itself included), ignoring conditions."""
    edges = {name: {b.target for b in state.next} for name, state in flow.states.items()}
    found: dict[str, frozenset[str]] = {}
    for start in flow.states:
        seen = {start}
        todo = [start]
        while todo:
            for target in edges.get(todo.pop(), ()):
                if target in flow.states and target not in seen:
                    seen.add(target)
                    todo.append(target)
        found[start] = frozenset(seen)
    return found


def _option_toward(
    run: StoryRun,
    state: State,
    target: str,
    reach: Mapping[str, frozenset[str]],
    rng: random.Random,
) -> str:
    """An option of `state` after which `target` can still be reached (random among those)."""
    options = list(state.options)
    rng.shuffle(options)
    for option in options:
        after = run.engine.handle(run.conv, Choose(state.name, option)).conversation
        if target in reach.get(after.state, ()):
            return option
    return options[0]


def walk(
    engine: Engine, flow: Flow, walks: int = WALKS, seed: int = 1, lang: str = ""
) -> Iterator[PathResult]:
    """The results of many walks through a flow: every option of every question is taken at
    least once (the walk steers toward that question), optional questions are both answered
    and skipped, the rest is random."""
    rng = random.Random(f"{flow.id}:{seed}")
    reach = _reachable(flow)
    forced = [(s.name, o) for s in flow.states.values() for o in s.options]
    forced += [(s.name, SKIP) for s in flow.states.values() if s.optional]
    plans: list[tuple[str, str] | None] = [*forced, *([None] * walks)]
    language = lang or engine.catalog.default_lang
    for plan in plans:
        target, wanted = plan if plan else ("", "")
        run = StoryRun(engine, Conversation(chat_id="walk", lang=language))
        run.send(Start(flow.id))
        for _ in range(4 * len(flow.states)):
            state = run.state()
            if state.end:
                break
            aiming = target and target not in run.conv.history and state.name != target
            if state.ask == "choice":
                if state.name == target:
                    option = wanted
                elif aiming:
                    option = _option_toward(run, state, target, reach, rng)
                else:
                    option = rng.choice(state.options)
                run.send(Choose(state.name, option))
            elif (state.name == target and wanted == SKIP) or (
                state.optional and state.name != target and rng.random() < 0.3
            ):
                run.send(Choose(state.name, SKIP))
            else:
                run.send(Text(sample_text(state)))
        if run.result is None:
            stopped = flow.states[run.conv.state]
            raise WalkError(
                f"a walk did not reach a result (stopped at '{stopped.name}')", stopped.line
            )
        results = [run.result]
        answers = run.conv.answers
        for _ in range(WORDINGS - 1):
            run.send(Another())
            if run.result is not None:
                results.append(run.result)
        yield PathResult(answers, tuple(results))


def _message_lines(phrases: FlowPhrases) -> tuple[Mapping[str, int], int]:
    """Message kind -> the line of its first template, and the line of `advice:`."""
    try:
        data, _ = read_yaml(Path(phrases.path))
    except (OSError, YamlReadError):
        return {}, 1
    if not isinstance(data, YamlMap):
        return {}, 1
    lines: dict[str, int] = {}
    result = data.get("result")
    messages = result.get("messages") if isinstance(result, YamlMap) else None
    if isinstance(messages, YamlList):
        for index, item in enumerate(messages):
            if isinstance(item, YamlMap) and isinstance(item.get("kind"), str):
                lines.setdefault(item["kind"], messages.line_of(index))
    return lines, data.line_of("advice") or 1


def _path_text(flow: Flow, answers: Mapping[str, str]) -> str:
    chosen = [
        f"{state.slot}={answers[state.slot]}"
        for state in flow.states.values()
        if state.ask == "choice" and state.slot in answers
    ]
    shown = ", ".join(chosen[:PATH_SHOWN])
    return shown + (", ..." if len(chosen) > PATH_SHOWN else "")


def _result_problems(path: PathResult) -> Iterator[tuple[str, str]]:
    """(message kind or "advice", problem) for each rule one walk's result breaks."""
    first = path.wordings[0].result
    if not first.messages:
        yield "", "a result with no message"
    if len(first.advice) not in ADVICE_RANGE:
        yield "advice", f"{len(first.advice)} advice bullets (a result needs 3 to 6)"
    for reply in path.wordings:
        for problem in reply.draft_problems:
            kind, _, text = problem.partition(": ")
            yield kind.rpartition("/")[2], text
    if len(path.wordings) == WORDINGS:
        for index, message in enumerate(first.messages):
            texts = {r.result.messages[index].text for r in path.wordings[1:]} | {message.text}
            if len(texts) < WORDINGS:
                yield message.kind, f"{len(texts)} different wordings; 'Another wording' needs 3"


def check_paths(
    engine: Engine, flows: Sequence[Flow], walks: int = WALKS
) -> tuple[list[Problem], int]:
    """Walk every flow in every language; the problems found and the number of results."""
    problems: dict[tuple[str, int, str], Problem] = {}
    checked = 0
    for lang, by_flow in sorted(engine.catalog.phrases.items()):
        for flow in flows:
            phrases = by_flow[flow.id]
            lines, advice_line = _message_lines(phrases)
            try:
                for path in walk(engine, flow, walks, lang=lang):
                    checked += len(path.wordings)
                    for kind, text in _result_problems(path):
                        line = advice_line if kind == "advice" else lines.get(kind, 1)
                        message = f"{kind + ': ' if kind else ''}{text}"
                        key = (phrases.path, line, message)
                        if key not in problems:
                            where = _path_text(flow, path.answers)
                            problems[key] = Problem(
                                phrases.path, line, f"{message} (path: {where})"
                            )
            except WalkError as exc:
                problems[(flow.path, exc.line, str(exc))] = Problem(flow.path, exc.line, str(exc))
    return sorted(problems.values()), checked
