"""What the engine asks a front end to show: plain data, rendered by Telegram or the console."""

from __future__ import annotations

from dataclasses import dataclass

from bot.compose import ComposedResult


@dataclass(frozen=True, slots=True)
class Button:
    """A quick-reply button: its label and the data it sends back."""

    label: str
    data: str


@dataclass(frozen=True, slots=True)
class Notice:
    """A short message to the user (a nudge, an apology, a reason)."""

    text: str


@dataclass(frozen=True, slots=True)
class QuestionReply:
    """A question with its buttons; `accepts_text` when typing an answer is expected."""

    flow: str
    state: str
    text: str
    buttons: tuple[tuple[Button, ...], ...]
    accepts_text: bool
    previous: str | None = None
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class MenuReply:
    """The main menu or one group's situations."""

    text: str
    buttons: tuple[tuple[Button, ...], ...]


@dataclass(frozen=True, slots=True)
class ResultReply:
    """The composed messages, the advice, the notes and the follow-up actions."""

    flow: str
    title: str
    result: ComposedResult
    actions: tuple[tuple[Button, ...], ...]
    wording: int = 0
    draft_problems: tuple[str, ...] = ()
    wordings: int = 1

    @property
    def wording_number(self) -> int:
        """Which of the `wordings` alternatives this is, counting from 1."""
        return self.wording % self.wordings + 1


@dataclass(frozen=True, slots=True)
class ReminderReply:
    """Anything about reminders: the choice of when, a reminder come due (what was planned,
    what to do now, its buttons), or the /reminders list. Its keyboard names reminder ids, so
    front ends never cache it."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()


Reply = Notice | QuestionReply | MenuReply | ResultReply | ReminderReply
