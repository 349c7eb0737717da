"""Load-time checks for what text states declare (holds, lead, joins_with, excludes) and for
what phrases say a line does (says, must_say, must_not_say, claims): refused at `file:line`."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.check import walk
from bot.content.catalog import Catalog
from bot.content.loader import load_catalog
from bot.engine import Engine
from tests.content.test_loader import FLOW, PHRASES, assert_problem, edit, problems


def test_name_forms_are_placeholders_only_for_a_slot_that_holds_a_person(
    content_copy: Path,
) -> None:
    flow, phrases = "flows/ask_for_feedback.yaml", "phrases/en/ask_for_feedback.yaml"
    edit(content_copy, flow, "    holds: person\n    optional: true\n", "    optional: true\n")
    line = edit(content_copy, phrases, '"Hi {recipient_first},"', '"Hi {recipient_first},"')
    found = problems(content_copy)
    assert_problem(found, f"{phrases}:{line}:", "'{recipient_first}' needs 'holds: person'")


def test_an_unknown_holds_value_is_refused(content_copy: Path) -> None:
    line = edit(content_copy, FLOW, "    holds: people\n", "    holds: crowd\n")
    assert_problem(problems(content_copy), f"{FLOW}:{line}:", "'holds' must be one of")


def test_excludes_must_name_a_person_slot(content_copy: Path) -> None:
    line = edit(content_copy, FLOW, "    excludes: recipient\n", "    excludes: company\n")
    assert_problem(problems(content_copy), f"{FLOW}:{line}:", "must name a 'holds: person' slot")


def test_a_lead_on_a_choice_state_is_refused(content_copy: Path) -> None:
    line = edit(
        content_copy,
        FLOW,
        "    options: [email, linkedin, messenger, phone]\n",
        "    options: [email, linkedin, messenger, phone]\n    lead: We met\n",
    )
    assert_problem(problems(content_copy), f"{FLOW}:{line + 1}:", "for text states only")


def test_an_unknown_saying_is_refused_at_its_line(content_copy: Path) -> None:
    line = edit(content_copy, PHRASES, "says: [thanks]", "says: [thankz]")
    assert_problem(problems(content_copy), f"{PHRASES}:{line}:", "not 'thankz'")


def test_must_say_and_claims_are_read_and_checked(content_copy: Path) -> None:
    edit(
        content_copy,
        PHRASES,
        "    - kind: linkedin\n",
        "    - kind: linkedin\n      must_say: [{say: apology, when: {tone: brief}}, thanks]\n"
        "      must_not_say: [{say: praise, when: {reason: [nope]}}]\n",
    )
    found = problems(content_copy)
    assert_problem(found, PHRASES, "'reason' has no option 'nope'")
    edit(content_copy, PHRASES, "when: {reason: [nope]}", "when: {tone: formal}")
    edit(content_copy, PHRASES, "  - kind: tip\n", "  - kind: tip\n    claims: [door_open]\n")
    catalog = load_catalog([content_copy])
    phrases = catalog.phrases["en"]["decline_offer"]
    linkedin = next(m for m in phrases.messages if m.kind == "linkedin")
    assert [rule.say for rule in linkedin.must_say] == ["apology", "thanks"]
    assert [rule.say for rule in linkedin.must_not_say] == ["praise"]
    assert any(item.claims == {"door_open"} for item in phrases.advice)
    said = [v for m in phrases.messages for p in m.parts for v in p.variants if v.says]
    thanked = [v for v in said if "thanks" in v.says]
    assert thanked and all(v.says == {"thanks"} for v in thanked)
    assert any(v.says == {"praise"} for v in said)  # the compliment before the door


AWKWARD_ANSWERS = {
    "lower case, reader in the list": {
        "recipient": "ana ruiz",
        "your_name": "wei zhang",
        "people": "ana and luis",
        "mutual_contact": "linda o'neill",
    },
    "titles and repeated leads": {
        "recipient": "dr. paul meyer",
        "your_name": "Ms O'Brien",
        "where_met": "We met PyCon 2023",
        "background": "I'm a backend engineer",
        "news_detail": "I saw your post about hiring",
        "congrats_detail": "congratulations on the new job",
        "article_detail": "I came across this piece on onboarding",
        "admire": "What draws me to them is your open tools",
        "advice_topic": "I'd value your advice on moving teams",
    },
    "not names at all": {
        "recipient": "the hiring team",
        "people": "the whole panel",
        "company": "eBay",
    },
}


@pytest.mark.parametrize("case", list(AWKWARD_ANSWERS))
def test_every_path_writes_awkward_names_and_fragments_without_draft_problems(
    engine: Engine, catalog: Catalog, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    awkward = AWKWARD_ANSWERS[case]
    example = walk.sample_text
    monkeypatch.setattr(
        walk, "sample_text", lambda state: awkward.get(state.slot) or example(state)
    )
    failures: list[str] = []
    for flow in catalog.flows.values():
        for path in walk.walk(engine, flow, 20):
            for result in path.wordings:
                failures.extend(result.draft_problems)
    assert not failures, sorted(set(failures))[:20]
