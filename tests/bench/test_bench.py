"""`make bench` in miniature: the harness runs, and its bots do the same work. No timings are
asserted; the benchmark prints figures, it never fails the suite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.report import Report
from bench.run import rounds_of, run_tier
from bench.traffic import write_traffic
from bot.engine import Engine


def test_three_bots_take_the_same_traffic_and_make_the_same_calls(
    engine: Engine, tmp_path: Path
) -> None:
    traffic = write_traffic(engine, tmp_path / "traffic", [1, 2])
    specs: dict[str, dict[str, Any]] = {
        "doorajar": {"bot": "doorajar", "tier": "a", "store": str(tmp_path / "bench.db")},
        "echo": {"bot": "echo", "tier": "a"},
        "conversation": {"bot": "conversation", "tier": "a"},
    }
    tier = run_tier(specs, traffic, rounds_of(traffic), tmp_path)

    for worker in tier.values():
        assert worker.final["errors"] == 0, worker.final["first_error"]
        assert [r["updates"] for r in worker.rounds] == [traffic.updates - traffic.waves[0][-1]]
    for name in ("doorajar", "conversation"):
        assert tier[name].final["finished"] == tier[name].final["chats"] == 2
    # The same calls, but a tap's answer rides on doorajar's webhook answer, not a request.
    floor_calls = dict(tier["conversation"].final["calls"])
    taps = floor_calls.pop("answerCallbackQuery")
    assert tier["doorajar"].final["calls"] == floor_calls
    assert tier["doorajar"].final["carried"] == taps
    assert tier["echo"].final["calls"]["sendMessage"] == traffic.updates

    report = Report(
        {"cores": "2", "cpu": "x", "python": "3", "ptb": "22", "sqlite": "3"},
        {"stored": 1000},
        traffic.users,
        tier_a=tier,
    )
    assert report.problems() == []
    text = report.text()
    assert "floor 2: PTB ConversationHandler" in text
    assert "tier (a): doorajar / ConversationHandler" in report.markdown()


def test_the_reminder_check_claims_every_due_one_through_the_index_and_is_reported() -> None:
    from bench.reminder_check import measure

    measured = measure(3000, 100, None)
    assert measured["sqlite"]["claimed"] == 100
    assert "reminders_due" in measured["sqlite_plan"]
    report = Report(
        {"cores": "2", "cpu": "x", "python": "3", "ptb": "22", "sqlite": "3"},
        {"stored": 1000},
        0,
        reminders=measured,
    )
    assert report.problems() == []
    assert "reminder check, 3,000 stored (SQLite)" in report.markdown()
    scanned = Report(report.machine, report.plan, 0, reminders={**measured, "sqlite_plan": "SCAN"})
    assert any("due index" in problem for problem in scanned.problems())
