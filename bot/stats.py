"""Stats: counters per day and situation, never records of people (`doorajar stats`).

The engine says what an event did as counter names (`Outcome.counts`); the service hands them
to the store's `save`, which adds them in the same write as the conversation, so an update
delivered twice (`DUPLICATE`) counts nothing and counting costs no extra round trip.

A counter name is `situation/counter` (`decline_offer/started`); counters that belong to no
situation have an empty one (`/forget`). What is kept is (day, situation, counter, number):
no chat id, user id, typed text or time finer than a UTC day.

Counters (README "Stats"):

* `started` - a situation begun from its first question (the menu, /start, Restart);
* `first_draft` - the first draft of a run shown (again if the person stepped back from it and
  answered once more);
* `refinement:<id>` - a refinement opened from the draft (`tone`, `channel`, ...);
* `another_wording` - "Another wording" tapped;
* `shared` - a result chosen in inline mode (Telegram's `chosen_inline_result`);
* `reminder_set` - a reminder set (`REMINDER_SET`, counted by the engine when a time is chosen);
* `stopped:<question>` - a person left the situation at that question: went to the menu or
  started another situation from it, or came back to it after `IDLE_DROP_SECONDS` (counted
  when the idle conversation is next touched, once: the touch makes it fresh again);
* `/forget` - /forget used (no situation: forgetting deletes everything else).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

STARTED = "started"
FIRST_DRAFT = "first_draft"
ANOTHER_WORDING = "another_wording"
SHARED = "shared"
REMINDER_SET = "reminder_set"
"""Counted (as `count(flow, REMINDER_SET)`) by the engine when a reminder is set, in its save."""
FORGET = "forget"
REFINEMENT = "refinement:"
STOPPED = "stopped:"
IDLE_DROP_SECONDS = 24 * 3600
"""A conversation left at a question this long counts as a stop there when next touched."""
DAY_SECONDS = 24 * 3600


def count(situation: str, counter: str) -> str:
    """The counter name for `counter` in `situation` ('' for none): `situation/counter`."""
    return f"{situation}/{counter}"


def refinement(refinement_id: str) -> str:
    """The counter for a refinement opened from the draft."""
    return REFINEMENT + refinement_id


def stopped(question: str) -> str:
    """The counter for people who left a situation at `question`."""
    return STOPPED + question


FORGET_COUNT = count("", FORGET)


def enabled(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether stats are kept: on unless `DOORAJAR_STATS` is off (or 0, no, false)."""
    return environ.get("DOORAJAR_STATS", "on").strip().lower() not in ("off", "0", "no", "false")


def day(at: float | None = None) -> str:
    """The UTC day of a time (now by default) as `YYYY-MM-DD`: the finest time stats keep."""
    number = int((time.time() if at is None else at) // DAY_SECONDS)
    if number != _last_day[0]:  # formatted once a day, not on every save
        _last_day[:] = [number, time.strftime("%Y-%m-%d", time.gmtime(number * DAY_SECONDS))]
    return str(_last_day[1])


_last_day: list[int | str] = [-1, ""]


def days_back(days: int, at: float | None = None) -> list[str]:
    """The last `days` UTC days, oldest first, ending today."""
    now = time.time() if at is None else at
    return [day(now - back * DAY_SECONDS) for back in range(days - 1, -1, -1)]


def split(name: str) -> tuple[str, str]:
    """A counter name's situation and counter."""
    situation, _, counter = name.partition("/")
    return situation, counter


@dataclass(frozen=True, slots=True)
class DayCount:
    """One stored counter: how many times `counter` happened in `situation` on `day`."""

    day: str
    situation: str
    counter: str
    n: int


@dataclass
class Funnel:
    """One situation's counters added up over the days asked for."""

    situation: str
    started: int = 0
    first_draft: int = 0
    another_wording: int = 0
    shared: int = 0
    reminder_set: int = 0
    refinements: dict[str, int] = field(default_factory=dict)
    stopped: dict[str, int] = field(default_factory=dict)
    other: dict[str, int] = field(default_factory=dict)

    def add(self, counter: str, n: int) -> None:
        """Add `n` to one counter."""
        plain = {STARTED, FIRST_DRAFT, ANOTHER_WORDING, SHARED, REMINDER_SET}
        if counter in plain:
            setattr(self, counter, getattr(self, counter) + n)
        elif counter.startswith(REFINEMENT):
            key = counter.removeprefix(REFINEMENT)
            self.refinements[key] = self.refinements.get(key, 0) + n
        elif counter.startswith(STOPPED):
            key = counter.removeprefix(STOPPED)
            self.stopped[key] = self.stopped.get(key, 0) + n
        else:
            self.other[counter] = self.other.get(counter, 0) + n


@dataclass
class Summary:
    """Funnels per situation and the counters that belong to none, over some days."""

    days: list[str]
    funnels: dict[str, Funnel]
    forget: int = 0

    def to_json(self) -> str:
        """The summary as JSON (for `doorajar stats --json`)."""
        data = {
            "days": self.days,
            "forget": self.forget,
            "situations": {
                name: {
                    "started": f.started,
                    "first_draft": f.first_draft,
                    "another_wording": f.another_wording,
                    "shared": f.shared,
                    "reminder_set": f.reminder_set,
                    "refinements": f.refinements,
                    "stopped": f.stopped,
                    **({"other": f.other} if f.other else {}),
                }
                for name, f in self.funnels.items()
            },
        }
        return json.dumps(data, indent=2, sort_keys=False)


def summarise(
    rows: Iterable[DayCount],
    days: Sequence[str],
    situation: str | None = None,
    question_order: Mapping[str, Sequence[str]] | None = None,
) -> Summary:
    """Add up stored counters into funnels; questions in `question_order` (per situation)
    when given, so drop-off reads in the order people meet the questions."""
    wanted = set(days)
    summary = Summary(list(days), {})
    for row in rows:
        if row.day not in wanted:
            continue
        if row.situation == "":
            if row.counter == FORGET:
                summary.forget += row.n
            continue
        if situation is not None and row.situation != situation:
            continue
        funnel = summary.funnels.setdefault(row.situation, Funnel(row.situation))
        funnel.add(row.counter, row.n)
    order = question_order or {}
    for name, funnel in summary.funnels.items():
        rank = {q: i for i, q in enumerate(order.get(name, ()))}
        funnel.stopped = dict(
            sorted(funnel.stopped.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0]))
        )
    summary.funnels = dict(sorted(summary.funnels.items()))
    return summary


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:5.1f}%" if whole else "      "


def table(summary: Summary) -> str:
    """The funnels as a terminal table: each step with its share of `started`."""
    lines = [f"doorajar stats, {summary.days[0]} to {summary.days[-1]} (UTC days)"]
    if not summary.funnels:
        lines.append("nothing counted in these days")
    width = 34
    for funnel in summary.funnels.values():
        start = funnel.started
        lines += ["", funnel.situation]
        steps: list[tuple[str, int]] = [
            ("started", funnel.started),
            ("first draft", funnel.first_draft),
            *((f"refinement {k}", v) for k, v in sorted(funnel.refinements.items())),
            ("another wording", funnel.another_wording),
            ("shared", funnel.shared),
            ("reminder set", funnel.reminder_set),
        ]
        for label, n in steps:
            lines.append(f"  {label:<{width}}{n:>8}  {_share(n, start)}")
        if funnel.stopped:
            lines.append("  stopped at (went to the menu, another situation, or idle):")
            for question, n in funnel.stopped.items():
                lines.append(f"    {question:<{width - 2}}{n:>8}  {_share(n, start)}")
    lines += ["", f"/forget used: {summary.forget}"]
    return "\n".join(lines)
