"""`defaults:` and `refinements:` in flows, their labels in phrases: refused with `file:line`."""

from __future__ import annotations

from pathlib import Path

from tests.content.test_loader import assert_problem, edit, problems

FLOW = "flows/decline_offer.yaml"
PHRASES = "phrases/en/decline_offer.yaml"


def test_default_must_be_an_option_of_a_choice(content_copy: Path) -> None:
    line = edit(content_copy, FLOW, "  tone: warm\n", "  tone: chirpy\n")
    assert_problem(problems(content_copy), f"{FLOW}:{line}:", "default 'chirpy' is not an option")


def test_default_for_an_unknown_or_typed_answer(content_copy: Path) -> None:
    line = edit(content_copy, FLOW, "  sure: decided\n", "  sure: decided\n  mood: calm\n")
    typed = edit(content_copy, FLOW, "  mood: calm\n", "  mood: calm\n  company: Acme\n")
    found = problems(content_copy)
    assert_problem(found, f"{FLOW}:{line + 1}:", "default for unknown answer 'mood'")
    assert_problem(found, f"{FLOW}:{typed + 1}:", "'company' is typed, not chosen")


def test_refinement_must_start_at_a_question(content_copy: Path) -> None:
    line = edit(content_copy, FLOW, "  tone: {start: tone}", "  tone: {start: tonne}")
    done = edit(content_copy, FLOW, "  sure: {start: sure}", "  sure: {start: done}")
    found = problems(content_copy)
    assert_problem(found, f"{FLOW}:{line}:", "refinement 'tone' starts at unknown state 'tonne'")
    assert_problem(found, f"{FLOW}:{done}:", "refinement 'sure' must start at a question")


def test_refinement_condition_is_checked_against_the_options(content_copy: Path) -> None:
    line = edit(content_copy, FLOW, "when: {reason: pay}}", "when: {reason: salary}}")
    assert_problem(problems(content_copy), f"{FLOW}:{line}:", "'reason' has no option 'salary'")


def test_refinement_id_must_fit_button_data(content_copy: Path) -> None:
    long_id = "x" * 70
    line = edit(content_copy, FLOW, "  sure: {start: sure}", f"  {long_id}: {{start: sure}}")
    edit(content_copy, PHRASES, "  sure: I'm still", f"  {long_id}: I'm still")
    assert_problem(problems(content_copy), f"{FLOW}:{line}:", "too long for button data")


def test_a_question_asked_by_no_refinement_is_unreachable(content_copy: Path) -> None:
    edit(content_copy, FLOW, "  goal: {start: goal, when: {reason: [growth, career_goals]}}\n", "")
    edit(content_copy, PHRASES, "  goal: Say what I'm aiming for\n", "")
    found = problems(content_copy)
    assert_problem(found, FLOW, "state 'goal' cannot be reached from 'channel' or a refinement")


def test_a_refinement_question_must_reach_the_end(content_copy: Path) -> None:
    edit(
        content_copy,
        FLOW,
        "    max_length: 80\n    next: done\n",
        "    max_length: 80\n    next: goal\n",
    )
    assert_problem(problems(content_copy), FLOW, "state 'goal' cannot reach an end state")


def test_every_refinement_needs_a_label(content_copy: Path) -> None:
    edit(content_copy, PHRASES, "  deadline: Mention their deadline\n", "")
    assert_problem(problems(content_copy), PHRASES, "missing label for refinement 'deadline'")


def test_a_label_for_an_unknown_refinement(content_copy: Path) -> None:
    line = edit(content_copy, PHRASES, "  sure: I'm still", "  shure: I'm still")
    found = problems(content_copy)
    assert_problem(found, f"{PHRASES}:{line}:", "no refinement 'shure' in the flow")
    assert_problem(found, PHRASES, "missing label for refinement 'sure'")


def test_unknown_key_in_a_refinement(content_copy: Path) -> None:
    line = edit(content_copy, FLOW, "  sure: {start: sure}", "  sure: {start: sure, if: {}}")
    assert_problem(problems(content_copy), f"{FLOW}:{line}:", "unknown key 'if' in refinement")
