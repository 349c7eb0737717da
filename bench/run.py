"""Run the whole benchmark: traffic, both tiers, the engine, the loader, scale; then report.

`make bench` (or `.venv/bin/python -m bench`); `BENCH_QUICK=1 make bench` (or `--quick`) for
a smaller run of every part. Prints a table with PASS/FAIL per target and writes the same as
markdown to build/bench.md. Exits 0 when the run was valid, whatever the targets say; 1 when
a bot logged an error or a user did not get to the end of the flow (figures from such a run
mean nothing).

Every bot runs in a subprocess of its own (`bench.worker`), so CPU time and peak RSS are its
own. The bots of a tier take turns round by round, so whatever else the machine does is
shared out among them; the ratios are medians of per-round ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from bench.common import TOKEN
from bench.report import Report
from bench.traffic import TrafficSet, write_openings, write_traffic
from bot.content.loader import load_catalog
from bot.engine import Engine

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Plan:
    """How big each part of the run is."""

    users_per_round: int
    rounds: int
    warm_up_users: int
    http_rounds: int
    """Rounds fed over HTTP (tier b), one wave of users each."""
    engine_users: int
    loads: int
    stored: int
    probe_users: int
    reminders: int = 1_000_000
    """Reminders stored for the periodic check's cost (`bench.reminder_check`)."""
    probe_steps: int = 4


# Many short rounds: the bots take turns every few seconds, so a burst of other work on the
# machine lands on one round of each rather than on one bot.
FULL = Plan(
    users_per_round=100,
    rounds=20,
    warm_up_users=50,
    http_rounds=10,
    engine_users=500,
    loads=7,
    stored=1_000_000,
    probe_users=25_000,
)
QUICK = Plan(
    users_per_round=50,
    rounds=6,
    warm_up_users=50,
    http_rounds=4,
    engine_users=150,
    loads=5,
    stored=100_000,
    probe_users=5_000,
    reminders=100_000,
)
SMALL_STORE = 1_000
REMINDERS_DUE = 1_000
RSS_ROUNDS = 8
"""Rounds of traffic served to compare RSS with many and few conversations stored."""
PROBE_BASE = 1_000


@dataclass
class Worker:
    """A bot in its subprocess, answering round commands."""

    name: str
    process: subprocess.Popen[str]
    rounds: list[dict[str, Any]] = field(default_factory=list)
    final: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def start(cls, name: str, spec: dict[str, Any], log: Path) -> Worker:
        """Start `python -m bench.worker SPEC`, its stderr going to `log`."""
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.worker", json.dumps(spec)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log.open("w"),
            text=True,
            cwd=ROOT,
        )
        return cls(name, process)

    def send(self, command: dict[str, Any]) -> None:
        """Send one command without waiting for its answer."""
        stdin, _ = self._pipes()
        stdin.write(json.dumps(command) + "\n")
        stdin.flush()

    def receive(self) -> dict[str, Any]:
        """The answer to the oldest command not yet answered."""
        _, stdout = self._pipes()
        line = stdout.readline()
        if not line:
            raise RuntimeError(f"{self.name} stopped; see its log in build/bench/logs/")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def ask(self, command: dict[str, Any]) -> dict[str, Any]:
        """Send one command and wait for its answer."""
        self.send(command)
        return self.receive()

    def finish(self) -> dict[str, Any]:
        """Collect the final figures and wait for the process to end."""
        self.final = self.ask({"finish": True})
        self.process.wait(timeout=60)
        return self.final

    def _pipes(self) -> tuple[IO[str], IO[str]]:
        assert self.process.stdin is not None and self.process.stdout is not None
        return self.process.stdin, self.process.stdout


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def redis_server(folder: Path) -> Iterator[str | None]:
    """A throw-away redis-server on a free loopback port (None when none is installed).

    Append-only file with an fsync every second: a write survives the bot's crash, as with
    SQLite's synchronous=NORMAL.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes"]
    args += ["--appendfsync", "everysec", "--dir", str(folder)]
    process = subprocess.Popen(
        [binary, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def fake_bot_api() -> Iterator[str]:
    """The shared fake Bot API, canned, in its own process; yields the base URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_bot_api", "--canned", "--token", TOKEN],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert process.stdout is not None and process.stdin is not None
    try:
        port = int(process.stdout.readline())
        yield f"http://127.0.0.1:{port}/bot"
    finally:
        process.stdin.close()
        process.wait(timeout=10)


Round = tuple[Path, int | None]
"""A traffic file and how many of its updates to feed (None: all)."""


def rounds_of(
    traffic: TrafficSet, count: int | None = None, waves: int | None = None
) -> list[Round]:
    """The first `count` rounds after the warm-up, each cut to its first `waves` waves."""
    chosen = list(zip(traffic.rounds[1:], traffic.waves[1:], strict=True))[:count]
    return [(path, cuts[waves - 1] if waves else None) for path, cuts in chosen]


def run_tier(
    specs: dict[str, dict[str, Any]],
    traffic: TrafficSet,
    rounds: Sequence[Round],
    logs: Path,
) -> dict[str, Worker]:
    """Feed every bot the warm-up round, then `rounds`, the bots taking turns."""
    workers = {name: Worker.start(name, spec, logs / f"{name}.log") for name, spec in specs.items()}
    try:
        order = list(workers.values())
        for worker in order:
            worker.ask({"round": str(traffic.rounds[0]), "count": False})
        for number, (path, limit) in enumerate(rounds):
            turn = order[number % len(order) :] + order[: number % len(order)]
            for worker in turn:
                worker.rounds.append(worker.ask({"round": str(path), "limit": limit}))
        for worker in order:
            worker.finish()
    finally:
        for worker in workers.values():
            if worker.process.poll() is None:
                worker.process.kill()
    return workers


def run_json(args: list[str]) -> dict[str, Any]:
    """Run a bench module in a subprocess; its last stdout line, as JSON."""
    done = subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    model = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    import telegram

    return {
        "cores": str(os.cpu_count()),
        "cpu": model,
        "python": platform.python_version(),
        "ptb": telegram.__version__,
        "sqlite": sqlite3.sqlite_version,
        "load": f"{os.getloadavg()[0]:.2f}",
    }


def scale(plan: Plan, traffic: TrafficSet, engine: Engine, work: Path) -> dict[str, Any]:
    """Bytes per stored conversation; RSS with many stored vs few; what each bot holds per
    conversation left open part-way."""
    logs = work / "logs"
    probe_small = work / "probe-small.jsonl"
    probe_large = work / "probe-large.jsonl"
    write_openings(engine, probe_small, PROBE_BASE, plan.probe_steps, first_user=2_000_000)
    write_openings(engine, probe_large, plan.probe_users, plan.probe_steps, first_user=2_000_000)
    result: dict[str, Any] = {"probe_users": plan.probe_users, "probe_steps": plan.probe_steps}
    # The probes run while the stores fill: memory is measured here, not time.
    probes: dict[tuple[str, int], Worker] = {}
    for bot in ("doorajar", "conversation"):
        for size, path in ((PROBE_BASE, probe_small), (plan.probe_users, probe_large)):
            name = f"{bot}-probe-{size}"
            spec = {"bot": bot, "tier": "a", "store": str(work / f"{name}.db")}
            worker = probes[bot, size] = Worker.start(name, spec, logs / f"{name}.log")
            worker.send({"round": str(path), "count": False})
            worker.send({"finish": True})
    stores = {}
    for count in (SMALL_STORE, plan.stored):
        path = work / f"stored-{count}.db"
        stores[count] = run_json(["bench.scale", str(path), str(count)])
    for worker in probes.values():
        worker.receive()  # the round
        worker.final = worker.receive()
        worker.process.wait(timeout=60)
    rss = {}
    for count in (SMALL_STORE, plan.stored):
        spec = {"bot": "doorajar", "tier": "a", "store": str(work / f"stored-{count}.db")}
        workers = run_tier(
            {f"doorajar-{count}": spec}, traffic, rounds_of(traffic, RSS_ROUNDS), logs
        )
        rss[count] = workers[f"doorajar-{count}"].final
    result.update(
        stored=stores[plan.stored],
        stored_small=stores[SMALL_STORE],
        doorajar_rss_small_kb=rss[SMALL_STORE]["peak_rss_kb"],
        doorajar_rss_large_kb=rss[plan.stored]["peak_rss_kb"],
        doorajar_checks=[rss[SMALL_STORE], rss[plan.stored]],
        probe_rss_kb={
            f"{bot}-{size}": worker.final["peak_rss_kb"] for (bot, size), worker in probes.items()
        },
        probe_checks=[worker.final for worker in probes.values()],
    )
    return result


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        default=os.environ.get("BENCH_QUICK", "") not in ("", "0"),
        help="a smaller run of every part [BENCH_QUICK=1]",
    )
    parser.add_argument("--no-scale", action="store_true", help="skip the scale part")
    parser.add_argument("--no-http", action="store_true", help="skip tier (b)")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "build" / "bench.md", help="markdown report"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run everything and report; 1 when the run was not valid."""
    options = parse(argv)
    plan = QUICK if options.quick else FULL
    started = time.monotonic()
    work = ROOT / "build" / "bench"
    shutil.rmtree(work, ignore_errors=True)
    (work / "logs").mkdir(parents=True)
    engine = Engine(load_catalog())
    print("writing traffic ...", flush=True)
    traffic = write_traffic(
        engine, work / "traffic", [plan.warm_up_users] + [plan.users_per_round] * plan.rounds
    )
    report = Report(machine(), plan.__dict__, traffic.users, quick=options.quick)

    print("engine and loader ...", flush=True)
    report.micro = run_json(["bench.micro", str(plan.engine_users), str(plan.loads)])

    print("stats counters on vs off ...", flush=True)
    stats_rounds = 6 if options.quick else 12
    report.stats = run_json(["bench.stats_cost", str(plan.engine_users), str(stats_rounds)])

    print(f"reminder check: {plan.reminders:,} stored, {REMINDERS_DUE:,} due ...", flush=True)
    with redis_server(work / "redis-reminders") as redis_url:
        args = ["bench.reminder_check", str(plan.reminders), str(REMINDERS_DUE)]
        report.reminders = run_json(args + ([redis_url] if redis_url else []))

    print(f"tier (a): {traffic.updates:,} updates ...", flush=True)
    with redis_server(work / "redis") as redis_url:
        specs_a: dict[str, dict[str, Any]] = {
            "doorajar": {"bot": "doorajar", "tier": "a", "store": str(work / "tier-a.db")},
            "echo": {"bot": "echo", "tier": "a"},
            "conversation": {"bot": "conversation", "tier": "a"},
        }
        if redis_url is not None:
            specs_a["doorajar-redis"] = {"bot": "doorajar", "tier": "a", "store": redis_url}
        report.tier_a = run_tier(specs_a, traffic, rounds_of(traffic), work / "logs")

    if not options.no_http:
        http = rounds_of(traffic, plan.http_rounds, waves=1)
        print(f"tier (b): {sum(n or 0 for _, n in http):,} updates over HTTP ...", flush=True)
        with fake_bot_api() as base_url:
            specs_b = {
                "doorajar": {
                    "bot": "doorajar",
                    "tier": "b",
                    "store": str(work / "tier-b.db"),
                    "base_url": base_url,
                },
                "echo": {"bot": "echo", "tier": "b", "base_url": base_url},
                "conversation": {"bot": "conversation", "tier": "b", "base_url": base_url},
            }
            report.tier_b = run_tier(specs_b, traffic, http, work / "logs")

    if not options.no_scale:
        print(f"scale: {plan.stored:,} stored conversations ...", flush=True)
        report.scale = scale(plan, traffic, engine, work)

    for store in work.glob("*.db*"):  # a million conversations take a gigabyte
        store.unlink()
    report.seconds = time.monotonic() - started
    report.load_after = os.getloadavg()[0]
    text = report.text()
    print()
    print(text)
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(report.markdown())
    shown = options.out.relative_to(ROOT) if options.out.is_relative_to(ROOT) else options.out
    print(f"\nwritten to {shown}")
    problems = report.problems()
    for problem in problems:
        print(f"INVALID RUN: {problem}", file=sys.stderr)
    return 1 if problems else 0
