"""Reminders: when one is due, what is kept for it, and how long it waits.

Pure data and arithmetic, no I/O: the engine asks for a reminder (`ReminderRequest` in its
`Outcome`), the chat service turns it into a `Reminder` with a due time and stores it, and the
periodic check (`bot.telegram.reminders`, or the console) claims due ones from the store.

Times are Unix seconds (UTC). Choices are relative ("in 3 days", "in 3 months"), so no time
zone is needed: a reminder set at 15:00 "in 3 days" comes back at 15:00 three days later.
Working days skip Saturday and Sunday.
"""

from __future__ import annotations

import calendar
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

Unit = Literal["days", "working_days", "weeks", "months"]
UNITS: tuple[Unit, ...] = ("days", "working_days", "weeks", "months")

LATE_AFTER_SECONDS = 24 * 3600
"""A reminder sent more than a day after it was due says it is late (the bot was down)."""
LEASE_SECONDS = 300.0
"""A claimed reminder not marked sent within this time is due again: a worker killed while
sending loses nothing (the one it was sending may go out twice)."""
CLAIM_BATCH = 30
"""Reminders claimed per check: about one second of sending at Telegram's broadcast rate, far
less than `LEASE_SECONDS`, so a batch is sent before its lease runs out."""
SNOOZE_DAYS = 1
_INTERVAL_RE = re.compile(
    r"^(\d{1,3}) (day|days|working day|working days|week|weeks|month|months)$"
)


@dataclass(frozen=True, slots=True)
class Interval:
    """A relative time: `amount` of `unit` from now."""

    amount: int
    unit: Unit

    def due_after(self, now: float) -> float:
        """The time `self` after `now` (working days skip weekends; months keep the day of
        the month where it exists, else the month's last day)."""
        start = datetime.fromtimestamp(now, UTC)
        match self.unit:
            case "days":
                moved = start + timedelta(days=self.amount)
            case "weeks":
                moved = start + timedelta(weeks=self.amount)
            case "working_days":
                moved = start
                left = self.amount
                while left > 0:
                    moved += timedelta(days=1)
                    if moved.weekday() < 5:
                        left -= 1
            case "months":
                month_index = start.month - 1 + self.amount
                year, month = start.year + month_index // 12, month_index % 12 + 1
                day = min(start.day, calendar.monthrange(year, month)[1])
                moved = start.replace(year=year, month=month, day=day)
        return moved.timestamp()


def parse_interval(text: object) -> Interval | None:
    """`3 days`, `1 day`, `5 working days`, `2 weeks`, `3 months`; None for anything else."""
    if not isinstance(text, str):
        return None
    found = _INTERVAL_RE.match(" ".join(text.split()).lower())
    if found is None or int(found.group(1)) == 0:
        return None
    unit = found.group(2)
    unit = unit if unit.endswith("s") else unit + "s"
    return Interval(int(found.group(1)), unit.replace(" ", "_"))  # type: ignore[arg-type]


def date_in_words(when: float) -> str:
    """A day as people say it, without a time zone: `Friday 14 March`."""
    day = datetime.fromtimestamp(when, UTC)
    return f"{day:%A} {day.day} {day:%B}"


@dataclass(frozen=True, slots=True)
class ReminderRequest:
    """What the engine asks for when someone picks a reminder time under a draft."""

    flow: str
    choice: str
    after: Interval
    answers: Mapping[str, str]
    """The draft's committed answers: the reminder's wording and the next situation use them."""
    wording: int = 0


@dataclass(frozen=True, slots=True)
class Reminder:
    """A stored reminder. `id` is unique within its chat; `due` is when it should go out.

    `sent_at` is set once it was delivered; it is then kept (for its buttons: next situation,
    earlier draft, snooze) until the user closes it, the retention purge, or /forget.
    """

    chat_id: str
    id: str
    due: float
    flow: str
    choice: str
    answers: Mapping[str, str] = field(default_factory=dict)
    lang: str = "en"
    wording: int = 0
    created_at: float = 0.0
    sent_at: float | None = None

    @property
    def key(self) -> str:
        """The reminder's name across chats: `chat_id:id`."""
        return f"{self.chat_id}:{self.id}"

    def late(self, now: float) -> bool:
        """Whether it goes out more than `LATE_AFTER_SECONDS` after it was due."""
        return now - self.due > LATE_AFTER_SECONDS

    def to_json(self) -> str:
        """Compact JSON for the store."""
        data: dict[str, Any] = {
            "chat_id": self.chat_id,
            "id": self.id,
            "due": self.due,
            "flow": self.flow,
            "choice": self.choice,
            "answers": dict(self.answers),
            "lang": self.lang,
            "wording": self.wording,
            "created_at": self.created_at,
            "sent_at": self.sent_at,
        }
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Reminder:
        """Read what `to_json` wrote (unknown keys from other versions are ignored)."""
        data: dict[str, Any] = json.loads(text)
        known = {k: v for k, v in data.items() if k in _REMINDER_FIELDS}
        return cls(**known)


_REMINDER_FIELDS = frozenset(Reminder.__dataclass_fields__)


def carried_answers(
    reuse: tuple[str, ...], answers: Mapping[str, str]
) -> tuple[tuple[str, str], ...]:
    """The answers a reminder carries into the next situation: those its flow's `reuse:`
    names and the draft had, in `reuse` order."""
    return tuple((slot, answers[slot]) for slot in reuse if answers.get(slot))
