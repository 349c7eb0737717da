"""One bot in its own process, fed traffic round by round, reporting figures as JSON lines.

`python -m bench.worker SPEC_JSON` builds the bot the spec names (`doorajar`, `echo`,
`conversation`; for doorajar also the store), for tier `a` (canned answers in-process) or `b`
(HTTP to `base_url`). It then reads commands, one JSON object a line, from stdin:

* `{"round": PATH, "limit": N, "count": true}` feeds the first N updates of a traffic file
  and answers `{"updates": ..., "cpu_us": ...}`; rounds with `"count": false` warm up;
* `{"finish": true}` answers with latency percentiles, peak RSS, Bot API calls, errors and a
  check that every user got to the end, then exits.

Between rounds the process waits on stdin and spends no CPU, so the runner can interleave
rounds of several bots and share out whatever else the machine is doing.

Per update, CPU time (`time.process_time`, the whole process) and wall time are taken around
what a receiver does with an update's JSON: `Update.de_json(data, bot)`, then for doorajar
what its webhook does with the update (`webhook.answer_update`: `Gateway.handle`, and the
answer's body, which carries a tapped button's answer) and for the floors
`Application.process_update(update)`. Reading the file and `json.loads` of its line stand in
for the network and are left out.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import sys
import time
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from telegram import Bot, Update

from bench.common import TOKEN, NullRequest, current_rss_kb, peak_rss_kb
from bench.floors import App, conversation_application, echo_application

Check = Callable[[set[int]], Awaitable[dict[str, Any]]]


class _ErrorCount(logging.Handler):
    """Counts records at ERROR and above: a benchmark run with errors is no benchmark."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0
        self.first: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        if self.first is None:
            self.first = f"{record.name}: {record.getMessage()}"


@dataclass
class BotUnderTest:
    """A bot: what parses and handles its updates, its request layer (tier a), how to start
    and stop it, and how to check its work afterwards."""

    bot: Bot
    handle: Callable[[Update], Awaitable[object]]
    start: Callable[[], Awaitable[object]]
    stop: Callable[[], Awaitable[object]]
    request: NullRequest | None
    check: Check | None = None
    carried: int = 0
    """Bot API calls carried in the receiver's answers rather than requested (doorajar's
    `handle` returns True for each)."""
    chats: set[int] = field(default_factory=set)
    latencies: list[float] = field(default_factory=list)

    async def round(self, path: str, limit: int | None, count: bool) -> dict[str, Any]:
        """Feed up to `limit` updates of one traffic file; CPU microseconds per update."""
        bot = self.bot
        handle = self.handle
        cpu = 0.0
        done = 0
        with Path(path).open() as lines:
            for line in lines:
                if limit is not None and done >= limit:
                    break
                data = json.loads(line)
                wall_start = time.perf_counter()
                cpu_start = time.process_time()
                update = Update.de_json(data, bot)
                carried = await handle(update)
                cpu_end = time.process_time()
                wall_end = time.perf_counter()
                cpu += cpu_end - cpu_start
                done += 1
                self.carried += carried is True  # counted with every call, as `request.calls`
                if count:  # warm-up and probe rounds keep nothing, so RSS is the bot's own
                    self.latencies.append(wall_end - wall_start)
                    if update.effective_chat is not None:
                        self.chats.add(update.effective_chat.id)
        return {"updates": done, "cpu_us": cpu / max(done, 1) * 1e6}

    async def finish(self) -> dict[str, Any]:
        """Figures for the whole run; shuts the application down."""
        latencies = sorted(self.latencies)
        result: dict[str, Any] = {
            "p50_us": percentile(latencies, 0.50) * 1e6,
            "p99_us": percentile(latencies, 0.99) * 1e6,
            "peak_rss_kb": peak_rss_kb(),
            "rss_kb": current_rss_kb(),
        }
        if self.request is not None:
            result["calls"] = dict(self.request.calls)
        result["carried"] = self.carried
        if self.check is not None:
            result.update(await self.check(self.chats))
        await self.stop()
        return result


def percentile(sorted_values: list[float], share: float) -> float:
    """The value below which `share` of the sorted values lie (nearest rank)."""
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, round(share * (len(sorted_values) - 1)))
    return sorted_values[index]


def _doorajar(spec: dict[str, Any], request: NullRequest | None) -> BotUnderTest:
    from bot.content.loader import load_catalog
    from bot.engine import Engine
    from bot.service import ChatService
    from bot.store.factory import open_store
    from bot.telegram.startup import build_gateway, settle
    from bot.telegram.webhook import answer_update

    store = open_store(spec["store"])
    service = ChatService(Engine(load_catalog()), store)
    # Production's rate limiter, its limit lifted: its code runs on every call, never waits.
    gateway = build_gateway(
        service, token=TOKEN, base_url=spec.get("base_url"), request=request, max_rate=1e9
    )

    async def stop() -> None:
        await gateway.bot.shutdown()
        await service.close()

    async def check(chats: set[int]) -> dict[str, Any]:
        finished = 0
        for chat in chats:
            conv = await store.load(str(chat))
            finished += conv is not None and conv.state == "done"
        return {"finished": finished, "chats": len(chats)}

    async def start() -> None:  # `startup.start` less setMyCommands, which the floors skip
        await gateway.bot.initialize()
        settle()

    async def handle(update: Update) -> bool:
        """What the webhook does with a parsed update, down to its answer's body; whether
        that body carries a Bot API call."""
        return bool((await answer_update(gateway, update)).body())

    return BotUnderTest(gateway.bot, handle, start, stop, request, check)


def _application(app: App, request: NullRequest | None, check: Check | None = None) -> BotUnderTest:
    return BotUnderTest(app.bot, app.process_update, app.initialize, app.shutdown, request, check)


def _floor(spec: dict[str, Any], request: NullRequest | None) -> BotUnderTest:
    if spec["bot"] == "echo":
        return _application(echo_application(request, spec.get("base_url")), request)
    from bot.content.loader import load_catalog

    app = conversation_application(load_catalog(), request, spec.get("base_url"))

    async def check(chats: set[int]) -> dict[str, Any]:
        (handler,) = app.handlers[0]
        still_open = len(getattr(handler, "_conversations", {}))
        return {"finished": len(chats) - still_open, "chats": len(chats)}

    return _application(app, request, check)


async def start(spec: dict[str, Any]) -> BotUnderTest:
    """Build and initialise the bot the spec names."""
    doorajar = spec["bot"] == "doorajar"
    request = NullRequest("json" if doorajar else "form") if spec["tier"] == "a" else None
    bot = _doorajar(spec, request) if doorajar else _floor(spec, request)
    await bot.start()
    return bot


def main(argv: list[str]) -> int:
    """Build the bot from argv[1], then answer commands from stdin until `finish`."""
    spec = json.loads(argv[1])
    warnings.simplefilter("ignore")
    from bot.telegram.logs import configure_logging

    configure_logging("INFO", TOKEN)  # as `doorajar run` does, for every bot alike
    errors = _ErrorCount()
    logging.getLogger().addHandler(errors)
    with asyncio.Runner() as runner:
        bot = runner.run(start(spec))
        gc.collect()
        for line in sys.stdin:
            command = json.loads(line)
            if command.get("finish"):
                result = runner.run(bot.finish())
                result.update(errors=errors.count, first_error=errors.first)
                print(json.dumps(result), flush=True)
                break
            figures = runner.run(
                bot.round(command["round"], command.get("limit"), command.get("count", True))
            )
            print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
