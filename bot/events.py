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


Event = Start | OpenGroup | Choose | Text | Back | Restart | Another | Refine | Press

_SIMPLE: dict[str, Event] = {"b": Back(), "r": Restart(), "m": Start(), "w": Another()}


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
    raise ValueError(f"cannot encode {event!r}")  # pragma: no cover - Text, Press: no button


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
    return None
