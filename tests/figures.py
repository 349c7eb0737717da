"""Figures measured by the fault and load tests: printed, and kept in build/fault-figures.jsonl.

`pytest -q` hides what tests print, so every figure is also appended as one JSON line to
`build/fault-figures.jsonl`, which the README quotes. Each line names its test run (`run`:
start time and process id), so runs side by side never mix or wipe each other's figures.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ROOT / "build" / "fault-figures.jsonl"
PREFIX = "FIGURE"


RUN = f"{time.strftime('%Y-%m-%dT%H:%M:%S')}/{os.getpid()}"


def record(name: str, **values: Any) -> None:
    """Print a figure with a clear prefix and append it to the figures file."""
    shown = ", ".join(f"{key}={value}" for key, value in values.items())
    print(f"{PREFIX} {name}: {shown}")
    FIGURES.parent.mkdir(exist_ok=True)
    line = {"figure": name, **values, "run": RUN}
    with FIGURES.open("a", encoding="utf-8") as out:
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
