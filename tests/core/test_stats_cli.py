"""`doorajar stats`: the table, JSON and the picture, from counters random walks left.

`python -m tests.core.test_stats_cli docs/stats.png` draws the README's picture this way.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from bot import stats
from bot.cli import main
from bot.content.catalog import Catalog
from bot.content.loader import load_catalog
from bot.engine import Engine
from bot.service import ChatService
from bot.store.sqlite import SqliteStore
from tests.core.test_stats_walks import WALKS, Walker


async def walked_store(catalog: Catalog, path: Path) -> dict[str, int]:
    """A SQLite store at `path` holding the counters of the random walks; what was expected."""
    store = SqliteStore(path)
    walker = Walker(catalog, ChatService(Engine(catalog), store, stats=True), seed=7)
    for index in range(WALKS):
        await walker.walk(index)
    await store.close()
    return dict(walker.expected)


async def test_stats_json_adds_up_the_walks(
    catalog: Catalog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = await walked_store(catalog, tmp_path / "s.db")
    assert (
        await asyncio.to_thread(main, ["stats", "--store", str(tmp_path / "s.db"), "--json"]) == 0
    )
    data = json.loads(capsys.readouterr().out)
    for name, n in expected.items():
        situation, counter = stats.split(name)
        funnel = data["situations"][situation]
        if counter.startswith(stats.STOPPED):
            assert funnel["stopped"][counter.removeprefix(stats.STOPPED)] == n
        elif counter.startswith(stats.REFINEMENT):
            assert funnel["refinements"][counter.removeprefix(stats.REFINEMENT)] == n
        else:
            assert funnel[counter] == n


async def test_stats_table_and_plot(
    catalog: Catalog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = await walked_store(catalog, tmp_path / "s.db")
    picture = tmp_path / "funnel.png"
    args = ["stats", "--store", str(tmp_path / "s.db"), "--situation", "decline_offer"]
    assert await asyncio.to_thread(main, [*args, "--plot", str(picture)]) == 0
    out = capsys.readouterr().out
    started = expected[stats.count("decline_offer", stats.STARTED)]
    assert "started" in out and str(started) in out
    assert "stopped at" in out
    assert "decline_offer" in out and all(
        other not in out.split() for other in catalog.flows if other != "decline_offer"
    )
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_stats_of_an_empty_store_says_nothing_was_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["stats", "--store", str(tmp_path / "empty.db")]) == 0
    assert "nothing counted" in capsys.readouterr().out


if __name__ == "__main__":  # draw the README's picture from a walked store
    target = Path(sys.argv[1])
    db = target.with_suffix(".db.tmp")
    db.unlink(missing_ok=True)
    asyncio.run(walked_store(load_catalog(), db))
    code = main(["stats", "--store", str(db), "--plot", str(target)])
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    sys.exit(code)
