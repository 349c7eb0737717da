"""The aiohttp request layer keeps PTB's contract: bodies, Telegram errors, timeouts, files."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from telegram import Bot
from telegram.error import BadRequest, NetworkError, TimedOut

from bot.telegram.outbox import AiohttpRequest
from tests.fake_bot_api import TOKEN, FakeBotApiServer, FakeTelegram

MESSAGE = {"message_id": 7, "date": 0, "chat": {"id": 42, "type": "private"}}
KEYBOARD = '{"inline_keyboard":[[{"text":"Email ✉","callback_data":"c:channel:email"}]]}'


@contextlib.asynccontextmanager
async def bot_api(**handlers: Any) -> AsyncIterator[str]:
    """A Bot API server answering the given methods with aiohttp handlers; its base URL."""
    app = web.Application()
    for method, handler in handlers.items():
        app.router.add_post(f"/bot{TOKEN}/{method}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/bot"
    finally:
        await runner.cleanup()


async def send_text(bot: Bot, chat_id: int, text: str, markup: str | None = None) -> None:
    """sendMessage as the outbox makes it: raw parameters, the answer unread."""
    api_kwargs = {"chat_id": chat_id, "text": text, "reply_markup": markup}
    await bot.do_api_request("sendMessage", api_kwargs=api_kwargs)


async def started(base_url: str, request: AiohttpRequest | None = None) -> Bot:
    bot = Bot(TOKEN, base_url=base_url, request=request or AiohttpRequest())
    await bot.initialize()
    return bot


async def test_a_call_reaches_the_bot_api_with_its_parameters() -> None:
    fake = FakeTelegram()
    with FakeBotApiServer(fake) as server:
        bot = await started(server.base_url)
        try:
            await send_text(bot, 42, "Thank you & goodbye", KEYBOARD)
            sent = await bot.send_message(42, "Plain")
        finally:
            await bot.shutdown()
    (first, second) = fake.calls_since(0, "sendMessage")
    assert first.params["text"] == "Thank you & goodbye"
    assert first.params["reply_markup"]["inline_keyboard"][0][0]["text"] == "Email ✉"
    assert second.params == {"chat_id": 42, "text": "Plain"}
    assert sent.text == "Plain"


async def test_parameters_go_as_a_json_body() -> None:
    """application/json, which the Bot API takes for everything but uploads; each value goes as
    the string a form would carry (PTB's `json_parameters`), which is how Telegram reads a
    string in a JSON body, so a keyboard is the JSON-serialized string the outbox made."""
    received: dict[str, Any] = {}

    async def send_message(request: web.Request) -> web.Response:
        received.update(kind=request.content_type, body=json.loads(await request.read()))
        return web.json_response({"ok": True, "result": MESSAGE})

    async def get_me(request: web.Request) -> web.Response:
        me = {"id": 1, "is_bot": True, "first_name": "doorajar", "username": "doorajar_bot"}
        return web.json_response({"ok": True, "result": me})

    async with bot_api(sendmessage=send_message, getMe=get_me) as base_url:
        bot = await started(base_url)
        try:
            text = "Zoë & «Acme» ✉"
            api_kwargs = {"chat_id": 42, "text": text, "reply_markup": KEYBOARD}
            await bot.do_api_request("sendmessage", api_kwargs=api_kwargs)
        finally:
            await bot.shutdown()
    assert received["kind"] == "application/json"
    assert received["body"] == {"chat_id": "42", "text": "Zoë & «Acme» ✉", "reply_markup": KEYBOARD}


async def test_telegram_errors_are_raised_as_ptb_errors() -> None:
    fake = FakeTelegram()
    fake.fail("sendMessage", 400, "Bad Request: chat not found")
    with FakeBotApiServer(fake) as server:
        bot = await started(server.base_url)
        try:
            with pytest.raises(BadRequest, match=r"[Cc]hat not found"):
                await send_text(bot, 42, "hello")
        finally:
            await bot.shutdown()


async def test_no_server_is_a_network_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    request = AiohttpRequest()
    await request.initialize()
    try:
        with pytest.raises(NetworkError):
            await request.do_request(f"http://127.0.0.1:{port}/bot{TOKEN}/getMe", "POST")
    finally:
        await request.shutdown()


@pytest.fixture
async def silent_server() -> AsyncIterator[str]:
    """A server that accepts connections and never answers."""

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/bot{TOKEN}/getMe"
    server.close()


async def test_a_server_that_does_not_answer_times_out(silent_server: str) -> None:
    request = AiohttpRequest(read_timeout=0.2)
    await request.initialize()
    try:
        with pytest.raises(TimedOut):
            await request.do_request(silent_server, "POST")
    finally:
        await request.shutdown()


async def test_files_are_sent_as_multipart_form_data() -> None:
    received: dict[str, Any] = {}

    async def send_document(request: web.Request) -> web.Response:
        form = await request.post()
        document = form["document"]
        assert isinstance(document, web.FileField)
        received.update(
            chat_id=form["chat_id"], name=document.filename, content=document.file.read()
        )
        return web.json_response({"ok": True, "result": MESSAGE})

    async with bot_api(sendDocument=send_document) as base_url:
        request = AiohttpRequest()
        await request.initialize()
        try:
            bot = Bot(TOKEN, base_url=base_url, request=request)
            await bot.send_document(42, b"a,b\n1,2\n", filename="t.csv")
        finally:
            await request.shutdown()
    assert received == {"chat_id": "42", "name": "t.csv", "content": b"a,b\n1,2\n"}
