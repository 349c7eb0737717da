"""The `doorajar` command: chat in a terminal, run the Telegram bot, check or draw flows, read
the stats."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from bot.check.walk import WALKS
from bot.content.catalog import Catalog
from bot.content.loader import load_catalog
from bot.content.phrases import SEED_UNITS
from bot.content.report import CatalogError


def front_end_phrase_keys() -> Mapping[str, Collection[str]]:
    """Each front end's own common phrases, which the content must have for all of them."""
    from bot import console, telegram

    return {"console": console.PHRASE_KEYS, "telegram": telegram.PHRASE_KEYS}


def _load(paths: Sequence[Path] | None = None) -> Catalog | None:
    """The catalog, or None after printing every problem (a broken flow never starts a bot)."""
    try:
        return load_catalog(paths or None, front_end_phrase_keys())
    except CatalogError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"{len(exc.problems)} problem(s); nothing was started.", file=sys.stderr)
        return None


def cmd_check(args: argparse.Namespace) -> int:
    """Run every content rule (the loader's, the stories, the every-path walk, seed coverage);
    exit 1 with one `file:line: problem` line per problem."""
    from bot.check.rules import check_content
    from bot.content.loader import content_root

    started = time.perf_counter()
    catalog = _load(args.paths)
    if catalog is None:
        return 1
    root, whole = content_root(args.paths)
    summary = check_content(catalog, root, whole, args.walks)
    for problem in summary.problems:
        print(problem, file=sys.stderr)
    elapsed = (time.perf_counter() - started) * 1000
    if summary.problems:
        print("\n".join(summary.reach))
        print(f"{len(summary.problems)} problem(s) ({elapsed:.0f} ms)", file=sys.stderr)
        return 1
    states = sum(len(flow.states) for flow in catalog.flows.values())
    langs = ", ".join(sorted(catalog.phrases))
    seed = (
        f"seed units covered: {summary.seed_covered} of {len(SEED_UNITS)}"
        if summary.seed_covered is not None
        else "seed coverage: not checked (some flows only)"
    )
    print(
        f"ok: {len(catalog.flows)} flows, {states} states, languages: {langs}, "
        f"{summary.stories} stories played, every path walked ({summary.results} results "
        f"checked), {seed}"
        f"{'' if summary.copy_checked else ', copy check: no seed/guide beside the content'}"
        f" ({elapsed:.0f} ms)"
    )
    print("\n".join(summary.reach))
    return 0


def cmd_graph(args: argparse.Namespace) -> int:
    """Draw one flow."""
    from bot.graph import draw, mermaid

    catalog = _load()
    if catalog is None:
        return 1
    flow = catalog.flows.get(args.flow)
    if flow is None:
        print(f"no flow '{args.flow}'; known: {', '.join(sorted(catalog.flows))}", file=sys.stderr)
        return 2
    if args.output is None:
        print(mermaid(flow))
        return 0
    try:
        draw(flow, args.output)
    except (ImportError, OSError, RuntimeError) as exc:
        print(f"cannot draw {args.output}: {exc} (SVG and PNG need graphviz)", file=sys.stderr)
        return 1
    print(f"wrote {args.output}")
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    """Chat in the terminal."""
    from bot.console import run_console
    from bot.engine import Engine
    from bot.service import ChatService
    from bot.store.factory import open_store
    from bot.store.protocol import StoreUnavailable

    catalog = _load()
    if catalog is None:
        return 1
    try:
        store = open_store(args.store or os.environ.get("DOORAJAR_STORE") or "memory")
    except StoreUnavailable as exc:
        print(exc, file=sys.stderr)
        return 1

    async def main() -> int:
        try:
            return await run_console(ChatService(Engine(catalog), store), args.now)
        finally:
            await store.close()

    try:
        return asyncio.run(main())
    except KeyboardInterrupt:
        print()
        return 0


def cmd_stats(args: argparse.Namespace) -> int:
    """Print (or draw) the stats funnels of the last days from the store."""
    from bot import stats
    from bot.store.factory import open_store
    from bot.store.protocol import StoreUnavailable

    if args.days < 1:
        print("--days must be 1 or more", file=sys.stderr)
        return 2
    try:
        store = open_store(args.store or os.environ.get("DOORAJAR_STORE"))
    except StoreUnavailable as exc:
        print(exc, file=sys.stderr)
        return 1
    days = stats.days_back(args.days)

    async def read() -> list[stats.DayCount]:
        try:
            return await store.tallies(days)
        finally:
            await store.close()

    try:
        rows = asyncio.run(read())
    except StoreUnavailable as exc:
        print(exc, file=sys.stderr)
        return 1
    order: dict[str, list[str]] = {}
    catalog = _load()
    if catalog is not None:  # question order for drop-off; without it, by name
        order = {flow.id: list(flow.states) for flow in catalog.flows.values()}
    summary = stats.summarise(rows, days, args.situation, order)
    print(summary.to_json() if args.json else stats.table(summary))
    if args.plot is not None:
        from bot.stats_plot import plot

        try:
            plot(summary, args.plot)
        except ImportError:
            print("--plot needs matplotlib: pip install -e '.[plot]'", file=sys.stderr)
            return 1
        except (OSError, ValueError) as exc:
            print(f"cannot draw {args.plot}: {exc}", file=sys.stderr)
            return 1
        print(f"wrote {args.plot}", file=sys.stderr if args.json else sys.stdout)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Run the Telegram bot."""
    catalog = _load()
    if catalog is None:
        return 1
    from bot.telegram.startup import run_bot

    code: int = run_bot(catalog, args)
    return code


def build_parser() -> argparse.ArgumentParser:
    """The command line, with a sub-command per job."""
    parser = argparse.ArgumentParser(
        prog="doorajar",
        description="Say no at work without burning bridges: a Telegram bot and console chat.",
        epilog="`make run` runs `doorajar run` when TELEGRAM_BOT_TOKEN is set (or in .env), "
        "else `doorajar chat`. Settings: .env.example; more in README.md.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    chat = commands.add_parser(
        "chat",
        help="chat in this terminal (no Telegram needed)",
        description="Chat in this terminal: type a number or an option's name; skip, keep, "
        "back, restart, menu or quit at any time. Reads stdin line by line, so it can be "
        "piped. DOORAJAR_NOW=<unix seconds> starts its clock at another time (to try "
        "reminders).",
    )
    chat.add_argument(
        "--store",
        help="where to keep the conversation: memory, a SQLite path, or redis://... "
        "(default: DOORAJAR_STORE, else memory)",
    )
    chat.add_argument(
        "--now",
        type=float,
        metavar="UNIX_SECONDS",
        help="start the chat's clock at this time (Unix seconds) instead of now, to try "
        "reminders: set one, quit, and chat again with --now a few days later on the same "
        "--store [DOORAJAR_NOW]",
    )
    chat.set_defaults(func=cmd_chat)

    check = commands.add_parser(
        "check",
        help="run every content rule: flows, phrases, stories, every path",
        description="Run every content rule: exit 0 with a summary, or 1 with one "
        "`file:line: problem` line per problem. A whole content folder also gets the seed "
        "coverage check.",
    )
    check.add_argument(
        "paths",
        nargs="*",
        type=Path,
        help="content folders, flows/ folders or flow files (default: this project's)",
    )
    check.add_argument(
        "--walks",
        type=int,
        default=WALKS,
        help=f"random walks per flow on top of one per option (default {WALKS})",
    )
    check.set_defaults(func=cmd_check)

    graph = commands.add_parser("graph", help="draw a flow (mermaid, or SVG/PNG with graphviz)")
    graph.add_argument("flow", help="flow id, e.g. decline_offer")
    graph.add_argument(
        "-o", "--output", type=Path, help="file.svg, file.png, file.md or file.mmd (default: print)"
    )
    graph.set_defaults(func=cmd_graph)

    stats = commands.add_parser(
        "stats", help="where people drop off: funnel counters per situation (README: Stats)"
    )
    stats.add_argument("--days", type=int, default=7, help="last N UTC days (default 7)")
    stats.add_argument("--situation", help="one situation only, e.g. decline_offer")
    stats.add_argument("--json", action="store_true", help="print JSON instead of a table")
    stats.add_argument(
        "--plot", type=Path, help="also draw the funnels to FILE.svg or FILE.png (matplotlib)"
    )
    stats.add_argument(
        "--store", help="the bot's store (default: DOORAJAR_STORE, else the SQLite default)"
    )
    stats.set_defaults(func=cmd_stats)

    from bot.settings import add_run_arguments

    run = commands.add_parser(
        "run",
        help="run the Telegram bot (needs TELEGRAM_BOT_TOKEN)",
        description="Run the Telegram bot: long polling, or a webhook server with --webhook. "
        "The token is read from TELEGRAM_BOT_TOKEN only (never a flag, so it stays out of "
        "`ps`); each flag defaults to the environment variable in brackets. See "
        "docs/telegram.md.",
    )
    add_run_arguments(run)
    run.set_defaults(func=cmd_run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `doorajar` command."""
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
