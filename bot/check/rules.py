"""Every content rule beyond the loader's, run by `doorajar check` and by the tests alike.

The loader refuses content it cannot run (`bot.content.loader`); these rules go further, so a
content author needs nothing but `doorajar check`: every story plays as scripted
(`bot.check.stories`), every path of every flow passes the draft checks with 3 to 6 advice
bullets and three wordings (`bot.check.walk`), every seed idea is carried by some message or
advice, and no phrase repeats the seed or the content guide word for word. Each problem is one
`file:line: what is wrong`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bot.check.reach import check_catalog, report_lines
from bot.check.stories import STORY_FOLDER, check_stories, read_stories
from bot.check.walk import WALKS, check_paths
from bot.content.catalog import Catalog
from bot.content.phrases import SEED_UNITS
from bot.content.report import Problem, display_path
from bot.engine import Engine

SHARED_FOLDER = "shared"
"""Beside the content folder: `seed/*.txt` and `CONTENT.md`, the sources phrases must not copy."""
SHINGLE = 8
"""Words in a row that count as copying."""


@dataclass(frozen=True, slots=True)
class CheckSummary:
    """What one check found and how much it ran."""

    problems: tuple[Problem, ...]
    stories: int
    results: int
    seed_covered: int | None
    """Seed units carried (None when only part of the content was checked)."""
    copy_checked: bool
    reach: tuple[str, ...] = ()
    """Per situation: interactions to the first draft and dead questions (`bot.check.reach`)."""


def seed_problems(catalog: Catalog, where: str) -> list[Problem]:
    """A problem for each seed unit that no message or advice carries (`seed:` tags)."""
    units = catalog.seed_coverage()
    return [
        Problem(where, 0, f"seed unit {unit} is carried by no message or advice (tag one: seed)")
        for unit in SEED_UNITS
        if unit not in units
    ]


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def _shingles(words: list[str]) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}


def copied_lines(phrase_files: Iterable[Path], sources: Iterable[Path]) -> list[Problem]:
    """A problem for each phrase line that repeats SHINGLE words in a row of a source."""
    known: set[tuple[str, ...]] = set()
    for source in sources:
        known |= _shingles(_words(source.read_text(errors="ignore")))
    problems = []
    for path in phrase_files:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if _shingles(_words(line)) & known:
                problems.append(
                    Problem(
                        display_path(path), number, "repeats the seed or the guide word for word"
                    )
                )
    return problems


def copy_sources(root: Path) -> list[Path]:
    """The seed texts and the content guide beside a content folder (none when absent)."""
    shared = root.parent / SHARED_FOLDER
    if not shared.is_dir():
        return []
    guide = shared / "CONTENT.md"
    return [*sorted((shared / "seed").glob("*.txt")), *([guide] if guide.is_file() else [])]


def check_content(
    catalog: Catalog, root: Path, whole_content: bool = True, walks: int = WALKS
) -> CheckSummary:
    """Run every rule on loaded content whose folder is `root` (holding flows/, phrases/ and
    stories/). With `whole_content` false only some flow files were loaded: rules about the
    content as a whole (seed coverage, stories of other flows) are left out."""
    engine = Engine(catalog)
    stories, problems = read_stories(root / STORY_FOLDER)
    problems += check_stories(engine, stories, whole_content)
    flows = catalog.ordered_flows()
    path_problems, results = check_paths(engine, flows, walks)
    problems += path_problems
    covered: int | None = None
    if whole_content:
        problems += seed_problems(catalog, display_path(root / "phrases"))
        covered = len(set(catalog.seed_coverage()) & set(SEED_UNITS))
    sources = copy_sources(root)
    if sources:
        problems += copied_lines(sorted((root / "phrases").rglob("*.yaml")), sources)
    reaches = check_catalog(catalog)
    problems += [problem for reach in reaches for problem in reach.problems]
    played = sum(1 for story in stories if story.flow in catalog.flows)
    return CheckSummary(
        tuple(sorted(problems)),
        played,
        results,
        covered,
        bool(sources),
        tuple(report_lines(reaches)),
    )
