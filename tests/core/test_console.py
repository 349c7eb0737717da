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


# -- reminders in the console: a fake clock, moved between lines ------------------------------

START = 1_700_000_000.0  # Tuesday 14 November 2023
DAY = 86400.0


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


class Script:
    """Lines for the console, each a string or a function of the chat that returns one (to
    pick a button by its label, or move the clock first), read as a pipe would be."""

    def __init__(self, chat: object, lines: list[object]) -> None:
        self.chat = chat
        self.lines = list(lines)

    def readline(self) -> str:
        if not self.lines:
            return ""
        line = self.lines.pop(0)
        return (line(self.chat) if callable(line) else str(line)) + "\n"


def tap(data: str) -> object:
    """The number of the shown button whose data starts with `data` (wording may change)."""

    def number(chat: object) -> str:
        from bot.console import ConsoleChat

        assert isinstance(chat, ConsoleChat)
        shown = [button.data for button in chat.buttons]
        found = [index for index, each in enumerate(shown, 1) if each.startswith(data)]
        assert found, f"no button {data!r} among {shown}"
        return str(found[0])

    return number


async def test_a_reminder_set_in_the_console_shows_at_the_prompt_after_the_clock_moves() -> None:
    import io

    from bot.console import ConsoleChat
    from bot.content.loader import load_catalog
    from bot.engine import Engine
    from bot.service import ChatService
    from bot.store.memory import MemoryStore

    clock = Clock()
    service = ChatService(Engine(load_catalog()), MemoryStore(), clock=clock)
    out = io.StringIO()
    console = ConsoleChat(service, out)

    def later(days: float, line: object) -> object:
        def move(chat: object) -> str:
            clock.now += days * DAY
            return line(chat) if callable(line) else str(line)

        return move

    answers = ["ask_for_time", "email", "Friday", "Northwind Traders", "Data Analyst"]
    script = Script(
        console,
        [
            *answers,
            "Jordan",
            "Sam Carter",
            tap("rm"),
            tap("ra:days2"),
            "menu",  # shown before this prompt: nothing due yet
            later(3, "menu"),  # the reminder comes due; it shows before the next prompt
            tap("rn:"),  # the reminder's button: the decline, with answers kept
            "email",
            "another_offer",
            "in_writing",
            "quit",
        ],
    )
    assert await console.run(script) == 0  # type: ignore[arg-type]
    text = out.getvalue()
    assert "Reminder set (In 2 days): you'll hear from me on Thursday 16 November." in text
    before, _, after = text.partition("⏰ Reminder")
    assert after, "the due reminder was never shown"
    # one prompt per line read: it came right after the line that moved the clock (the 11th)
    assert before.count("> ") == len(answers) + 6
    assert "You told Northwind Traders you would give your answer by Friday." in after
    assert "Your earlier answer: Northwind Traders" in after  # the next situation reuses it
    assert text.count("⏰ Reminder") == 1  # shown once


def test_chat_now_starts_the_clock_where_a_stored_reminder_is_due(tmp_path: object) -> None:
    import asyncio
    from pathlib import Path

    from bot.reminders import Reminder
    from bot.store.sqlite import SqliteStore

    path = Path(str(tmp_path)) / "chat.db"

    async def seed() -> None:
        store = SqliteStore(path)
        answers = {"company": "Northwind Traders", "reply_by": "Friday", "your_name": "Sam"}
        await store.add_reminder(
            Reminder("console", "r1", START + 2 * DAY, "ask_for_time", "days2", answers)
        )
        await store.close()

    asyncio.run(seed())
    env = {**os.environ, "DOORAJAR_STORE": str(path)}
    env.pop("DOORAJAR_NOW", None)
    for now, shown in ((START, False), (START + 3 * DAY, True)):
        done = subprocess.run(
            [sys.executable, "-m", "bot", "chat", "--now", str(now)],
            input="quit\n",
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert ("You told Northwind Traders" in done.stdout) is shown


async def test_numbers_are_sent_as_taps_and_the_engine_checks_them_like_telegrams() -> None:
    import io

    from bot.console import ConsoleChat
    from bot.content.loader import load_catalog
    from bot.engine import Engine
    from bot.events import Press
    from bot.service import ChatService
    from bot.store.memory import MemoryStore

    service = ChatService(Engine(load_catalog()), MemoryStore())
    console = ConsoleChat(service, io.StringIO())
    console.show((await service.apply("console", None)).outcome.replies)  # type: ignore[union-attr]
    event = console.event_for("1")
    assert event == Press(console.buttons[0].data)
    # a button of what is no longer shown (here: a forged one) changes nothing, as in Telegram
    before = await service.store.load("console")
    step = await service.apply("console", Press("c:no_such_state:x"))
    assert step.outcome is not None and not step.outcome.changed
    assert await service.store.load("console") == before


async def test_a_store_that_is_down_asks_the_console_user_to_type_it_again() -> None:
    import io

    from bot.console import ConsoleChat
    from bot.content.loader import load_catalog
    from bot.engine import Engine
    from bot.service import ChatService, Handled, Step
    from bot.store.memory import MemoryStore

    out = io.StringIO()
    console = ConsoleChat(ChatService(Engine(load_catalog()), MemoryStore()), out)
    console.step(Step(Handled.RETRY))
    said = out.getvalue()
    assert said.startswith("! ") and "type it again" in said
    assert "no need to send" not in said  # nothing delivers it again in a terminal
