"""The SQLite store, the embedded default: WAL, short transactions, no waiting on the loop.

Each update costs one short committed write (and a read, unless the store holds its own last
save of the chat: `bot.store.copies`), tens of microseconds, so those run on the event loop's
own connection: handing them to a thread costs more than the work (about
110 us of CPU per call measured, `python -m tests.store.sqlite_handoff`). What can take long
never runs there:

* waiting for another process's lock: the loop's connection never sleeps in SQLite's busy
  handler (`busy_timeout=0`); a locked database makes the call wait asynchronously, with short
  growing pauses, for at most `wait` seconds (1 s by default) and then raise
  `StoreUnavailable`, so the webhook answers 503 and Telegram delivers the update again. After
  such a wait, calls in the next `wait` seconds give up after `LOCKED_RETRY_SECONDS`, so a
  database that stays locked costs each update about a second, not a second per attempt;
* checkpoints (copying the WAL into the database, with its fsyncs), purges and the expiry of
  old update ids run in one maintenance thread with a connection of its own.

Privacy at rest: the folder is created 0700 and the database, -wal and -shm files 0600 (under
umask 077, and chmod for files from older versions); `secure_delete` overwrites deleted rows
with zeros, and after `forget` the WAL is checkpointed and truncated, so nothing a forgotten
chat typed stays in any of the three files.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from bot import stats
from bot.conversation import Conversation
from bot.reminders import Reminder
from bot.store.copies import KeptCopies
from bot.store.protocol import DUPLICATE, SEEN_KEEP_SECONDS, SaveResult, StoreUnavailable

log = logging.getLogger("doorajar.store")

T = TypeVar("T")

STORE_WAIT_SECONDS = 1.0
"""How long a call waits for another connection's lock before the store is unavailable."""
LOCKED_RETRY_SECONDS = 0.05
"""How long a call waits when the last wait already ran out (the database is still locked)."""
BUSY_PAUSES = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05)
"""Pauses between attempts while locked (the last one repeats), as SQLite's own busy handler."""
CHECKPOINT_EVERY_COMMITS = 200
"""Commits between checkpoints (a few pages each: about SQLite's default of 1000 pages)."""
EXPIRE_SEEN_EVERY_SECONDS = 3600.0
"""How often update ids older than `SEEN_KEEP_SECONDS` are deleted, whatever the retention."""
BATCH_ROWS = 500
"""Rows deleted per transaction by the maintenance thread, so no lock is held for long."""
SCAN_ROWS = 5000
"""Update ids read per step while looking for expired ones."""
MAINTENANCE_BUSY_MS = 1000
"""How long the maintenance thread waits for a lock (it may block: it is not the loop)."""

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
DROP INDEX IF EXISTS seen_updates_at;
CREATE TABLE IF NOT EXISTS reminders (
    chat_id TEXT NOT NULL,
    id TEXT NOT NULL,
    next_look REAL,
    done_at REAL,
    data TEXT NOT NULL,
    PRIMARY KEY (chat_id, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS reminders_due ON reminders(next_look) WHERE next_look IS NOT NULL;
CREATE INDEX IF NOT EXISTS reminders_done ON reminders(done_at);
CREATE TABLE IF NOT EXISTS stats (
    day TEXT NOT NULL,
    situation TEXT NOT NULL,
    counter TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (day, situation, counter)
) WITHOUT ROWID;
"""
# Reminders: `next_look` is when a pending reminder is looked at next (its due time, or the end
# of a claim's lease) and NULL once it was sent, so the partial index holds only pending ones
# and a check reads just the due rows. `done_at` is when it was sent, or its due time while
# pending: the retention purge deletes by it. `data` is `Reminder.to_json()`.
# Stats counters (bot.stats): a UTC day, a situation, a counter name and a number, nothing else.
_COUNT = (
    "INSERT INTO stats VALUES (?, ?, ?, 1) "
    "ON CONFLICT (day, situation, counter) DO UPDATE SET n = n + 1"
)
_UPDATE = (
    "UPDATE conversations SET version = ?, updated_at = ?, data = ? "
    "WHERE chat_id = ? AND version = ?"
)
_UPDATE_SAVE = _UPDATE + " AND updated_at = ?"
"""The compare-and-set of a conversation changed from the store's copy of its last save."""
_FILE_SUFFIXES = ("", "-wal", "-shm")


def _is_busy(exc: sqlite3.Error) -> bool:
    """Whether SQLite said another connection holds a lock (SQLITE_BUSY or SQLITE_LOCKED)."""
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    return code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction (taking the write lock at once); rolled back on any error.

    The body may end it early with ROLLBACK; otherwise it is committed.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
        if db.in_transaction:  # the body may have rolled back already
            db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            with suppress(sqlite3.Error):  # SQLite rolls back by itself when it cannot
                db.execute("ROLLBACK")
        raise


def _add_counts(db: sqlite3.Connection, counts: Sequence[str]) -> None:
    """Add one to each stats counter for today, in the caller's transaction."""
    today = stats.day()
    if len(counts) == 1:  # the usual case, and `execute` costs less than `executemany`
        db.execute(_COUNT, (today, *stats.split(counts[0])))
    else:
        db.executemany(_COUNT, [(today, *stats.split(name)) for name in counts])


def _private_files(path: Path, own_folder: bool) -> None:
    """Make the folder (when it is doorajar's) 0700 and the database files 0600."""
    if own_folder:
        os.chmod(path.parent, 0o700)
    for suffix in _FILE_SUFFIXES:
        with suppress(FileNotFoundError):
            os.chmod(f"{path}{suffix}", 0o600)


class SqliteStore:
    """The embedded default: stdlib sqlite3, WAL, one short transaction a call.

    A committed save survives the process being killed; `synchronous=NORMAL` may lose the last
    commits only if the whole machine loses power. `busy_timeout` is how long a call waits
    for another process's lock before raising `StoreUnavailable` (it never blocks the loop).
    """

    def __init__(self, path: str | Path, busy_timeout: float = STORE_WAIT_SECONDS) -> None:
        self.path = Path(path)
        self._wait = busy_timeout
        self._on_disk = str(path) != ":memory:"
        self._locked_at = -float("inf")
        self._commits = 0
        self._next_expiry = 0.0
        self._truncate_pending = False  # touched by the maintenance thread only
        self._maintenance: sqlite3.Connection | None = None
        self._pending: Future[object] | None = None
        self._copies = KeptCopies()
        self._closed = False
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="doorajar-sqlite")
        old_umask = os.umask(0o077)  # the folder, database, -wal and -shm: the owner's only
        try:
            own_folder = False
            if self._on_disk:
                own_folder = not self.path.parent.exists() or self.path.parent == (
                    default_sqlite_path().parent
                )
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA secure_delete=ON")
            self._db.execute("PRAGMA busy_timeout=0")  # waits are asynchronous (`_run`)
            self._db.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints: maintenance thread
            self._db.executescript(_SCHEMA)
            if self._on_disk:
                _private_files(self.path, own_folder)
        except (OSError, sqlite3.Error) as exc:
            self._worker.shutdown(wait=False)
            raise StoreUnavailable(f"cannot open the SQLite store: {exc}") from exc
        finally:
            os.umask(old_umask)

    # -- on the loop --------------------------------------------------------------------------

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` on the loop's connection; while locked, wait asynchronously, bounded.

        `work` is tried again from the start after SQLITE_BUSY, having rolled back.
        """
        started = time.monotonic()
        recently_locked = started - self._locked_at < self._wait
        deadline = started + (
            min(LOCKED_RETRY_SECONDS, self._wait) if recently_locked else self._wait
        )
        attempt = 0
        while True:
            try:
                return work(self._db)
            except sqlite3.Error as exc:
                if not _is_busy(exc):
                    raise StoreUnavailable(str(exc)) from exc
                pause = BUSY_PAUSES[min(attempt, len(BUSY_PAUSES) - 1)]
                if time.monotonic() + pause > deadline:
                    self._locked_at = time.monotonic()
                    raise StoreUnavailable(
                        f"the database stayed locked for {time.monotonic() - started:.2f} s"
                    ) from exc
            attempt += 1
            await asyncio.sleep(pause)

    async def load(self, chat_id: str) -> Conversation | None:
        def read(db: sqlite3.Connection) -> tuple[str, int, float] | None:
            row: tuple[str, int, float] | None = db.execute(
                "SELECT data, version, updated_at FROM conversations WHERE chat_id = ?",
                (chat_id,),
            ).fetchone()
            return row

        row = await self._run(read)
        if row is None:
            return None
        # The chat id, version and time live in their own columns, not again in the JSON.
        return Conversation.from_json(row[0], chat_id=chat_id, version=row[1], updated_at=row[2])

    async def load_to_change(self, chat_id: str) -> Conversation | None:
        """The conversation to change and `save`: this store's own last save of the chat, when
        recent (no read), else `load`. A copy another process has saved over or deleted since
        is refused by `save`, which then compares the time of the last save too."""
        copy = self._copies.fresh(chat_id)
        return copy if copy is not None else await self.load(chat_id)

    async def save(
        self, conv: Conversation, update_id: int | None = None, counts: Sequence[str] = ()
    ) -> SaveResult:
        # Changed from this store's own copy: the row must still be that save (copies.py).
        saved_at = self._copies.saved_at(conv)
        update: str = _UPDATE
        unchanged: tuple[str | int | float, ...] = (conv.chat_id, conv.version)
        if saved_at is not None:
            update, unchanged = _UPDATE_SAVE, (*unchanged, saved_at)

        def write(db: sqlite3.Connection) -> SaveResult:
            saved = conv.stamped(conv.version + 1, time.time())
            with _transaction(db):
                if update_id is not None:
                    recorded = db.execute(
                        "INSERT OR IGNORE INTO seen_updates VALUES (?, ?, ?)",
                        (conv.chat_id, update_id, saved.updated_at),
                    )
                    if recorded.rowcount == 0:
                        db.execute("ROLLBACK")
                        return DUPLICATE
                data = saved.to_json(record=False)
                if conv.version == 0:
                    cursor = db.execute(
                        "INSERT OR IGNORE INTO conversations VALUES (?, ?, ?, ?)",
                        (conv.chat_id, saved.version, saved.updated_at, data),
                    )
                else:
                    cursor = db.execute(update, (saved.version, saved.updated_at, data, *unchanged))
                if cursor.rowcount != 1:
                    db.execute("ROLLBACK")  # the recorded update id goes too
                    return None
                if counts:
                    _add_counts(db, counts)
            return saved

        result = await self._run(write)
        if isinstance(result, Conversation):
            self._copies.keep(result)
        self._after_commit()
        return result

    async def seen(self, chat_id: str, update_id: int) -> bool:
        def read(db: sqlite3.Connection) -> bool:
            row = db.execute(
                "SELECT 1 FROM seen_updates WHERE chat_id = ? AND update_id = ?",
                (chat_id, update_id),
            ).fetchone()
            return row is not None

        return await self._run(read)

    async def forget(self, chat_id: str, counts: Sequence[str] = ()) -> None:
        """Delete the chat's rows (overwritten with zeros), then checkpoint and empty the WAL,
        so that nothing the chat typed stays in the database, -wal or -shm file."""

        self._copies.drop(chat_id)

        def delete(db: sqlite3.Connection) -> None:
            with _transaction(db):
                db.execute("DELETE FROM conversations WHERE chat_id = ?", (chat_id,))
                db.execute("DELETE FROM seen_updates WHERE chat_id = ?", (chat_id,))
                db.execute("DELETE FROM reminders WHERE chat_id = ?", (chat_id,))
                if counts:
                    _add_counts(db, counts)

        await self._run(delete)
        await self._in_worker(lambda: self._checkpoint(truncate=True))

    async def tallies(self, days: Sequence[str]) -> list[stats.DayCount]:
        def read(db: sqlite3.Connection) -> list[stats.DayCount]:
            marks = ", ".join("?" * len(days))
            rows = db.execute(
                f"SELECT day, situation, counter, n FROM stats WHERE day IN ({marks})", list(days)
            ).fetchall()
            return [stats.DayCount(*row) for row in rows]

        return await self._run(read) if days else []

    async def purge(self, idle_seconds: float) -> int:
        cutoff = time.time() - idle_seconds
        self._copies.clear()
        return await self._in_worker(lambda: self._purge_idle(cutoff))

    async def expire_seen(self) -> int:
        """Delete update ids older than `SEEN_KEEP_SECONDS`; how many.

        The store does this by itself every `EXPIRE_SEEN_EVERY_SECONDS` (from a save), so ids
        expire even when conversations are kept for ever (retention 0, no purge).
        """
        return await self._in_worker(self._expire_seen)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._copies.clear()
        await asyncio.wrap_future(self._worker.submit(self._close_maintenance))
        self._worker.shutdown(wait=False)
        self._db.close()  # the last connection: SQLite checkpoints and removes the WAL

    # -- reminders (on the loop's connection: each is one short statement or transaction) ----

    async def add_reminder(self, reminder: Reminder) -> None:
        pending = replace(reminder, sent_at=None)

        def insert(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT OR IGNORE INTO reminders VALUES (?, ?, ?, ?, ?)",
                (pending.chat_id, pending.id, pending.due, pending.due, pending.to_json()),
            )

        await self._run(insert)
        self._after_commit()

    async def claim_reminders(self, now: float, limit: int, lease: float) -> list[Reminder]:
        def claim(db: sqlite3.Connection) -> list[Reminder]:
            # One statement: SQLite runs it under its write lock, so two workers (processes)
            # never claim the same row; the partial index makes it read only the due rows.
            rows = db.execute(
                "UPDATE reminders SET next_look = ? WHERE (chat_id, id) IN ("
                "SELECT chat_id, id FROM reminders WHERE next_look IS NOT NULL "
                "AND next_look <= ? ORDER BY next_look LIMIT ?) RETURNING data",
                (now + lease, now, limit),
            ).fetchall()
            return [Reminder.from_json(row[0]) for row in rows]

        claimed = await self._run(claim)
        if claimed:
            self._after_commit()
        return sorted(claimed, key=lambda r: r.due)

    async def reminder_sent(self, reminder: Reminder, now: float) -> None:
        sent = replace(reminder, sent_at=now)

        def mark(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE reminders SET next_look = NULL, done_at = ?, data = ? "
                "WHERE chat_id = ? AND id = ?",
                (now, sent.to_json(), reminder.chat_id, reminder.id),
            )

        await self._run(mark)
        self._after_commit()

    async def reminder(self, chat_id: str, reminder_id: str) -> Reminder | None:
        def read(db: sqlite3.Connection) -> Reminder | None:
            row = db.execute(
                "SELECT data FROM reminders WHERE chat_id = ? AND id = ?", (chat_id, reminder_id)
            ).fetchone()
            return Reminder.from_json(row[0]) if row else None

        return await self._run(read)

    async def pending_reminders(self, chat_id: str) -> list[Reminder]:
        def read(db: sqlite3.Connection) -> list[Reminder]:
            rows = db.execute(
                "SELECT data FROM reminders WHERE chat_id = ? AND next_look IS NOT NULL",
                (chat_id,),
            ).fetchall()
            return sorted((Reminder.from_json(row[0]) for row in rows), key=lambda r: r.due)

        return await self._run(read)

    async def reschedule_reminder(self, chat_id: str, reminder_id: str, due: float) -> bool:
        def write(db: sqlite3.Connection) -> bool:
            with _transaction(db):
                row = db.execute(
                    "SELECT data FROM reminders WHERE chat_id = ? AND id = ?",
                    (chat_id, reminder_id),
                ).fetchone()
                if row is None:
                    return False
                moved = replace(Reminder.from_json(row[0]), due=due, sent_at=None)
                db.execute(
                    "UPDATE reminders SET next_look = ?, done_at = ?, data = ? "
                    "WHERE chat_id = ? AND id = ?",
                    (due, due, moved.to_json(), chat_id, reminder_id),
                )
            return True

        done = await self._run(write)
        self._after_commit()
        return done

    async def delete_reminder(self, chat_id: str, reminder_id: str) -> bool:
        def delete(db: sqlite3.Connection) -> bool:
            cursor = db.execute(
                "DELETE FROM reminders WHERE chat_id = ? AND id = ?", (chat_id, reminder_id)
            )
            return cursor.rowcount == 1

        done = await self._run(delete)
        self._after_commit()
        return done

    async def drop_reminders(self, chat_id: str) -> int:
        def delete(db: sqlite3.Connection) -> int:
            return db.execute("DELETE FROM reminders WHERE chat_id = ?", (chat_id,)).rowcount

        count = await self._run(delete)
        self._after_commit()
        return count

    def _after_commit(self) -> None:
        """Count commits; now and then hand a checkpoint or the id expiry to the thread."""
        if not self._on_disk:
            return
        self._commits += 1
        now = time.monotonic()
        if now >= self._next_expiry:
            self._next_expiry = now + EXPIRE_SEEN_EVERY_SECONDS
            self._in_background(self._expire_seen)
        elif self._commits >= CHECKPOINT_EVERY_COMMITS:
            self._commits = 0
            self._in_background(self._checkpoint)

    # -- in the maintenance thread ------------------------------------------------------------

    def _in_background(self, job: Callable[[], object]) -> None:
        """Start `job` in the maintenance thread unless one is still running."""
        if (
            self._closed
            or not self._on_disk
            or (self._pending is not None and not self._pending.done())
        ):
            return
        self._pending = self._worker.submit(self._guarded, job)

    def _guarded(self, job: Callable[[], object]) -> object:
        try:
            return job()
        except (StoreUnavailable, sqlite3.Error) as exc:
            log.warning("store maintenance skipped: %s", exc)
            return None

    async def _in_worker(self, job: Callable[[], T]) -> T:
        """Run `job` in the maintenance thread and wait for it (without blocking the loop).

        An in-memory database has no other connection to give the thread: its jobs run here.
        """
        if self._closed:
            raise StoreUnavailable("the store is closed")
        if not self._on_disk:
            try:
                return job()
            except sqlite3.Error as exc:
                raise StoreUnavailable(str(exc)) from exc

        def run() -> T:
            try:
                return job()
            except sqlite3.Error as exc:
                raise StoreUnavailable(str(exc)) from exc

        try:
            future = self._worker.submit(run)
        except RuntimeError as exc:  # the executor was shut down
            raise StoreUnavailable("the store is closed") from exc
        return await asyncio.wrap_future(future)

    def _connection(self) -> sqlite3.Connection:
        """The maintenance thread's own connection, opened on first use."""
        if not self._on_disk:
            return self._db
        if self._maintenance is None:
            db = sqlite3.connect(str(self.path), isolation_level=None)
            db.execute("PRAGMA secure_delete=ON")
            db.execute(f"PRAGMA busy_timeout={MAINTENANCE_BUSY_MS}")
            db.execute("PRAGMA wal_autocheckpoint=0")
            self._maintenance = db
        return self._maintenance

    def _checkpoint(self, truncate: bool = False) -> None:
        """Copy the WAL into the database; with `truncate` (after deleting), also empty the
        WAL file, so no old copy of a deleted row stays in it. A WAL that could not be emptied
        (another connection was reading) is emptied at the next checkpoint."""
        if not self._on_disk:
            return
        truncate = truncate or self._truncate_pending
        mode = "TRUNCATE" if truncate else "PASSIVE"
        busy = self._connection().execute(f"PRAGMA wal_checkpoint({mode})").fetchone()[0]
        self._truncate_pending = bool(truncate and busy)
        if self._truncate_pending:
            log.warning("the WAL could not be emptied yet (the database is busy); trying later")

    def _purge_idle(self, cutoff: float) -> int:
        """Forget chats idle since before `cutoff`, a batch per transaction; expire old ids."""
        db = self._connection()
        removed = 0
        while True:
            with _transaction(db):
                chats = [
                    row[0]
                    for row in db.execute(
                        "SELECT chat_id FROM conversations WHERE updated_at < ? LIMIT ?",
                        (cutoff, BATCH_ROWS),
                    )
                ]
                marks = ", ".join("?" * len(chats))
                if chats:
                    db.execute(f"DELETE FROM seen_updates WHERE chat_id IN ({marks})", chats)
                    cursor = db.execute(
                        f"DELETE FROM conversations WHERE chat_id IN ({marks})", chats
                    )
                    removed += cursor.rowcount
            if len(chats) < BATCH_ROWS:
                break
        while True:  # reminders sent (or due and never sent) before the cutoff
            with _transaction(db):
                cursor = db.execute(
                    "DELETE FROM reminders WHERE (chat_id, id) IN (SELECT chat_id, id FROM "
                    "reminders WHERE done_at < ? LIMIT ?)",
                    (cutoff, BATCH_ROWS),
                )
            removed_reminders = cursor.rowcount
            if removed_reminders < BATCH_ROWS:
                break
        self._expire_seen()
        if removed:
            self._checkpoint(truncate=True)
        return removed

    def _expire_seen(self) -> int:
        """Delete update ids older than `SEEN_KEEP_SECONDS`, a batch per transaction.

        The ids are walked in key order, `SCAN_ROWS` at a time, rather than through an index
        on their time: such an index would be one more page written by every save, and this
        runs once an hour in the maintenance thread.
        """
        db = self._connection()
        oldest = time.time() - SEEN_KEEP_SECONDS
        expired = 0
        after: tuple[str, int] = ("", -1)
        while True:
            rows = db.execute(
                "SELECT chat_id, update_id, seen_at FROM seen_updates "
                "WHERE (chat_id, update_id) > (?, ?) ORDER BY chat_id, update_id LIMIT ?",
                (*after, SCAN_ROWS),
            ).fetchall()
            old = [(chat_id, update_id) for chat_id, update_id, seen_at in rows if seen_at < oldest]
            for start in range(0, len(old), BATCH_ROWS):
                with _transaction(db):
                    cursor = db.executemany(
                        "DELETE FROM seen_updates WHERE chat_id = ? AND update_id = ?",
                        old[start : start + BATCH_ROWS],
                    )
                expired += cursor.rowcount
            if len(rows) < SCAN_ROWS:
                return expired
            after = (rows[-1][0], rows[-1][1])

    def _close_maintenance(self) -> None:
        if self._maintenance is not None:
            self._maintenance.close()
            self._maintenance = None


def default_sqlite_path() -> Path:
    """The user's data folder (for example ~/.local/share/doorajar/doorajar.db)."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("doorajar", appauthor=False)) / "doorajar.db"
