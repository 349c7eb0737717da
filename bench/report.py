"""The benchmark's figures as a plain-text table and as markdown, with the targets checked."""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


class Worker(Protocol):
    """What the report reads of a measured bot (`bench.run.Worker`): its rounds' figures and
    its final ones."""

    name: str
    rounds: list[dict[str, Any]]
    final: dict[str, Any]


KB = 1024
MB = 1024 * 1024
LABELS = {
    "doorajar": "doorajar, SQLite (commit per update)",
    "doorajar-redis": "doorajar, Redis",
    "echo": "floor 1: PTB echo bot",
    "conversation": "floor 2: PTB ConversationHandler",
}


@dataclass(frozen=True)
class Target:
    """One goal: a measured value against its limit."""

    name: str
    value: float | None
    limit: float
    unit: str

    @property
    def verdict(self) -> str:
        """PASS, FAIL, or SKIP when the part was not run."""
        if self.value is None:
            return "SKIP"
        return "PASS" if self.value <= self.limit else "FAIL"

    def shown(self) -> str:
        """The value and its limit, for the table."""
        value = "-" if self.value is None else _number(self.value)
        return f"{value} {self.unit} (limit {_number(self.limit)} {self.unit})".replace(" ()", "")


def _number(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _cpu(worker: Worker) -> list[float]:
    return [float(r["cpu_us"]) for r in worker.rounds]


def ratio(tier: Mapping[str, Worker], top: str, bottom: str) -> tuple[float, float, float] | None:
    """Median, min and max over rounds of the CPU-per-update ratio of two bots."""
    if top not in tier or bottom not in tier:
        return None
    ratios = [a / b for a, b in zip(_cpu(tier[top]), _cpu(tier[bottom]), strict=True)]
    return statistics.median(ratios), min(ratios), max(ratios)


@dataclass
class Report:
    """Everything measured in one run."""

    machine: dict[str, str]
    plan: dict[str, Any]
    users: int
    quick: bool = False
    micro: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    """`bench.stats_cost`: CPU per update with stats counters on and off."""
    reminders: dict[str, Any] = field(default_factory=dict)
    """`bench.reminder_check`: the periodic reminder check with many stored, few due."""
    tier_a: Mapping[str, Worker] = field(default_factory=dict)
    tier_b: Mapping[str, Worker] = field(default_factory=dict)
    scale: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    load_after: float = 0.0

    # -- the figures ------------------------------------------------------------------------

    def _ratio(self, tier: Mapping[str, Worker], top: str, bottom: str) -> float | None:
        found = ratio(tier, top, bottom)
        return found[0] if found else None

    def targets(self) -> list[Target]:
        """Every target, measured or skipped."""
        scale = self.scale
        stored = scale.get("stored", {})
        growth = None
        if scale:
            growth = (scale["doorajar_rss_large_kb"] - scale["doorajar_rss_small_kb"]) / KB
        return [
            Target(
                "tier (a): doorajar / ConversationHandler",
                self._ratio(self.tier_a, "doorajar", "conversation"),
                1.0,
                "x",
            ),
            Target(
                "tier (b): doorajar / ConversationHandler",
                self._ratio(self.tier_b, "doorajar", "conversation"),
                1.0,
                "x",
            ),
            Target(
                "tier (a): doorajar / echo", self._ratio(self.tier_a, "doorajar", "echo"), 2.0, "x"
            ),
            Target("engine step, median", self.micro.get("step_median_us"), 30, "us"),
            Target("load and validate all flows", self.micro.get("load_median_ms"), 150, "ms"),
            Target("stats on vs off, extra per update", self.stats.get("stats_extra_pct"), 5, "%"),
            Target(
                f"reminder check, {self.reminders.get('stored', 0):,} stored (SQLite)",
                self.reminders.get("sqlite", {}).get("check_median_ms"),
                50,
                "ms",
            ),
            Target(
                f"reminder check, {self.reminders.get('stored', 0):,} stored (Redis)",
                self.reminders.get("redis", {}).get("check_median_ms"),
                50,
                "ms",
            ),
            Target(
                "bytes per stored conversation",
                stored.get("bytes_per_conversation"),
                KB,
                "B",
            ),
            Target(f"RSS, {self.plan['stored']:,} stored - {1000:,} stored", growth, 20, "MB"),
            Target(
                "tier (a), Redis: doorajar / ConversationHandler",
                self._ratio(self.tier_a, "doorajar-redis", "conversation"),
                1.0,
                "x",
            ),
        ]

    def problems(self) -> list[str]:
        """Reasons the run is not valid: errors logged, users who did not finish."""
        found = []
        workers = [*self.tier_a.values(), *self.tier_b.values()]
        for worker in workers:
            final = worker.final
            if final.get("errors"):
                found.append(f"{worker.name}: {final['errors']} error(s): {final['first_error']}")
            if "finished" in final and final["finished"] != final["chats"]:
                found.append(f"{worker.name}: {final['finished']} of {final['chats']} finished")
        for check in self.scale.get("doorajar_checks", []) + self.scale.get("probe_checks", []):
            if check.get("errors"):
                found.append(f"scale: {check['errors']} error(s): {check['first_error']}")
        for check in self.scale.get("doorajar_checks", []):
            if check["finished"] != check["chats"]:
                found.append(f"scale: {check['finished']} of {check['chats']} finished")
        if self.reminders:
            plan = self.reminders["sqlite_plan"]
            if "reminders_due" not in plan or "SCAN" in plan:
                found.append(f"reminder check: the claim does not search the due index: {plan}")
            for store in ("sqlite", "redis"):
                claimed = self.reminders.get(store, {}).get("claimed", self.reminders["due"])
                if claimed != self.reminders["due"]:
                    found.append(f"reminder check ({store}): {claimed} claimed, not all due")
        return found

    # -- tables -----------------------------------------------------------------------------

    def _tier_rows(self, tier: Mapping[str, Worker]) -> list[list[str]]:
        rows = []
        for name, worker in tier.items():
            cpu = _cpu(worker)
            final = worker.final
            updates = sum(int(r["updates"]) for r in worker.rounds)
            calls = final.get("calls")
            per_update = (
                f"{(sum(calls.values()) - calls.get('getMe', 0)) / max(updates, 1):.2f}"
                if calls
                else "-"
            )
            if calls and final.get("carried"):  # answers to taps, in the webhook's answers
                per_update += f" + {final['carried'] / max(updates, 1):.2f} carried"
            rows.append(
                [
                    LABELS.get(name, name),
                    f"{statistics.median(cpu):,.0f}",
                    f"{min(cpu):,.0f}-{max(cpu):,.0f}",
                    f"{final['p50_us']:,.0f}",
                    f"{final['p99_us']:,.0f}",
                    f"{final['peak_rss_kb'] / KB:.1f}",
                    per_update,
                ]
            )
        return rows

    def _ratio_lines(self, tier: Mapping[str, Worker]) -> list[str]:
        lines = []
        for top, bottom in (
            ("doorajar", "echo"),
            ("doorajar", "conversation"),
            ("doorajar-redis", "conversation"),
        ):
            found = ratio(tier, top, bottom)
            if found:
                median, low, high = found
                lines.append(
                    f"{LABELS[top].split(',')[0]}{', Redis' if 'redis' in top else ''} / "
                    f"{'echo' if bottom == 'echo' else 'ConversationHandler'}: "
                    f"{median:.2f} (rounds {low:.2f}-{high:.2f})"
                )
        return lines

    def _sections(self) -> list[tuple[str, list[str], list[list[str]], list[str]]]:
        """(title, header, rows, notes) for each table."""
        header = [
            "bot",
            "CPU us/update (median)",
            "min-max over rounds",
            "p50 us",
            "p99 us",
            "peak RSS MB",
            "Bot API calls/update",
        ]
        sections = []
        for title, tier in (
            (
                "tier (a): canned Bot API answers in-process (doorajar: webhook.answer_update, "
                "floors: process_update)",
                self.tier_a,
            ),
            ("tier (b): Bot API over HTTP to a fake server in another process", self.tier_b),
        ):
            if tier:
                any_worker = next(iter(tier.values()))
                updates = sum(int(r["updates"]) for r in any_worker.rounds)
                rounds = len(any_worker.rounds)
                note = f"{updates:,} updates in {rounds} rounds (after a warm-up round), per bot"
                sections.append(
                    (title, header, self._tier_rows(tier), [note, *self._ratio_lines(tier)])
                )
        if self.micro:
            micro = self.micro
            rows = [
                [
                    "engine step (handle + compose)",
                    f"{micro['step_median_us']:.1f} us median",
                    f"mean {micro['step_mean_us']:.1f} us, p99 {micro['step_p99_us']:.0f} us, "
                    f"{micro['steps']:,} steps",
                ],
                [
                    f"load_catalog ({micro['flows']} flows, all phrases)",
                    f"{micro['load_median_ms']:.1f} ms median",
                    f"min {micro['load_min_ms']:.1f}, max {micro['load_max_ms']:.1f} ms",
                ],
            ]
            sections.append(("engine and loader, alone", ["what", "time", "spread"], rows, []))
        if self.stats:
            st = self.stats
            rows = [
                ["stats on", f"{st['stats_on_us']:.1f} us CPU per update", ""],
                ["stats off", f"{st['stats_off_us']:.1f} us CPU per update", ""],
                ["extra", f"{st['stats_extra_pct']:+.1f} %", "target at most 5 %"],
            ]
            note = (
                f"ChatService.apply on SQLite, {st['updates_per_round']:,} updates a round, "
                f"median of {st['rounds']} rounds, on and off alternating"
            )
            sections.append(("stats counters", ["what", "cost", ""], rows, [note]))
        if self.reminders:
            sections.append(self._reminder_section())
        if self.scale:
            s = self.scale
            stored = s["stored"]
            users = s["probe_users"]
            probe = s["probe_rss_kb"]

            def held(bot: str) -> list[str]:
                small, large = probe[f"{bot}-1000"], probe[f"{bot}-{users}"]
                per = (large - small) * KB / (users - 1000)
                return [
                    f"{LABELS[bot].split(',')[0].removeprefix('floor 2: ')} peak RSS, "
                    f"conversations open part-way ({s['probe_steps']} updates each)",
                    f"{large / KB:.1f} MB with {users:,}",
                    f"{small / KB:.1f} MB with 1,000: ~{per:,.0f} B per conversation",
                ]

            rows = [
                [
                    f"SQLite file, {stored['conversations']:,} conversations",
                    f"{stored['file_bytes'] / MB:,.0f} MB",
                    f"{stored['bytes_per_conversation']:,.0f} B per conversation "
                    f"(JSON {stored['json_bytes']:,.0f} B); filled in {stored['seconds']:.0f} s",
                ],
                [
                    "doorajar peak RSS serving traffic",
                    f"{s['doorajar_rss_large_kb'] / KB:.1f} MB with {stored['conversations']:,} "
                    "stored",
                    f"{s['doorajar_rss_small_kb'] / KB:.1f} MB with 1,000 stored",
                ],
                held("doorajar"),
                held("conversation"),
            ]
            sections.append(("scale", ["what", "figure", "detail"], rows, []))
        return sections

    def _reminder_section(self) -> tuple[str, list[str], list[list[str]], list[str]]:
        r = self.reminders
        rows = []
        for store in ("sqlite", "redis"):
            if store in r:
                m = r[store]
                rows.append(
                    [
                        f"{store}: a check, {r['batch']} claimed and marked sent",
                        f"{m['check_median_ms']:.2f} ms median",
                        f"max {m['check_max_ms']:.2f} ms, {m['checks']} checks, "
                        f"{m['claimed']:,} claimed; target under 50 ms",
                    ]
                )
                rows.append(
                    [
                        f"{store}: a check with nothing due",
                        f"{m['idle_check_median_ms']:.3f} ms median",
                        "",
                    ]
                )
        notes = [
            f"{r['stored']:,} pending reminders stored, {r['due']:,} of them due at once; "
            f"SQLite's plan for the claim: {r['sqlite_plan']}"
        ]
        if self.quick:
            notes.append("BENCH_QUICK: fewer reminders stored than the full run's 1,000,000")
        return ("reminder check", ["what", "time", ""], rows, notes)

    def _target_rows(self) -> list[list[str]]:
        return [[t.verdict, t.name, t.shown()] for t in self.targets()]

    def _machine_line(self) -> str:
        m = self.machine
        return (
            f"{m['cores']} cores, {m['cpu']}; Python {m['python']}, python-telegram-bot "
            f"{m['ptb']}, SQLite {m['sqlite']}; {self.users:,} users"
            f"{' (BENCH_QUICK)' if self.quick else ''}; run took {self.seconds:.0f} s; "
            f"load average {m.get('load', '?')} before, {self.load_after:.2f} after "
            "(other work on the machine inflates CPU figures)"
        )

    def text(self) -> str:
        """The report as plain-text tables."""
        out = [self._machine_line()]
        for title, header, rows, notes in self._sections():
            out += ["", title, *_plain_table(header, rows), *[f"  {n}" for n in notes]]
        out += ["", "targets", *_plain_table(["", "target", "measured"], self._target_rows())]
        return "\n".join(out)

    def markdown(self) -> str:
        """The report as markdown."""
        out = ["# doorajar benchmark", "", self._machine_line()]
        for title, header, rows, notes in self._sections():
            out += ["", f"## {title}", "", *_markdown_table(header, rows)]
            if notes:
                out += ["", *[f"- {n}" for n in notes]]
        out += [
            "",
            "## targets",
            "",
            *_markdown_table(["", "target", "measured"], self._target_rows()),
        ]
        return "\n".join(out) + "\n"


def _plain_table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join
    return [
        line(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip(),
        *[line(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows],
    ]


def _markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *["| " + " | ".join(r) + " |" for r in rows],
    ]
