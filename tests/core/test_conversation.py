"""A conversation's JSON, as the stores keep it."""

from __future__ import annotations

import json
from dataclasses import fields, replace

from bot.conversation import Conversation

EVERY_FIELD = Conversation(
    chat_id="42",
    flow="decline_offer",
    state="tone",
    group="offers",
    answers={"reason": "pay", "company": "Ünïcode {0} Ltd"},
    history=("reason", "company"),
    wording=2,
    revising=True,
    remembered={"your_name": "Sam"},
    lang="de",
    update_id=1234,
    message_id=77,
    version=7,
    updated_at=1_767_225_600.5,
)
"""Every field set, none to its default and no two alike."""


def test_every_field_survives_a_round_trip() -> None:
    conv = EVERY_FIELD
    assert Conversation.from_json(conv.to_json()) == conv
    assert set(json.loads(conv.to_json())) == {f.name for f in fields(Conversation)}


def test_empty_fields_are_left_out_and_read_back_as_defaults() -> None:
    conv = Conversation(chat_id="42", lang="")
    assert json.loads(conv.to_json()) == {"chat_id": "42", "lang": ""}
    assert Conversation.from_json(conv.to_json()) == conv
    assert Conversation.from_json(Conversation(chat_id="7").to_json()) == Conversation("7")


def test_json_written_with_every_field_and_unknown_keys_still_reads() -> None:
    old = {
        "chat_id": 42,
        "flow": "",
        "state": "",
        "group": "",
        "answers": {},
        "history": [],
        "wording": 0,
        "revising": False,
        "remembered": {},
        "lang": "en",
        "version": 3,
        "updated_at": 1.0,
        "from_a_later_version": True,
    }
    assert Conversation.from_json(json.dumps(old)) == Conversation("42", version=3, updated_at=1.0)


def test_the_two_fast_copies_change_only_what_they_name() -> None:
    conv = EVERY_FIELD
    assert conv.stamped(8, 5.5) == replace(conv, version=8, updated_at=5.5)
    assert conv.recorded(1235, 78) == replace(conv, update_id=1235, message_id=78)
