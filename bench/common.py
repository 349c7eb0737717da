"""What every benchmark process shares: the bot's token, a null request layer answering from
the shared fake Bot API's canned answers (`tests.fake_bot_api.CannedTelegram`), and the
figures read from the process itself (CPU time, RSS)."""

from __future__ import annotations

import resource
from collections import Counter

from telegram._utils.defaultvalue import DEFAULT_NONE
from telegram._utils.types import ODVInput
from telegram.request import BaseRequest, RequestData

from bot.telegram.outbox import request_body
from tests.fake_bot_api import CannedTelegram, method_name

TOKEN = "123456:BENCHMARK"
FLOW = "decline_offer"


class NullRequest(BaseRequest):
    """A request layer that never touches the network: canned answers, counted by method.

    It still builds the body the bot's own request layer would send: `json` as doorajar's
    `AiohttpRequest` does (`bot.telegram.outbox.request_body`), `form` as PTB's `HTTPXRequest`,
    the floors' layer, does (`url_encoded_parameters`).
    """

    def __init__(self, body: str = "form") -> None:
        self.calls: Counter[str] = Counter()
        self.api = CannedTelegram(TOKEN)
        self._body = request_body if body == "json" else _form_body

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
        endpoint = method_name(url.rpartition("/")[2])
        self._body(request_data)
        self.calls[endpoint] += 1
        return self.api.answer(endpoint)


def _form_body(request_data: RequestData | None) -> str | None:
    return None if request_data is None else request_data.url_encoded_parameters()


def peak_rss_kb() -> int:
    """This process's peak resident set size, in KiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def current_rss_kb() -> int:
    """This process's resident set size now, in KiB."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() // 1024
