"""Settings for `doorajar run`: command-line flags, each defaulting to an environment variable.

Every setting is listed in `.env.example`.
"""

from __future__ import annotations

import argparse
import os


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
        default=env("DOORAJAR_WEBHOOK_SECRET"),
        help="secret token Telegram sends with each update; required with --webhook "
        "[DOORAJAR_WEBHOOK_SECRET]",
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
        type=int,
        default=_env_int("DOORAJAR_RETENTION_DAYS", 30),
        help="delete conversations idle longer than this many days, 0 to keep them "
        "[DOORAJAR_RETENTION_DAYS, default 30]",
    )
    parser.add_argument(
        "--log-level",
        default=env("DOORAJAR_LOG_LEVEL", "INFO"),
        help="logging level; library logs stay at INFO or above so user text is never logged "
        "[DOORAJAR_LOG_LEVEL, default INFO]",
    )
