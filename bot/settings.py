"""Settings for `doorajar run`: command-line flags, each defaulting to an environment variable.

Every setting is listed in `.env.example`.
"""

from __future__ import annotations

import argparse
import os
import re

SECRET_MIN_LENGTH = 16
SECRET_RE = re.compile(r"[A-Za-z0-9_-]{16,256}")
"""Telegram allows 1-256 characters of A-Z, a-z, 0-9, _ and -; fewer than 16 are guessable."""


def webhook_secret(value: str) -> str:
    """The webhook secret, or a clear refusal (argparse exits with status 2 and the message).

    The secret is never repeated in the message: it would end up in logs.
    """
    if not value:
        return value
    if len(value) < SECRET_MIN_LENGTH:
        raise argparse.ArgumentTypeError(
            f"the webhook secret has {len(value)} characters; use at least {SECRET_MIN_LENGTH} "
            "(for example: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    if not SECRET_RE.fullmatch(value):
        raise argparse.ArgumentTypeError(
            "the webhook secret may use only A-Z, a-z, 0-9, _ and -, up to 256 characters "
            "(Telegram's rule)"
        )
    return value


def retention_days(value: str) -> int:
    """Days to keep idle conversations; 0 keeps them (update ids still expire after a day)."""
    try:
        days = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of days: {value!r}") from None
    if days < 0:
        raise argparse.ArgumentTypeError("the retention period cannot be negative (0 keeps)")
    return days


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip().isdigit() else default


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, "") or default)
    except ValueError:
        return default


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `doorajar run`."""
    env = os.environ.get
    parser.add_argument(
        "--store",
        default=env("DOORAJAR_STORE"),
        help="memory, a SQLite path (default: the user data folder), or redis://host:port/db "
        "[DOORAJAR_STORE]",
    )
    parser.add_argument(
        "--api-base-url",
        default=env("TELEGRAM_API_BASE_URL"),
        help="Bot API base URL, e.g. http://127.0.0.1:8081/bot for a local Bot API server "
        "[TELEGRAM_API_BASE_URL]",
    )
    parser.add_argument(
        "--webhook",
        action="store_true",
        default=env("DOORAJAR_WEBHOOK", "") in ("1", "true", "yes"),
        help="receive updates by webhook instead of long polling [DOORAJAR_WEBHOOK=1]",
    )
    parser.add_argument(
        "--webhook-url",
        default=env("DOORAJAR_WEBHOOK_URL"),
        help="public HTTPS URL Telegram posts updates to; the webhook server answers on its "
        "path [DOORAJAR_WEBHOOK_URL]",
    )
    parser.add_argument(
        "--webhook-secret",
        type=webhook_secret,
        default=env("DOORAJAR_WEBHOOK_SECRET"),
        help="secret token Telegram sends with each update, 16 to 256 characters of A-Z, a-z, "
        "0-9, _ and -; required with --webhook [DOORAJAR_WEBHOOK_SECRET]",
    )
    parser.add_argument(
        "--listen",
        default=env("DOORAJAR_LISTEN", "127.0.0.1"),
        help="address the webhook server listens on [DOORAJAR_LISTEN, default 127.0.0.1]",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=_env_int("DOORAJAR_PORT", 8443),
        help="port the webhook server listens on [DOORAJAR_PORT, default 8443]",
    )
    parser.add_argument(
        "--max-rate",
        type=float,
        default=_env_float("DOORAJAR_MAX_RATE", 30),
        help="messages per second this process sends at most; Telegram allows about 30 per bot, "
        "so with N workers give each 30/N [DOORAJAR_MAX_RATE, default 30]",
    )
    parser.add_argument(
        "--retention-days",
        type=retention_days,
        default=env("DOORAJAR_RETENTION_DAYS") or "30",
        help="delete conversations idle longer than this many days, 0 to keep them; update "
        "ids are deleted after a day either way [DOORAJAR_RETENTION_DAYS, default 30]",
    )
    parser.add_argument(
        "--log-level",
        default=env("DOORAJAR_LOG_LEVEL", "INFO"),
        help="DEBUG, INFO, WARNING or ERROR for doorajar's own logs; library logs stay at INFO "
        "or above so user text is never logged [DOORAJAR_LOG_LEVEL, default INFO]",
    )
