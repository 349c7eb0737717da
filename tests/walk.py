"""A whole decline_offer conversation as a list of steps, the updates a user sends for it, and
the conversations a single sequential in-process run ends with (the reference)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.content.catalog import Catalog
from bot.conversation import Conversation
from tests.fake_bot_api import FakeTelegram, FakeUser
from tests.harness import running_bot
from tests.logscan import never_log

TAPS = ("Email", "I'd rather not say")
CHAT_BASE = 700_000


@dataclass(frozen=True)
class Step:
    """Type `text`, or tap the newest button labelled `tap`."""

    text: str = ""
    tap: str = ""


def typed(index: int) -> tuple[str, str, str, str]:
    """Company, role, recipient and name typed in chat number `index` (never logged)."""
    return (
        f"Quorvex{index} Systems",
        f"Lattice Engineer {index}",
        f"Ysolde{index}",
        f"Perpetua Nkemelu{index}",
    )


def walk(index: int) -> list[Step]:
    """The steps of one whole conversation, with this chat's own typed answers."""
    names = typed(index)
    never_log(*names)
    return [
        Step(text="/start decline_offer"),
        *(Step(tap=label) for label in TAPS),
        *(Step(text=text) for text in names),
    ]


def update_for(user: FakeUser, step: Step) -> dict[str, Any]:
    """The update a Telegram client sends for `step`, given what the chat shows now."""
    return user.tap(step.tap) if step.tap else user.text(step.text)


def chat_id(index: int) -> int:
    return CHAT_BASE + index


@dataclass
class Reference:
    """What one sequential in-process run of the walks ends with, per chat."""

    conversations: dict[int, Conversation]
    sends: dict[int, int]
    after_step: dict[int, list[Conversation]]


async def reference(catalog: Catalog, indexes: Sequence[int]) -> Reference:
    """Run each chat's walk, one update at a time, in this process (memory store)."""
    conversations: dict[int, Conversation] = {}
    sends: dict[int, int] = {}
    after: dict[int, list[Conversation]] = {}
    async with running_bot(catalog) as bot:
        api: FakeTelegram = bot.api
        for index in indexes:
            user = FakeUser(api, user_id=chat_id(index))
            mark = api.mark()
            after[user.id] = []
            for step in walk(index):
                await bot.deliver(update_for(user, step))
                conv = await bot.store.inner.load(str(user.id))
                assert conv is not None
                after[user.id].append(conv)
            conversations[user.id] = after[user.id][-1]
            sends[user.id] = len(api.calls_since(mark, "sendMessage"))
    return Reference(conversations, sends, after)
