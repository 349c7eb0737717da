"""What a user can do, independent of the chat service, and its compact button encoding.

Button data is written by the client, so a tap reaches the engine as `Press(data)`: the engine
accepts it only when the data is among the buttons of what it would show now, and only then
`decode`s it (None for anything not ours). Commands the user types (/back, /restart, /cancel)
are events of their own and are not checked that way: they are explicit.
"""

from __future__ import annotations

from dataclasses import dataclass

CALLBACK_LIMIT = 64
"""Telegram's limit on a button's callback data, in bytes."""


@dataclass(frozen=True, slots=True)
class Start:
    """Open the main menu (flow None) or begin a situation from its first question."""

    flow: str | None = None


@dataclass(frozen=True, slots=True)
class OpenGroup:
    """Show the situations of one menu group."""

    group: str


@dataclass(frozen=True, slots=True)
class Choose:
    """Tap an option of the question asked in `state`."""

    state: str
    option: str


@dataclass(frozen=True, slots=True)
class Text:
    """Type free text."""

    text: str


@dataclass(frozen=True, slots=True)
class Back:
    """Return to the previous question, showing the earlier answer.

    A Back button carries the question it belongs to (`b:<state>`), so an old one is told
    apart from the current one; /back and the menu's Back have none.
    """

    state: str | None = None


@dataclass(frozen=True, slots=True)
class Restart:
    """Begin the current situation again from its first question (`state`: as for Back)."""

    state: str | None = None


@dataclass(frozen=True, slots=True)
class Another:
    """Show another wording of the result."""


@dataclass(frozen=True, slots=True)
class Refine:
    """From the draft, open one of its refinements ("Change tone", "Thank someone by name"):
    its questions are asked, then the revised draft is shown."""

    refinement: str


@dataclass(frozen=True, slots=True)
class Press:
    """A tapped button, by its data as the client sent it (forged data included).

    The engine accepts it only when a button of what it would show now carries this data.
    """

    data: str


@dataclass(frozen=True, slots=True)
class Remind:
    """Under a draft, "Remind me": show the situation's reminder choices."""


@dataclass(frozen=True, slots=True)
class RemindAt:
    """Pick one of the situation's reminder choices (by its id in the flow's `reminders:`)."""

    choice: str


REMINDER_ACTIONS = {"n": "next", "d": "draft", "z": "snooze", "x": "done", "c": "cancel"}
"""Button kinds of a sent reminder (and of /reminders' cancel buttons): code -> action."""


@dataclass(frozen=True, slots=True)
class ReminderAction:
    """A button about a stored reminder: open the next situation, show the earlier draft,
    snooze, done, or cancel (from /reminders). The chat service looks the reminder up."""

    action: str
    reminder_id: str


@dataclass(frozen=True, slots=True)
class ListReminders:
    """/reminders: list the chat's pending reminders, each with a cancel button."""


@dataclass(frozen=True, slots=True)
class FollowOn:
    """Open `flow` with answers carried over from a reminder (never from a button: the chat
    service builds it from the stored reminder)."""

    flow: str
    answers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ShowDraft:
    """Show a stored draft again (from a reminder): its flow, answers and wording."""

    flow: str
    answers: tuple[tuple[str, str], ...] = ()
    wording: int = 0


Event = (
    Start
    | OpenGroup
    | Choose
    | Text
    | Back
    | Restart
    | Another
    | Refine
    | Press
    | Remind
    | RemindAt
    | ReminderAction
    | ListReminders
    | FollowOn
    | ShowDraft
)

_SIMPLE: dict[str, Event] = {
    "b": Back(),
    "r": Restart(),
    "m": Start(),
    "w": Another(),
    "rm": Remind(),
}
_ACTION_CODES = {action: code for code, action in REMINDER_ACTIONS.items()}


def encode(event: Event) -> str:
    """Button data for an event (at most 64 bytes for the ids the loader accepts)."""
    match event:
        case Choose(state, option):
            return f"c:{state}:{option}"
        case Start(None):
            return "m"
        case Start(flow):
            return f"f:{flow}"
        case OpenGroup(group):
            return f"g:{group}"
        case Refine(refinement):
            return f"v:{refinement}"
        case Back(None):
            return "b"
        case Back(state):
            return f"b:{state}"
        case Restart(None):
            return "r"
        case Restart(state):
            return f"r:{state}"
        case Another():
            return "w"
        case Remind():
            return "rm"
        case RemindAt(choice):
            return f"ra:{choice}"
        case ReminderAction(action, reminder_id) if action in _ACTION_CODES:
            return f"r{_ACTION_CODES[action]}:{reminder_id}"
    raise ValueError(f"cannot encode {event!r}")  # pragma: no cover - Text etc. have no button


def data_bytes(event: Event) -> int:
    """How many bytes of button data `event` takes; over `CALLBACK_LIMIT` Telegram refuses it."""
    return len(encode(event).encode())


def decode(data: str) -> Event | None:
    """The event a button's data stands for, or None when it is not one of ours."""
    if len(data.encode()) > CALLBACK_LIMIT:
        return None
    if data in _SIMPLE:
        return _SIMPLE[data]
    kind, _, rest = data.partition(":")
    if not rest:
        return None
    if kind == "c":
        state, _, option = rest.partition(":")
        return Choose(state, option) if state and option else None
    if kind == "b":
        return Back(rest)
    if kind == "r":
        return Restart(rest)
    if kind == "f":
        return Start(rest)
    if kind == "g":
        return OpenGroup(rest)
    if kind == "v":
        return Refine(rest)
    if kind == "ra":
        return RemindAt(rest)
    if len(kind) == 2 and kind[0] == "r" and kind[1] in REMINDER_ACTIONS:
        return ReminderAction(REMINDER_ACTIONS[kind[1]], rest)
    return None
