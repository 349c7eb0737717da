"""Content rules: every seed idea is covered, and no phrase copies the seed or the guide."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bot.check.rules import copied_lines, copy_sources, seed_problems
from bot.content.catalog import Catalog
from bot.content.loader import default_content_root
from bot.content.phrases import SEED_UNITS

SOURCES = copy_sources(default_content_root())


def test_every_seed_unit_is_covered(catalog: Catalog) -> None:
    assert seed_problems(catalog, "phrases") == []
    print(f"seed coverage: {len(catalog.seed_coverage())} of {len(SEED_UNITS)} units covered")


def test_a_seed_unit_nobody_carries_is_a_problem(catalog: Catalog) -> None:
    stripped = {
        lang: {
            flow_id: replace(phrases, advice=(), messages=())
            for flow_id, phrases in by_flow.items()
        }
        for lang, by_flow in catalog.phrases.items()
    }
    found = seed_problems(replace(catalog, phrases=stripped), "phrases")
    assert len(found) == len(SEED_UNITS)


def test_a_line_copied_from_a_source_is_caught(tmp_path: Path) -> None:
    source = tmp_path / "seed.txt"
    source.write_text("Always thank the recruiter for their time and keep the tone warm and brief.")
    phrases = tmp_path / "x.yaml"
    phrases.write_text(
        "title: ok\ntext: thank the recruiter for their time and keep the tone warm\n"
    )
    found = copied_lines([phrases], [source])
    assert [p.line for p in found] == [2]


@pytest.mark.skipif(not SOURCES, reason="../shared (seed and content guide) not present")
def test_no_phrase_repeats_the_seed_or_the_guide_word_for_word() -> None:
    phrase_files = sorted((default_content_root() / "phrases").rglob("*.yaml"))
    assert [str(p) for p in copied_lines(phrase_files, SOURCES)] == []
