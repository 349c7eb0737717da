"""The two python-telegram-bot floors doorajar is measured against.

* `echo_application`: one `send_message` per update, nothing else: what any PTB bot pays.
* `conversation_application`: the decline_offer flow written the way PTB's examples write a
  conversation: a `ConversationHandler` with one state per question, the answers in
  `context.user_data`, texts and keyboards built once at start-up. Per tap it makes the calls
  doorajar makes (answerCallbackQuery, editMessageText, sendMessage), per typed answer one
  sendMessage, and at the end the result and the advice. Its state lives in memory only.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import BaseRequest

from bench.common import FLOW, TOKEN
from bot.content.catalog import SKIP, Catalog, Flow

App = Application[Any, Any, Any, Any, Any, Any]
Context = ContextTypes.DEFAULT_TYPE
Step = Callable[[Update, Context], Coroutine[Any, Any, str | int]]
"""A conversation callback: returns the next state."""
MENU, GROUP = "menu", "group"


def _builder(
    request: BaseRequest | None, base_url: str | None
) -> ApplicationBuilder[Any, Any, Any, Any, Any, Any]:
    builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = ApplicationBuilder().token(TOKEN)
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    if base_url:
        builder = builder.base_url(base_url)
    return builder


def echo_application(request: BaseRequest | None = None, base_url: str | None = None) -> App:
    """Floor 1: every update answered with one message repeating its text or button data."""

    async def echo(update: Update, context: Context) -> None:
        """Repeats the text or the tapped button's data."""
        assert update.effective_chat is not None
        if update.callback_query is not None:
            text = update.callback_query.data or "?"
        else:
            text = update.message.text if update.message and update.message.text else "?"
        await context.bot.send_message(update.effective_chat.id, text)

    app = _builder(request, base_url).build()
    app.add_handler(TypeHandler(Update, echo))
    return app


class _FlowBot:
    """Texts, keyboards and callbacks of the decline_offer flow as a hand-written PTB bot."""

    def __init__(self, catalog: Catalog) -> None:
        self.flow: Flow = catalog.flows[FLOW]
        common = catalog.common[catalog.default_lang]
        phrases = catalog.phrases[catalog.default_lang][FLOW]
        self.welcome = f"{common['welcome']}\n\n{common['menu_prompt']}"
        groups = catalog.groups()
        self.menu = InlineKeyboardMarkup(
            [
                [InlineKeyboardButton(common.groups.get(g, g), callback_data=f"g:{g}")]
                for g in groups
            ]
        )
        group = self.flow.group
        self.group_text = common["menu_group_prompt"].replace(
            "{group}", common.groups.get(group, group)
        )
        self.group_menu = InlineKeyboardMarkup(
            [
                [InlineKeyboardButton(catalog.phrases["en"][f.id].title, callback_data=f"f:{f.id}")]
                for f in catalog.ordered_flows(group)
            ]
            + [[InlineKeyboardButton(common["back"], callback_data="b")]]
        )
        self.questions: dict[str, tuple[str, InlineKeyboardMarkup]] = {}
        for name, state in self.flow.states.items():
            if state.end:
                continue
            question = phrases.questions[name]
            rows = [
                [InlineKeyboardButton(question.options[o], callback_data=f"c:{name}:{o}")]
                for o in state.options
            ]
            if state.optional:
                label = question.skip or common["skip"]
                rows.append([InlineKeyboardButton(label, callback_data=f"c:{name}:{SKIP}")])
            rows.append(
                [
                    InlineKeyboardButton(common["back"], callback_data="b"),
                    InlineKeyboardButton(common["restart"], callback_data="r"),
                ]
            )
            text = question.text if not question.hint else f"{question.text}\n\n{question.hint}"
            if state.ask == "text":
                text += f"\n\n{common['type_answer']}"
            self.questions[name] = (text, InlineKeyboardMarkup(rows))
        self.advice_keyboard = InlineKeyboardMarkup(
            [
                [InlineKeyboardButton(common["another"], callback_data="w")],
                [
                    InlineKeyboardButton(common["back"], callback_data="b"),
                    InlineKeyboardButton(common["restart"], callback_data="r"),
                    InlineKeyboardButton(common["menu"], callback_data="m"),
                ],
                [InlineKeyboardButton(common["share"], switch_inline_query="")],
            ]
        )

    @staticmethod
    async def _record(update: Update) -> str:
        """Answers the tap and edits the tapped message to show the chosen label."""
        query = update.callback_query
        assert query is not None and isinstance(query.message, Message)
        await query.answer()
        message = query.message
        label = ""
        if message.reply_markup is not None:
            for row in message.reply_markup.inline_keyboard:
                for button in row:
                    if button.callback_data == query.data:
                        label = button.text
        await query.edit_message_text(f"{message.text}\n\n→ {label}")
        return query.data or ""

    async def start(self, update: Update, context: Context) -> str:
        """Shows the menu."""
        assert update.effective_chat is not None
        await context.bot.send_message(
            update.effective_chat.id, self.welcome, reply_markup=self.menu
        )
        return MENU

    async def open_group(self, update: Update, context: Context) -> str:
        """Shows the situations of the tapped group."""
        await self._record(update)
        assert update.effective_chat is not None
        await context.bot.send_message(
            update.effective_chat.id, self.group_text, reply_markup=self.group_menu
        )
        return GROUP

    async def begin(self, update: Update, context: Context) -> str | int:
        """Starts the situation: asks its first question."""
        await self._record(update)
        assert context.user_data is not None
        context.user_data["answers"] = {}
        return await self.ask(update, context, self.flow.start)

    async def ask(self, update: Update, context: Context, name: str) -> str | int:
        """Asks question `name`, or sends the result and the advice at the end."""
        assert update.effective_chat is not None and context.user_data is not None
        chat_id = update.effective_chat.id
        if self.flow.states[name].end:
            answers = context.user_data["answers"]
            await context.bot.send_message(chat_id, self.result_text(answers))
            if answers.get("channel") == "phone":  # a call script, then the follow-up email
                await context.bot.send_message(chat_id, self.result_text(answers))
            await context.bot.send_message(
                chat_id, "Above: your message.\n\nAdvice", reply_markup=self.advice_keyboard
            )
            return ConversationHandler.END
        text, keyboard = self.questions[name]
        await context.bot.send_message(chat_id, text, reply_markup=keyboard)
        return name

    def next_state(self, name: str, answers: dict[str, str]) -> str:
        """Where the flow goes after question `name`."""
        for branch in self.flow.states[name].next:
            if branch.condition.holds(answers):
                return branch.target
        raise LookupError(name)

    @staticmethod
    def result_text(answers: dict[str, str]) -> str:
        """The composed message, as a hand-written bot would fill a template."""
        return (
            f"Dear {answers.get('recipient') or 'Hiring Team'},\n\n"
            f"Thank you for offering me the {answers.get('role', '')} role at "
            f"{answers.get('company', '')}. After careful thought, I have decided not to accept. "
            "I enjoyed meeting the team and learning about your plans, and I hope our paths "
            "cross again.\n\n"
            f"Best regards,\n{answers.get('your_name', '')}"
        )

    def on_choice(self, name: str) -> Step:
        """The callback for a tap on one of question `name`'s buttons."""
        slot = self.flow.states[name].slot

        async def chosen(update: Update, context: Context) -> str | int:
            """Records the tapped option and asks the next question."""
            data = await self._record(update)
            option = data.rpartition(":")[2]
            assert context.user_data is not None
            answers = context.user_data["answers"]
            answers[slot] = "" if option == SKIP else option
            return await self.ask(update, context, self.next_state(name, answers))

        return chosen

    def on_text(self, name: str) -> Step:
        """The callback for typed text answering question `name`."""
        slot = self.flow.states[name].slot

        async def typed(update: Update, context: Context) -> str | int:
            """Stores the typed answer and asks the next question."""
            assert update.message is not None and context.user_data is not None
            answers = context.user_data["answers"]
            answers[slot] = (update.message.text or "").strip()
            return await self.ask(update, context, self.next_state(name, answers))

        return typed


def conversation_application(
    catalog: Catalog, request: BaseRequest | None = None, base_url: str | None = None
) -> App:
    """Floor 2: decline_offer as a `ConversationHandler`, state and answers in memory."""
    bot = _FlowBot(catalog)
    text = filters.TEXT & ~filters.COMMAND
    states: dict[object, list[BaseHandler[Update, Context, Any]]] = {
        MENU: [CallbackQueryHandler(bot.open_group, pattern=r"^g:")],
        GROUP: [CallbackQueryHandler(bot.begin, pattern=r"^f:")],
    }
    for name, state in bot.flow.states.items():
        if state.end:
            continue
        handlers: list[BaseHandler[Update, Context, Any]] = [
            CallbackQueryHandler(bot.on_choice(name), pattern=f"^c:{name}:")
        ]
        if state.ask == "text":
            handlers.append(MessageHandler(text, bot.on_text(name)))
        states[name] = handlers
    with warnings.catch_warnings():  # per_message=False with CallbackQueryHandler: intended
        warnings.simplefilter("ignore")
        conversation = ConversationHandler(
            entry_points=[CommandHandler("start", bot.start)],
            states=states,
            fallbacks=[CommandHandler("start", bot.start)],
        )
    app = _builder(request, base_url).build()
    app.add_handler(conversation)
    return app
