"""A conversation: the small record kept per chat between updates, serialised as JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True, slots=True)
class Conversation:
    """Where a chat stands: flow, state, answers, the way back, and a version for saving.

    `flow == ""` means the main menu (`group` set: one group's situations).
    `remembered` keeps answers such as the user's own name from one situation to the next.
    `update_id` is the Telegram update last recorded with it (a redelivery of that one may
    show where the chat stands again); `message_id` is the id of the chat's message that
    update was about: the user's own message, or the bot's message whose button was tapped.
    Ids in a private chat are shared by both sides and go up by one, so a user's message
    numbered `message_id + 1` proves the bot sent nothing after it (see `ChatTurn.apply`).
    """

    chat_id: str
    flow: str = ""
    state: str = ""
    group: str = ""
    answers: Mapping[str, str] = field(default_factory=dict)
    history: tuple[str, ...] = ()
    wording: int = 0
    revising: bool = False
    remembered: Mapping[str, str] = field(default_factory=dict)
    lang: str = "en"
    update_id: int = 0
    message_id: int = 0
    version: int = 0
    updated_at: float = 0.0

    def to_json(self, *, record: bool = True) -> str:
        """Compact JSON for the store: fields by name, leaving out those that are empty.

        An empty field (no answers yet, wording 0, ...) is its default, so `from_json` reads
        it back the same; `lang`, whose default is not empty, is always written. With
        `record=False` the chat id, version and time are left out too, for a store that keeps
        them in columns of their own and passes them back to `from_json`.
        """
        # Spelled out rather than dataclasses.asdict, which deep-copies and costs 5x as much.
        data = {
            "chat_id": self.chat_id,
            "flow": self.flow,
            "state": self.state,
            "group": self.group,
            "answers": dict(self.answers),
            "history": list(self.history),
            "wording": self.wording,
            "revising": self.revising,
            "remembered": dict(self.remembered),
            "lang": self.lang,
            "update_id": self.update_id,
            "message_id": self.message_id,
            "version": self.version,
            "updated_at": self.updated_at,
        }
        kept = {key: value for key, value in data.items() if value or key in _ALWAYS_WRITTEN}
        if not record:
            for key in _RECORD_FIELDS:
                kept.pop(key, None)
        return _ENCODER.encode(kept)

    # Every update makes these two copies: spelled out, they cost half of `dataclasses.replace`.

    def stamped(self, version: int, updated_at: float) -> Conversation:
        """This conversation as a store saves it: its new version and the time of the save."""
        return self._record(self.update_id, self.message_id, version, updated_at)

    def recorded(self, update_id: int, message_id: int) -> Conversation:
        """This conversation with the update last recorded with it and its message id."""
        return self._record(update_id, message_id, self.version, self.updated_at)

    def _record(
        self, update_id: int, message_id: int, version: int, updated_at: float
    ) -> Conversation:
        return Conversation(
            self.chat_id,
            self.flow,
            self.state,
            self.group,
            self.answers,
            self.history,
            self.wording,
            self.revising,
            self.remembered,
            self.lang,
            update_id,
            message_id,
            version,
            updated_at,
        )

    @classmethod
    def from_json(cls, text: str | bytes, **record: Any) -> Conversation:
        """Read what `to_json` wrote; unknown keys from other versions are ignored.

        `record` supplies fields kept outside the JSON (chat_id, version, updated_at).
        """
        data: dict[str, Any] = json.loads(text)
        if not data.keys() <= _FIELDS:
            data = {key: value for key, value in data.items() if key in _FIELDS}
        data.update(record)
        data["history"] = tuple(data.get("history", ()))
        data["chat_id"] = str(data["chat_id"])
        return cls(**data)


_FIELDS = frozenset(f.name for f in fields(Conversation))
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
"""One encoder for every `to_json` (`json.dumps` with these options builds a new one a call)."""
_ALWAYS_WRITTEN = frozenset({"chat_id", "lang"})
_RECORD_FIELDS = ("chat_id", "version", "updated_at")
"""Fields whose default is not the empty value, so leaving them out would change them."""
