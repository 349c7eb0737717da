"""Every test in this folder is marked `slow` (subprocesses, faults, timing): run the fast unit
tests alone with `pytest -m "not slow"`."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests collected from this folder (the hook sees the whole session's items)."""
    for item in items:
        if HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.slow)
