"""Declarative conditions on a conversation's answers, as written in flows and phrases.

A condition is a mapping from an answer's slot to what it must be, all keys together::

    {reason: pay}                      # the answer is "pay"
    {reason: [pay, benefits]}          # the answer is one of these
    {reason: {not: pay}}               # anything but "pay" (or unanswered)
    {recipient: {filled: true}}        # answered with something non-empty
    {any: [{tone: brief}, {channel: messenger}]}   # at least one holds

No code is ever evaluated: conditions are parsed into small frozen objects at load time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

Answers = Mapping[str, str]


class ConditionError(ValueError):
    """A condition in YAML that cannot be understood."""


@dataclass(frozen=True, slots=True)
class SlotTest:
    """One slot compared with a set of values (or tested for being filled)."""

    slot: str
    values: frozenset[str] = frozenset()
    negate: bool = False
    filled: bool | None = None

    def holds(self, answers: Answers) -> bool:
        value = answers.get(self.slot, "")
        if self.filled is not None:
            return bool(value) is self.filled
        return (value in self.values) is not self.negate


@dataclass(frozen=True, slots=True)
class Condition:
    """All of `tests` hold and, when `alternatives` is not empty, at least one of them holds."""

    tests: tuple[SlotTest, ...] = ()
    alternatives: tuple[Condition, ...] = ()

    def holds(self, answers: Answers) -> bool:
        if not all(test.holds(answers) for test in self.tests):
            return False
        return not self.alternatives or any(alt.holds(answers) for alt in self.alternatives)

    def slots(self) -> dict[str, frozenset[str]]:
        """Every slot this condition reads, with the values it compares against."""
        if not self.alternatives and len(self.tests) == 1:  # the common `{slot: value}`
            return {self.tests[0].slot: self.tests[0].values}
        found: dict[str, frozenset[str]] = {}
        for test in self.tests:
            found[test.slot] = found.get(test.slot, frozenset()) | test.values
        for alt in self.alternatives:
            for slot, values in alt.slots().items():
                found[slot] = found.get(slot, frozenset()) | values
        return found


ALWAYS = Condition()


def _values(raw: object, slot: str) -> frozenset[str]:
    items = raw if isinstance(raw, list) else [raw]
    values = []
    for item in items:
        if isinstance(item, bool):
            raise ConditionError(
                f"'{slot}' compares with a yes/no value; quote it (YAML reads yes, no, on, off "
                "as booleans)"
            )
        if not isinstance(item, str | int):
            raise ConditionError(f"'{slot}' must compare with a name or a list of names")
        values.append(str(item))
    return frozenset(values)


def parse_condition(raw: object) -> Condition:
    """Turn the YAML form of a condition into a `Condition`, or raise `ConditionError`."""
    if raw is None:
        return ALWAYS
    # `dict` first: every condition read from YAML is one, and the ABC check is slow
    if not isinstance(raw, dict | Mapping):
        raise ConditionError("a condition must be a mapping of answer names to values")
    tests: list[SlotTest] = []
    alternatives: tuple[Condition, ...] = ()
    for key, expected in raw.items():
        if not isinstance(key, str):
            raise ConditionError(f"condition key {key!r} must be an answer name")
        if key == "any":
            if not isinstance(expected, list) or not expected:
                raise ConditionError("'any' takes a non-empty list of conditions")
            alternatives = tuple(parse_condition(item) for item in expected)
        elif isinstance(expected, dict | Mapping):
            if set(expected) == {"not"}:
                tests.append(SlotTest(key, _values(expected["not"], key), negate=True))
            elif set(expected) == {"filled"} and isinstance(expected["filled"], bool):
                tests.append(SlotTest(key, filled=expected["filled"]))
            else:
                raise ConditionError(
                    f"'{key}' takes a value, a list, {{not: ...}} or {{filled: true|false}}"
                )
        else:
            tests.append(SlotTest(key, _values(expected, key)))
    return Condition(tuple(tests), alternatives)
