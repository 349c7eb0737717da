"""A worker's own last save of the chats it served lately, so the next update of a chat that
is tapping through questions changes that copy instead of reading the store again.

A copy may be stale: another worker or process may have saved the chat (or forgotten it)
since. The store's save therefore compares the time of the last save as well as the version
when the conversation came from a copy (the version alone would let a chat that was forgotten
and built up again to the same version pass), refuses a stale one, and the caller loads
afresh, as after any lost compare-and-set. Conversations are immutable, so the copy is the
saved object itself.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from bot.conversation import Conversation

KEPT_COPIES = 4096
KEEP_COPY_SECONDS = 60.0
"""A worker keeps its last saved copy of up to `KEPT_COPIES` chats, each for a minute at most:
long enough for a user tapping through questions, short enough that little stays in memory."""


class KeptCopies:
    """The last save of each chat this worker served lately, oldest first."""

    def __init__(self, size: int = KEPT_COPIES, seconds: float = KEEP_COPY_SECONDS) -> None:
        self._size = size
        self._seconds = seconds
        self._copies: OrderedDict[str, tuple[float, Conversation]] = OrderedDict()

    def fresh(self, chat_id: str) -> Conversation | None:
        """The chat's copy, unless it is older than the time a copy is kept."""
        kept = self._copies.get(chat_id)
        if kept is None or kept[0] <= time.monotonic():
            return None
        return kept[1]

    def saved_at(self, conv: Conversation) -> float | None:
        """Before saving `conv`: remove its chat's copy (the save replaces it when it wins,
        and a refused one must not be tried from it again) and, when `conv` was changed from
        that copy (the same version), the time of its save, which the store must still hold
        for the save to go through."""
        kept = self._copies.pop(conv.chat_id, None)
        if kept is None or kept[1].version != conv.version:
            return None
        return kept[1].updated_at

    def keep(self, saved: Conversation) -> None:
        """Keep `saved`, as just written, dropping the oldest copy when full."""
        copies = self._copies
        copies[saved.chat_id] = (time.monotonic() + self._seconds, saved)
        if len(copies) > self._size:
            copies.popitem(last=False)

    def drop(self, chat_id: str) -> None:
        """Forget the chat's copy (the chat was forgotten)."""
        self._copies.pop(chat_id, None)

    def clear(self) -> None:
        """Forget every copy (a purge, or the store closing)."""
        self._copies.clear()
