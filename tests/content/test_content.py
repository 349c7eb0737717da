"""Content rules: every seed idea is covered, and no phrase copies the seed or the guide."""

from __future__ import annotations

import re

import pytest

from bot.content.catalog import Catalog
from bot.content.loader import default_content_root
from bot.content.phrases import SEED_UNITS

SHARED = default_content_root().parent / "shared"
SHINGLE = 8


def test_every_seed_unit_is_covered(catalog: Catalog) -> None:
    units = catalog.seed_coverage()
    missing = [unit for unit in SEED_UNITS if unit not in units]
    print(f"seed coverage: {len(SEED_UNITS) - len(missing)} of {len(SEED_UNITS)} units covered")
    assert missing == []


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def _shingles(words: list[str]) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared (seed and content guide) not present")
def test_no_phrase_repeats_the_seed_or_the_guide_word_for_word() -> None:
    sources = [*(SHARED / "seed").glob("*.txt"), SHARED / "CONTENT.md"]
    known: set[tuple[str, ...]] = set()
    for source in sources:
        known |= _shingles(_words(source.read_text(errors="ignore")))
    copies = []
    for path in sorted((default_content_root() / "phrases").rglob("*.yaml")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if _shingles(_words(line)) & known:
                copies.append(f"{path.name}:{number}: {line.strip()[:80]}")
    assert copies == []
