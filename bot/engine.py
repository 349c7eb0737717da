"""The engine: `handle(conversation, event) -> Outcome`, pure and synchronous.

No I/O and no chat-service types: front ends turn updates into events and replies into
messages, the store keeps conversations. Each flow has one `transitions.Machine`, built at load
time, and it alone says where a trigger leads: each step takes the stored state name, looks up
the machine's transitions for that trigger from that state and follows the first whose
conditions hold, as firing the trigger would. Nothing per user lives in memory between updates.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, replace

from bot.compose import compose_result, wording_count
from bot.content.catalog import KEEP, SKIP, Catalog, CommonPhrases, Flow, FlowPhrases, State
from bot.conversation import Conversation
from bot.drafts import check_result
from bot.events import (
    Another,
    Back,
    Choose,
    Event,
    OpenGroup,
    Restart,
    Revise,
    Start,
    Text,
    encode,
)
from bot.replies import Button, MenuReply, Notice, QuestionReply, Reply, ResultReply

# Joiners that shape emoji and some scripts; every other invisible format character goes,
# since bidirectional overrides can make a name display as something else.
_KEPT_FORMAT = {"\u200c", "\u200d"}
_SPACES = re.compile(r"\s+")
LABEL_VALUE_LIMIT = 32
REVISABLE_SLOTS = ("tone", "channel")


@dataclass(frozen=True, slots=True)
class Outcome:
    """The conversation after an event, what to show, and whether anything changed."""

    conversation: Conversation
    replies: tuple[Reply, ...]
    changed: bool = True


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


class Engine:
    """Decides what happens next; holds only the validated catalog."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

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
        """Apply one event to a conversation."""
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
            case Revise(slot) if state.end:
                return self._revise(conv, flow, slot)
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
        previous = conv.answers.get(state.slot)
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
                Button(common["back"], encode(Back())),
                Button(common["restart"], encode(Restart())),
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
            previous = conv.answers.get(state.slot) or (
                conv.remembered.get(state.slot, "") if state.remember else ""
            )
            if previous:
                return self._answer(conv, flow, state, previous, "text")
        if option in state.options:
            return self._answer(conv, flow, state, option, option)
        return self._stale(conv)

    def _text(self, conv: Conversation, flow: Flow, state: State, raw: str) -> Outcome:
        common = self._common(conv)
        if state.end:
            return Outcome(
                conv, (Notice(common["tap_a_button"]), self._result_reply(conv, flow)), False
            )
        text = clean_text(raw)
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

    def _fire(self, flow: Flow, state: State, trigger: str, answers: dict[str, str]) -> str:
        """The state `trigger` leads to from `state`, read from the flow's machine.

        This is what `machine.events[trigger].trigger(model, answers)` does for a model in
        `state`: the first transition whose conditions all hold wins, and none leaves the
        state as it is. The machine has no callbacks (the loader adds none), so following
        its table directly is the same, and skips the ~9 us of event data, callback and
        model bookkeeping a fired trigger costs (`tests/test_engine.py` checks they agree).
        """
        for transition in flow.machine.events[trigger].transitions.get(state.name, ()):
            if all(cond.func(answers) == cond.target for cond in transition.conditions):
                return str(transition.dest)
        return state.name

    def _answer(
        self, conv: Conversation, flow: Flow, state: State, value: str, trigger: str
    ) -> Outcome:
        answers = {**conv.answers, state.slot: value}
        remembered = conv.remembered
        if state.remember and value:
            remembered = {**remembered, state.slot: value}
        target = self._fire(flow, state, trigger, answers)
        history = (*conv.history, state.name)
        # While revising from the result, questions already answered are passed through.
        while conv.revising and not flow.states[target].end:
            nxt = flow.states[target]
            if nxt.slot not in answers:
                break
            value = answers[nxt.slot]
            trig = value if nxt.ask == "choice" else ("text" if value else SKIP)
            if trig not in (*nxt.options, "text", SKIP) or (trig == SKIP and not nxt.optional):
                break
            history = (*history, nxt.name)
            target = self._fire(flow, nxt, trig, answers)
        moved = replace(
            conv,
            state=target,
            answers=answers,
            history=history,
            remembered=remembered,
            revising=conv.revising and not flow.states[target].end,
        )
        return Outcome(moved, (self._question(moved, flow),))

    def _back(self, conv: Conversation, flow: Flow) -> Outcome:
        if not conv.history:
            return self._menu(replace(self._fresh(conv), group=flow.group))
        previous = conv.history[-1]
        answers = dict(conv.answers)
        current = flow.states[conv.state]
        if not current.end:
            answers.pop(current.slot, None)
        moved = replace(
            conv, state=previous, history=conv.history[:-1], answers=answers, revising=False
        )
        return Outcome(moved, (self._question(moved, flow),))

    def _revise(self, conv: Conversation, flow: Flow, slot: str) -> Outcome:
        target = flow.slot_state(slot)
        if target is None or target.name not in conv.history:
            return self._stale(conv)
        index = conv.history.index(target.name)
        moved = replace(conv, state=target.name, history=conv.history[:index], revising=True)
        return Outcome(moved, (self._question(moved, flow),))

    # -- result -----------------------------------------------------------------------------

    def _result(self, conv: Conversation, changed: bool) -> Outcome:
        flow = self._flow(conv)
        assert flow is not None
        return Outcome(conv, (self._result_reply(conv, flow),), changed)

    def _result_reply(self, conv: Conversation, flow: Flow) -> ResultReply:
        common = self._common(conv)
        phrases = self._phrases(conv)
        result = compose_result(phrases, conv.answers, conv.wording)
        rows: list[tuple[Button, ...]] = [(Button(common["another"], encode(Another())),)]
        revisable = []
        for slot in REVISABLE_SLOTS:
            state = flow.slot_state(slot)
            if state is not None and state.name in conv.history:
                revisable.append(Button(common[f"change_{slot}"], encode(Revise(slot))))
        if revisable:
            rows.append(tuple(revisable))
        rows.append(
            (
                Button(common["back"], encode(Back())),
                Button(common["restart"], encode(Restart())),
                Button(common["menu"], encode(Start())),
            )
        )
        problems = tuple(
            f"{flow.id}/{problem}"
            for problem in check_result(
                result,
                conv.answers,
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
            wording_count(phrases, conv.answers),
        )
