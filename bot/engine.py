"""The engine: `handle(conversation, event) -> Outcome`, pure and synchronous.

No I/O and no chat-service types: front ends turn updates into events and replies into
messages, the store keeps conversations. Each flow has one `transitions.Machine`, built at load
time, and it alone says where a trigger leads: each step takes the stored state name, looks up
the machine's transitions for that trigger from that state and follows the first whose
conditions hold, as firing the trigger would. Nothing per user lives in memory between updates.

Draft first, refine after: the main path (from the flow's `start`) asks what the first draft
needs; the draft shows the flow's refinements as buttons. A refinement asks from its `start`
until the end state and shows the revised draft. While it asks, its answers are kept apart
(under `PENDING` + slot) so that Back from its first question returns to the draft unchanged;
reaching the end state commits them. The history holds the main path, the end state, then the
questions of the refinement under way (at most one), so "in a refinement" is "the history holds
an end state". Compose, advice, branches and button conditions see `draft_answers`: the flow's
defaults, overlaid by the answers still in force (those on the current main route and on the
routes of the refinements offered), so an answer left behind by a changed route changes nothing.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, replace

from bot import stats
from bot.compose import compose_result, wording_count
from bot.content.catalog import (
    KEEP,
    PLACEHOLDER_RE,
    SKIP,
    Catalog,
    CommonPhrases,
    Flow,
    FlowPhrases,
    Refinement,
    State,
)
from bot.conversation import Conversation
from bot.drafts import check_result
from bot.events import (
    Another,
    Back,
    Choose,
    Event,
    FollowOn,
    OpenGroup,
    Press,
    Refine,
    Remind,
    RemindAt,
    ReminderAction,
    Restart,
    ShowDraft,
    Start,
    Text,
    decode,
    encode,
)
from bot.reminders import Reminder, ReminderRequest, date_in_words
from bot.replies import (
    Button,
    MenuReply,
    Notice,
    QuestionReply,
    ReminderReply,
    Reply,
    ResultReply,
)

# Joiners that shape emoji and some scripts; every other invisible format character goes,
# since bidirectional overrides can make a name display as something else.
_KEPT_FORMAT = {"\u200c", "\u200d"}
_SPACES = re.compile(r"\s+")
LABEL_VALUE_LIMIT = 32
PENDING = "~"
"""Prefix of an answer given inside a refinement not yet finished (slot ids never start so)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """The conversation after an event, what to show, and whether anything changed."""

    conversation: Conversation
    replies: tuple[Reply, ...]
    changed: bool = True
    reminder: ReminderRequest | None = None
    """A reminder to store (the chat service gives it a due time and confirms it)."""
    counts: tuple[str, ...] = ()
    """What happened, as stats counter names (`bot.stats`): `situation/counter`, e.g.
    `decline_offer/started`; the service hands them to the store's save."""

    # Built directly: `dataclasses.replace` costs several microseconds, and every step makes
    # one or both of these.

    def saved_as(self, saved: Conversation) -> Outcome:
        """This outcome with the conversation as the store saved it."""
        return Outcome(saved, self.replies, self.changed, self.reminder, self.counts)

    def counted(self, counts: tuple[str, ...]) -> Outcome:
        """This outcome with its stats counters."""
        return Outcome(self.conversation, self.replies, self.changed, self.reminder, counts)


def clean_text(text: str) -> str:
    """User text made safe to store and echo: no control characters, spaces folded."""
    kept = (
        ch
        for ch in text
        if unicodedata.category(ch) not in ("Cc", "Cf") or ch in _KEPT_FORMAT or ch in "\t\n\r"
    )
    return _SPACES.sub(" ", "".join(kept)).strip()


def fill_common(template: str, **values: str | int) -> str:
    """Put values into the bot's own strings ({value}, {max}, ...), never interpreting them."""
    return re.sub(r"\{(\w+)\}", lambda m: str(values.get(m.group(1), m.group(0))), template)


def _short(value: str) -> str:
    return value if len(value) <= LABEL_VALUE_LIMIT else value[: LABEL_VALUE_LIMIT - 1] + "…"


def fire(flow: Flow, state: State, trigger: str, answers: Mapping[str, str]) -> str:
    """The state `trigger` leads to from `state`, read from the flow's machine.

    This is what `machine.events[trigger].trigger(model, answers)` does for a model in
    `state`: the first transition whose conditions all hold wins, and none leaves the
    state as it is. The machine has no callbacks (the loader adds none), so following
    its table directly is the same, and skips the ~9 us of event data, callback and
    model bookkeeping a fired trigger costs (`tests/core/test_engine.py` checks they agree).
    """
    for transition in flow.machine.events[trigger].transitions.get(state.name, ()):
        if all(cond.func(answers) == cond.target for cond in transition.conditions):
            return str(transition.dest)
    return state.name


def trigger_for(state: State, value: str) -> str | None:
    """The machine trigger an answer stands for, or None when the state cannot take it."""
    if state.ask == "choice":
        return value if value in state.options else None
    if value:
        return "text"
    return SKIP if state.optional else None


def follow(
    flow: Flow,
    start: str,
    answers: Mapping[str, str],
    view: dict[str, str],
    *,
    use_defaults: bool = True,
) -> tuple[tuple[str, ...], str]:
    """Pass through answered questions from `start`, putting each answer in force into `view`.

    With `use_defaults`, an unanswered question with a default goes on with the default.
    Returns the questions passed and where it stopped: an end state, or the first question
    that has no answer it can take.
    """
    passed: list[str] = []
    name = start
    for _ in range(len(flow.states)):
        state = flow.states[name]
        if state.end:
            break
        value = answers.get(state.slot)
        if value is None and use_defaults:
            value = flow.defaults.get(state.slot)
        trigger = None if value is None else trigger_for(state, value)
        if value is None or trigger is None:
            break
        view[state.slot] = value
        passed.append(name)
        target = fire(flow, state, trigger, view)
        if target == name:
            break
        name = target
    return tuple(passed), name


def _offered(flow: Flow, refinement: Refinement, view: Mapping[str, str], route: set[str]) -> bool:
    # A refinement that starts at a main-path question (such as the channel) is offered only
    # when that question was on the way to this draft.
    if refinement.start in flow.main_states and refinement.start not in route:
        return False
    return refinement.when.holds(view)


def _draft(flow: Flow, answers: Mapping[str, str]) -> tuple[dict[str, str], list[Refinement]]:
    view = dict(flow.defaults)
    passed, _ = follow(flow, flow.start, answers, view)
    route = set(passed)
    base = dict(view)
    offered = [r for r in flow.refinements.values() if _offered(flow, r, base, route)]
    # A refinement's answers may offer or withdraw another; settle (bounded, as conditions
    # could in principle flip each other for ever).
    for _ in range(len(flow.refinements) + 1):
        view = dict(base)
        for refinement in offered:
            # One that starts on the main path walks the main route again: nothing new.
            if refinement.start not in flow.main_states:
                follow(flow, refinement.start, answers, view)
        settled = [r for r in flow.refinements.values() if _offered(flow, r, view, route)]
        if settled == offered:
            break
        offered = settled
    return view, offered


def draft_answers(flow: Flow, answers: Mapping[str, str]) -> dict[str, str]:
    """What compose, advice and conditions see for a draft: the flow's defaults, overlaid by the
    answers in force (on the main route and on the routes of the refinements offered)."""
    return _draft(flow, answers)[0]


def offered_refinements(flow: Flow, answers: Mapping[str, str]) -> list[Refinement]:
    """The refinements the draft for these answers shows as buttons, in the flow's order."""
    return _draft(flow, answers)[1]


def _end_index(flow: Flow, history: tuple[str, ...]) -> int:
    """Where the first draft stands in the history (its length when not reached yet): the
    main path before it, the refinement under way after it."""
    for index, name in enumerate(history):
        state = flow.states.get(name)
        if state is not None and state.end:
            return index
    return len(history)


def committed(answers: Mapping[str, str]) -> dict[str, str]:
    """The answers without those of a refinement under way."""
    return {k: v for k, v in answers.items() if not k.startswith(PENDING)}


def pending(answers: Mapping[str, str]) -> dict[str, str]:
    """The answers given in the refinement under way, by slot."""
    return {k[len(PENDING) :]: v for k, v in answers.items() if k.startswith(PENDING)}


class Engine:
    """Decides what happens next; holds only the validated catalog.

    `check_drafts`: run the draft checks (`bot.drafts`) on each result composed and carry what
    they find on `ResultReply.draft_problems`. `doorajar check`, stories and tests read them;
    the chat service, which only sends results, serves people with `without_draft_checks()`.
    """

    def __init__(self, catalog: Catalog, *, check_drafts: bool = True) -> None:
        self.catalog = catalog
        self.check_drafts = check_drafts

    def without_draft_checks(self) -> Engine:
        """This engine, not running the draft checks (nothing on the live path reads them)."""
        return Engine(self.catalog, check_drafts=False) if self.check_drafts else self

    # -- look-ups -------------------------------------------------------------------------

    def _common(self, conv: Conversation) -> CommonPhrases:
        return self.catalog.common.get(conv.lang) or self.catalog.common[self.catalog.default_lang]

    def _phrases(self, conv: Conversation) -> FlowPhrases:
        by_lang = (
            self.catalog.phrases.get(conv.lang) or self.catalog.phrases[self.catalog.default_lang]
        )
        return by_lang[conv.flow]

    def _flow(self, conv: Conversation) -> Flow | None:
        return self.catalog.flows.get(conv.flow) if conv.flow else None

    # -- entry point ------------------------------------------------------------------------

    def handle(self, conv: Conversation, event: Event) -> Outcome:
        """Apply one event to a conversation; `Outcome.counts` says what happened, for stats."""
        outcome = self._handle(conv, event)
        counts = self._counts(conv, event, outcome)
        return outcome.counted(counts) if counts else outcome

    def stopped_at(self, conv: Conversation) -> str | None:
        """The question a conversation stands at (None at the menu or a draft): where a
        person who leaves now stopped."""
        flow = self._flow(conv)
        if flow is None or conv.state not in flow.states or flow.states[conv.state].end:
            return None
        return conv.state

    def _counts(self, before: Conversation, event: Event, outcome: Outcome) -> tuple[str, ...]:
        """Stats counter names for what `event` did (see `bot.stats` for each name)."""
        if not outcome.changed:
            return ()
        after = outcome.conversation
        counts: list[str] = []
        if outcome.reminder is not None and before.flow:
            counts.append(stats.count(before.flow, stats.REMINDER_SET))
        stopped = self.stopped_at(before)
        if stopped is not None and after.flow != before.flow:
            counts.append(stats.count(before.flow, stats.stopped(stopped)))
        flow = self._flow(after)
        if flow is None or after.state not in flow.states:
            return tuple(counts)
        state = flow.states[after.state]
        if (
            isinstance(event, Start | Restart | Text)
            and not after.history
            and after.state == flow.start
            and not after.answers
        ) or (isinstance(event, FollowOn) and after.flow != before.flow):
            counts.append(stats.count(flow.id, stats.STARTED))
        elif state.end and before.flow == after.flow and before.state != after.state:
            before_state = flow.states.get(before.state)
            if _end_index(flow, before.history) == len(before.history) and not (
                before_state is not None and before_state.end
            ):
                counts.append(stats.count(flow.id, stats.FIRST_DRAFT))
        elif isinstance(event, Another) and state.end:
            counts.append(stats.count(flow.id, stats.ANOTHER_WORDING))
        elif isinstance(event, Refine | Text) and before.state != after.state:
            before_state = flow.states.get(before.state)
            if before_state is not None and before_state.end:
                opened = [r.id for r in flow.refinements.values() if r.start == after.state]
                if isinstance(event, Refine) and event.refinement in flow.refinements:
                    opened = [event.refinement]
                counts += [stats.count(flow.id, stats.refinement(r)) for r in opened[:1]]
        return tuple(counts)

    def _handle(self, conv: Conversation, event: Event) -> Outcome:
        """Apply one event to a conversation.

        A tapped button (`Press`) counts only when what the engine would show now offers its
        data; any other (forged, or from an older message) changes nothing and shows where the
        conversation stands.
        """
        if isinstance(event, Press):
            tapped = decode(event.data) if self.offers(conv, event.data) else None
            if tapped is None:
                return self._refused(conv)
            event = tapped
        match event:
            case FollowOn(target, carried):
                return self._follow_on(conv, target, dict(carried))
            case ShowDraft(shown, answers, wording):
                return self._show_draft(conv, shown, dict(answers), wording)
        flow = self._flow(conv)
        if flow is None or conv.state not in flow.states:
            return self._at_menu(conv, event)
        state = flow.states[conv.state]
        match event:
            case Start(None):
                return self._menu(self._fresh(conv))
            case Start(flow_id) if flow_id is not None:
                return self._start(conv, flow_id)
            case OpenGroup(group):
                return self._open_group(self._fresh(conv), group)
            case Restart():
                return self._start(conv, flow.id)
            case Back():
                return self._back(conv, flow)
            case Choose(state_name, option):
                return self._choose(conv, flow, state, state_name, option)
            case Text(text):
                return self._text(conv, flow, state, text)
            case Another() if state.end:
                return self._result(replace(conv, wording=conv.wording + 1), changed=True)
            case Refine(refinement) if state.end:
                return self._refine(conv, flow, refinement)
            case Remind() if state.end and flow.reminders is not None:
                return Outcome(conv, (self._remind_choices(conv, flow),), changed=False)
            case RemindAt(choice) if state.end and flow.reminders is not None:
                return self._remind_at(conv, flow, choice)
        return self._stale(conv)

    def offers(self, conv: Conversation, data: str) -> bool:
        """Whether a button of what `current` would show carries `data`.

        Reads what those buttons would be without building the reply (a draft is never
        composed for it): a question's buttons are kept per state, a draft's actions are fixed
        but for the refinements offered.
        """
        flow = self._flow(conv)
        if flow is None or conv.state not in flow.states:
            reply = self._menu_reply(conv)
            return any(button.data == data for row in reply.buttons for button in row)
        state = flow.states[conv.state]
        if state.end:
            if data.startswith("v:"):
                refinement = flow.refinements.get(data[2:])
                return refinement is not None and refinement in offered_refinements(
                    flow, committed(conv.answers)
                )
            if flow.reminders is not None and (
                data == encode(Remind()) or data.startswith(encode(RemindAt("")))
            ):
                return True  # the reminder's choices are checked against the flow's own
            return data in self._result_actions(state.name)
        if data in self._question_data(conv.lang, flow.id, state.name):
            return True
        if state.ask != "text" or data != encode(Choose(state.name, KEEP)):
            return False
        previous = conv.answers.get(PENDING + state.slot, conv.answers.get(state.slot))
        if previous is None and state.remember:
            previous = conv.remembered.get(state.slot) or None
        return bool(previous) and previous not in state.options

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - one engine per process, bounded by content
    def _question_data(self, lang: str, flow_id: str, state_name: str) -> frozenset[str]:
        question = self._plain_question(lang, flow_id, state_name)
        return frozenset(button.data for row in question.buttons for button in row)

    @staticmethod
    @functools.lru_cache(maxsize=4096)
    def _result_actions(state_name: str) -> frozenset[str]:
        return frozenset(
            encode(event) for event in (Another(), Back(state_name), Restart(state_name), Start())
        )

    def _refused(self, conv: Conversation) -> Outcome:
        """A button that is not one of the current question's: change nothing, show where
        the conversation stands."""
        flow = self._flow(conv)
        if flow is None or conv.state not in flow.states:
            notice = Notice(self._common(conv)["stale_button"])
            return Outcome(conv, (notice, self._menu_reply(conv)), changed=False)
        return self._stale(conv)

    def current(self, conv: Conversation) -> tuple[Reply, ...]:
        """What to show for where the conversation stands, changing nothing."""
        flow = self._flow(conv)
        if flow is None or conv.state not in flow.states:
            return (self._menu_reply(conv),)
        return (self._question(conv, flow),)

    # -- menu -------------------------------------------------------------------------------

    def _fresh(self, conv: Conversation) -> Conversation:
        return Conversation(
            chat_id=conv.chat_id,
            remembered=conv.remembered,
            lang=conv.lang,
            version=conv.version,
            updated_at=conv.updated_at,
        )

    def _at_menu(self, conv: Conversation, event: Event) -> Outcome:
        match event:
            case Start(flow_id) if flow_id is not None:
                return self._start(conv, flow_id)
            case OpenGroup(group):
                return self._open_group(conv, group)
            case Back() if conv.group:
                return self._menu(replace(conv, group=""))
            case Start(None) | Restart() | Back():
                return self._menu(self._fresh(conv))
            case Text(text):
                picked = self._menu_pick(conv, clean_text(text).casefold())
                if picked is not None:
                    return self._at_menu(conv, picked)
        common = self._common(conv)
        reply = self._menu_reply(conv)
        return Outcome(conv, (Notice(common["not_in_flow"]), reply), changed=False)

    def _menu_pick(self, conv: Conversation, typed: str) -> Event | None:
        """A situation or group named by its id or label, for people who type."""
        common = self._common(conv)
        by_lang = (
            self.catalog.phrases.get(conv.lang) or self.catalog.phrases[self.catalog.default_lang]
        )
        for flow in self.catalog.ordered_flows():
            if typed in (flow.id, by_lang[flow.id].title.casefold()):
                return Start(flow.id)
        for group in self.catalog.groups():
            if typed in (group, common.groups.get(group, group).casefold()):
                return OpenGroup(group)
        return None

    def _menu(self, conv: Conversation) -> Outcome:
        return Outcome(conv, (self._menu_reply(conv),))

    def _menu_reply(self, conv: Conversation) -> MenuReply:
        return self._menu_for(conv.lang, conv.group)

    @functools.lru_cache(maxsize=1024)  # noqa: B019 - one engine per process, bounded by content
    def _menu_for(self, lang: str, group: str) -> MenuReply:
        """The menu (or a group's), built once per language and group."""
        conv = Conversation(chat_id="", lang=lang, group=group)
        common = self._common(conv)
        groups = self.catalog.groups()
        by_lang = (
            self.catalog.phrases.get(conv.lang) or self.catalog.phrases[self.catalog.default_lang]
        )
        if conv.group or len(groups) == 1:
            group = conv.group or groups[0]
            rows = [
                (Button(by_lang[f.id].title, encode(Start(f.id))),)
                for f in self.catalog.ordered_flows(group)
            ]
            if len(groups) > 1:
                rows.append((Button(common["back"], encode(Back())),))
            text = fill_common(common["menu_group_prompt"], group=common.groups.get(group, group))
            return MenuReply(text, tuple(rows))
        rows = [(Button(common.groups.get(g, g), encode(OpenGroup(g))),) for g in groups]
        return MenuReply(common["menu_prompt"], tuple(rows))

    def _open_group(self, conv: Conversation, group: str) -> Outcome:
        if group not in self.catalog.groups():
            common = self._common(conv)
            return Outcome(conv, (Notice(common["stale_button"]), self._menu_reply(conv)), False)
        return self._menu(replace(conv, group=group))

    def _start(self, conv: Conversation, flow_id: str) -> Outcome:
        flow = self.catalog.flows.get(flow_id)
        base = self._fresh(conv)
        if flow is None:
            common = self._common(conv)
            return Outcome(base, (Notice(common["unknown_flow"]), self._menu_reply(base)))
        started = replace(base, flow=flow.id, state=flow.start, group=flow.group)
        return Outcome(started, (self._question(started, flow),))

    # -- questions --------------------------------------------------------------------------

    def _question(self, conv: Conversation, flow: Flow, problem: str | None = None) -> Reply:
        state = flow.states[conv.state]
        if state.end:
            return self._result_reply(conv, flow)
        base = self._plain_question(conv.lang, flow.id, state.name)
        previous = conv.answers.get(PENDING + state.slot, conv.answers.get(state.slot))
        if previous is None and state.remember:
            previous = conv.remembered.get(state.slot) or None
        if not previous:
            return base if problem is None else replace(base, problem=problem)
        common = self._common(conv)
        question = self._phrases(conv).questions[state.name]
        rows = list(base.buttons)
        if previous in state.options:
            index = state.options.index(previous)
            (button,) = rows[index]
            rows[index] = (Button(f"✓ {button.label}", button.data),)
        elif state.ask == "text":
            keep = fill_common(common["keep"], value=_short(previous))
            rows.insert(len(state.options), (Button(keep, encode(Choose(state.name, KEEP))),))
        return replace(
            base,
            buttons=tuple(rows),
            previous=question.options.get(previous, previous),
            problem=problem,
        )

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - one engine per process, bounded by content
    def _plain_question(self, lang: str, flow_id: str, state_name: str) -> QuestionReply:
        """A question as asked the first time: built once per language and state."""
        flow = self.catalog.flows[flow_id]
        state = flow.states[state_name]
        conv = Conversation(chat_id="", flow=flow_id, lang=lang)
        common = self._common(conv)
        question = self._phrases(conv).questions[state.name]
        rows: list[tuple[Button, ...]] = [
            (Button(question.options[option], encode(Choose(state.name, option))),)
            for option in state.options
        ]
        if state.optional:
            label = question.skip or common["skip"]
            rows.append((Button(label, encode(Choose(state.name, SKIP))),))
        rows.append(
            (
                Button(common["back"], encode(Back(state.name))),
                Button(common["restart"], encode(Restart(state.name))),
            )
        )
        text = question.text if not question.hint else f"{question.text}\n\n{question.hint}"
        return QuestionReply(
            flow=flow.id,
            state=state.name,
            text=text,
            buttons=tuple(rows),
            accepts_text=state.ask == "text",
        )

    def _stale(self, conv: Conversation) -> Outcome:
        """An event the current state does not offer: say so and ask again, change nothing."""
        flow = self._flow(conv)
        common = self._common(conv)
        assert flow is not None
        return Outcome(
            conv, (Notice(common["stale_button"]), self._question(conv, flow)), changed=False
        )

    def _choose(
        self, conv: Conversation, flow: Flow, state: State, state_name: str, option: str
    ) -> Outcome:
        if state_name != state.name or state.end:
            return self._stale(conv)
        if option == SKIP and state.optional:
            return self._answer(conv, flow, state, "", SKIP)
        if option == KEEP and state.ask == "text":
            previous = conv.answers.get(PENDING + state.slot, conv.answers.get(state.slot)) or (
                conv.remembered.get(state.slot, "") if state.remember else ""
            )
            if previous:
                return self._answer(conv, flow, state, previous, "text")
        if option in state.options:
            return self._answer(conv, flow, state, option, option)
        return self._stale(conv)

    def _text(self, conv: Conversation, flow: Flow, state: State, raw: str) -> Outcome:
        common = self._common(conv)
        text = clean_text(raw)
        if state.end:
            # A refinement typed by its label or id, for people who type (the console).
            labels = self._phrases(conv).refinements
            for refinement in flow.refinements.values():
                named = (refinement.id, labels.get(refinement.id, refinement.id).casefold())
                if text.casefold() in named:
                    return self._refine(conv, flow, refinement.id)
            return Outcome(
                conv, (Notice(common["tap_a_button"]), self._result_reply(conv, flow)), False
            )
        if state.ask == "choice":
            question = self._phrases(conv).questions[state.name]
            for option, label in question.options.items():
                if text.casefold() in (label.casefold(), option.casefold()):
                    return self._answer(conv, flow, state, option, option)
            # Typed text is not a stale button: say what to do, then ask the question again.
            return Outcome(
                conv, (Notice(common["tap_a_button"]), self._question(conv, flow)), False
            )
        problem = self._text_problem(conv, state, text)
        if problem:
            return Outcome(conv, (self._question(conv, flow, problem),), changed=False)
        return self._answer(conv, flow, state, text, "text")

    def _text_problem(self, conv: Conversation, state: State, text: str) -> str | None:
        common = self._common(conv)
        if not text:
            return common["required"]
        if len(text) < state.min_length:
            return fill_common(common["too_short"], min=state.min_length)
        if len(text) > state.max_length:
            return fill_common(common["too_long"], max=state.max_length, length=len(text))
        if state.pattern and not re.fullmatch(state.pattern, text):
            invalid = self._phrases(conv).questions[state.name].invalid
            return invalid or common["required"]
        return None

    def _answer(
        self, conv: Conversation, flow: Flow, state: State, value: str, trigger: str
    ) -> Outcome:
        remembered = conv.remembered
        if state.remember and value:
            remembered = {**remembered, state.slot: value}
        history = (*conv.history, state.name)
        if _end_index(flow, conv.history) < len(conv.history):
            return self._refine_answer(conv, flow, state, value, trigger, history, remembered)
        answers = {**conv.answers, state.slot: value}
        target = fire(flow, state, trigger, {**flow.defaults, **answers})
        moved = replace(conv, state=target, answers=answers, history=history, remembered=remembered)
        return Outcome(moved, (self._question(moved, flow),))

    def _refine_answer(
        self,
        conv: Conversation,
        flow: Flow,
        state: State,
        value: str,
        trigger: str,
        history: tuple[str, ...],
        remembered: Mapping[str, str],
    ) -> Outcome:
        """An answer inside a refinement: kept apart until the end state commits it. Questions
        already answered are passed through, so a refinement may start on the main path."""
        answers = {**conv.answers, PENDING + state.slot: value}
        given = {**committed(answers), **pending(answers)}
        view = {**flow.defaults, **given}
        target = fire(flow, state, trigger, view)
        _, target = follow(flow, target, given, view, use_defaults=False)
        moved = replace(conv, answers=answers, history=history, remembered=remembered)
        if not flow.states[target].end:
            moved = replace(moved, state=target)
            return Outcome(moved, (self._question(moved, flow),))
        # The revised draft: commit, and rebuild the main path for Back (the channel, say,
        # may have changed the route); the refinement's own questions stay after the end.
        answers = {**committed(answers), **pending(answers)}
        end_at = _end_index(flow, history)
        main, stop = follow(flow, flow.start, answers, {**flow.defaults}, use_defaults=False)
        if not flow.states[stop].end:
            main = history[:end_at]
        revised = replace(
            moved,
            state=target,
            answers=answers,
            history=(*main, *history[end_at:]),
        )
        return Outcome(revised, (self._result_reply(revised, flow),))

    def _refine(self, conv: Conversation, flow: Flow, refinement_id: str) -> Outcome:
        refinement = flow.refinements.get(refinement_id)
        answers = committed(conv.answers)
        if refinement is None or refinement not in offered_refinements(flow, answers):
            return self._stale(conv)
        main = conv.history[: _end_index(flow, conv.history)]
        moved = replace(conv, state=refinement.start, history=(*main, conv.state), answers=answers)
        return Outcome(moved, (self._question(moved, flow),))

    def _back(self, conv: Conversation, flow: Flow) -> Outcome:
        if not conv.history:
            return self._menu(replace(self._fresh(conv), group=flow.group))
        previous = conv.history[-1]
        answers = dict(conv.answers)
        current = flow.states[conv.state]
        if _end_index(flow, conv.history) < len(conv.history):
            if not current.end:
                answers.pop(PENDING + current.slot, None)
            if previous in flow.states and flow.states[previous].end:
                answers = committed(answers)  # the refinement is abandoned: the draft as it was
        elif not current.end:
            answers.pop(current.slot, None)
        moved = replace(conv, state=previous, history=conv.history[:-1], answers=answers)
        return Outcome(moved, (self._question(moved, flow),))

    # -- result -----------------------------------------------------------------------------

    def _result(self, conv: Conversation, changed: bool) -> Outcome:
        flow = self._flow(conv)
        assert flow is not None
        return Outcome(conv, (self._result_reply(conv, flow),), changed)

    def _result_reply(self, conv: Conversation, flow: Flow) -> ResultReply:
        common = self._common(conv)
        phrases = self._phrases(conv)
        answers, offered = _draft(flow, committed(conv.answers))
        result = compose_result(phrases, answers, conv.wording)
        rows: list[tuple[Button, ...]] = [(Button(common["another"], encode(Another())),)]
        rows += [
            (Button(phrases.refinements.get(r.id, r.id), encode(Refine(r.id))),) for r in offered
        ]
        if flow.reminders is not None and phrases.reminders is not None:
            rows.append((Button(common["remind_me"], encode(Remind())),))
        rows.append(
            (
                Button(common["back"], encode(Back(conv.state))),
                Button(common["restart"], encode(Restart(conv.state))),
                Button(common["menu"], encode(Start())),
            )
        )
        problems: tuple[str, ...] = ()
        if self.check_drafts:
            problems = tuple(
                f"{flow.id}/{problem}"
                for problem in check_result(
                    result,
                    answers,
                    common.decision_words,
                    flow.text_slots,
                    written=phrases.typed,
                    opt_in=flow.opt_in,
                )
            )
        return ResultReply(
            flow.id,
            phrases.title,
            result,
            tuple(rows),
            conv.wording,
            problems,
            wording_count(phrases, answers),
        )

    # -- reminders ----------------------------------------------------------------------------

    def _remind_choices(self, conv: Conversation, flow: Flow) -> ReminderReply:
        words = self._phrases(conv).reminders
        assert flow.reminders is not None and words is not None
        rows = tuple(
            (Button(words.choices.get(choice, choice), encode(RemindAt(choice))),)
            for choice in flow.reminders.choices
        )
        return ReminderReply(self._common(conv)["remind_prompt"], rows)

    def _remind_at(self, conv: Conversation, flow: Flow, choice: str) -> Outcome:
        plan = flow.reminders
        assert plan is not None
        if choice not in plan.choices:
            return self._stale(conv)
        request = ReminderRequest(
            flow.id, choice, plan.choices[choice], committed(conv.answers), conv.wording
        )
        return Outcome(conv, (), changed=False, reminder=request)

    def _follow_on(self, conv: Conversation, flow_id: str, carried: dict[str, str]) -> Outcome:
        """Open `flow_id` with answers carried from a reminder: each question they fill shows
        the answer and a Keep button, so one tap reuses it."""
        outcome = self._start(conv, flow_id)
        flow = self.catalog.flows.get(flow_id)
        if flow is None:
            return outcome
        kept = {
            slot: value
            for slot, value in carried.items()
            if (state := flow.slot_state(slot)) is not None and state.ask == "text" and value
        }
        started = replace(outcome.conversation, answers=kept)
        return Outcome(started, (self._question(started, flow),))

    def _show_draft(
        self, conv: Conversation, flow_id: str, answers: dict[str, str], wording: int
    ) -> Outcome:
        """Show a stored draft again, as the conversation it came from; a draft the content
        no longer reaches (the flow changed since) resumes at the first unanswered question."""
        flow = self.catalog.flows.get(flow_id)
        if flow is None:
            return self._start(conv, flow_id)
        passed, stop = follow(flow, flow.start, answers, {**flow.defaults}, use_defaults=False)
        shown = replace(
            self._fresh(conv),
            flow=flow.id,
            group=flow.group,
            state=stop,
            answers=answers,
            history=passed,
            wording=wording if flow.states[stop].end else 0,
        )
        return Outcome(shown, (self._question(shown, flow),))

    def _lang(self, lang: str) -> Conversation:
        return Conversation(chat_id="", lang=lang)

    def notice(self, lang: str, key: str, **values: str | int) -> Notice:
        """A common phrase as a notice, with the bot's own values filled in."""
        return Notice(fill_common(self._common(self._lang(lang))[key], **values))

    def title(self, lang: str, flow_id: str) -> str:
        """A situation's title (its id when the content no longer has it)."""
        by_lang = self.catalog.phrases.get(lang) or self.catalog.phrases[self.catalog.default_lang]
        phrases = by_lang.get(flow_id)
        return phrases.title if phrases is not None else flow_id

    def reminder_confirmation(self, lang: str, request: ReminderRequest, due: float) -> Notice:
        """ "Reminder set (In 3 days): you'll hear from me on Friday 14 March." """
        conv = replace(self._lang(lang), flow=request.flow)
        words = self._phrases(conv).reminders
        label = words.choices.get(request.choice, request.choice) if words else request.choice
        return self.notice(lang, "remind_confirm", choice=label, date=date_in_words(due))

    def reminder_reply(self, reminder: Reminder, now: float) -> ReminderReply | None:
        """The message a due reminder sends: what was planned (in the person's own answers),
        what to do now, and its buttons. None when the content no longer has the situation."""
        flow = self.catalog.flows.get(reminder.flow)
        if flow is None or flow.reminders is None:
            return None
        conv = replace(self._lang(reminder.lang), flow=flow.id)
        words = self._phrases(conv).reminders
        if words is None:
            return None
        common = self._common(conv)
        answers = {k: v for k, v in reminder.answers.items() if v}
        planned = next(
            (
                text
                for text in words.planned
                if all(name in answers for name in PLACEHOLDER_RE.findall(text))
            ),
            words.planned[-1],
        )
        parts = [fill_common(planned, **answers), words.now]
        if reminder.late(now):
            parts.append(common["reminder_late"])
        rows: list[tuple[Button, ...]] = []
        if flow.reminders.next_flow is not None and words.next:
            rows.append((Button(words.next, encode(ReminderAction("next", reminder.id))),))
        for action, key in (
            ("draft", "reminder_draft"),
            ("snooze", "reminder_snooze"),
            ("done", "reminder_done"),
        ):
            rows.append((Button(common[key], encode(ReminderAction(action, reminder.id))),))
        return ReminderReply("\n\n".join(parts), tuple(rows))

    def reminders_list(self, lang: str, reminders: list[Reminder]) -> ReminderReply:
        """/reminders: the pending ones, soonest first, each with a cancel button."""
        common = self._common(self._lang(lang))
        if not reminders:
            return ReminderReply(common["reminders_none"])
        lines = [common["reminders_heading"]]
        rows: list[tuple[Button, ...]] = []
        for reminder in sorted(reminders, key=lambda r: r.due):
            values = {"title": self.title(lang, reminder.flow), "date": date_in_words(reminder.due)}
            lines.append(fill_common(common["reminders_item"], **values))
            label = fill_common(common["reminder_cancel"], **values)
            rows.append((Button(label, encode(ReminderAction("cancel", reminder.id))),))
        return ReminderReply("\n".join(lines), tuple(rows))
