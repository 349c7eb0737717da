"""Every path of a flow: how many interactions it takes to the first draft, and which answers
the draft never uses.

A *path* is the answers given from the flow's start to its first draft (the main path), or
those plus the answers given in one refinement opened from that draft. Typed questions get a
sample text (`bot.check.walk.sample_text`: the state's `example`); an optional one is also
skipped where a branch tests whether it was filled.

What is enumerated for the dead-question check, so that `doorajar check` stays fast (about
1 s of CPU for the 14 flows):

* Every combination of options on the main path, while a flow has at most `MAX_MAIN_PATHS`.
* Past that, `MAX_MAIN_PATHS` random walks seeded by the flow id (the same paths every run),
  plus, for every option no walk took, a path of its own: the first walk through its
  question, with that option, the rest of the way answered again with the first options.
* Each refinement, with every combination of its own options, opened from the drafts of
  `REFINED_FROM` main paths that offer it: first those that between them give every answer
  any such main path gives (every channel, every reason, ...), then evenly spaced others.
  One refinement at a time, never combined. A refinement that starts on the main path (such
  as `channel`) asks main-path questions again: those are checked on the main paths.

Interactions to the first draft = menu taps (2: group and situation, 1 when the menu has one
group) + answers given on the main path (a skip or a "keep my name" tap counts as one).
Min / median / max over every way of answering the main path (every combination of options,
each optional text answered or skipped), counted without enumerating them one by one: options
that lead to the same next question, and whose answer no later branch and no refinement's
`when` reads, are counted together.

A question is *dead* on a path when changing its answer (every other option in turn; another
typed text) and answering the rest of the way again changes neither the messages nor the
advice. Only the answers given on a path's own part are tested: main-path answers on the first
draft, a refinement's answers on its revised draft (a refinement that leaves out an earlier
answer is the person choosing a version without it). A typed answer given on a path must also
appear in a message of that draft: as typed, or at least half of its words of three letters or
more (so "Dear Dr Meyer" uses "Dr Paul Meyer", and "Hi Jordan," uses "Jordan Lee").
"""

from __future__ import annotations

import itertools
import random
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from bot.check.walk import sample_text
from bot.compose import compose_result
from bot.content.catalog import Catalog, Flow, FlowPhrases, State
from bot.content.report import Problem
from bot.engine import draft_answers, fire, offered_refinements, trigger_for

MAX_MAIN_PATHS = 60
REFINED_FROM = 12
"""Each refinement is opened from this many main paths' drafts (more when needed to cover
every answer given on the main paths that offer it)."""
ALTERNATE_TEXTS = ("Marlowe Fenwick", "61,250 a year", "Wednesday 9 October", "Quill", "7")
"""Another typed text, tried in turn until one fits the question's rules."""
_WORD = re.compile(r"[^\W\d_]{3,}")
_COMMON_WORDS = frozenset(
    {"the", "and", "for", "with", "that", "this", "from", "into", "your", "our", "you"}
    | {"are", "was", "its", "not", "but", "all"}
)
"""Words too common to show that a typed answer was used."""


@dataclass(frozen=True, slots=True)
class Answer:
    """One answer on a path: the question (state), its slot and the value given."""

    state: str
    slot: str
    value: str
    typed: bool = False


@dataclass(frozen=True, slots=True)
class FlowPath:
    """Answers from the start to the first draft, and those given in one refinement after."""

    main: tuple[Answer, ...]
    refinement: str = ""
    refined: tuple[Answer, ...] = ()

    def answers(self) -> dict[str, str]:
        """The answers by slot, as the conversation holds them at the (revised) draft."""
        return {a.slot: a.value for a in (*self.main, *self.refined)}

    def describe(self) -> str:
        """The choices that make this path, for a problem line (typed samples left out)."""
        chosen = [
            f"{a.slot}={a.value or 'skip'}" for a in self.main if a.value and " " not in a.value
        ]
        text = ", ".join(chosen)
        return f"{text} (refinement {self.refinement})" if self.refinement else text


@dataclass(frozen=True, slots=True)
class FlowReach:
    """What the paths of one flow show."""

    flow: str
    interactions: Mapping[int, int]
    """Interactions to the first draft -> how many ways of answering take that many."""
    paths_checked: int
    problems: tuple[Problem, ...]
    dead: tuple[str, ...]

    def figures(self) -> tuple[int, float, int]:
        """Interactions to the first draft: min, median and max over every path."""
        counts = sorted(self.interactions.items()) or [(0, 1)]
        total = sum(ways for _, ways in counts)
        middle = []
        for position in sorted({(total - 1) // 2, total // 2}):
            seen = 0
            for value, ways in counts:
                seen += ways
                if position < seen:
                    middle.append(value)
                    break
        return counts[0][0], sum(middle) / len(middle), counts[-1][0]


def menu_taps(catalog: Catalog) -> int:
    """Taps from /start to a situation's first question: a group, then the situation, or the
    situation alone when the menu has one group. The groups labelled in `_common.yaml` count
    too, so that checking one flow file counts the menu the whole project shows."""
    labelled = catalog.common[catalog.default_lang].groups if catalog.common else {}
    return 2 if len(set(catalog.groups()) | set(labelled)) > 1 else 1


def _read_later(flow: Flow) -> frozenset[str]:
    """Slots whose value decides something beyond the next question: read by another state's
    branches or by a refinement's `when`."""
    slots: set[str] = set()
    for state in flow.states.values():
        for branch in state.next:
            slots |= {slot for slot in branch.condition.slots() if slot != state.slot}
    for refinement in flow.refinements.values():
        slots |= set(refinement.when.slots())
    return frozenset(slots)


def _fits(state: State, text: str) -> bool:
    fits = state.min_length <= len(text) <= state.max_length
    return fits and not (state.pattern and not re.fullmatch(state.pattern, text))


def alternate_text(state: State, current: str) -> str | None:
    """Another typed answer that passes the question's rules and differs in every word; for a
    question with a `pattern` none of the stock texts may fit, so the current answer with its
    digits changed ("30 hours" -> "63 hours") is tried last."""
    words = {w.casefold() for w in _WORD.findall(current)}
    for text in ALTERNATE_TEXTS:
        if not _fits(state, text):
            continue
        if text != current and not words & {w.casefold() for w in _WORD.findall(text)}:
            return text
    shifted = "".join(str((int(c) + 3) % 10) if c.isdigit() else c for c in current)
    if shifted != current and _fits(state, shifted):
        return shifted
    return None


class _Walker:
    """Enumerates paths of one flow and answers them again with one answer changed."""

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.read_later = _read_later(flow)

    def first_value(self, state: State) -> str:
        return state.options[0] if state.ask == "choice" else sample_text(state)

    def values(self, state: State, view: Mapping[str, str], grouped: bool) -> list[tuple[str, int]]:
        """The answers worth a path of their own at `state`, each with how many ways of
        answering it stands for. Grouped: options leading to the same next question, whose
        answer nothing later reads, make one; an optional text answered or skipped is one way
        each. Not grouped: every option, and a typed answer (skipped too where a branch reads
        it)."""
        if state.ask == "text":
            if state.optional and state.slot in self.read_later:
                return [(sample_text(state), 1), ("", 1)]
            return [(sample_text(state), 2 if state.optional and grouped else 1)]
        if not grouped or state.slot in self.read_later:
            return [(option, 1) for option in state.options]
        seen: dict[str, tuple[str, int]] = {}
        for option in state.options:
            target = fire(self.flow, state, option, {**view, state.slot: option})
            first, count = seen.get(target, (option, 0))
            seen[target] = (first, count + 1)
        return list(seen.values())

    def paths(
        self, start: str, base: Mapping[str, str], grouped: bool = False
    ) -> Iterator[tuple[tuple[Answer, ...], int]]:
        """Depth first from `start` to an end state: each path and how many ways of answering
        it stands for. Questions after `start` answered in `base` keep that answer, as the
        engine passes them through in a refinement."""
        stack: list[tuple[str, tuple[Answer, ...], dict[str, str], int]] = [
            (start, (), {**self.flow.defaults, **base}, 1)
        ]
        while stack:
            name, done, view, ways = stack.pop()
            state = self.flow.states[name]
            if state.end:
                yield done, ways
                continue
            if len(done) > len(self.flow.states):
                continue  # a loop: no path through it ends
            values = self.values(state, view, grouped)
            if done and state.slot in base:
                values = [(base[state.slot], 1)]
            for value, count in reversed(values):
                trigger = trigger_for(state, value)
                if trigger is None:
                    continue
                nxt = {**view, state.slot: value}
                target = fire(self.flow, state, trigger, nxt)
                if target != name:
                    answer = Answer(name, state.slot, value, state.ask == "text")
                    stack.append((target, (*done, answer), nxt, ways * count))

    def sampled(self, start: str, count: int) -> Iterator[tuple[Answer, ...]]:
        """`count` walks from `start`, each option taken at random (seeded by the flow id)."""
        rng = random.Random(f"reach:{self.flow.id}")
        for _ in range(count):
            view = dict(self.flow.defaults)
            answers: list[Answer] = []
            name = start
            for _ in range(len(self.flow.states)):
                state = self.flow.states[name]
                if state.end:
                    yield tuple(answers)
                    break
                value = rng.choice([v for v, _ in self.values(state, view, grouped=False)])
                trigger = trigger_for(state, value)
                if trigger is None:
                    break
                view[state.slot] = value
                answers.append(Answer(name, state.slot, value, state.ask == "text"))
                name = fire(self.flow, state, trigger, view)

    def answer_again(
        self, start: str, base: Mapping[str, str], fixed: Mapping[str, str]
    ) -> tuple[Answer, ...] | None:
        """From `start`, answer with `fixed` where it applies, else with the first value."""
        view = {**self.flow.defaults, **base}
        answers: list[Answer] = []
        name = start
        for _ in range(len(self.flow.states)):
            state = self.flow.states[name]
            if state.end:
                return tuple(answers)
            value = fixed.get(state.slot)
            if value is None or trigger_for(state, value) is None:
                value = self.first_value(state)
            trigger = trigger_for(state, value)
            if trigger is None:
                return None
            view[state.slot] = value
            answers.append(Answer(name, state.slot, value, state.ask == "text"))
            target = fire(self.flow, state, trigger, view)
            if target == name:
                return None
            name = target
        return None

    def changed(
        self,
        start: str,
        before: Mapping[str, str],
        own: tuple[Answer, ...],
        slot: str,
        value: str,
    ) -> dict[str, str] | None:
        """The answers of a path with one of its own answers changed and the rest of the way
        answered again (None when no end can be reached that way)."""
        fixed = {**before, **{a.slot: a.value for a in own}, slot: value}
        redone = self.answer_again(start, before, fixed)
        if redone is None:
            return None
        return {**before, **{a.slot: a.value for a in redone}}

    def alternatives(self, state: State, value: str) -> list[str]:
        if state.ask == "choice":
            return [option for option in state.options if option != value]
        other = alternate_text(state, value) if value else sample_text(state)
        return [other] if other is not None else []


def main_paths(flow: Flow, limit: int = MAX_MAIN_PATHS) -> list[tuple[Answer, ...]]:
    """The main paths checked for `flow` (see the module docstring for how they are chosen)."""
    walker = _Walker(flow)
    every = list(itertools.islice(walker.paths(flow.start, {}), limit + 1))
    chosen = [path for path, _ in every]
    if len(every) > limit:
        chosen = list(dict.fromkeys(walker.sampled(flow.start, limit)))
    covered = {(a.state, a.value) for path in chosen for a in path}
    for state in flow.states.values():
        if state.name not in flow.main_states:
            continue
        for option in state.options:
            if (state.name, option) in covered:
                continue
            through = next((p for p in chosen if any(a.state == state.name for a in p)), None)
            if through is None:
                continue
            fixed = {a.slot: a.value for a in through} | {state.slot: option}
            path = walker.answer_again(flow.start, {}, fixed)
            if path is not None:
                chosen.append(path)
                covered |= {(a.state, a.value) for a in path}
    return chosen


def interactions(flow: Flow, menu: int) -> Counter[int]:
    """Interactions to the first draft -> how many ways of answering take that many."""
    found: Counter[int] = Counter()
    for path, ways in _Walker(flow).paths(flow.start, {}, grouped=True):
        found[menu + len(path)] += ways
    return found


def _covering(paths: list[tuple[Answer, ...]], cap: int) -> list[tuple[Answer, ...]]:
    """Paths that between them give every answer the list gives, then more up to `cap`."""
    chosen: list[tuple[Answer, ...]] = []
    covered: set[tuple[str, str]] = set()
    for path in paths:
        new = {(a.slot, a.value) for a in path} - covered
        if new:
            chosen.append(path)
            covered |= new
    rest = [path for path in paths if path not in chosen]
    room = max(0, cap - len(chosen))
    if rest and room:
        step = max(1, len(rest) // room)
        chosen += rest[::step][:room]
    return chosen


def every_path(flow: Flow, limit: int = MAX_MAIN_PATHS) -> Iterator[FlowPath]:
    """The main paths checked, then each refinement opened from the drafts of some of them
    (see the module docstring)."""
    walker = _Walker(flow)
    mains = main_paths(flow, limit)
    yield from (FlowPath(main) for main in mains)
    for refinement in flow.refinements.values():
        if refinement.start in flow.main_states:
            continue  # it asks main-path questions again: checked on the main paths
        offering = [
            main
            for main in mains
            if refinement in offered_refinements(flow, {a.slot: a.value for a in main})
        ]
        for main in _covering(offering, REFINED_FROM):
            given = {a.slot: a.value for a in main}
            seen: set[tuple[Answer, ...]] = set()
            for refined, _ in itertools.islice(walker.paths(refinement.start, given), limit):
                # Questions passed through (answered on the main path) are not asked again.
                own = tuple(a for i, a in enumerate(refined) if i == 0 or a.slot not in given)
                if own not in seen:
                    seen.add(own)
                    yield FlowPath(main, refinement.id, own)


Draft = tuple[tuple[str, ...], tuple[str, ...]]


def draft_of(flow: Flow, phrases: FlowPhrases, answers: Mapping[str, str]) -> Draft:
    """The messages and the advice (with legal notes) a draft shows for these answers."""
    result = compose_result(phrases, draft_answers(flow, answers), 0)
    advice = tuple(item.text for item in (*result.advice, *result.legal))
    return tuple(message.text for message in result.messages), advice


def _appears(value: str, messages: tuple[str, ...]) -> bool:
    """Whether a typed answer shows in the messages: as typed, or at least half of its words
    (a careful writer keeps "Meyer" of "Dr Paul Meyer", "Jordan" of "Jordan Lee")."""
    text = "\n".join(messages).casefold()
    if value.casefold() in text:
        return True
    words = [w.casefold() for w in _WORD.findall(value) if w.casefold() not in _COMMON_WORDS]
    found = sum(1 for w in words if re.search(rf"\b{re.escape(w)}\b", text))
    return bool(words) and 2 * found >= len(words)


def check_flow(catalog: Catalog, flow_id: str, limit: int = MAX_MAIN_PATHS) -> FlowReach:
    """Interactions to the first draft, dead questions and typed answers left out, for a flow."""
    flow = catalog.flows[flow_id]
    phrases = catalog.phrases[catalog.default_lang][flow_id]
    walker = _Walker(flow)
    dead: dict[str, list[FlowPath]] = {}
    left_out: dict[str, list[FlowPath]] = {}
    checked = 0
    for path in every_path(flow, limit):
        checked += 1
        answers = path.answers()
        base = draft_of(flow, phrases, answers)
        own = path.refined if path.refinement else path.main
        start = flow.refinements[path.refinement].start if path.refinement else flow.start
        before = {a.slot: a.value for a in path.main} if path.refinement else {}
        for answer in own:
            state = flow.states[answer.state]
            if state.ask == "text" and answer.value and not _appears(answer.value, base[0]):
                left_out.setdefault(state.name, []).append(path)
            if not any(
                draft_of(flow, phrases, changed) != base
                for other in walker.alternatives(state, answer.value)
                if (changed := walker.changed(start, before, own, answer.slot, other)) is not None
            ):
                dead.setdefault(state.name, []).append(path)
    problems = [
        Problem(
            flow.path,
            flow.states[name].line,
            f"dead question '{name}': another answer changes neither the message nor the "
            f"advice on {len(paths)} path(s), e.g. {paths[0].describe()}",
        )
        for name, paths in dead.items()
    ]
    problems += [
        Problem(
            flow.path,
            flow.states[name].line,
            f"typed answer '{flow.states[name].slot}' does not appear in the message on "
            f"{len(paths)} path(s), e.g. {paths[0].describe()}",
        )
        for name, paths in left_out.items()
    ]
    return FlowReach(
        flow_id,
        interactions(flow, menu_taps(catalog)),
        checked,
        tuple(sorted(problems)),
        tuple(sorted(dead)),
    )


def check_catalog(catalog: Catalog) -> list[FlowReach]:
    """`check_flow` for every flow, in menu order."""
    return [check_flow(catalog, flow.id) for flow in catalog.ordered_flows()]


def report_lines(reaches: list[FlowReach]) -> list[str]:
    """One line per situation for `doorajar check`."""
    lines = []
    for reach in reaches:
        low, middle, high = reach.figures()
        lines.append(
            f"  {reach.flow}: interactions to first draft {low}/{middle:g}/{high} "
            f"(min/median/max), dead questions {len(reach.dead)}, "
            f"{reach.paths_checked} paths checked"
        )
    return lines
