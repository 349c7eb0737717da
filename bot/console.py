"""The console chat: the same flows in a terminal, with numbered options.

Type a number to tap a button, an option's name or id, or an answer; `skip` and `keep` tap
those buttons, and `back`, `restart`, `menu`, `reminders` and `quit` work everywhere. It reads
stdin line by line, so it can be driven by a pipe.

A number is sent as `Press(data)`, the button's data as Telegram's gateway sends a tap, so the
engine checks it against what it would show now in both front ends alike. Reminders due while
the chat is open are shown before the next prompt; `--now` (or DOORAJAR_NOW) starts the
chat's clock at another time, to try them without waiting days.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import TextIO

from bot.compose import ComposedResult
from bot.content.catalog import KEEP, SKIP, CommonPhrases
from bot.engine import fill_common
from bot.events import Back, Event, ListReminders, Press, Restart, Start, Text
from bot.replies import (
    Button,
    MenuReply,
    Notice,
    QuestionReply,
    ReminderReply,
    Reply,
    ResultReply,
)
from bot.service import ChatService, Step

RULE = "─" * 60
PHRASE_KEYS = (
    "welcome",
    "wording_label",
    "console_sorry_store",
    "message_label_email",
    "message_label_linkedin",
    "message_label_messenger",
    "message_label_script",
)
"""The common phrases the console uses beyond the core's; the loader refuses content without
them."""
WORDS: dict[str, Event] = {
    "back": Back(),
    "restart": Restart(),
    "menu": Start(),
    "reminders": ListReminders(),
}


class ConsoleChat:
    """Prints replies and turns typed lines into events."""

    def __init__(self, service: ChatService, out: TextIO, chat_id: str = "console") -> None:
        self.service = service
        self.out = out
        self.chat_id = chat_id
        self.buttons: list[Button] = []
        catalog = service.engine.catalog
        self.common: CommonPhrases = catalog.common[catalog.default_lang]

    def say(self, text: str = "") -> None:
        """Write a line and flush, so a pipe sees it at once."""
        self.out.write(text + "\n")
        self.out.flush()

    def show(self, replies: tuple[Reply, ...]) -> None:
        """Print the replies of one step and remember their buttons for numbers."""
        self.buttons = []
        for reply in replies:
            match reply:
                case Notice(text):
                    self.say(f"! {text}")
                case MenuReply(text, rows):
                    self.say()
                    self.say(text)
                    self._buttons(rows)
                case QuestionReply():
                    self._question(reply)
                case ResultReply():
                    self._result(reply)
                case ReminderReply(text, rows):
                    self.say()
                    self.say(text)
                    self._buttons(rows)

    def step(self, step: Step) -> None:
        """Show what one step replied, or that the store could not take it (nothing
        delivers it again here, unlike Telegram: the person types it again)."""
        if step.outcome is None:
            self.say(f"! {self.common['console_sorry_store']}")
            return
        self.show(step.outcome.replies)

    def _buttons(self, rows: tuple[tuple[Button, ...], ...]) -> None:
        for row in rows:
            for button in row:
                self.buttons.append(button)
                self.say(f"  {len(self.buttons)}. {button.label}")

    def _question(self, reply: QuestionReply) -> None:
        self.say()
        if reply.problem:
            self.say(f"! {reply.problem}")
        self.say(reply.text)
        if reply.previous:
            self.say(fill_common(self.common["previous_answer"], value=reply.previous))
        self._buttons(reply.buttons)
        if reply.accepts_text:
            self.say("  (type your answer)")

    def _result(self, reply: ResultReply) -> None:
        self._messages(reply.result)
        if reply.wordings > 1:
            label = self.common["wording_label"]
            self.say(fill_common(label, number=reply.wording_number, total=reply.wordings))
        if reply.result.advice:
            self.say()
            self.say(self.common["advice_heading"])
            for item in reply.result.advice:
                mark = "⚠" if item.kind == "warning" else "•"
                self.say(f"  {mark} {item.text}")
        if reply.result.legal:
            self.say()
            self.say(f"{self.common['legal_heading']} ({self.common['legal_disclaimer']})")
            for item in reply.result.legal:
                self.say(f"  • {item.text}")
        self.say()
        self._buttons(reply.actions)

    def _messages(self, result: ComposedResult) -> None:
        self.say()
        self.say(self.common["result_intro"])
        for message in result.messages:
            self.say(f"{RULE}\n{self.common['message_label_' + message.kind]}\n{RULE}")
            self.say(message.text)
        self.say(RULE)

    def event_for(self, line: str) -> Event | None:
        """The event a typed line stands for; None means quit."""
        word = line.strip()
        if word.lower() in ("quit", "exit", "/quit"):
            return None
        if word.lower() in WORDS:
            return WORDS[word.lower()]
        if word.lower() in ("skip", "keep"):
            suffix = SKIP if word.lower() == "skip" else KEEP
            for button in self.buttons:
                if button.data.endswith(f":{suffix}"):
                    return Press(button.data)
        if word.isdigit() and 1 <= int(word) <= len(self.buttons):
            return Press(self.buttons[int(word) - 1].data)
        return Text(line)

    async def run(self, lines: TextIO) -> int:
        """Chat until `quit` or the end of input."""
        self.say(self.common["welcome"])
        self.say(
            "Type a number to choose (or the option's name); 'skip', 'back', 'restart', "
            "'menu', 'reminders' or 'quit' at any time."
        )
        self.step(await self.service.apply(self.chat_id, None))
        while True:
            await self.show_due_reminders()
            self.out.write("> ")
            self.out.flush()
            line = lines.readline()
            if not line:
                self.say()
                return 0
            event = self.event_for(line.rstrip("\n"))
            if event is None:
                self.say("Bye. Nothing was sent anywhere.")
                return 0
            self.step(await self.service.apply(self.chat_id, event))

    async def show_due_reminders(self) -> None:
        """Reminders that came due while the chat was open, shown before the next prompt
        (their buttons replace the numbers shown before)."""
        for reminder in await self.service.claim_reminders():
            reply = self.service.reminder_reply(reminder)
            if reply is not None:
                self.say()
                self.say("⏰ Reminder")
                self.show((reply,))
            await self.service.reminder_sent(reminder)


def fake_clock(start: float) -> Callable[[], float]:
    """A clock that starts at `start` (Unix seconds) and runs at the real pace."""
    offset = start - time.time()
    return lambda: time.time() + offset


async def run_console(service: ChatService, now: float | None = None) -> int:
    """Run the console chat on stdin and stdout. `now` (`doorajar chat --now`), else
    DOORAJAR_NOW, in Unix seconds, starts the clock at another time, for trying reminders
    without waiting days."""
    if now is None and (fake_now := os.environ.get("DOORAJAR_NOW")):
        now = float(fake_now)
    if now is not None:
        service.clock = fake_clock(now)
    return await ConsoleChat(service, sys.stdout).run(sys.stdin)
