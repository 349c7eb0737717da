"""What every benchmark process shares: the bot's identity, canned Bot API answers, a null
request layer, and the figures read from the process itself (CPU time, RSS)."""

from __future__ import annotations

import json
import resource
from collections import Counter
from typing import Any

from telegram._utils.defaultvalue import DEFAULT_NONE
from telegram._utils.types import ODVInput
from telegram.request import BaseRequest, RequestData

TOKEN = "123456:BENCHMARK"
BOT_USER: dict[str, Any] = {
    "id": 123456,
    "is_bot": True,
    "first_name": "Doorajar",
    "username": "doorajar_bench_bot",
    "can_join_groups": False,
    "can_read_all_group_messages": False,
    "supports_inline_queries": True,
}
FLOW = "decline_offer"

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


CANNED: dict[str, bytes] = {
    "getme": _ok(BOT_USER),
    "sendmessage": _ok(SENT_MESSAGE),
    "editmessagetext": _ok({**SENT_MESSAGE, "edit_date": 1_767_225_601}),
    "answercallbackquery": _ok(True),
    "setmycommands": _ok(True),
    "deletewebhook": _ok(True),
}
NOT_FOUND = json.dumps({"ok": False, "error_code": 404, "description": "Not Found"}).encode()


def canned_answer(method: str) -> tuple[int, bytes]:
    """HTTP status and body Telegram would send for `method` (case-insensitive, as there)."""
    body = CANNED.get(method.lower())
    return (200, body) if body is not None else (404, NOT_FOUND)


class NullRequest(BaseRequest):
    """A request layer that never touches the network: canned answers, counted by method."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    @property
    def read_timeout(self) -> float | None:
        return 5.0

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
        endpoint = url.rpartition("/")[2]
        if request_data is not None:
            request_data.url_encoded_parameters()  # the body HTTPXRequest would send
        self.calls[endpoint] += 1
        return canned_answer(endpoint)


def peak_rss_kb() -> int:
    """This process's peak resident set size, in KiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def current_rss_kb() -> int:
    """This process's resident set size now, in KiB."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() // 1024
