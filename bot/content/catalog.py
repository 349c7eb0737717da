"""The loaded, validated form of flows and phrases: frozen data, no behaviour beyond look-ups."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.content.conditions import ALWAYS, Condition
from bot.reminders import Interval

AskKind = Literal["choice", "text"]
MessageKind = Literal["email", "linkedin", "messenger", "script"]
AdviceKind = Literal["tip", "warning", "legal"]
Holds = Literal["person", "people", "company"]
HOLDS: tuple[Holds, ...] = ("person", "people", "company")
PERSON_FORMS = ("first", "formal")
"""Placeholders a `holds: person` slot adds: {recipient_first}, {recipient_formal}."""
SAYINGS = (
    "thanks",
    "apology",
    "praise",
    "invites_revised_offer",
    "names_wanted_role",
    "names_figure",
    "door_open",
    "offers_call",
    "acknowledges_news",
)
"""What a line of a message can be declared to do (`says:`), so checks can hold the message
to what the situation needs (`must_say:`, `must_not_say:`) and to what the advice claims."""

SKIP = "_skip"
KEEP = "_keep"
PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")
"""A `{slot}` placeholder in a template: the answer named `slot` goes there."""


@dataclass(frozen=True, slots=True)
class Branch:
    """Go to `target` when `condition` holds; the first branch that holds wins."""

    target: str
    condition: Condition = ALWAYS


@dataclass(frozen=True, slots=True)
class TypedSlot:
    """How a typed answer is written into a sentence, as its text state declares.

    `holds` says what it is (a person's name, a list of people, a company's name), which
    compose writes as a careful writer would (`bot.names`);
    `lead` lists the words the question asked the person to finish ("We met"), removed when
    typed again; `joins_with` is the preposition added when the fragment has none; `excludes`
    names the person slot a list of people must leave out (the recipient).
    """

    holds: Holds | None = None
    lead: tuple[str, ...] = ()
    joins_with: str | None = None
    excludes: str | None = None


@dataclass(frozen=True, slots=True)
class State:
    """One question of a flow, or its end."""

    name: str
    line: int
    ask: AskKind | None = None
    slot: str = ""
    options: tuple[str, ...] = ()
    next: tuple[Branch, ...] = ()
    end: bool = False
    optional: bool = False
    remember: bool = False
    min_length: int = 1
    max_length: int = 100
    pattern: str | None = None
    example: str | None = None
    """A realistic typed answer that passes the rules, used by the every-path walk."""
    opt_in: Condition | None = None
    """This typed answer may appear in a message only when the condition holds."""
    typed: TypedSlot | None = None


@dataclass(frozen=True, slots=True)
class Refinement:
    """A button under the draft: it asks from `start` until the end state, then shows the
    revised draft. Offered while `when` holds (on the answers merged over the defaults)."""

    id: str
    start: str
    line: int
    when: Condition = ALWAYS


@dataclass(frozen=True, slots=True)
class ReminderPlan:
    """A flow's `reminders:` block: when the person may be reminded (the first choice is the
    default), which situation comes next, and which answers it can reuse."""

    choices: Mapping[str, Interval]
    line: int
    next_flow: str | None = None
    reuse: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Flow:
    """A situation: its questions as states, and where its YAML came from.

    `defaults` (choice slot -> option) stand in for answers not asked yet: the first draft
    uses them until a refinement asks. `main_states` are the states reachable from `start`;
    the others are asked only from a refinement.
    """

    id: str
    group: str
    start: str
    states: Mapping[str, State]
    path: str
    order: int = 100
    defaults: Mapping[str, str] = field(default_factory=dict)
    refinements: Mapping[str, Refinement] = field(default_factory=dict)
    main_states: frozenset[str] = frozenset()
    reminders: ReminderPlan | None = None
    machine: Any = field(default=None, compare=False, repr=False)

    @property
    def text_slots(self) -> frozenset[str]:
        """The answers that are typed rather than chosen."""
        return frozenset(s.slot for s in self.states.values() if s.ask == "text")

    @property
    def opt_in(self) -> Mapping[str, Condition]:
        """Answer -> the condition under which a message may contain it (`opt_in:` states)."""
        return {s.slot: s.opt_in for s in self.states.values() if s.opt_in is not None}

    @property
    def typed_slots(self) -> Mapping[str, TypedSlot]:
        """Typed answers whose state declares how they are written (names, fragments)."""
        return {s.slot: s.typed for s in self.states.values() if s.typed is not None}

    def slot_state(self, slot: str) -> State | None:
        """The state that fills `slot`, if any."""
        for state in self.states.values():
            if state.slot == slot:
                return state
        return None


@dataclass(frozen=True, slots=True)
class Variant:
    """Text to use when `condition` holds; several texts are alternative wordings."""

    texts: tuple[str, ...]
    condition: Condition = ALWAYS
    seed: tuple[int, ...] = ()
    says: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Part:
    """A piece of a message: the first variant that holds and can be filled is used."""

    variants: tuple[Variant, ...]
    join: Literal["paragraph", "line", "space"] = "paragraph"
    condition: Condition = ALWAYS


@dataclass(frozen=True, slots=True)
class SayRule:
    """A message must (or must not) say `say` when `condition` holds."""

    say: str
    condition: Condition = ALWAYS


@dataclass(frozen=True, slots=True)
class MessageTemplate:
    """One message of a result (an email, a short message, a phone script)."""

    kind: MessageKind
    condition: Condition
    parts: tuple[Part, ...]
    subject: Part | None = None
    max_length: int | None = None
    decision: bool = False
    must_say: tuple[SayRule, ...] = ()
    must_not_say: tuple[SayRule, ...] = ()


@dataclass(frozen=True, slots=True)
class Advice:
    """A bullet of advice shown with the result when `condition` holds."""

    text: str
    condition: Condition = ALWAYS
    kind: AdviceKind = "tip"
    seed: tuple[int, ...] = ()
    claims: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Question:
    """The wording of one state's question in one language."""

    text: str
    options: Mapping[str, str]
    skip: str | None = None
    invalid: str | None = None
    hint: str | None = None


@dataclass(frozen=True, slots=True)
class ReminderWords:
    """A flow's reminder wording in one language: the choices' labels, what was planned
    (alternatives, the first whose answers are all there is used), what to do now, and the
    label of the button that opens the next situation."""

    choices: Mapping[str, str]
    planned: tuple[str, ...]
    now: str
    next: str = ""


@dataclass(frozen=True, slots=True)
class FlowPhrases:
    """Everything a flow says in one language."""

    flow_id: str
    path: str
    title: str
    summary: str
    questions: Mapping[str, Question]
    messages: tuple[MessageTemplate, ...]
    advice: tuple[Advice, ...]
    typed: Mapping[str, TypedSlot] = field(default_factory=dict)
    refinements: Mapping[str, str] = field(default_factory=dict)
    """Refinement id -> its button label."""
    reminders: ReminderWords | None = None


@dataclass(frozen=True, slots=True)
class CommonPhrases:
    """The bot's own words in one language: menu, buttons, errors, labels."""

    strings: Mapping[str, str]
    groups: Mapping[str, str]
    decision_words: tuple[str, ...] = ()

    def __getitem__(self, key: str) -> str:
        return self.strings[key]


@dataclass(frozen=True, slots=True)
class Catalog:
    """All flows and phrases, validated together."""

    flows: Mapping[str, Flow]
    phrases: Mapping[str, Mapping[str, FlowPhrases]]
    common: Mapping[str, CommonPhrases]
    default_lang: str = "en"

    def groups(self) -> list[str]:
        """Menu groups that have situations, in the order `_common.yaml` lists their labels."""
        used = {flow.group for flow in self.flows.values()}
        labels = self.common[self.default_lang].groups if self.common else {}
        return [group for group in labels if group in used] + sorted(used - set(labels))

    def seed_coverage(self) -> dict[int, list[str]]:
        """Seed unit -> the flows whose messages or advice carry it (`seed:` tags)."""
        units: dict[int, list[str]] = {}
        for by_flow in self.phrases.values():
            for flow_id, phrases in by_flow.items():
                seeds = [unit for item in phrases.advice for unit in item.seed]
                for message in phrases.messages:
                    parts = [*message.parts, *([message.subject] if message.subject else [])]
                    seeds += [u for part in parts for v in part.variants for u in v.seed]
                for unit in seeds:
                    if flow_id not in units.setdefault(unit, []):
                        units[unit].append(flow_id)
        return units

    def ordered_flows(self, group: str | None = None) -> list[Flow]:
        """Flows sorted by their `order`, then id, optionally within one group."""
        flows = [f for f in self.flows.values() if group is None or f.group == group]
        return sorted(flows, key=lambda f: (f.order, f.id))
