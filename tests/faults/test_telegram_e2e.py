"""`doorajar run` as a real process, talking HTTP to a fake Bot API, driven by a fake user.

Each test starts `python -m bot run` with TELEGRAM_API_BASE_URL pointing at
`tests.fake_bot_api.FakeBotApiServer` on 127.0.0.1, then acts as a user: the updates are
handed out by long polling, or POSTed to the bot's own webhook server. Waits are bounded and
the process is always stopped.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

from tests.fake_bot_api import TOKEN, Call, FakeBotApiServer, FakeTelegram, FakeUser
from tests.logscan import never_log
from tests.walk import TAPS

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 20.0
STEP_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
COMPANY = "Quillfeather Analytics"
ROLE = "Data Wrangler"
RECIPIENT = "Ottoline"
NAME = "Bartholomew Quince"
TYPED = (COMPANY, ROLE, RECIPIENT, NAME)
never_log(*TYPED)
FLOW_TITLE = "Turn down a job offer"
OFFERS_GROUP = "I have a job offer"
WEBHOOK_URL = "https://bot.example.test/hooks/doorajar"
WEBHOOK_SECRET = "e2e-Secret_token-123"


def free_port() -> int:
    """A port nothing listens on right now, on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class BotProcess:
    """`python -m bot run ...` in the background, its log in a file."""

    args: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", *self.args],
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> int | None:
        """Stop it as a service manager would (SIGTERM), killing it if it hangs."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT)
        if self._log is not None:
            self._log.close()
        code = self.process.returncode
        self.process = None
        return code

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@dataclass
class Session:
    """A user chatting with a running bot through the fake Bot API."""

    api: FakeTelegram
    user: FakeUser
    deliver: Callable[[dict[str, Any]], None]

    def act(
        self, update: dict[str, Any], until: Callable[[list[Call]], bool] | None = None
    ) -> None:
        """Send one update and wait until the bot has finished its turn.

        Every turn ends with a message that has buttons (a question, a menu, the advice).
        """
        mark = self.api.mark()
        self.deliver(update)
        done = until or (lambda calls: any("reply_markup" in c.params for c in calls))
        self.api.wait_for(lambda: done(self.api.calls_since(mark, "sendMessage")), STEP_TIMEOUT)

    def say(self, text: str) -> None:
        self.act(self.user.text(text))

    def tap(self, label: str) -> None:
        self.act(self.user.tap(label))

    def last_text(self) -> str:
        text: str = self.user.bot_messages()[-1]["text"]
        return text


@pytest.fixture
def api() -> Iterator[tuple[FakeTelegram, FakeBotApiServer]]:
    fake = FakeTelegram()
    with FakeBotApiServer(fake) as server:
        yield fake, server


def bot_env(server: FakeBotApiServer, store: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOORAJAR_", "TELEGRAM_"))}
    env.update(
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL=server.base_url,
        DOORAJAR_STORE=str(store),
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def start_polling(api: FakeTelegram, bot: BotProcess) -> None:
    """Start the bot and wait for its first long poll."""
    mark = api.mark()
    bot.start()
    try:
        api.wait_for(
            lambda: bool(api.calls_since(mark, "getUpdates")) or not bot.alive(), START_TIMEOUT
        )
    except TimeoutError:
        bot.stop()
        raise
    assert bot.alive(), bot.log()


def open_flow(session: Session) -> None:
    """/start, then through the menu (a group first, when there are groups) to the flow."""
    session.say("/start")
    if not any(button["text"] == FLOW_TITLE for _, button in session.user.buttons()):
        session.tap(OFFERS_GROUP)
    session.tap(FLOW_TITLE)


def walk_to_company(session: Session) -> None:
    open_flow(session)
    for label in TAPS:
        session.tap(label)


def finish(session: Session) -> None:
    for text in TYPED:
        session.say(text)


def assert_result(session: Session) -> None:
    email, advice = session.user.bot_messages()[-2:]
    assert email["text"].startswith("Subject: ")
    assert f"Hi {RECIPIENT}," in email["text"]
    assert email["text"].rstrip().endswith(NAME)
    assert "reply_markup" not in email
    assert "Your message is above (Email)" in advice["text"]
    assert advice["reply_markup"]["inline_keyboard"][-1][0]["switch_inline_query"] == ""
    sends = [c for c in session.api.calls if c.method == "sendMessage"]
    assert sends and all("parse_mode" not in c.params for c in sends)


# -- long polling ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def polling_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Session, str]]:
    """One whole conversation with a polling bot at DEBUG level: the session and the log."""
    tmp = tmp_path_factory.mktemp("polling")
    fake = FakeTelegram()
    with FakeBotApiServer(fake) as server:
        env = bot_env(server, tmp / "store.db", DOORAJAR_LOG_LEVEL="DEBUG")
        bot = BotProcess([], env, tmp / "bot.log")
        start_polling(fake, bot)
        session = Session(fake, FakeUser(fake), fake.push)
        try:
            walk_to_company(session)
            finish(session)
            inline_mark = fake.mark()
            fake.push(session.user.inline())
            fake.wait_for(lambda: bool(fake.calls_since(inline_mark, "answerInlineQuery")))
        finally:
            code = bot.stop()
        assert code == 0, bot.log()
        yield session, bot.log()


def test_polling_bot_takes_a_user_from_start_to_the_result(
    polling_run: tuple[Session, str],
) -> None:
    session, _log = polling_run
    assert_result(session)
    answered = [m["text"] for m in session.user.bot_messages() if "→" in m["text"]]
    assert any(text.endswith("→ Email") for text in answered)
    assert session.api.commands[0]["command"] == "start"
    (inline,) = [c for c in session.api.calls if c.method == "answerInlineQuery"]
    shared = inline.params["results"][0]["input_message_content"]["message_text"]
    assert shared == session.user.bot_messages()[-2]["text"]


def test_logs_of_a_run_hold_neither_the_token_nor_typed_names(
    polling_run: tuple[Session, str],
) -> None:
    _session, log = polling_run
    assert "bot @doorajar_test_bot is ready" in log
    assert "chat=42 event=Text" in log  # it does log, at DEBUG, what happened where
    assert TOKEN not in log and TOKEN.split(":")[1] + "/" not in log
    for typed in TYPED:
        assert typed not in log


def test_restarted_bot_continues_where_the_user_was(
    api: tuple[FakeTelegram, FakeBotApiServer], tmp_path: Path
) -> None:
    fake, server = api
    env = bot_env(server, tmp_path / "store.db")
    session = Session(fake, FakeUser(fake), fake.push)
    first = BotProcess([], env, tmp_path / "first.log")
    start_polling(fake, first)
    try:
        open_flow(session)
        session.tap("Email")
        session.tap("I accepted another offer")
    finally:
        assert first.stop() == 0, first.log()
    assert "Is the other offer confirmed in writing?" in session.last_text()

    second = BotProcess([], env, tmp_path / "second.log")
    start_polling(fake, second)
    try:
        session.tap("Yes, I have it in writing")
        assert session.last_text().startswith("Which company made the offer?")
        session.tap("« Back")  # the history survived too
        assert "confirmed in writing" in session.last_text()
    finally:
        assert second.stop() == 0, second.log()


# -- webhook -----------------------------------------------------------------------------


def post(port: int, update: dict[str, Any], secret: str | None, api: FakeTelegram) -> int:
    """POST an update to the webhook as Telegram does, and carry out what its answer asks."""
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/hooks/doorajar",
        data=json.dumps(update).encode(),
        headers=headers,
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=STEP_TIMEOUT) as response:
            status: int = response.status
            api.webhook_answered(status, response.read())
            return status
    except urllib.error.HTTPError as exc:
        return exc.code


def wait_for_port(port: int, bot: BotProcess) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert bot.alive(), bot.log()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"the webhook server did not listen on {port}")


def test_webhook_bot_serves_a_user_and_rejects_requests_without_the_secret(
    api: tuple[FakeTelegram, FakeBotApiServer], tmp_path: Path
) -> None:
    fake, server = api
    port = free_port()
    args = ["--webhook", "--webhook-url", WEBHOOK_URL, "--listen", "127.0.0.1"]
    args += ["--port", str(port)]
    env = bot_env(server, tmp_path / "store.db", DOORAJAR_WEBHOOK_SECRET=WEBHOOK_SECRET)
    bot = BotProcess(args, env, tmp_path / "bot.log")
    bot.start()
    try:
        wait_for_port(port, bot)
        fake.wait_for(lambda: fake.webhook.get("url") == WEBHOOK_URL)
        assert fake.webhook["secret"] == WEBHOOK_SECRET
        user = FakeUser(fake)

        def deliver(update: dict[str, Any]) -> None:
            assert post(port, update, WEBHOOK_SECRET, fake) == 200

        mark = fake.mark()
        assert post(port, user.text("/start"), None, fake) == 403
        assert post(port, user.text("/start"), "wrong-secret", fake) == 403
        session = Session(fake, user, deliver)
        session.say("/start")
        assert len(fake.calls_since(mark, "sendMessage")) == 1  # the rejected ones did nothing
        walk_to_company(session)
        finish(session)
        assert_result(session)
        assert "getUpdates" not in [c.method for c in fake.calls]
    finally:
        code = bot.stop()
    assert code == 0, bot.log()
    assert WEBHOOK_SECRET not in bot.log() and TOKEN not in bot.log()


# -- refusing to start -------------------------------------------------------------------


def run_briefly(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "run", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
    )


def test_run_without_a_token_explains_and_exits(
    api: tuple[FakeTelegram, FakeBotApiServer], tmp_path: Path
) -> None:
    _fake, server = api
    env = bot_env(server, tmp_path / "store.db")
    del env["TELEGRAM_BOT_TOKEN"]
    done = run_briefly([], env)
    assert done.returncode == 2
    assert "TELEGRAM_BOT_TOKEN" in done.stderr


def test_webhook_mode_requires_a_secret(
    api: tuple[FakeTelegram, FakeBotApiServer], tmp_path: Path
) -> None:
    fake, server = api
    env = bot_env(server, tmp_path / "store.db")
    done = run_briefly(["--webhook", "--webhook-url", WEBHOOK_URL], env)
    assert done.returncode == 2
    assert "--webhook-secret" in done.stderr
    done = run_briefly(["--webhook", "--webhook-url", WEBHOOK_URL, "--webhook-secret", "a b"], env)
    assert done.returncode == 2
    assert fake.calls == []  # nothing reached Telegram
