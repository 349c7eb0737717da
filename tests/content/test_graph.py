"""Diagrams drawn from the flows themselves, so they cannot drift from the YAML."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.content.catalog import Catalog
from bot.graph import mermaid


def test_mermaid_diagram_has_every_state_and_branch(catalog: Catalog) -> None:
    flow = catalog.flows["decline_offer"]
    text = mermaid(flow)
    assert text.lstrip("-\n").count("stateDiagram-v2") == 1
    for name in flow.states:
        assert f'state "{name}"' in text or name in text
    assert "reason --> negotiated: pay" in text


def draw(out: Path) -> None:
    """Run `doorajar graph decline_offer -o out` and expect success."""
    done = subprocess.run(
        [sys.executable, "-m", "bot", "graph", "decline_offer", "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def test_graph_command_writes_markdown(tmp_path: Path) -> None:
    out = tmp_path / "decline.md"
    draw(out)
    assert out.read_text().startswith("# decline_offer\n\n```mermaid")


@pytest.mark.skipif(
    shutil.which("dot") is None and not os.environ.get("DOORAJAR_CI"),
    reason="graphviz (dot) is not installed; .ci/run installs it",
)
def test_graph_command_draws_svg_with_graphviz(tmp_path: Path) -> None:
    out = tmp_path / "decline.svg"
    draw(out)
    assert "<svg" in out.read_text()
