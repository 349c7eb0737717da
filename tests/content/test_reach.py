"""Every path of a flow: interactions to the first draft, dead questions, typed answers unused."""

from __future__ import annotations

import re
from pathlib import Path

from bot.check.reach import check_flow, every_path, menu_taps
from bot.compose import compose_result
from bot.content.catalog import Catalog
from bot.content.loader import default_content_root, load_catalog
from bot.drafts import check_message
from bot.engine import Engine, draft_answers
from tests.content.test_loader import edit, run_cli

FLOW = "flows/decline_offer.yaml"
PHRASES = "phrases/en/decline_offer.yaml"

TINY_FLOW = """\
id: tiny
group: offers
start: kind
defaults: {tone: warm}
states:
  kind:
    ask: choice
    options: [long, short]
    next:
      - if: {kind: long}
        to: name
      - to: done
  name:
    ask: text
    optional: true
    next: done
  done:
    end: true
  tone:
    ask: choice
    options: [warm, cool]
    next: done
refinements:
  tone: {start: tone}
"""
TINY_PHRASES = """\
title: Tiny
summary: A flow for tests.
questions:
  kind: {text: Which kind?, options: {long: Long, short: Short}}
  name: {text: Your name?}
  tone: {text: Tone?, options: {warm: Warm, cool: Cool}}
refinements:
  tone: Change tone
result:
  messages:
    - kind: messenger
      parts:
        - choose:
            - when: {tone: cool}
              text: Regards.
            - text: Warm wishes.
        - choose:
            - when: {kind: long}
              text: This is the long one, {name}.
            - text: Short.
"""


def tiny_catalog(root: Path) -> Catalog:
    (root / "flows").mkdir()
    (root / "phrases/en").mkdir(parents=True)
    common = (default_content_root() / "phrases/en/_common.yaml").read_text()
    one_group = re.sub(r"\ngroups:\n(  .*\n)+", "\ngroups:\n  offers: Offers\n", common)
    (root / "phrases/en/_common.yaml").write_text(one_group)
    (root / "flows/tiny.yaml").write_text(TINY_FLOW)
    (root / "phrases/en/tiny.yaml").write_text(TINY_PHRASES)
    return load_catalog([root])


def test_interactions_count_menu_taps_and_main_path_answers(tmp_path: Path) -> None:
    catalog = tiny_catalog(tmp_path)
    assert menu_taps(catalog) == 1  # one menu group: the situation is the only tap
    reach = check_flow(catalog, "tiny")
    # kind=short: 1 + 1; kind=long: 1 + 2, typed or skipped (two ways); the refinement adds none
    assert dict(reach.interactions) == {2: 1, 3: 2}
    assert reach.figures() == (2, 3, 3)


def test_checking_one_flow_file_counts_the_whole_menu(catalog: Catalog) -> None:
    alone = load_catalog([default_content_root() / FLOW])
    assert list(alone.flows) == ["decline_offer"] and len(alone.groups()) == 1
    assert menu_taps(alone) == menu_taps(catalog) == 2


def test_weighted_median_between_two_values() -> None:
    from bot.check.reach import FlowReach

    assert FlowReach("x", {8: 2, 9: 2}, 0, (), ()).figures() == (8, 8.5, 9)
    assert FlowReach("x", {8: 3, 9: 2}, 0, (), ()).figures() == (8, 8, 9)


def test_the_reference_flow_meets_the_targets_and_uses_every_answer(catalog: Catalog) -> None:
    reach = check_flow(catalog, "decline_offer")
    _, middle, high = reach.figures()
    assert high <= 10 and middle <= 8, reach.figures()
    assert reach.problems == () and reach.dead == ()
    assert reach.paths_checked > 100


def test_a_deliberately_dead_question_is_reported_with_file_and_line(content_copy: Path) -> None:
    edit(content_copy, FLOW, "    next: recipient\n", "    next: colour\n")
    line = edit(
        content_copy,
        FLOW,
        "  recipient:\n",
        "  colour:\n    ask: choice\n    options: [red, blue]\n    next: recipient\n\n"
        "  recipient:\n",
    )
    edit(
        content_copy,
        PHRASES,
        "  recipient:\n",
        "  colour:\n    text: Favourite colour?\n    options: {red: Red, blue: Blue}\n"
        "  recipient:\n",
    )
    reach = check_flow(load_catalog([content_copy]), "decline_offer")
    assert reach.dead == ("colour",)
    (problem,) = reach.problems
    assert (problem.path.endswith(FLOW), problem.line) == (True, line)
    assert "dead question 'colour'" in problem.message
    done = run_cli("check", str(content_copy))
    assert done.returncode == 1
    assert any(
        text.endswith(f"{FLOW}:{line}: " + problem.message) for text in done.stderr.splitlines()
    ), done.stderr


def test_a_typed_answer_the_message_leaves_out_is_reported(content_copy: Path) -> None:
    edit(content_copy, FLOW, "    next: recipient\n", "    next: pet\n")
    line = edit(
        content_copy,
        FLOW,
        "  recipient:\n",
        "  pet:\n    ask: text\n    next: recipient\n\n  recipient:\n",
    )
    edit(content_copy, PHRASES, "  recipient:\n", "  pet:\n    text: Your pet?\n  recipient:\n")
    reach = check_flow(load_catalog([content_copy]), "decline_offer")
    found = {(p.line, p.message.split(" on ")[0]) for p in reach.problems}
    assert found == {
        (line, "dead question 'pet': another answer changes neither the message nor the advice"),
        (line, "typed answer 'pet' does not appear in the message"),
    }


def test_a_question_whose_only_use_is_removed_becomes_dead(content_copy: Path) -> None:
    # Whether the other offer is in writing only decides a warning; tie that to other answers.
    edit(
        content_copy,
        PHRASES,
        "when: {offer_written: verbal_only}",
        "when: {sure: torn, tone: brief}",
    )
    reach = check_flow(load_catalog([content_copy]), "decline_offer")
    assert reach.dead == ("offer_written",)


def test_every_path_with_its_refinements_passes_the_draft_checks(catalog: Catalog) -> None:
    flow = catalog.flows["decline_offer"]
    phrases = catalog.phrases["en"]["decline_offer"]
    common = catalog.common["en"]
    refinements: set[str] = set()
    failures: list[str] = []
    for path in every_path(flow):
        refinements.add(path.refinement)
        answers = draft_answers(flow, path.answers())
        result = compose_result(phrases, answers)
        if not 3 <= len(result.advice) <= 6:
            failures.append(f"{path.describe()}: {len(result.advice)} advice bullets")
        for message in result.messages:
            problems = check_message(message, answers, common.decision_words, flow.text_slots)
            failures += [f"{path.describe()}: {problem}" for problem in problems]
    assert not failures, failures[:10]
    assert refinements >= {"", "tone", "thank", "door", "figure", "other_company", "goal"}


def test_engine_and_reach_agree_on_the_draft(catalog: Catalog) -> None:
    """The answers reach composes are the ones the engine shows for the same conversation."""
    from bot.check.stories import StoryRun
    from bot.events import Choose, Refine, Start, Text

    flow = catalog.flows["decline_offer"]
    checked = 0
    for path in list(every_path(flow))[::23]:
        run = StoryRun(Engine(catalog))
        run.send(Start("decline_offer"))
        for answer in path.main:
            run.send(Text(answer.value) if answer.typed else Choose(answer.state, answer.value))
        if path.refinement:
            run.send(Refine(path.refinement))
            for answer in path.refined:
                typed = Text(answer.value) if answer.typed else Choose(answer.state, answer.value)
                run.send(typed)
        assert run.result is not None, path.describe()
        expected = compose_result(
            catalog.phrases["en"]["decline_offer"], draft_answers(flow, path.answers())
        )
        assert run.result.result == expected, path.describe()
        checked += 1
    assert checked > 10
