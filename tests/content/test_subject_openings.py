"""Subject lines open as a careful writer's do: with a capital, never with a typed answer that
may be in lower case ("backend engineer: could we talk?") or start small on purpose ("eBay")."""

from __future__ import annotations

import re
from pathlib import Path

from bot.content.catalog import Catalog
from bot.content.loader import load_catalog
from tests.content.test_loader import edit

LEADING_PLACEHOLDER = re.compile(r"^\{(\w+)\}")


def subject_openings(catalog: Catalog) -> list[tuple[str, str, str]]:
    """(flow, slot or text, subject text) for every subject wording that opens badly."""
    bad: list[tuple[str, str, str]] = []
    for by_flow in catalog.phrases.values():
        for flow_id, phrases in by_flow.items():
            flow = catalog.flows[flow_id]
            typed = flow.typed_slots
            for message in phrases.messages:
                if message.subject is None:
                    continue
                for variant in message.subject.variants:
                    for text in variant.texts:
                        placeholder = LEADING_PLACEHOLDER.match(text)
                        if placeholder:
                            slot = placeholder.group(1)
                            spec = typed.get(slot)
                            # Names get their capitals back; nothing else typed does.
                            if spec is None or spec.holds not in ("person", "people"):
                                bad.append((flow_id, slot, text))
                        elif text[:1].islower():
                            bad.append((flow_id, "lower case", text))
    return bad


def test_no_subject_opens_with_a_typed_answer_that_keeps_its_case(catalog: Catalog) -> None:
    assert subject_openings(catalog) == []


def test_a_subject_opening_with_the_typed_role_is_found(content_copy: Path) -> None:
    edit(
        content_copy,
        "phrases/en/re_express_interest.yaml",
        "- Could we talk about the {role} role?",
        '- "{role}: could we talk?"',
    )
    found = subject_openings(load_catalog([content_copy]))
    assert found == [("re_express_interest", "role", "{role}: could we talk?")]
