"""Open the store a setting names: memory, SQLite or Redis."""

from __future__ import annotations

import logging

from bot.store.memory import MemoryStore
from bot.store.protocol import ConversationStore
from bot.store.sqlite import SqliteStore, default_sqlite_path

log = logging.getLogger("doorajar.store")


def open_store(spec: str | None) -> ConversationStore:
    """A store from a setting: `memory`, `sqlite:///path`, a bare path, or a redis:// URL.

    For Redis, a server without the append-only file is a warning in the log (it starts
    anyway: the setting is the operator's, and may be meant for a test).
    """
    if not spec:
        return SqliteStore(default_sqlite_path())
    if spec == "memory":
        return MemoryStore()
    if spec.startswith(("redis://", "rediss://", "unix://")):
        from bot.store.redis import RedisStore, persistence_problem

        if problem := persistence_problem(spec):
            log.warning("%s", problem)
        return RedisStore.from_url(spec)
    # sqlite:///abs/path.db and sqlite://relative.db, as in SQLAlchemy URLs
    return SqliteStore(spec.removeprefix("sqlite://"))
