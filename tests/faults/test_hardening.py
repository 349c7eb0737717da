"""The faults and hostile input of issue 11: a database locked by another process, slow and idle
sockets, data left on disk after /forget, bodies that are not updates, weak settings, and logs
that a flood could fill. Each test prints what it measured (FIGURE lines, see tests/figures.py).

The lock is held for `DOORAJAR_LOCK_SECONDS` (6 by default; the issue's probe held it 20 s,
`DOORAJAR_LOCK_SECONDS=20` does the same): a call waits at most a second for a lock whatever
its length, so 6 s already shows every wait end and the loop never stall.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from telegram.error import NetworkError

from bot.content.catalog import Catalog
from bot.conversation import Conversation
from bot.engine import Engine
from bot.service import ChatService
from bot.settings import add_run_arguments
from bot.store.memory import MemoryStore
from bot.store.protocol import StoreUnavailable
from bot.store.redis import persistence_problem
from bot.store.sqlite import SqliteStore
from bot.telegram.outbox import AiohttpRequest
from bot.telegram.startup import build_gateway, start
from bot.telegram.webhook import BODY_TIMEOUT_SECONDS, HEADER_TIMEOUT_SECONDS, SECRET_HEADER
from tests import figures
from tests.fake_bot_api import TOKEN, FakeBotApiServer, FakeTelegram, FakeUser
from tests.faults.test_telegram_e2e import (
    ROOT,
    WEBHOOK_SECRET,
    WEBHOOK_URL,
    BotProcess,
    bot_env,
    free_port,
    post,
    start_polling,
    wait_for_port,
)
from tests.harness import HOOK_PATH, SECRET, running_bot
from tests.logscan import never_log
from tests.redis_server import RedisServer, require_redis_server
from tests.walk import TAPS

LOCK_SECONDS = float(os.environ.get("DOORAJAR_LOCK_SECONDS", "6"))
PRODUCTION_RETRY_DELAYS = (0.2, 0.6)
"""The gateway's pauses before trying an unavailable store again, as `doorajar run` has them."""
STALL_LIMIT = 0.25
"""What the test asserts; the target is 50 ms, printed as a figure (a shared 2-core machine
adds scheduling noise that must not fail the suite; a loop blocked by a lock stalls for 1-5 s)."""
FILE_LIMIT = 256
"""Descriptors the slow-socket worker may open: fewer than the 300 sockets, as a small
container or a service manager's default (1024, against 1,000 sockets) would allow."""
SLOW_SOCKETS = 300
LEGIT_POSTS = 20
TYPED = ("Xylocarpa Bindery", "Marmaduke Ferncastle", "Quillon Sparrowhawk")
KEPT = ("Vexillum Tannery",)
never_log(*TYPED, *KEPT)


class ErrorRecords(logging.Handler):
    """ERROR (and worse) records: an exception that escaped."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def errors() -> Iterator[ErrorRecords]:
    handler = ErrorRecords()
    logging.getLogger().addHandler(handler)
    try:
        yield handler
    finally:
        logging.getLogger().removeHandler(handler)


# -- 2. a locked database --------------------------------------------------------------------

LOCK_HOLDER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("ROLLBACK")
"""


IDLE_WATCHER = """
import sys, time
tick, until = 0.005, time.monotonic() + float(sys.argv[1])
worst = 0.0
while time.monotonic() < until:
    before = time.monotonic()
    time.sleep(tick)
    worst = max(worst, time.monotonic() - before - tick)
print(worst)
"""
"""The same 5 ms ticks in an idle process alongside: how late the machine alone wakes one."""


class CollectorPauses:
    """How long each of Python's garbage collections took (they stop the loop too)."""

    def __init__(self) -> None:
        self.pauses: list[float] = []
        self._started = 0.0

    def __call__(self, phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses.append(time.perf_counter() - self._started)


async def _watch_loop(stalls: list[float], stop: asyncio.Event, tick: float = 0.005) -> None:
    """How late the loop wakes up for a short sleep, again and again: its stalls."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        before = loop.time()
        await asyncio.sleep(tick)
        stalls.append(loop.time() - before - tick)


async def test_a_database_locked_by_another_process_never_stalls_the_loop(
    catalog: Catalog, tmp_path: Path
) -> None:
    path = tmp_path / "doorajar.db"
    store = SqliteStore(path)
    async with running_bot(
        catalog, store, webhook=True, store_retry_delays=PRODUCTION_RETRY_DELAYS
    ) as bot:
        users = [FakeUser(bot.api, user_id=5000 + n) for n in range(5)]
        for user in users:
            assert await bot.post(user.text("/start decline_offer")) == 200
        holder = await asyncio.create_subprocess_exec(
            sys.executable, "-c", LOCK_HOLDER, str(path), str(LOCK_SECONDS),
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert holder.stdout is not None
        assert (await holder.stdout.readline()).strip() == b"locked"
        locked_at = time.monotonic()
        idle = await asyncio.create_subprocess_exec(
            sys.executable, "-c", IDLE_WATCHER, str(LOCK_SECONDS - 0.5),
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        # The test process holds the whole pytest session; a full collection of it takes about
        # 70 ms here, which is not the store's doing. Freeze what exists, as a long-running
        # server does after start-up, and report the collections that still ran.
        gc.freeze()
        collections = CollectorPauses()
        gc.callbacks.append(collections)
        stalls: list[float] = []
        stop = asyncio.Event()
        watcher = asyncio.create_task(_watch_loop(stalls, stop))
        refused: list[float] = []
        unavailable: list[float] = []
        taps = {user.id: user.tap(TAPS[0]) for user in users}

        async def timed(update: dict[str, Any], secret: str, into: list[float]) -> int:
            started = time.monotonic()
            status = await bot.post(update, secret=secret)
            into.append(time.monotonic() - started)
            return status

        async def wrong_secrets() -> list[int]:
            statuses = []
            while time.monotonic() - locked_at < LOCK_SECONDS - 0.5:
                statuses.append(await timed(users[0].text("/help"), "wrong-secret", refused))
                await asyncio.sleep(0.05)
            return statuses

        async def taps_while_locked() -> list[int]:
            statuses = []
            while time.monotonic() - locked_at < LOCK_SECONDS - 2.5:
                rounds = [timed(taps[user.id], SECRET, unavailable) for user in users]
                statuses += await asyncio.gather(*rounds)
            return statuses

        forbidden, locked = await asyncio.gather(wrong_secrets(), taps_while_locked())
        await holder.wait()
        stop.set()
        await watcher
        gc.callbacks.remove(collections)
        gc.unfreeze()
        idle_worst = float((await idle.communicate())[0])
        after = [await bot.post(taps[user.id]) for user in users]
        again = [await bot.post(taps[user.id]) for user in users]
        applied = [await bot.store.inner.load(str(user.id)) for user in users]
    figures.record(
        "sqlite_locked_by_another_process",
        lock_seconds=LOCK_SECONDS,
        longest_loop_stall_ms=round(max(stalls) * 1000, 1),
        loop_stall_p99_ms=round(statistics.quantiles(stalls, n=100)[98] * 1000, 1),
        loop_stalls_over_50ms=sum(stall > 0.05 for stall in stalls),
        idle_process_longest_stall_ms=round(idle_worst * 1000, 1),
        longest_gc_pause_ms=round(max(collections.pauses, default=0) * 1000, 1),
        wrong_secret_requests=len(forbidden),
        slowest_403_ms=round(max(refused) * 1000, 1),
        taps_while_locked=len(locked),
        answered_503=locked.count(503),
        slowest_503_s=round(max(unavailable), 2),
        median_503_s=round(statistics.median(unavailable), 2),
        after_unlock=after,
        applied_once=all(c is not None and c.version == 2 for c in applied),
    )
    assert set(forbidden) == {403} and set(locked) == {503}
    assert max(stalls) < STALL_LIMIT
    assert max(refused) < STALL_LIMIT
    assert max(unavailable) < 1.0 + sum(PRODUCTION_RETRY_DELAYS) + 1.0
    assert after == [200] * len(users) and again == [200] * len(users)
    assert all(
        c is not None and c.version == 2 and c.answers == {"channel": "email"} for c in applied
    )


async def test_a_locked_call_gives_up_within_its_wait_and_the_next_ones_sooner(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "doorajar.db", busy_timeout=0.5)
    other = sqlite3.connect(tmp_path / "doorajar.db", isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        waits = []
        for _ in range(3):
            started = time.monotonic()
            with pytest.raises(StoreUnavailable):
                await store.save(Conversation(chat_id="1"), update_id=1)
            waits.append(time.monotonic() - started)
        assert await store.load("1") is None  # reading goes on while another process writes
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert 0.45 < waits[0] < 0.8
    assert max(waits[1:]) < 0.2  # still locked: no second full wait
    assert isinstance(await store.save(Conversation(chat_id="1"), update_id=1), Conversation)
    await store.close()


# -- 3. slow and idle sockets ----------------------------------------------------------------


class LimitedBotProcess(BotProcess):
    """`doorajar run` with at most `FILE_LIMIT` open file descriptors."""

    def start(self) -> None:
        self._log = self.log_path.open("ab")
        command = [sys.executable, "-m", "bot", "run", *self.args]
        self.process = subprocess.Popen(
            ["sh", "-c", f'ulimit -n {FILE_LIMIT} && exec "$@"', "sh", *command],
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _slow_socket(port: int, kind: int) -> socket.socket:
    """Idle, half-sent headers, or headers and half a body."""
    sock = socket.create_connection(("127.0.0.1", port))
    if kind == 1:
        sock.sendall(b"POST /hooks/doorajar HTTP/1.1\r\nHost: bot\r\nContent-")
    elif kind == 2:
        head = f"{SECRET_HEADER}: {WEBHOOK_SECRET}\r\nContent-Length: 4000\r\n\r\n"
        sock.sendall(b"POST /hooks/doorajar HTTP/1.1\r\nHost: bot\r\n" + head.encode() + b"{")
    return sock


def _closed_by_server(sock: socket.socket) -> bool:
    """Whether the server ended the connection (after an answer, if any)."""
    sock.settimeout(0.05)
    try:
        while sock.recv(4096):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


def test_three_hundred_slow_sockets_neither_stop_real_posts_nor_fill_the_log(
    tmp_path: Path,
) -> None:
    fake = FakeTelegram()
    with FakeBotApiServer(fake) as server:
        port = free_port()
        args = ["--webhook", "--webhook-url", WEBHOOK_URL, "--listen", "127.0.0.1"]
        env = bot_env(server, tmp_path / "store.db", DOORAJAR_WEBHOOK_SECRET=WEBHOOK_SECRET)
        bot = LimitedBotProcess([*args, "--port", str(port)], env, tmp_path / "bot.log")
        bot.start()
        sockets: list[socket.socket] = []
        try:
            wait_for_port(port, bot)
            fake.wait_for(lambda: fake.webhook.get("url") == WEBHOOK_URL)
            assert bot.process is not None
            cpu_before = _cpu_seconds(bot.process.pid)
            opened = time.monotonic()
            sockets = [_slow_socket(port, n % 3) for n in range(SLOW_SOCKETS)]
            user = FakeUser(fake)
            statuses, latencies = [], []
            for number in range(LEGIT_POSTS):
                started = time.monotonic()
                update = user.text("/start") if number % 2 == 0 else user.text("/help")
                statuses.append(post(port, update, WEBHOOK_SECRET, fake))
                latencies.append(time.monotonic() - started)
            time.sleep(max(0.0, opened + max(HEADER_TIMEOUT_SECONDS, BODY_TIMEOUT_SECONDS) + 1.5
                           - time.monotonic()))  # fmt: skip
            dropped = sum(_closed_by_server(sock) for sock in sockets)
            cpu = _cpu_seconds(bot.process.pid) - cpu_before
            busy_for = time.monotonic() - opened
        finally:
            for sock in sockets:
                sock.close()
            code = bot.stop()
    log = bot.log().splitlines()
    figures.record(
        "slow_sockets_against_a_webhook_worker",
        file_limit=FILE_LIMIT,
        slow_sockets=SLOW_SOCKETS,
        legit_posts=LEGIT_POSTS,
        answered_200=statuses.count(200),
        slowest_post_ms=round(max(latencies) * 1000, 1),
        median_post_ms=round(statistics.median(latencies) * 1000, 1),
        slow_sockets_closed_by_the_server=dropped,
        within_s=round(busy_for, 1),
        worker_cpu_s=round(cpu, 2),
        log_lines=len(log),
        tracebacks=sum("Traceback" in line for line in log),
    )
    assert code == 0, "\n".join(log[-20:])
    assert statuses == [200] * LEGIT_POSTS
    assert max(latencies) < 2.0
    assert dropped == SLOW_SOCKETS
    assert len(log) < 40 and not any("Traceback" in line for line in log)


# -- 4. privacy at rest ----------------------------------------------------------------------


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


async def test_forget_leaves_no_typed_text_in_the_database_files_which_are_private(
    catalog: Catalog, tmp_path: Path
) -> None:
    folder = tmp_path / "data"
    path = folder / "doorajar.db"
    store = SqliteStore(path)
    files = [Path(f"{path}{suffix}") for suffix in ("", "-wal", "-shm")]
    modes = {p.name: oct(_mode(p)) for p in [folder, *files]}
    async with running_bot(catalog, store) as bot:
        keeper = FakeUser(bot.api, user_id=777)
        for user, names in ((keeper, KEPT), (bot.user, TYPED), (keeper, KEPT)):
            await bot.deliver(user.text("/start decline_offer"))
            for label in TAPS:
                await bot.deliver(user.tap(label))
            for name in names:
                await bot.deliver(user.text(name))
        before = b"".join(p.read_bytes() for p in files)
        await bot.deliver(bot.user.text("/forget"))
        await bot.deliver(bot.user.tap(bot.common["forget_yes"]))
        for _ in range(30):  # another chat goes on after the forget
            await bot.deliver(keeper.text("/help"))
        on_disk = {p.name: p.read_bytes() for p in files}
        found = {
            name: [file for file, data in on_disk.items() if name.encode() in data]
            for name in TYPED
        }
        kept = any(KEPT[0].encode() in data for data in on_disk.values())
    figures.record(
        "sqlite_after_forget",
        modes_at_first_start=modes,
        typed_names_on_disk_before=sum(name.encode() in before for name in TYPED),
        typed_names_on_disk_after=sum(bool(where) for where in found.values()),
        other_chat_still_on_disk=kept,
    )
    assert modes == {"data": "0o700", **{p.name: "0o600" for p in files}}
    assert all(name.encode() in before for name in TYPED)  # they were there: the scan works
    assert kept
    assert found == {name: [] for name in TYPED}


@pytest.fixture
def plain_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server as it comes out of the box here: no append-only file."""
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_run_warns_at_start_when_its_redis_keeps_no_append_only_file(
    plain_redis: RedisServer, tmp_path: Path
) -> None:
    fake = FakeTelegram()
    with FakeBotApiServer(fake) as server:
        env = bot_env(server, tmp_path / "unused.db")
        env["DOORAJAR_STORE"] = plain_redis.url
        bot = BotProcess([], env, tmp_path / "bot.log")
        start_polling(fake, bot)
        assert bot.stop() == 0
    warnings = [line for line in bot.log().splitlines() if "appendonly" in line]
    figures.record("redis_without_aof_warning", lines=warnings)
    assert len(warnings) == 1 and "WARNING" in warnings[0]
    assert f"127.0.0.1:{plain_redis.port}" in warnings[0]


def test_the_persistence_check_passes_with_aof_and_copes_without_config(tmp_path: Path) -> None:
    durable = RedisServer(tmp_path / "durable", durable=True)
    (tmp_path / "durable").mkdir()
    durable.start()
    try:
        assert persistence_problem(durable.url) is None
    finally:
        durable.stop()
    port = free_port()
    hidden = subprocess.Popen(
        [require_redis_server(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "yes", "--rename-command", "CONFIG", "CONFIG_renamed_away",
         "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        url = f"redis://127.0.0.1:{port}/0"
        deadline = time.monotonic() + 10
        while (problem := persistence_problem(url, timeout=0.2)) and "could not check" in problem:
            assert time.monotonic() < deadline, problem
            time.sleep(0.05)
        assert problem is None  # INFO persistence said aof_enabled:1
    finally:
        hidden.terminate()
        hidden.wait(10)
    missing = persistence_problem(f"redis://:pw@127.0.0.1:{free_port()}/0", timeout=0.2)
    assert missing is not None and "could not check" in missing and "pw" not in missing


# -- 6. bodies that are not updates ----------------------------------------------------------


async def test_deeply_nested_or_out_of_range_bodies_get_400_and_reach_nobody(
    catalog: Catalog, errors: ErrorRecords
) -> None:
    async with running_bot(catalog, webhook=True) as bot:
        good = bot.user.text("/start")
        depth = 100_000
        nested = b'{"update_id": 7, "message": ' + b"[" * depth + b"]" * depth + b"}"
        moderately = json.dumps({**good, "extra": json.loads("[" * 60 + "]" * 60)}).encode()
        huge_id = {**good, "update_id": 2**70}
        negative = {**good, "update_id": -1}
        as_bool = {**good, "update_id": True}
        statuses = [
            await bot.post(nested),
            await bot.post(moderately),
            await bot.post(huge_id),
            await bot.post(negative),
            await bot.post(as_bool),
        ]
        sent = len(bot.api.calls_since(0, "sendMessage"))
        assert await bot.post(good) == 200  # the server is fine afterwards
    figures.record(
        "bad_webhook_bodies", statuses=statuses, error_lines=len(errors.records), sent=sent
    )
    assert statuses == [400] * 5
    assert errors.records == [] and sent == 0


# -- 7. weak settings ------------------------------------------------------------------------


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_run_arguments(parser)
    return parser.parse_args(argv)


@pytest.mark.parametrize("secret", ["x", "fifteen-chars-x", "sixteen-chars-x!", "a b" * 8])
def test_a_weak_or_malformed_webhook_secret_is_refused_clearly(
    secret: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DOORAJAR_WEBHOOK_SECRET", raising=False)
    with pytest.raises(SystemExit) as flag:
        _parse(["--webhook-secret", secret])
    monkeypatch.setenv("DOORAJAR_WEBHOOK_SECRET", secret)
    with pytest.raises(SystemExit) as variable:
        _parse([])
    message = capsys.readouterr().err
    assert flag.value.code == variable.value.code == 2
    assert "webhook secret" in message
    assert len(secret) < 8 or secret not in message  # never echoed (a short one is anywhere)
    assert ("at least 16" in message) == (len(secret) < 16)


def test_a_good_secret_and_retention_zero_are_accepted_and_negative_days_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DOORAJAR_RETENTION_DAYS", raising=False)
    args = _parse(["--webhook-secret", "Sixteen_chars-ok", "--retention-days", "0"])
    assert (args.webhook_secret, args.retention_days) == ("Sixteen_chars-ok", 0)
    assert _parse([]).retention_days == 30
    with pytest.raises(SystemExit):
        _parse(["--retention-days", "-1"])


async def test_with_retention_zero_conversations_stay_but_update_ids_expire_after_a_day(
    catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.store.sqlite.EXPIRE_SEEN_EVERY_SECONDS", 0.0)
    path = tmp_path / "doorajar.db"
    async with running_bot(catalog, SqliteStore(path)) as bot:  # it never purges: retention 0
        first = bot.user.text("/start decline_offer")
        await bot.deliver(first)
        first_id = first["update_id"]
        with sqlite3.connect(path) as db:
            db.execute("UPDATE seen_updates SET seen_at = seen_at - 2 * 86400")
        deadline = time.monotonic() + 5
        while await bot.store.inner.seen(str(bot.user.id), first_id):
            assert time.monotonic() < deadline, "the day-old update id never expired"
            await bot.deliver(bot.user.text("/help"))
            await asyncio.sleep(0.02)
        kept = await bot.conversation()
    assert kept is not None and kept.flow == "decline_offer"


# -- 8. smaller leaks ------------------------------------------------------------------------


async def test_forget_does_not_name_the_chat_at_info(
    catalog: Catalog, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="doorajar")
    async with running_bot(catalog) as bot:
        await bot.deliver(bot.user.text("/start decline_offer"))
        await bot.deliver(bot.user.text("/forget"))
        await bot.deliver(bot.user.tap(bot.common["forget_yes"]))
        assert await bot.conversation() is None
    chat = str(bot.user.id)
    loud = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert not [line for line in loud if chat in line]


async def test_a_flood_of_refused_requests_is_summed_up_in_the_log(
    catalog: Catalog, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="doorajar.webhook")
    async with running_bot(catalog, webhook=True) as bot:
        assert bot.client is not None
        update = bot.user.text("/start")
        statuses = [await bot.post(update, secret="wrong-secret") for _ in range(150)]
        statuses += [await bot.post(b"not json") for _ in range(50)]
        statuses += [(await bot.client.get(HOOK_PATH)).status_code for _ in range(30)]
        statuses += [(await bot.client.get(f"/other/{n}")).status_code for n in range(30)]
        during = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    after = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    figures.record("refused_request_flood", requests=len(statuses), warnings=len(after))
    assert sorted(set(statuses)) == [400, 403, 404, 405]
    assert len(during) == 1 and during[0].startswith("refused: 403 POST " + HOOK_PATH)
    assert len(after) == 2
    assert f"refused {len(statuses) - 1} more" in after[1]
    assert "403 POST /hooks/doorajar x149" in after[1] and "404 GET other path x30" in after[1]


async def test_a_failed_start_up_closes_the_bot_api_session(catalog: Catalog) -> None:
    request = AiohttpRequest(connect_timeout=1)
    gateway = build_gateway(
        ChatService(Engine(catalog), MemoryStore()),
        token=TOKEN,
        base_url=f"http://127.0.0.1:{free_port()}/bot",  # nothing listens: getMe fails
        request=request,
        rate_limit=False,
    )
    with pytest.raises(NetworkError):
        await start(gateway)
    assert request._session is not None and request._session.closed


def test_a_client_sees_a_half_sent_request_dropped_after_the_header_timeout() -> None:
    """The in-process server, as a client would see it: the connection closes in time."""

    async def scenario() -> float:
        from bot.telegram.webhook import WebhookServer

        async def never(_data: dict[str, Any]) -> Any:
            raise AssertionError("nothing reaches the bot")

        server = WebhookServer(HOOK_PATH, SECRET, never)
        port = await server.start("127.0.0.1", 0)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"POST /hooks/doorajar HTTP/1.1\r\nHost: bot\r\n")
            started = time.monotonic()
            await asyncio.wait_for(reader.read(), HEADER_TIMEOUT_SECONDS + 5)
            writer.close()
            return time.monotonic() - started
        finally:
            await server.stop(grace=0)

    held = asyncio.run(scenario())
    assert HEADER_TIMEOUT_SECONDS - 0.5 < held < HEADER_TIMEOUT_SECONDS + 1.5
