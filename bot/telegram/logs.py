"""Logging for the Telegram bot that never writes the bot token or anything a user typed.

The token is part of every Bot API URL, so httpx (which logs request URLs) is kept at WARNING
and a filter on every root handler replaces the token wherever it still appears, tracebacks
included. python-telegram-bot logs whole updates and request parameters at DEBUG, which hold
user text, so its loggers never go below INFO; `--log-level DEBUG` affects doorajar's own
loggers, which log chat ids and event kinds only. The few warnings in which the library puts
raw update data (an update it could not parse, say) get that data replaced by a placeholder.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from telegram import TelegramObject

REDACTED = "<token>"
OMITTED = "<omitted>"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
QUIET_LOGGERS = {
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "transitions": logging.WARNING,  # two INFO lines per answer otherwise
}
CHATTY_LOGGERS = ("telegram", "tornado", "apscheduler")


def _is_payload(value: Any) -> bool:
    """Update or response data (which can hold user text) as opposed to a number or a name."""
    if isinstance(value, TelegramObject | dict | list | tuple | bytes):
        return True
    return isinstance(value, str) and ("{" in value or "\n" in value)


def _without_payloads(msg: object, args: Any) -> Any:
    """Log arguments with update data replaced by a placeholder."""
    if isinstance(args, tuple):
        return tuple(OMITTED if _is_payload(arg) else arg for arg in args)
    if isinstance(args, Mapping):  # logging unpacks a lone dict argument into record.args
        if re.search(r"%\(\w+\)", str(msg)):
            return {key: OMITTED if _is_payload(value) else value for key, value in args.items()}
        return (OMITTED,)
    return args


class RedactSecrets(logging.Filter):
    """Replaces secrets in a record's message and traceback text before it is written.

    Raw update data that python-telegram-bot's own loggers put into a message is omitted.
    """

    def __init__(self, *secrets: str) -> None:
        super().__init__()
        forms = {form for secret in secrets if secret for form in (secret, quote(secret))}
        self.secrets = sorted(forms, key=len, reverse=True)

    def redact(self, text: str) -> str:
        """`text` with every secret replaced."""
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("telegram"):
            record.args = _without_payloads(record.msg, record.args)
        message = record.getMessage()
        record.msg = self.redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def configure_logging(level: str, *secrets: str) -> None:
    """Log to stderr at `level`, with secrets redacted and library request logs kept quiet."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    logging.basicConfig(format=LOG_FORMAT)  # adds a stderr handler unless one exists
    logging.getLogger().setLevel(numeric)
    redactor = RedactSecrets(*secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redactor)
    for name, floor in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(max(floor, numeric))
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.INFO, numeric))
