"""The console chat as a subprocess with piped stdin, the way a person or script drives it."""

from __future__ import annotations

import os
import subprocess
import sys

ANSWERS = [
    "decline_offer",
    "email",
    "another_offer",
    "in_writing",
    "Northwind {0.__class__} Analytics",
    "Senior Data Analyst",
    "Jordan Lee",
    "Sam Carter",
    "Mention their deadline",
    "Friday",
]


def chat(lines: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOORAJAR_STORE": "memory"}
    env.pop("TELEGRAM_BOT_TOKEN", None)
    return subprocess.run(
        [sys.executable, "-m", "bot", "chat"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_piped_session_reaches_the_final_message_with_the_company_name() -> None:
    done = chat([*ANSWERS, "quit"])
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Subject: " in out
    assert "Northwind {0.__class__} Analytics" in out
    assert "Hi Jordan," in out and "Sam Carter" in out
    assert "Before you send it" in out
    assert "Send it before Friday" in out
    assert "Traceback" not in out + done.stderr


def test_numbers_pick_buttons_and_back_shows_the_earlier_answer() -> None:
    done = chat(["1", "1", "1", "2", "back", "quit"])
    assert done.returncode == 0, done.stderr
    assert "Your earlier answer:" in done.stdout


def test_end_of_input_ends_the_chat_cleanly() -> None:
    done = chat(["decline_offer", "email"])
    assert done.returncode == 0
    assert "Traceback" not in done.stderr


def test_nonsense_input_gets_a_nudge_not_a_crash() -> None:
    done = chat(["", "99", "\x00\x1b[31m", "decline_offer", "nonsense", "quit"])
    assert done.returncode == 0
    assert "Pick a situation" in done.stdout
    assert "Please tap one of the buttons" in done.stdout
