"""Where conversations live between updates: the `ConversationStore` protocol and its stores.

Every store keeps the same promises, checked by one contract test suite:

* `load` returns the saved conversation or None;
* `save` is compare-and-set: it writes only when the stored version still equals the version
  the conversation was loaded with, and returns the conversation with its new version (or None
  when someone else saved first, so the caller reloads and retries);
* `seen` records an update id and says whether it was already recorded (de-duplication);
* `forget` deletes everything kept for a chat; `purge` drops conversations idle too long.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from bot.conversation import Conversation


class StoreUnavailable(Exception):
    """The store cannot be reached or written; nothing was changed."""


class ConversationStore(Protocol):
    """Keeps conversations by chat; every method is safe to call from one event loop."""

    async def load(self, chat_id: str) -> Conversation | None:
        """The chat's saved conversation, or None."""
        ...

    async def save(self, conv: Conversation) -> Conversation | None:
        """Write `conv` if the stored version is still `conv.version`; return it re-versioned."""
        ...

    async def seen(self, chat_id: str, update_id: int) -> bool:
        """Record `update_id` for the chat; True when it had been recorded before."""
        ...

    async def forget(self, chat_id: str) -> None:
        """Delete the conversation and everything else kept for the chat."""
        ...

    async def purge(self, idle_seconds: float) -> int:
        """Delete conversations not updated for `idle_seconds`; return how many."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class MemoryStore:
    """A store in a dict: for tests and the console when nothing should be written."""

    def __init__(self) -> None:
        self._conversations: dict[str, str] = {}
        self._seen: dict[str, set[int]] = {}

    async def load(self, chat_id: str) -> Conversation | None:
        text = self._conversations.get(chat_id)
        return Conversation.from_json(text) if text is not None else None

    async def save(self, conv: Conversation) -> Conversation | None:
        current = self._conversations.get(conv.chat_id)
        stored_version = Conversation.from_json(current).version if current else 0
        if stored_version != conv.version:
            return None
        saved = replace(conv, version=conv.version + 1, updated_at=time.time())
        self._conversations[conv.chat_id] = saved.to_json()
        return saved

    async def seen(self, chat_id: str, update_id: int) -> bool:
        ids = self._seen.setdefault(chat_id, set())
        if update_id in ids:
            return True
        ids.add(update_id)
        return False

    async def forget(self, chat_id: str) -> None:
        self._conversations.pop(chat_id, None)
        self._seen.pop(chat_id, None)

    async def purge(self, idle_seconds: float) -> int:
        cutoff = time.time() - idle_seconds
        old = [
            chat
            for chat, text in self._conversations.items()
            if Conversation.from_json(text).updated_at < cutoff
        ]
        for chat in old:
            await self.forget(chat)
        return len(old)

    async def close(self) -> None:
        return None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    chat_id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    updated_at REAL NOT NULL,
    data TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS conversations_updated ON conversations(updated_at);
CREATE TABLE IF NOT EXISTS seen_updates (
    chat_id TEXT NOT NULL,
    update_id INTEGER NOT NULL,
    seen_at REAL NOT NULL,
    PRIMARY KEY (chat_id, update_id)
) WITHOUT ROWID;
"""
SEEN_KEEP_SECONDS = 24 * 3600


class SqliteStore:
    """The embedded default: stdlib sqlite3, WAL, one connection, one short transaction a call.

    Calls run on the event loop's thread: a read plus a committed write takes tens of
    microseconds, less than handing the work to a thread would cost.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            if str(path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StoreUnavailable(f"cannot open the SQLite store: {exc}") from exc
        if str(path) != ":memory:":
            os.chmod(self.path, 0o600)

    async def load(self, chat_id: str) -> Conversation | None:
        try:
            row = self._db.execute(
                "SELECT data FROM conversations WHERE chat_id = ?", (chat_id,)
            ).fetchone()
        except sqlite3.Error as exc:
            raise StoreUnavailable(str(exc)) from exc
        return Conversation.from_json(row[0]) if row else None

    async def save(self, conv: Conversation) -> Conversation | None:
        saved = replace(conv, version=conv.version + 1, updated_at=time.time())
        try:
            if conv.version == 0:
                cursor = self._db.execute(
                    "INSERT OR IGNORE INTO conversations VALUES (?, ?, ?, ?)",
                    (conv.chat_id, saved.version, saved.updated_at, saved.to_json()),
                )
            else:
                cursor = self._db.execute(
                    "UPDATE conversations SET version = ?, updated_at = ?, data = ? "
                    "WHERE chat_id = ? AND version = ?",
                    (saved.version, saved.updated_at, saved.to_json(), conv.chat_id, conv.version),
                )
        except sqlite3.Error as exc:
            raise StoreUnavailable(str(exc)) from exc
        return saved if cursor.rowcount == 1 else None

    async def seen(self, chat_id: str, update_id: int) -> bool:
        try:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO seen_updates VALUES (?, ?, ?)",
                (chat_id, update_id, time.time()),
            )
        except sqlite3.Error as exc:
            raise StoreUnavailable(str(exc)) from exc
        return cursor.rowcount == 0

    async def forget(self, chat_id: str) -> None:
        try:
            with self._db:
                self._db.execute("BEGIN")
                self._db.execute("DELETE FROM conversations WHERE chat_id = ?", (chat_id,))
                self._db.execute("DELETE FROM seen_updates WHERE chat_id = ?", (chat_id,))
        except sqlite3.Error as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def purge(self, idle_seconds: float) -> int:
        now = time.time()
        try:
            self._db.execute(
                "DELETE FROM seen_updates WHERE seen_at < ?", (now - SEEN_KEEP_SECONDS,)
            )
            cursor = self._db.execute(
                "DELETE FROM conversations WHERE updated_at < ?", (now - idle_seconds,)
            )
        except sqlite3.Error as exc:
            raise StoreUnavailable(str(exc)) from exc
        return cursor.rowcount

    async def close(self) -> None:
        self._db.close()


def default_sqlite_path() -> Path:
    """The user's data folder (for example ~/.local/share/doorajar/doorajar.db)."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("doorajar", appauthor=False)) / "doorajar.db"


def open_store(spec: str | None) -> ConversationStore:
    """A store from a setting: `memory`, `sqlite:///path`, a bare path, or a redis:// URL."""
    if not spec:
        return SqliteStore(default_sqlite_path())
    if spec == "memory":
        return MemoryStore()
    if spec.startswith(("redis://", "rediss://", "unix://")):
        from bot.redis_store import RedisStore

        return RedisStore.from_url(spec)
    # sqlite:///abs/path.db and sqlite://relative.db, as in SQLAlchemy URLs
    return SqliteStore(spec.removeprefix("sqlite://"))
