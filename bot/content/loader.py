"""Load the content: every flow file and its phrases in every language, validated together.

`load_catalog` raises `CatalogError` listing every problem (`file:line: what`), or returns the
frozen `Catalog` the engine runs on, with one `transitions.Machine` built per flow.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Mapping
from dataclasses import replace
from pathlib import Path

from bot.content.catalog import Catalog, CommonPhrases, Flow, FlowPhrases
from bot.content.flows import build_machine, parse_flow
from bot.content.phrases import COMMON_FILE, parse_common, parse_phrases
from bot.content.reminders import check_next_flows
from bot.content.report import CatalogError, Problem, Report, display_path


def default_content_root() -> Path:
    """The folder holding `flows/`, `phrases/` and `stories/`: $DOORAJAR_CONTENT, else this
    checkout."""
    configured = os.environ.get("DOORAJAR_CONTENT")
    return Path(configured) if configured else Path(__file__).resolve().parents[2]


def content_root(paths: Iterable[Path] | None = None) -> tuple[Path, bool]:
    """The content folder the given paths belong to (as `load_catalog` reads them), and
    whether they name it whole rather than some of its flow files."""
    chosen = list(paths) if paths else [default_content_root()]
    whole = any(path.is_dir() and (path / "flows").is_dir() for path in chosen)
    return _flow_files(chosen)[1].parent, whole


def _flow_files(paths: Iterable[Path]) -> tuple[list[Path], Path]:
    """Expand the given paths into flow files and find the phrases folder beside them."""
    files: list[Path] = []
    phrases_root: Path | None = None
    for path in paths:
        if path.is_dir() and (path / "flows").is_dir():
            files.extend(sorted((path / "flows").glob("*.yaml")))
            phrases_root = phrases_root or path / "phrases"
        elif path.is_dir():
            files.extend(sorted(path.glob("*.yaml")))
            phrases_root = phrases_root or path.parent / "phrases"
        else:
            files.append(path)
            phrases_root = phrases_root or path.parent.parent / "phrases"
    return files, phrases_root or default_content_root() / "phrases"


def load_catalog(
    paths: Iterable[Path] | None = None,
    phrase_keys: Mapping[str, Collection[str]] | None = None,
) -> Catalog:
    """Load and validate flows and their phrases; raise `CatalogError` listing every problem.

    `paths` may name project folders (holding `flows/` and `phrases/`), `flows/` folders or
    single flow files; the default is the project's own content. `phrase_keys` names, per
    front end, the common phrases it uses beyond the core's (`COMMON_KEYS`), so content that
    lacks one is refused here rather than failing in a chat.
    """
    files, phrases_root = _flow_files(list(paths) if paths else [default_content_root()])
    problems: list[Problem] = []
    flows: dict[str, Flow] = {}
    broken: set[str] = set()  # flow files with problems: their phrases are not "unknown"
    if not files:
        problems.append(Problem(str(phrases_root.parent / "flows"), 0, "no flow files found"))
    for path in files:
        report = Report(display_path(path))
        if not path.is_file():
            report.add(0, "no such file")
        elif (flow := parse_flow(path, report)) is not None:
            if flow.id in flows:
                report.add(1, f"duplicate flow id '{flow.id}' (also in {flows[flow.id].path})")
            elif not report.problems:
                flows[flow.id] = flow
        if report.problems:
            broken.add(path.stem)
        problems.extend(report.problems)
    problems.extend(check_next_flows(flows))
    languages = (
        sorted(p for p in phrases_root.iterdir() if p.is_dir()) if phrases_root.is_dir() else []
    )
    if not languages:
        problems.append(
            Problem(display_path(phrases_root), 0, "no phrases folder (phrases/<lang>/)")
        )
    phrases: dict[str, dict[str, FlowPhrases]] = {}
    common: dict[str, CommonPhrases] = {}
    groups = {flow.group for flow in flows.values()}
    for lang_dir in languages:
        lang = lang_dir.name
        phrases[lang] = {}
        common_report = Report(display_path(lang_dir / COMMON_FILE))
        if not (lang_dir / COMMON_FILE).is_file():
            common_report.add(0, f"missing {COMMON_FILE} for language '{lang}'")
        elif (
            parsed := parse_common(lang_dir / COMMON_FILE, groups, common_report, phrase_keys or {})
        ) is not None:
            common[lang] = parsed
        problems.extend(common_report.problems)
        for flow in flows.values():
            path = lang_dir / f"{flow.id}.yaml"
            if not path.is_file():
                problems.append(
                    Problem(
                        flow.path, 1, f"flow '{flow.id}' has no phrases in {display_path(path)}"
                    )
                )
                continue
            report = Report(display_path(path))
            if (parsed_flow := parse_phrases(path, flow, report)) is not None:
                phrases[lang][flow.id] = parsed_flow
            problems.extend(report.problems)
        for path in sorted(lang_dir.glob("*.yaml")):
            # A flow file that has problems, or was not asked for (`doorajar check
            # flows/one.yaml`), is not "unknown".
            beside = phrases_root.parent / "flows" / f"{path.stem}.yaml"
            if path.name != COMMON_FILE and path.stem not in flows and not beside.is_file():
                problems.append(
                    Problem(display_path(path), 1, f"phrases for unknown flow '{path.stem}'")
                )
    if problems:
        raise CatalogError(problems)
    built = {flow_id: replace(flow, machine=build_machine(flow)) for flow_id, flow in flows.items()}
    default_lang = "en" if "en" in phrases else languages[0].name
    return Catalog(built, phrases, common, default_lang)
