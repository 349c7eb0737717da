"""Story tests written in YAML, and a walk through every path of every flow with draft checks."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from bot.check.stories import load_story_files, run_story, walk
from bot.content.catalog import Catalog
from bot.engine import Engine

STORY_DIR = Path(os.environ.get("DOORAJAR_STORIES") or Path(__file__).parents[1] / "stories")
STORIES = list(load_story_files(STORY_DIR))
WALKS = int(os.environ.get("DOORAJAR_WALKS", "150"))


@pytest.mark.parametrize(
    ("flow_id", "story"),
    [(flow, story) for _, flow, story in STORIES],
    ids=[f"{name}:{story['name']}" for name, _, story in STORIES],
)
def test_story(engine: Engine, flow_id: str, story: Mapping[str, Any]) -> None:
    run_story(engine, flow_id, story)


def test_every_flow_has_at_least_two_stories(catalog: Catalog) -> None:
    counts = {flow_id: 0 for flow_id in catalog.flows}
    for _, flow_id, _ in STORIES:
        counts[flow_id] = counts.get(flow_id, 0) + 1
    assert {f: c for f, c in counts.items() if c < 2} == {}


def test_every_path_of_every_flow_passes_the_draft_checks(engine: Engine, catalog: Catalog) -> None:
    checked = 0
    failures: list[str] = []
    for flow in catalog.flows.values():
        for result in walk(engine, flow, WALKS):
            checked += 1
            assert result.result.messages, f"{flow.id}: a result with no message"
            if not 3 <= len(result.result.advice) <= 6:
                failures.append(f"{flow.id}: {len(result.result.advice)} advice bullets")
            failures.extend(result.draft_problems)
    assert not failures, sorted(set(failures))[:20]
    print(f"every-path: {checked} results across {len(catalog.flows)} flows, 0 draft problems")


def test_another_wording_gives_three_different_versions_in_every_flow(
    engine: Engine, catalog: Catalog
) -> None:
    same: list[str] = []
    for flow in catalog.flows.values():
        results = list(walk(engine, flow, 20, seed=5))
        # walk yields each result followed by its second and third wording
        for first, second, third in zip(results[::3], results[1::3], results[2::3], strict=True):
            for index, message in enumerate(first.result.messages):
                texts = {
                    message.text,
                    second.result.messages[index].text,
                    third.result.messages[index].text,
                }
                if len(texts) < 3:
                    same.append(f"{flow.id}/{message.kind}: {len(texts)} distinct wordings")
    assert not same, sorted(set(same))
