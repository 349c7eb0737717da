"""Each front end declares the common phrases it uses, so `doorajar check` can require them:
the declarations are read from the source, and a key used but not declared fails here."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import console, telegram
from bot.cli import front_end_phrase_keys
from bot.content.phrases import COMMON_KEYS, MESSAGE_KINDS
from bot.telegram.outbox import COMMANDS

BOT = Path(__file__).resolve().parents[2] / "bot"
FRONT_ENDS = {
    "console": ([BOT / "console.py"], console.PHRASE_KEYS),
    "telegram": (sorted((BOT / "telegram").glob("*.py")), telegram.PHRASE_KEYS),
}


def used_keys(path: Path) -> Iterator[str]:
    """Literal keys read as `<...>common[key]`, passed to `text(key, ...)` or `_say(key)`, or
    named by `Say(key)`."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            target = node.value
            name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
            if name == "common" and isinstance(node.slice.value, str):
                yield node.slice.value
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("text", "_say")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.args[0].value
        if (  # Say("forgotten"): a phrase the outbox looks up when it sends
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "Say"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.args[0].value


@pytest.mark.parametrize("front_end", sorted(FRONT_ENDS))
def test_every_phrase_a_front_end_reads_is_declared(front_end: str) -> None:
    paths, declared = FRONT_ENDS[front_end]
    used = {key for path in paths for key in used_keys(path)}
    assert used, f"the scan found no phrase use in {front_end}: the scan is broken"
    assert sorted(used - set(declared) - set(COMMON_KEYS)) == []


def test_keys_built_at_run_time_are_declared() -> None:
    labels = {f"message_label_{kind}" for kind in MESSAGE_KINDS}
    assert labels <= set(console.PHRASE_KEYS)
    assert labels | {f"command_{name}" for name in COMMANDS} <= set(telegram.PHRASE_KEYS)


def test_the_check_requires_every_front_ends_keys() -> None:
    assert front_end_phrase_keys() == {
        "console": console.PHRASE_KEYS,
        "telegram": telegram.PHRASE_KEYS,
    }
