"""Everything that leaves the bot for Telegram: engine replies rendered and sent, in order.

Rendering: everything is sent as plain text (no parse mode), so whatever a user typed, echoed
back inside a composed message, is shown literally and never read as markup. The composed
messages travel alone and without a keyboard, so forwarding or copying one gives exactly the
message; labels, advice and the action buttons follow in one separate message.

Sending: Bot API calls go through python-telegram-bot's public `Bot.do_api_request`, with
parameters by their Bot API names, and its answer is dropped: `Bot.send_message` and its
siblings would turn it into a `telegram.Message`, about three quarters of a call's CPU, spent
on an object doorajar never reads. The rate limiter, timeouts and `TelegramError`s (BadRequest,
Forbidden, RetryAfter, ...) are exactly those of the named methods. Methods go by their
lower-case names ("sendmessage"): Bot API method names are case-insensitive, and
`do_api_request` warns (a `warnings.warn` call, filtered or not, ~3 % of an update) only about
a name PTB has a method of its own for.

The wire (`AiohttpRequest`): PTB's default `HTTPXRequest` spends about 0.8-1 ms of CPU per Bot
API call (httpx, httpcore, h11 and anyio layers); aiohttp's HTTP/1.1 client does the same work
for about half that, and a bot makes two or three calls per update. Bodies are JSON
(`RequestData.json_payload`; the Bot API takes application/json for everything but uploads,
which go as multipart forms): `urllib.parse.urlencode`, which a form body needs, costs ~41 us of
CPU for a message with its keyboard, against ~7 us for the JSON. Otherwise it keeps
`HTTPXRequest`'s contract: the same default timeouts, `TimedOut` for a timeout and
`NetworkError` for any other failure to get an answer; PTB itself turns the status and body
into results or `TelegramError`s. A proxy set in the environment
(HTTPS_PROXY, NO_PROXY, ...) is used as httpx would; it is looked up once per Bot API server
rather than on every request, which is what aiohttp's own `trust_env` does (in a thread, each
time).
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from telegram import Bot, BotCommand, CallbackQuery, CopyTextButton, InlineKeyboardButton, Message
from telegram.constants import InlineKeyboardButtonLimit
from telegram.error import BadRequest, NetworkError, TelegramError, TimedOut
from telegram.request import BaseRequest, RequestData
from yarl import URL

from bot.content.catalog import KEEP, CommonPhrases
from bot.engine import fill_common
from bot.replies import (
    Button,
    MenuReply,
    Notice,
    QuestionReply,
    ReminderReply,
    Reply,
    ResultReply,
)

log = logging.getLogger("doorajar.outbox")

MESSAGE_LIMIT = 4096
"""Longest text Telegram accepts in one message."""
ANSWER_MARK = "→"
CHOSEN_MARK = "✓ "
FORGET_YES = "x:forget:yes"
FORGET_NO = "x:forget:no"
"""Button data of the /forget confirmation; `events.decode` reads neither (no `x:` kind)."""
SHARE_START = "from-share"
"""Deep-link payload of inline mode's "open the bot" button (flow ids cannot contain '-')."""
COMMANDS = ("start", "help", "back", "restart", "cancel", "reminders", "forget")
_KEEP_DATA = f":{KEEP}"
"""How the data of a Keep button (which shows a typed answer) ends."""
COPY_TEXT_LIMIT = int(InlineKeyboardButtonLimit.MAX_COPY_TEXT)
"""Longest text a Copy button can carry (256); a longer message stays copy/forward."""
TITLE_WORDS = 6
DESCRIPTION_CHARS = 90

Rows = tuple[tuple[Button, ...], ...]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to send: plain text and, for questions and menus, a keyboard.

    `markup` is the inline keyboard as the JSON Telegram takes for `reply_markup`.
    """

    text: str
    markup: str | None = None


def _keyboard_json(rows: Rows, share: str | None, copies: tuple[tuple[str, str], ...] = ()) -> str:
    grid: list[list[dict[str, Any]]] = [
        [InlineKeyboardButton(label, copy_text=CopyTextButton(text)).to_dict()]
        for label, text in copies
    ]
    grid += [
        [{"text": button.label, "callback_data": button.data} for button in row] for row in rows
    ]
    if share is not None:
        grid.append([{"text": share, "switch_inline_query": ""}])
    return json.dumps({"inline_keyboard": grid}, ensure_ascii=False, separators=(",", ":"))


_kept_keyboard = functools.lru_cache(maxsize=4096)(_keyboard_json)


def keyboard(rows: Rows, share: str | None = None) -> str:
    """The inline keyboard for button rows, as reply_markup JSON.

    `share` labels one more row: a button that opens inline mode to share the result.
    Keyboards made of the bot's own words are built once and kept, since everyone at a
    question sees the same one; a keyboard showing a typed answer ("Keep: Sam") is built
    each time, so no user text stays in memory.
    """
    if any(button.data.endswith(_KEEP_DATA) for row in rows for button in row):
        return _keyboard_json(rows, share)
    return _kept_keyboard(rows, share)


def split_text(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Cut text that is too long for one message at paragraph, line or word breaks."""
    chunks: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"), window.rfind(" "))
        if cut <= 0:
            cut = limit
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    chunks.append(rest)
    return chunks


def answered(question_text: str, label: str) -> str:
    """A question message as it reads once answered: the question, then the chosen answer."""
    label = label.removeprefix(CHOSEN_MARK)
    suffix = f"\n\n{ANSWER_MARK} {label}"
    return question_text[: MESSAGE_LIMIT - len(suffix)] + suffix


def first_words(text: str, count: int = TITLE_WORDS) -> str:
    """The first few words of a text, with an ellipsis when there is more."""
    words = text.split()
    head = " ".join(words[:count])
    return head + ("…" if len(words) > count else "")


class Renderer:
    """Renders replies in one language's common phrases."""

    def __init__(self, common: CommonPhrases) -> None:
        self.common = common

    def answered(self, question_text: str, label: str) -> str:
        """A question once answered: the invitation to type goes, the chosen answer shows."""
        return answered(question_text.removesuffix(f"\n\n{self.common['type_answer']}"), label)

    def text(self, key: str, **values: str | int) -> str:
        """A common phrase with the bot's own values filled in."""
        return fill_common(self.common[key], **values)

    # -- replies ---------------------------------------------------------------------------

    def render(self, replies: Iterable[Reply], *, welcome: bool = False) -> list[Outgoing]:
        """The messages for one step's replies, in order.

        `welcome` puts the greeting above a menu (for /start).
        """
        out: list[Outgoing] = []
        for reply in replies:
            match reply:
                case Notice(text):
                    out.append(Outgoing(text))
                case MenuReply():
                    out.append(self.menu(reply, welcome=welcome))
                case QuestionReply():
                    out.append(self.question(reply))
                case ResultReply():
                    out.extend(self.result(reply))
                case ReminderReply(text, buttons):
                    # Its buttons name reminder ids: built each time, never kept.
                    out.append(Outgoing(text, _keyboard_json(buttons, None) if buttons else None))
        return [piece for message in out for piece in self._fit(message)]

    def _fit(self, message: Outgoing) -> list[Outgoing]:
        chunks = split_text(message.text)
        if len(chunks) == 1:
            return [message]
        return [Outgoing(chunk) for chunk in chunks[:-1]] + [Outgoing(chunks[-1], message.markup)]

    def menu(self, reply: MenuReply, *, welcome: bool = False) -> Outgoing:
        """The menu prompt with one button per situation or group."""
        text = f"{self.common['welcome']}\n\n{reply.text}" if welcome else reply.text
        return Outgoing(text, keyboard(reply.buttons))

    def question(self, reply: QuestionReply) -> Outgoing:
        """A question: the problem with the last answer first, the earlier answer last."""
        parts = []
        if reply.problem:
            parts.append(f"⚠ {reply.problem}")
        parts.append(reply.text)
        if reply.previous:
            parts.append(self.text("previous_answer", value=reply.previous))
        if reply.accepts_text:
            parts.append(self.common["type_answer"])
        return Outgoing("\n\n".join(parts), keyboard(reply.buttons))

    def result(self, reply: ResultReply) -> list[Outgoing]:
        """Each composed message alone, then one message with advice, notes and actions."""
        messages = [Outgoing(message.text) for message in reply.result.messages]
        return [*messages, Outgoing(self.advice_text(reply), self.result_keyboard(reply))]

    def advice_text(self, reply: ResultReply) -> str:
        """What goes under the messages: which message is which, advice, legal notes."""
        result = reply.result
        labels = [self.common[f"message_label_{message.kind}"] for message in result.messages]
        if len(labels) == 1:
            lines = [self.text("result_above", labels=labels[0])]
        else:
            lines = [self.text("result_above_many", labels="; ".join(labels))]
        if reply.wordings > 1:
            lines.append(
                self.text("wording_label", number=reply.wording_number, total=reply.wordings)
            )
        if result.advice:
            lines += ["", self.common["advice_heading"]]
            lines += [
                f"{'⚠' if item.kind == 'warning' else '•'} {item.text}" for item in result.advice
            ]
        if result.legal:
            lines += ["", f"{self.common['legal_heading']} ({self.common['legal_disclaimer']})"]
            lines += [f"• {item.text}" for item in result.legal]
        return "\n".join(lines)

    def result_keyboard(self, reply: ResultReply) -> str:
        """The result's actions plus Share, which opens inline mode in a chat of the user's.

        A message short enough for Telegram's Copy button (up to 256 characters) gets one on
        top, which copies it without a callback; a phone script is for the user, not to send.
        Such a keyboard holds the message, so it is built each time and never kept.
        """
        copies = tuple(
            (self.text("copy_message", label=self.common[f"message_label_{message.kind}"]), text)
            for message in reply.result.messages
            if message.kind != "script" and 0 < len(text := message.text) <= COPY_TEXT_LIMIT
        )
        if copies:
            return _keyboard_json(reply.actions, self.common["share"], copies)
        return keyboard(reply.actions, share=self.common["share"])

    # -- commands and the /forget confirmation ----------------------------------------------

    def help(self) -> Outgoing:
        """The /help text."""
        return Outgoing(self.common["help"])

    def forget_confirmation(self) -> Outgoing:
        """The question /forget asks before deleting anything."""
        buttons: Rows = (
            (Button(self.common["forget_yes"], FORGET_YES),),
            (Button(self.common["forget_no"], FORGET_NO),),
        )
        return Outgoing(self.common["forget_confirm"], keyboard(buttons))

    def commands(self) -> list[BotCommand]:
        """The command list shown in Telegram's menu (setMyCommands)."""
        return [BotCommand(name, self.common[f"command_{name}"]) for name in COMMANDS]

    # -- inline mode ------------------------------------------------------------------------

    def inline_results(self, reply: ResultReply) -> list[dict[str, Any]]:
        """One shareable article per composed message (Bot API `InlineQueryResultArticle`
        objects); the shared text is the message itself, with no parse mode."""
        articles = []
        for index, message in enumerate(reply.result.messages):
            label = self.common[f"message_label_{message.kind}"]
            articles.append(
                {
                    "type": "article",
                    "id": f"{reply.flow}:{reply.wording}:{index}"[:64],
                    "title": f"{label}: {first_words(message.subject or message.body)}",
                    "description": " ".join(message.body.split())[:DESCRIPTION_CHARS],
                    "input_message_content": {"message_text": message.text},
                }
            )
        return articles


# -- sending ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Say:
    """A common phrase sent as a message of its own, with the bot's own values filled in."""

    key: str
    values: Mapping[str, str | int] = field(default_factory=dict)


@dataclass(slots=True)
class Carried:
    """The one Bot API call a receiver may hand back with its answer to Telegram: a webhook's
    answer can carry a method call, which Telegram makes when it reads the answer (Bot API,
    "Making requests when getting updates"). Its outcome is never known, so only an answer to
    a tapped button travels this way, the one call whose failure matters to nobody: one
    request to the Bot API less per tap."""

    answer: dict[str, object] | None = None
    """`answerCallbackQuery`'s parameters, once the tap is answered."""

    def body(self) -> dict[str, object] | None:
        """The call as the answer's JSON body, or None when there is none."""
        return None if self.answer is None else {"method": "answerCallbackQuery", **self.answer}


@dataclass(slots=True)
class Tap:
    """A tapped button: its callback query, which is answered exactly once; with `carried`,
    by the receiver's answer to Telegram rather than by a request of its own."""

    query: CallbackQuery
    carried: Carried | None = None
    answered: bool = False

    @property
    def data(self) -> str:
        """The button's data, as the client sent it."""
        return self.query.data or ""


class Outbox:
    """Renders replies and sends them through one bot, in the order given."""

    def __init__(self, bot: Bot, common: CommonPhrases) -> None:
        self.bot = bot
        self.renderer = Renderer(common)

    async def _call(self, method: str, **parameters: object) -> None:
        """Call Bot API `method` and drop its answer; parameters that are None are left out."""
        await self.bot.do_api_request(method.lower(), api_kwargs=parameters)

    async def reply(
        self,
        chat_id: int,
        replies: Iterable[Reply] = (),
        *,
        before: Sequence[Say] = (),
        welcome: bool = False,
        tap: Tap | None = None,
        show_choice: bool = False,
    ) -> None:
        """Answer `tap` (with `show_choice`, edit the tapped question to show the chosen
        answer), then send the phrases `before` and the rendered replies, in order.

        `welcome` puts the greeting above a menu (for /start). Everything is sent as plain
        text: no parse mode, so nothing is read as markup.
        """
        if tap is not None:
            await self.answer(tap)
            if show_choice:
                await self._show_choice(tap)
        messages = [*(self._phrase(say) for say in before)]
        messages += self.renderer.render(replies, welcome=welcome)
        for message in messages:
            await self._call(
                "sendMessage", chat_id=chat_id, text=message.text, reply_markup=message.markup
            )

    def _phrase(self, say: Say) -> Outgoing:
        if say.key == "forget_confirm":
            return self.renderer.forget_confirmation()
        return Outgoing(self.renderer.text(say.key, **say.values))

    async def answer(self, tap: Tap, text: str | None = None) -> None:
        """Answer the callback query once, so the client's spinner stops (`text`: a notice);
        left to the receiver's answer to Telegram when it can carry it (`Tap.carried`)."""
        if tap.answered:
            return
        tap.answered = True
        parameters: dict[str, object] = {"callback_query_id": tap.query.id}
        if text is not None:
            parameters["text"] = text
        if tap.carried is not None:
            tap.carried.answer = parameters
            return
        await self._answer_now(parameters)

    async def send_carried(self, carried: Carried) -> None:
        """Make the carried call now, as a request of its own, when the receiver's answer will
        not carry it (a webhook answering 503 carries nothing)."""
        answer, carried.answer = carried.answer, None
        if answer is not None:
            await self._answer_now(answer)

    async def _answer_now(self, parameters: dict[str, object]) -> None:
        try:
            await self._call("answerCallbackQuery", **parameters)
        except (BadRequest, NetworkError) as exc:  # too old, answered before, or timed out:
            log.debug("callback query not answered: %s", exc)  # the next message matters more

    async def _show_choice(self, tap: Tap) -> None:
        """Edit the tapped message to show the chosen answer and drop its keyboard."""
        message = tap.query.message
        if not isinstance(message, Message) or not message.text:
            return
        label = ""
        if message.reply_markup is not None:
            for row in message.reply_markup.inline_keyboard:
                for button in row:
                    if button.callback_data == tap.data:
                        label = button.text
        if not label:  # data the message never offered: leave the message as it is
            return
        text = self.renderer.answered(message.text, label)
        try:
            await self._call(
                "editMessageText", chat_id=message.chat.id, message_id=message.message_id, text=text
            )
        except (BadRequest, NetworkError) as exc:  # not modified, too old, or timed out
            log.debug("chat=%s answer not recorded: %s", message.chat.id, exc)

    async def apologise(self, chat_id: int, key: str, current: Sequence[Reply] = ()) -> None:
        """Send a common phrase (the store is down, something failed); never raises.

        With `current` (where the chat stands) the apology goes with it: folded into a
        question as its first line, so the apology never stands alone above nothing when
        the question cannot be sent, else followed by the replies.
        """
        text = self.renderer.common[key]
        messages = [Outgoing(text)]
        if len(current) == 1 and isinstance(current[0], QuestionReply):
            question = current[0]
            problem = f"{text}\n\n{question.problem}" if question.problem else text
            messages = [self.renderer.question(replace(question, problem=problem))]
        elif current:
            messages += self.renderer.render(current)
        try:
            for message in messages:
                await self._call(
                    "sendMessage", chat_id=chat_id, text=message.text, reply_markup=message.markup
                )
        except TelegramError as exc:
            log.warning("chat=%s apology not sent: %s", chat_id, exc)

    async def share(self, query_id: str, result: ResultReply | None, empty_text_key: str) -> int:
        """Answer an inline query with the result's messages as articles; with none, a button
        that opens the bot (labelled with the phrase `empty_text_key`). How many articles."""
        articles = self.renderer.inline_results(result) if result is not None else []
        button = None
        if not articles:
            button = {"text": self.renderer.common[empty_text_key], "start_parameter": SHARE_START}
        await self._call(
            "answerInlineQuery",
            inline_query_id=query_id,
            results=articles,
            cache_time=0,
            is_personal=True,
            button=button,
        )
        return len(articles)

    async def publish_commands(self) -> None:
        """Publish the command list shown in Telegram's menu."""
        await self.bot.set_my_commands(self.renderer.commands())


# -- the wire: Bot API requests over aiohttp ------------------------------------------------

CONNECTIONS = 256
"""Connections kept open to the Bot API (PTB's ApplicationBuilder uses the same default)."""
READ_TIMEOUT = 5.0
CONNECT_TIMEOUT = 5.0
POOL_TIMEOUT = 1.0
"""Seconds, as `HTTPXRequest`'s defaults. aiohttp has no write timeout: it ends with the read."""


_DEFAULT = type(BaseRequest.DEFAULT_NONE)
"""python-telegram-bot's "not given" marker type, reached through the public `BaseRequest`."""


def _seconds(value: object, default: float | None) -> float | None:
    """A timeout given to `do_request`: a number, None (no limit), or "not given" (`default`)."""
    if isinstance(value, _DEFAULT) or not isinstance(value, int | float | None):
        return default
    return None if value is None else float(value)


_JSON = {"Content-Type": "application/json"}


def request_body(request_data: RequestData | None) -> aiohttp.FormData | bytes | None:
    """What `AiohttpRequest` sends: the parameters as JSON, or a multipart form with files."""
    if request_data is None:
        return None
    if not request_data.contains_files:
        return request_data.json_payload
    form = aiohttp.FormData(request_data.json_parameters)
    for name, (filename, content, mimetype) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form


class AiohttpRequest(BaseRequest):
    """A `telegram.request.BaseRequest` on one `aiohttp.ClientSession`."""

    def __init__(
        self,
        connections: int = CONNECTIONS,
        read_timeout: float | None = READ_TIMEOUT,
        connect_timeout: float | None = CONNECT_TIMEOUT,
        pool_timeout: float | None = POOL_TIMEOUT,
    ) -> None:
        self._connections = connections
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[str, tuple[URL | None, aiohttp.BasicAuth | None]] = {}

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout (PTB adds it to getUpdates' long-polling time)."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the session (and its connection pool)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections),
                headers={"User-Agent": self.USER_AGENT},
            )

    def _proxy(self, url: str) -> tuple[URL | None, aiohttp.BasicAuth | None]:
        """The environment's proxy (and its credentials) for the server of `url`, if any."""
        scheme, _, rest = url.partition("://")
        origin = f"{scheme}://{rest.partition('/')[0]}"
        found = self._proxies.get(origin)
        if found is None:
            try:
                found = get_env_proxy_for_url(URL(origin))
            except LookupError:
                found = (None, None)
            self._proxies[origin] = found
        return found

    async def shutdown(self) -> None:
        """Close the session and its connections."""
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send one request; the HTTP status and body, whatever the status."""
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        connect = _seconds(connect_timeout, self._connect_timeout)
        pool = _seconds(pool_timeout, self._pool_timeout)
        timeout = aiohttp.ClientTimeout(
            connect=None if connect is None or pool is None else connect + pool,
            sock_connect=connect,
            sock_read=_seconds(read_timeout, self._read_timeout),
        )
        body = request_body(request_data)
        headers = _JSON if isinstance(body, bytes) else None
        proxy, proxy_auth = self._proxy(url)
        try:
            async with self._session.request(
                method,
                url,
                data=body,
                headers=headers,
                timeout=timeout,
                proxy=proxy,
                proxy_auth=proxy_auth,
            ) as answer:
                return answer.status, await answer.read()
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc
