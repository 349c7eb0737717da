"""Problems in content, each at `file:line`, and the small readers all content files share."""

from __future__ import annotations

import os
import re
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.content.conditions import ALWAYS, Condition, ConditionError, parse_condition
from bot.content.yamlread import YamlMap, YamlReadError, read_yaml

ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    """One thing wrong with the content, located at `path:line`."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class CatalogError(Exception):
    """The content has problems; the bot must not start with it."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in flows or phrases")
        self.problems = sorted(problems)


@dataclass
class Report:
    """Collects problems for one file."""

    path: str
    problems: list[Problem] = field(default_factory=list)

    def add(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.path, line, message))


def display_path(path: Path) -> str:
    # `os.path` on strings: the loader names some 45 files per load, and `Path.resolve` and
    # `relative_to` cost twice as much for the same answer.
    real = os.path.realpath(path)
    cwd = os.path.realpath(os.getcwd())
    inside = cwd if cwd.endswith(os.sep) else cwd + os.sep
    if real.startswith(inside):
        return real[len(inside) :]
    return "." if real == cwd else str(path)


def read_content(path: Path, report: Report) -> Any:
    try:
        data, duplicates = read_yaml(path)
    except YamlReadError as exc:
        report.add(exc.line, str(exc))
        return None
    for key, line in duplicates:
        report.add(line, f"duplicate key '{key}'")
    return data


def parse_when(raw: object, line: int, report: Report) -> Condition:
    try:
        return parse_condition(raw)
    except ConditionError as exc:
        report.add(line, str(exc))
        return ALWAYS


def check_keys(data: YamlMap, allowed: AbstractSet[str], what: str, report: Report) -> None:
    for key in data:
        if key not in allowed:
            hint = ", ".join(sorted(allowed))
            report.add(data.line_of(key), f"unknown key '{key}' in {what} (known: {hint})")


def read_int(data: YamlMap, key: str, default: int, report: Report) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        report.add(data.line_of(key), f"'{key}' must be a whole number")
        return default
    return value


def read_flag(data: YamlMap, key: str, report: Report) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        report.add(data.line_of(key), f"'{key}' must be true or false")
        return False
    return value
