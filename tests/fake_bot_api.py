"""The one fake of the Telegram Bot API, for the tests and the benchmark, and a fake user who
chats with the bot through it.

`FakeTelegram` answers Bot API methods the way Telegram does (a `{"ok": ..., "result": ...}`
body, realistic `Message` dicts, 400 errors for what Telegram refuses) and remembers every call
and every message in every chat, including edits. `CannedTelegram` answers every method with
the same canned body and remembers nothing, for the benchmark's thousands of calls. Either is
served two ways:

* `RecordingRequest`, a `telegram.request.BaseRequest` for in-process bots;
* `FakeBotApiServer`, a stdlib HTTP/1.1 server on 127.0.0.1 for bots that talk HTTP (pointed at
  it with TELEGRAM_API_BASE_URL), with long-polling `getUpdates`. `python -m tests.fake_bot_api
  --canned --token T` runs one in a process of its own: it prints its port, then serves until
  its stdin closes (the benchmark's tier (b), so that the server's CPU is not the bot's).

`FakeUser` writes the updates a Telegram client would send: text, commands, stickers, button
taps (found by the button's label) and inline queries.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Protocol
from urllib.parse import parse_qsl

from telegram._utils.defaultvalue import DEFAULT_NONE
from telegram._utils.types import ODVInput
from telegram.error import TimedOut
from telegram.request import BaseRequest, RequestData

TOKEN = "123:TEST"
BOT_USER: dict[str, Any] = {
    "id": 123,
    "is_bot": True,
    "first_name": "Doorajar",
    "username": "doorajar_test_bot",
    "can_join_groups": False,
    "can_read_all_group_messages": False,
    "supports_inline_queries": True,
}
MESSAGE_LIMIT = 4096
CALLBACK_DATA_LIMIT = 64
LONG_POLL_CAP = 1.0  # seconds; Telegram may return early too, and it keeps shutdowns quick
INT_FIELDS = {"chat_id", "message_id", "offset", "limit", "timeout", "cache_time"}
JSON_FIELDS = {"reply_markup", "results", "commands", "allowed_updates", "button", "is_personal"}
COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_METHODS = (
    "getMe",
    "getUpdates",
    "sendMessage",
    "editMessageText",
    "editMessageReplyMarkup",
    "answerCallbackQuery",
    "answerInlineQuery",
    "setMyCommands",
    "setWebhook",
    "deleteWebhook",
    "getWebhookInfo",
    "close",
    "logOut",
)
_METHOD_NAMES = {name.lower(): name for name in _METHODS}


def method_name(method: str) -> str:
    """A Bot API method's documented name, however it was spelled: method names are
    case-insensitive on Telegram (the bot writes them in lower case)."""
    return _METHOD_NAMES.get(method.lower(), method)


class ApiError(Exception):
    """A Bot API error answer: HTTP status and Telegram's description."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


@dataclass
class Call:
    """One Bot API call the bot made, and when it arrived (time.monotonic())."""

    method: str
    params: dict[str, Any]
    carried: bool = False
    """Made by Telegram for the bot, as a webhook's answer asked (`webhook_answered`)."""
    at: float = field(default_factory=time.monotonic)


TIMEOUT = 0
"""The status of a fault that never answers: the bot's request times out."""


class FakeTelegram:
    """The Bot API's state: calls received, messages per chat, updates waiting to be fetched.

    Safe to use from the HTTP server's threads and the test's thread at once.
    """

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._chats: dict[int, list[dict[str, Any]]] = {}
        self.pending: list[dict[str, Any]] = []
        self.webhook: dict[str, Any] = {"url": ""}
        self.commands: list[dict[str, Any]] = []
        self._message_ids = itertools.count(1)
        self._update_ids = itertools.count(1000)
        self._answered: set[str] = set()
        self._faults: dict[str, list[dict[str, Any]]] = {}
        self._cond = threading.Condition()

    # -- for tests --------------------------------------------------------------------------

    def next_update_id(self) -> int:
        """A fresh update id, increasing like Telegram's."""
        with self._cond:
            return next(self._update_ids)

    def push(self, update: dict[str, Any]) -> None:
        """Queue an update for `getUpdates` (long polling)."""
        with self._cond:
            self.pending.append(update)
            self._cond.notify_all()

    def fail(self, method: str, status: int, description: str, **parameters: Any) -> None:
        """Make the next call of `method` fail as Telegram would (429 with retry_after, ...).

        Status `TIMEOUT` makes it time out instead (no answer at all).
        """
        error: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if parameters:
            error["parameters"] = parameters
        with self._cond:
            self._faults.setdefault(method, []).append(error)

    def webhook_answered(self, status: int, body: bytes) -> None:
        """Carry out the Bot API call a webhook answered with, as Telegram does: only after a
        2xx, and without telling the bot how it went. The call is logged like any other,
        marked `carried`."""
        if not 200 <= status < 300 or not body:
            return
        params = json.loads(body)
        method = params.pop("method")
        self.handle(method, params, carried=True)

    def mark(self) -> int:
        """A position in the call log, to look at what the bot did after it."""
        with self._cond:
            return len(self.calls)

    def calls_since(self, mark: int, method: str | None = None) -> list[Call]:
        """Calls made after `mark`, optionally of one method."""
        with self._cond:
            calls = self.calls[mark:]
        return [call for call in calls if method is None or call.method == method]

    def wait_for(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        """Block until `condition()` holds (checked after every call); fail after `timeout`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not condition():
                left = deadline - time.monotonic()
                if left <= 0:
                    calls = ", ".join(call.method for call in self.calls[-12:])
                    raise TimeoutError(f"the bot did not do it in {timeout} s; last: {calls}")
                self._cond.wait(min(left, 0.1))

    def chat_messages(self, chat_id: int) -> list[dict[str, Any]]:
        """Every message in a chat (both sides), in order, as they read now."""
        with self._cond:
            return list(self._chats.get(chat_id, []))  # kept in message id order

    def add_user_message(self, message: dict[str, Any]) -> dict[str, Any]:
        """Give a message the user sends its id and remember it as part of the chat."""
        with self._cond:
            message["message_id"] = next(self._message_ids)
            self._remember(message)
        return message

    def _remember(self, message: dict[str, Any]) -> None:
        chat_id = message["chat"]["id"]
        self.messages[(chat_id, message["message_id"])] = message
        self._chats.setdefault(chat_id, []).append(message)

    # -- the API ----------------------------------------------------------------------------

    reads_parameters = True

    def handle_bytes(self, method: str, params: dict[str, Any]) -> tuple[int, bytes]:
        """`handle`, with the body as JSON bytes (what the HTTP server sends)."""
        status, body = self.handle(method, params)
        return status, json.dumps(body).encode()

    def handle(
        self, method: str, params: dict[str, Any], *, carried: bool = False
    ) -> tuple[int, dict[str, Any]]:
        """Answer one Bot API call: HTTP status and JSON body (`carried`: made for a webhook's
        answer, not requested by the bot). The call is logged by the method's documented name."""
        method = method_name(method)
        if method != "getUpdates":
            with self._cond:
                self.calls.append(Call(method, params, carried=carried))
                self._cond.notify_all()
        with self._cond:
            fault = self._faults.get(method, []).pop(0) if self._faults.get(method) else None
        if fault is not None:
            return int(fault["error_code"]), fault
        handler = getattr(self, f"api_{method.lower()}", None)
        if handler is None:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        try:
            result = handler(params)
        except ApiError as exc:
            return exc.status, {
                "ok": False,
                "error_code": exc.status,
                "description": exc.description,
            }
        return 200, {"ok": True, "result": result}

    def api_getme(self, params: dict[str, Any]) -> Any:
        return BOT_USER

    def api_getupdates(self, params: dict[str, Any]) -> Any:
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        wait = min(float(params.get("timeout") or 0), LONG_POLL_CAP)
        deadline = time.monotonic() + wait
        with self._cond:
            self.calls.append(Call("getUpdates", params))
            self._cond.notify_all()
            while True:
                if offset:  # confirms every update before it, as on Telegram
                    self.pending = [u for u in self.pending if u["update_id"] >= offset]
                if self.pending or time.monotonic() >= deadline:
                    return self.pending[:limit]
                self._cond.wait(max(0.0, min(deadline - time.monotonic(), 0.1)))

    def _check_text(self, text: Any) -> str:
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > MESSAGE_LIMIT:
            raise ApiError(400, "Bad Request: message is too long")
        return text

    def _check_markup(self, markup: Any) -> dict[str, Any] | None:
        if markup is None:
            return None
        for row in markup.get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode()) <= CALLBACK_DATA_LIMIT:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
                if not button.get("text"):
                    raise ApiError(400, "Bad Request: text buttons are unallowed")
        return dict(markup)

    def api_sendmessage(self, params: dict[str, Any]) -> Any:
        chat_id = int(params["chat_id"])
        message: dict[str, Any] = {
            "date": int(time.time()),
            "chat": private_chat(chat_id),
            "from": BOT_USER,
            "text": self._check_text(params.get("text")),
        }
        markup = self._check_markup(params.get("reply_markup"))
        if markup:
            message["reply_markup"] = markup
        with self._cond:
            message["message_id"] = next(self._message_ids)
            self._remember(message)
        return message

    def _bot_message(self, params: dict[str, Any]) -> dict[str, Any]:
        key = (int(params["chat_id"]), int(params["message_id"]))
        message = self.messages.get(key)
        if message is None or message["from"]["id"] != BOT_USER["id"]:
            raise ApiError(400, "Bad Request: message to edit not found")
        return message

    def api_editmessagetext(self, params: dict[str, Any]) -> Any:
        with self._cond:
            message = self._bot_message(params)
            text = self._check_text(params.get("text"))
            markup = self._check_markup(params.get("reply_markup"))
            if text == message["text"] and markup == message.get("reply_markup"):
                raise ApiError(400, "Bad Request: message is not modified")
            message["text"] = text
            message.pop("reply_markup", None)
            if markup:
                message["reply_markup"] = markup
            message["edit_date"] = int(time.time())
            return dict(message)

    def api_editmessagereplymarkup(self, params: dict[str, Any]) -> Any:
        with self._cond:
            message = self._bot_message(params)
            message.pop("reply_markup", None)
            markup = self._check_markup(params.get("reply_markup"))
            if markup:
                message["reply_markup"] = markup
            return dict(message)

    def api_answercallbackquery(self, params: dict[str, Any]) -> Any:
        query_id = str(params["callback_query_id"])
        with self._cond:
            if query_id in self._answered:
                raise ApiError(400, "Bad Request: query is too old and response timeout expired")
            self._answered.add(query_id)
        return True

    def api_answerinlinequery(self, params: dict[str, Any]) -> Any:
        results = params.get("results") or []
        ids = [result["id"] for result in results]
        if len(ids) > 50 or len(set(ids)) != len(ids):
            raise ApiError(400, "Bad Request: RESULT_ID_DUPLICATE")
        for result in results:
            self._check_text(result["input_message_content"]["message_text"])
        return True

    def api_setmycommands(self, params: dict[str, Any]) -> Any:
        commands = params.get("commands") or []
        for command in commands:
            if not COMMAND_RE.fullmatch(command["command"]):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(command["description"]) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands = commands
        return True

    def api_setwebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = {"url": params.get("url", ""), "secret": params.get("secret_token")}
        return True

    def api_deletewebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = {"url": ""}
        return True

    def api_getwebhookinfo(self, params: dict[str, Any]) -> Any:
        url = self.webhook.get("url", "")
        return {"url": url, "has_custom_certificate": False, "pending_update_count": 0}

    def api_close(self, params: dict[str, Any]) -> Any:
        return True

    def api_logout(self, params: dict[str, Any]) -> Any:
        return True


# -- canned answers (the benchmark) ------------------------------------------------------------

# What Telegram answers to sendMessage and editMessageText: the message as sent. One typical
# question (text, five rows of buttons) stands for all of them, so every bot parses the same.
SENT_MESSAGE: dict[str, Any] = {
    "message_id": 4242,
    "from": BOT_USER,
    "chat": {"id": 10_000_001, "first_name": "Ada", "type": "private"},
    "date": 1_767_225_600,
    "text": "How will you send it?\n\nPick the channel you'll use; the wording fits it.",
    "reply_markup": {
        "inline_keyboard": [
            [{"text": "Email", "callback_data": "c:channel:email"}],
            [{"text": "LinkedIn message", "callback_data": "c:channel:linkedin"}],
            [{"text": "Text or chat message", "callback_data": "c:channel:messenger"}],
            [{"text": "Phone call", "callback_data": "c:channel:phone"}],
            [
                {"text": "« Back", "callback_data": "b"},
                {"text": "Start over", "callback_data": "r"},
            ],
        ]
    },
}


def _ok(result: object) -> bytes:
    return json.dumps({"ok": True, "result": result}, separators=(",", ":")).encode()


class CannedTelegram:
    """The Bot API reduced to one canned answer per method: no state, no checks."""

    reads_parameters = False
    """The server need not decode the parameters: the answer never depends on them."""
    ANSWERS: ClassVar[dict[str, bytes]] = {
        "getme": _ok(BOT_USER),
        "sendmessage": _ok(SENT_MESSAGE),
        "editmessagetext": _ok({**SENT_MESSAGE, "edit_date": 1_767_225_601}),
        "answercallbackquery": _ok(True),
        "answerinlinequery": _ok(True),
        "setmycommands": _ok(True),
        "deletewebhook": _ok(True),
    }
    NOT_FOUND = json.dumps({"ok": False, "error_code": 404, "description": "Not Found"}).encode()

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token

    def answer(self, method: str) -> tuple[int, bytes]:
        """HTTP status and body for `method` (case-insensitive, as on Telegram)."""
        body = self.ANSWERS.get(method.lower())
        return (200, body) if body is not None else (404, self.NOT_FOUND)

    def handle_bytes(self, method: str, params: dict[str, Any]) -> tuple[int, bytes]:
        """`answer`, in the server's terms."""
        return self.answer(method)


def private_chat(chat_id: int) -> dict[str, Any]:
    """The chat object of a private chat with the fake user."""
    return {"id": chat_id, "type": "private", "first_name": "Ada"}


def decode_params(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Form fields as the bot sent them: JSON-encoded objects and numbers decoded."""
    params: dict[str, Any] = {}
    for key, value in pairs:
        if key in INT_FIELDS and re.fullmatch(r"-?\d+", value):
            params[key] = int(value)
        elif key in JSON_FIELDS:
            params[key] = json.loads(value)
        else:
            params[key] = value
    return params


class RecordingRequest(BaseRequest):
    """The HTTP layer of an in-process bot: every call goes straight to a `FakeTelegram`."""

    def __init__(self, api: FakeTelegram) -> None:
        self.api = api

    @property
    def read_timeout(self) -> float | None:
        return 1.0

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = DEFAULT_NONE,
        write_timeout: ODVInput[float] = DEFAULT_NONE,
        connect_timeout: ODVInput[float] = DEFAULT_NONE,
        pool_timeout: ODVInput[float] = DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        params = request_data.json_parameters if request_data else {}
        status, body = self.api.handle(url.rsplit("/", 1)[-1], decode_params(list(params.items())))
        if status == TIMEOUT:
            raise TimedOut("the fake Bot API did not answer")
        return status, json.dumps(body).encode()


class BotApi(Protocol):
    """What `FakeBotApiServer` serves: `FakeTelegram` or `CannedTelegram`."""

    token: str
    reads_parameters: bool

    def handle_bytes(self, method: str, params: dict[str, Any]) -> tuple[int, bytes]: ...


class _Handler(BaseHTTPRequestHandler):
    server: FakeBotApiServer
    protocol_version = "HTTP/1.1"  # keep-alive, as Telegram's servers
    disable_nagle_algorithm = True  # headers and body go in two writes: no 40 ms stall

    def do_POST(self) -> None:
        self._serve()

    def do_GET(self) -> None:
        self._serve()

    def _serve(self) -> None:
        api = self.server.api
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        match = re.fullmatch(r"/bot([^/]+)/(\w+)", path)
        if match is None:
            return self._reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        if match.group(1) != api.token:
            return self._reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        params: dict[str, Any] = {}
        if api.reads_parameters:
            if self.headers.get("Content-Type", "").startswith("application/json"):
                raw = json.loads(body or "{}")
                pairs = [(k, v if isinstance(v, str) else json.dumps(v)) for k, v in raw.items()]
            else:
                pairs = parse_qsl(query) + parse_qsl(body)
            params = decode_params(pairs)
        status, answer = api.handle_bytes(match.group(2), params)
        if status == TIMEOUT:  # hang up without an answer
            self.close_connection = True
            return None
        self._send(status, answer)

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        self._send(status, json.dumps(body).encode())

    def _send(self, status: int, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return None


class FakeBotApiServer(ThreadingHTTPServer):
    """`FakeTelegram` over HTTP on 127.0.0.1 and a free port, served from a thread."""

    daemon_threads = True

    def __init__(self, api: BotApi) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.api = api
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up mid-answer (a bot stopping during a long poll) is normal."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    @property
    def base_url(self) -> str:
        """What to put in TELEGRAM_API_BASE_URL."""
        return f"http://127.0.0.1:{self.server_address[1]}/bot"

    def __enter__(self) -> FakeBotApiServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


class FakeUser:
    """A Telegram user in a private chat with the bot: writes the updates a client sends."""

    def __init__(self, api: FakeTelegram, user_id: int = 42, first_name: str = "Ada") -> None:
        self.api = api
        self.id = user_id
        self.user = {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name,
            "language_code": "en",
        }
        self._query_ids = itertools.count(1)

    def _message(self, **fields: Any) -> dict[str, Any]:
        message = {"date": int(time.time()), "chat": private_chat(self.id), "from": self.user}
        message.update(fields)
        self.api.add_user_message(message)
        return {"update_id": self.api.next_update_id(), "message": message}

    def text(self, text: str) -> dict[str, Any]:
        """An update for a typed message; a leading /command is marked as Telegram does."""
        entities = []
        command = re.match(r"/\w+(@\w+)?", text)
        if command:
            entities = [{"type": "bot_command", "offset": 0, "length": command.end()}]
        return self._message(text=text, entities=entities) if entities else self._message(text=text)

    def sticker(self) -> dict[str, Any]:
        """An update for a sticker."""
        sticker = {
            "file_id": "CAACAgIAAxkBAAEBsticker",
            "file_unique_id": "AgADsticker",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "👍",
        }
        return self._message(sticker=sticker)

    def bot_messages(self) -> list[dict[str, Any]]:
        """The bot's messages in this chat, in order, as they read now."""
        return [m for m in self.api.chat_messages(self.id) if m["from"]["id"] == BOT_USER["id"]]

    def buttons(self) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
        """(message, button) for every button in the chat, newest message first."""
        for message in reversed(self.bot_messages()):
            for row in message.get("reply_markup", {}).get("inline_keyboard", []):
                for button in row:
                    yield message, button

    def tap(self, label: str) -> dict[str, Any]:
        """An update for tapping the newest button whose label is `label` (or `✓ label`)."""
        for message, button in self.buttons():
            if button["text"] in (label, f"✓ {label}") and "callback_data" in button:
                return self.tap_data(message, button["callback_data"])
        raise LookupError(f"no button {label!r} in the chat")

    def tap_data(self, message: dict[str, Any], data: str) -> dict[str, Any]:
        """An update for a tap on `message` sending `data` (a client can send any data)."""
        query = {
            "id": f"{self.id}-{next(self._query_ids)}",
            "from": self.user,
            "message": message,
            "chat_instance": "-7000",
            "data": data,
        }
        return {"update_id": self.api.next_update_id(), "callback_query": query}

    def inline(self, text: str = "") -> dict[str, Any]:
        """An update for typing `@bot text` in some chat."""
        query = {
            "id": f"iq-{next(self._query_ids)}",
            "from": self.user,
            "query": text,
            "offset": "",
        }
        return {"update_id": self.api.next_update_id(), "inline_query": query}


def main(argv: list[str] | None = None) -> int:
    """Serve a fake Bot API in this process until stdin closes; print the port first."""
    parser = argparse.ArgumentParser(prog="python -m tests.fake_bot_api")
    parser.add_argument("--canned", action="store_true", help="canned answers, no state")
    parser.add_argument("--token", default=TOKEN, help="the bot token to accept")
    options = parser.parse_args(argv)
    api: BotApi = CannedTelegram(options.token) if options.canned else FakeTelegram(options.token)
    with FakeBotApiServer(api) as server:
        print(server.server_address[1], flush=True)
        sys.stdin.read()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
