"""The SQLite store, the embedded default: WAL, one connection, short transactions."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from pathlib import Path

from bot.conversation import Conversation
from bot.store.protocol import DUPLICATE, SEEN_KEEP_SECONDS, SaveResult, StoreUnavailable

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
CREATE INDEX IF NOT EXISTS seen_updates_at ON seen_updates(seen_at);
"""


class SqliteStore:
    """The embedded default: stdlib sqlite3, WAL, one connection, one short transaction a call.

    Calls run on the event loop's thread: a read plus a committed write takes tens of
    microseconds, less than handing the work to a thread would cost. A committed save survives
    the process being killed; `synchronous=NORMAL` may lose the last commits only if the whole
    machine loses power.
    """

    def __init__(self, path: str | Path, busy_timeout: float = 5.0) -> None:
        self.path = Path(path)
        try:
            if str(path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StoreUnavailable(f"cannot open the SQLite store: {exc}") from exc
        if str(path) != ":memory:":
            os.chmod(self.path, 0o600)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (taking the write lock at once); rolled back on any error.

        The body may end it early with ROLLBACK; otherwise it is committed.
        """
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreUnavailable(str(exc)) from exc
        try:
            yield self._db
            if self._db.in_transaction:  # the body may have rolled back already
                self._db.execute("COMMIT")
        except BaseException as exc:
            if self._db.in_transaction:
                with suppress(sqlite3.Error):  # SQLite rolls back by itself when it cannot
                    self._db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise StoreUnavailable(str(exc)) from exc
            raise

    async def load(self, chat_id: str) -> Conversation | None:
        try:
            row = self._db.execute(
                "SELECT data, version, updated_at FROM conversations WHERE chat_id = ?",
                (chat_id,),
            ).fetchone()
        except sqlite3.Error as exc:
            raise StoreUnavailable(str(exc)) from exc
        if row is None:
            return None
        # The chat id, version and time live in their own columns, not again in the JSON.
        return Conversation.from_json(row[0], chat_id=chat_id, version=row[1], updated_at=row[2])

    async def save(self, conv: Conversation, update_id: int | None = None) -> SaveResult:
        saved = replace(conv, version=conv.version + 1, updated_at=time.time())
        with self._transaction() as db:
            if update_id is not None:
                recorded = db.execute(
                    "INSERT OR IGNORE INTO seen_updates VALUES (?, ?, ?)",
                    (conv.chat_id, update_id, saved.updated_at),
                )
                if recorded.rowcount == 0:
                    db.execute("ROLLBACK")
                    return DUPLICATE
            if conv.version == 0:
                cursor = db.execute(
                    "INSERT OR IGNORE INTO conversations VALUES (?, ?, ?, ?)",
                    (conv.chat_id, saved.version, saved.updated_at, saved.to_json(record=False)),
                )
            else:
                cursor = db.execute(
                    "UPDATE conversations SET version = ?, updated_at = ?, data = ? "
                    "WHERE chat_id = ? AND version = ?",
                    (
                        saved.version,
                        saved.updated_at,
                        saved.to_json(record=False),
                        conv.chat_id,
                        conv.version,
                    ),
                )
            if cursor.rowcount != 1:
                db.execute("ROLLBACK")  # the recorded update id goes too
                return None
        return saved

    async def seen(self, chat_id: str, update_id: int) -> bool:
        try:
            row = self._db.execute(
                "SELECT 1 FROM seen_updates WHERE chat_id = ? AND update_id = ?",
                (chat_id, update_id),
            ).fetchone()
        except sqlite3.Error as exc:
            raise StoreUnavailable(str(exc)) from exc
        return row is not None

    async def forget(self, chat_id: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM conversations WHERE chat_id = ?", (chat_id,))
            db.execute("DELETE FROM seen_updates WHERE chat_id = ?", (chat_id,))

    async def purge(self, idle_seconds: float) -> int:
        now = time.time()
        cutoff = now - idle_seconds
        with self._transaction() as db:
            db.execute(
                "DELETE FROM seen_updates WHERE seen_at < ? OR chat_id IN "
                "(SELECT chat_id FROM conversations WHERE updated_at < ?)",
                (now - SEEN_KEEP_SECONDS, cutoff),
            )
            cursor = db.execute("DELETE FROM conversations WHERE updated_at < ?", (cutoff,))
        return cursor.rowcount

    async def close(self) -> None:
        self._db.close()


def default_sqlite_path() -> Path:
    """The user's data folder (for example ~/.local/share/doorajar/doorajar.db)."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("doorajar", appauthor=False)) / "doorajar.db"
