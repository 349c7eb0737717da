"""Turn engine replies into Telegram messages: text plus an optional inline keyboard.

Everything is sent as plain text (no parse mode), so whatever a user typed, echoed back inside
a composed message, is shown literally and never read as markup. The composed messages travel
alone and without a keyboard, so forwarding or copying one gives exactly the message; labels,
advice and the action buttons follow in one separate message.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from telegram import (
    BotCommand,
    CopyTextButton,
    InlineKeyboardButton,
    InlineQueryResultArticle,
    InputTextMessageContent,
)
from telegram.constants import InlineKeyboardButtonLimit

from bot.content.catalog import KEEP, CommonPhrases
from bot.engine import fill_common
from bot.replies import Button, MenuReply, Notice, QuestionReply, Reply, ResultReply

MESSAGE_LIMIT = 4096
"""Longest text Telegram accepts in one message."""
ANSWER_MARK = "→"
CHOSEN_MARK = "✓ "
FORGET_YES = "x:forget:yes"
FORGET_NO = "x:forget:no"
"""Button data of the /forget confirmation; `events.decode` reads neither (no `x:` kind)."""
COMMANDS = ("start", "help", "back", "restart", "cancel", "forget")
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

    def inline_results(self, reply: ResultReply) -> list[InlineQueryResultArticle]:
        """One shareable article per composed message; the shared text is the message itself."""
        articles = []
        for index, message in enumerate(reply.result.messages):
            label = self.common[f"message_label_{message.kind}"]
            text = message.text
            articles.append(
                InlineQueryResultArticle(
                    id=f"{reply.flow}:{reply.wording}:{index}"[:64],
                    title=f"{label}: {first_words(message.subject or message.body)}",
                    description=" ".join(message.body.split())[:DESCRIPTION_CHARS],
                    input_message_content=InputTextMessageContent(text),
                )
            )
        return articles
