"""Shared fixtures: the project's catalog, an engine, a copy of the content to break, and the
log scan over the whole run."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.content.catalog import Catalog
from bot.content.loader import default_content_root, load_catalog
from bot.engine import Engine
from tests import figures
from tests.fake_bot_api import TOKEN
from tests.logscan import Recorder, file_lines, leaks, never_log

ROOT = Path(__file__).resolve().parent.parent
SLOW_FOLDERS = tuple(Path(__file__).resolve().parent / name for name in ("faults", "bench"))
"""Subprocess, fault and timing tests: marked `slow`, so `pytest -m "not slow"` runs the fast
unit tests alone."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests collected from the slow folders."""
    for item in items:
        if any(folder in item.path.resolve().parents for folder in SLOW_FOLDERS):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    """The project's own flows and phrases, loaded once."""
    return load_catalog([default_content_root()])


@pytest.fixture(scope="session")
def engine(catalog: Catalog) -> Engine:
    """An engine over the project's content."""
    return Engine(catalog)


@pytest.fixture
def content_copy(tmp_path: Path) -> Path:
    """A writable copy of the content (flows/, phrases/, stories/) to break in tests."""
    source = default_content_root() if (default_content_root() / "flows").is_dir() else ROOT
    for name in ("flows", "phrases", "stories"):
        shutil.copytree(source / name, tmp_path / name)
    return tmp_path


@pytest.fixture(scope="session", autouse=True)
def log_scan(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Record every log line of the run; at the end, fail if one holds the token or a name.

    doorajar's loggers log at DEBUG and the library's at INFO, as with `--log-level DEBUG`.
    The subprocess tests' logs (`*.log` under pytest's temporary folder) are read too.
    """
    never_log(TOKEN)
    recorder = Recorder()
    root = logging.getLogger()
    levels = {"doorajar": logging.DEBUG, "telegram": logging.INFO}
    before = {name: logging.getLogger(name).level for name in levels}
    root.addHandler(recorder)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    yield
    root.removeHandler(recorder)
    for name, level in before.items():
        logging.getLogger(name).setLevel(level)
    from_files = file_lines(tmp_path_factory.getbasetemp())
    found = leaks([*recorder.lines, *from_files])
    figures.record(
        "log_scan",
        in_process_lines=len(recorder.lines),
        subprocess_lines=len(from_files),
        lines_with_token_or_typed_name=len(found),
    )
    assert not found, f"{len(found)} log line(s) hold the token or typed text: {found[:3]}"
