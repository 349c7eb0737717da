"""Shared fixtures: the project's catalog, an engine, and a copy of the content to break."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.engine import Engine
from bot.loader import default_content_root, load_catalog
from bot.model import Catalog

ROOT = Path(__file__).resolve().parent.parent


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
    """A writable copy of flows/ and phrases/ to break in tests."""
    source = default_content_root() if (default_content_root() / "flows").is_dir() else ROOT
    for name in ("flows", "phrases"):
        shutil.copytree(source / name, tmp_path / name)
    return tmp_path
