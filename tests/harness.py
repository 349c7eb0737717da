"""In-process bots for the fault tests: doorajar's gateway over a fake Telegram and a store
that can be switched off, served by doorajar's own webhook server or handed updates directly."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
from telegram import Update

from bot.content.catalog import Catalog
from bot.conversation import Conversation
from bot.engine import Engine
from bot.service import ChatService, Handled
from bot.stats import DayCount
from bot.store.memory import MemoryStore
from bot.store.protocol import ConversationStore, SaveResult, StoreUnavailable
from bot.telegram.gateway import Gateway
from bot.telegram.startup import build_gateway
from bot.telegram.webhook import SECRET_HEADER, WebhookServer, handle_update
from tests.fake_bot_api import TOKEN, Call, FakeTelegram, FakeUser, RecordingRequest

SECRET = "test-Secret_123"
HOOK_PATH = "/hooks/doorajar"


class SwitchableStore:
    """Any store, which the test can switch off as a database or a network goes away."""

    def __init__(self, inner: ConversationStore) -> None:
        self.inner = inner
        self.down = False
        self.save_delay = 0.0

    def _check(self) -> None:
        if self.down:
            raise StoreUnavailable("switched off by the test")

    async def load(self, chat_id: str) -> Conversation | None:
        self._check()
        return await self.inner.load(chat_id)

    async def save(
        self, conv: Conversation, update_id: int | None = None, counts: Sequence[str] = ()
    ) -> SaveResult:
        self._check()
        if self.save_delay:
            await asyncio.sleep(self.save_delay)
        return await self.inner.save(conv, update_id, counts)

    async def seen(self, chat_id: str, update_id: int) -> bool:
        self._check()
        return await self.inner.seen(chat_id, update_id)

    async def forget(self, chat_id: str, counts: Sequence[str] = ()) -> None:
        self._check()
        await self.inner.forget(chat_id, counts)

    async def tallies(self, days: Sequence[str]) -> list[DayCount]:
        self._check()
        return await self.inner.tallies(days)

    async def purge(self, idle_seconds: float) -> int:
        self._check()
        return await self.inner.purge(idle_seconds)

    async def close(self) -> None:
        await self.inner.close()


def unversioned(conv: Conversation | None) -> Conversation | None:
    """The conversation without its version, time and last update and message ids, which
    every recorded update moves."""
    if conv is None:
        return None
    return replace(conv, version=0, updated_at=0.0, update_id=0, message_id=0)


def wire(update: dict[str, Any]) -> dict[str, Any]:
    """An update as it arrives from Telegram: plain JSON."""
    result: dict[str, Any] = json.loads(json.dumps(update))
    return result


@dataclass
class Bot:
    """A bot in this process, a fake Telegram, a switchable store and a user."""

    gateway: Gateway
    api: FakeTelegram
    store: SwitchableStore
    user: FakeUser
    common: Any
    port: int = 0
    client: httpx.AsyncClient | None = field(default=None, repr=False)

    async def deliver(self, update: dict[str, Any]) -> Handled:
        """Hand an update to the bot directly, as the poller does."""
        return await self.gateway.handle(Update.de_json(wire(update), self.gateway.bot))

    async def post(self, update: dict[str, Any] | bytes, secret: str | None = SECRET) -> int:
        """POST an update to the webhook server, as Telegram does; the HTTP status."""
        assert self.client is not None, "start the bot with webhook=True"
        headers: dict[str, str | bytes] = {"Content-Type": "application/json"}
        if secret is not None:
            headers[SECRET_HEADER] = secret.encode()  # bytes: a client may send any
        body = update if isinstance(update, bytes) else json.dumps(update).encode()
        response = await self.client.post(HOOK_PATH, content=body, headers=headers)
        self.api.webhook_answered(response.status_code, response.content)
        return response.status_code

    async def conversation(self) -> Conversation | None:
        return await self.store.inner.load(str(self.user.id))

    def sent_since(self, mark: int) -> list[Call]:
        return self.api.calls_since(mark, "sendMessage")


@asynccontextmanager
async def running_bot(
    catalog: Catalog,
    store: ConversationStore | None = None,
    *,
    webhook: bool = False,
    rate_limit: bool = False,
    store_retry_delays: tuple[float, ...] = (),
) -> AsyncIterator[Bot]:
    """A started bot; with `webhook`, behind doorajar's webhook server on a free port."""
    api = FakeTelegram()
    switchable = SwitchableStore(store if store is not None else MemoryStore())
    gateway = build_gateway(
        ChatService(Engine(catalog), switchable, retry_delays=store_retry_delays),
        token=TOKEN,
        request=RecordingRequest(api),
        rate_limit=rate_limit,
    )
    await gateway.bot.initialize()
    try:
        bot = Bot(gateway, api, switchable, FakeUser(api), catalog.common["en"])
        if not webhook:
            yield bot
            return
        server = WebhookServer(HOOK_PATH, SECRET, lambda data: handle_update(gateway, data))
        bot.port = await server.start("127.0.0.1", 0)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{bot.port}", timeout=10) as c:
            bot.client = c
            try:
                yield bot
            finally:
                await server.stop(grace=1)
    finally:
        await gateway.bot.shutdown()
