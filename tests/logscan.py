"""The log scan: no line logged during the test run holds the bot token or a typed name.

Tests register what must never be logged (`never_log`); the session fixture in conftest.py
records every log record of this process (doorajar's loggers at DEBUG and the library's at
INFO, as `doorajar run --log-level DEBUG` sets them) and, at the end, reads every `*.log`
file the subprocess tests wrote under pytest's temporary folder.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

_NEVER: set[str] = set()


def never_log(*values: str) -> None:
    """Strings (a token, names a test types) that must not appear in any log line."""
    _NEVER.update(value for value in values if value)


class Recorder(logging.Handler):
    """Keeps every record's full text: message and traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.extend(self.format(record).splitlines())
        except Exception:  # a broken record is not this handler's business
            self.handleError(record)


def file_lines(folder: Path) -> list[str]:
    """The lines of every *.log file under `folder`."""
    lines: list[str] = []
    for path in sorted(folder.rglob("*.log")):
        lines.extend(path.read_text(errors="replace").splitlines())
    return lines


def leaks(lines: Iterable[str]) -> list[str]:
    """Lines holding something registered with `never_log`."""
    return [line for line in lines if any(value in line for value in _NEVER)]
