"""`.env.example` lists every setting, and the `doorajar run` flags name their variables."""

from __future__ import annotations

import re
from pathlib import Path

from bot.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
READ_ENV = re.compile(r"""(?:env|_env_int|environ\.get)\(\s*["']([A-Z_]+)["']""")


def settings_read_from_env() -> set[str]:
    names = {"TELEGRAM_BOT_TOKEN"}
    for path in (ROOT / "bot").glob("*.py"):
        names |= set(READ_ENV.findall(path.read_text()))
    return names


def test_env_example_lists_every_setting() -> None:
    listed = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert settings_read_from_env() <= listed


def test_run_help_names_the_variable_behind_each_flag() -> None:
    parser = build_parser()
    run = parser._subparsers._group_actions[0].choices["run"]  # type: ignore[union-attr]
    for action in run._actions:
        if action.option_strings and action.dest != "help":
            assert re.search(r"\[[A-Z_]+", action.help or ""), action.option_strings
