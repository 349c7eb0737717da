"""The README and docs/telegram.md stay true where it is cheap to check: the commands table
against the parser, the configuration table against `.env.example` and the code, every
repository path they name, the console example, and the "Writing a situation" example, which
`doorajar check` must pass."""

from __future__ import annotations

import argparse
import codecs
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot import settings
from bot.cli import build_parser, main
from bot.content.catalog import SAYINGS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
TELEGRAM_DOC = (ROOT / "docs" / "telegram.md").read_text(encoding="utf-8")
ENV_EXAMPLE = (ROOT / ".env.example").read_text(encoding="utf-8")
BOT_SOURCE = "\n".join(path.read_text() for path in sorted((ROOT / "bot").rglob("*.py")))

REPO_TOP = ("bot/", "tests/", "docs/", "bench/", "flows/", "phrases/", "stories/")
REPO_FILES = {".env.example", "Makefile", "pyproject.toml", "README.md"}
GENERATED = ("docs/flows/",)
"""Paths the README names as outputs of a command (`make graphs`), not as files in the tree."""


def section(text: str, heading: str) -> str:
    """The text under a `## heading`, up to the next heading of that level."""
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def table_rows(text: str) -> list[list[str]]:
    """The cells of each body row of the markdown tables in `text`."""
    rows = []
    for line in text.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows[1:] if rows else rows


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(actions[0].choices)


def options(parser: argparse.ArgumentParser) -> set[str]:
    """Every flag of a parser, aliases included (`-o` and `--output`)."""
    return {flag for action in parser._actions for flag in action.option_strings}


# -- commands -----------------------------------------------------------------------------


def commands_table() -> dict[str, str]:
    """`doorajar NAME ...` cell of each row of the Commands table, by NAME."""
    rows = table_rows(section(README, "Commands"))
    usages = [row[0].strip("`") for row in rows]
    return {usage.split()[1]: usage for usage in usages}


def test_the_commands_table_lists_every_subcommand_and_no_other() -> None:
    assert set(commands_table()) == set(subcommands(build_parser()))


def test_every_flag_in_the_commands_table_exists_on_its_subcommand() -> None:
    parsers = subcommands(build_parser())
    for name, usage in commands_table().items():
        for flag in re.findall(r"(--?[a-z][a-z-]*)", usage):
            assert flag in options(parsers[name]), f"{usage}: {flag}"


def test_every_flag_of_a_subcommand_is_in_the_commands_table_or_its_help() -> None:
    table = commands_table()
    for name, sub in subcommands(build_parser()).items():
        if table[name].endswith("[...]"):  # `doorajar run [...]`: see its --help
            continue
        written = set(re.findall(r"(--?[a-z][a-z-]*)", table[name]))
        for action in sub._actions:
            flags = set(action.option_strings)
            if flags and "--help" not in flags:
                assert flags & written, f"doorajar {name}: {sorted(flags)} not in the table"


# -- configuration ------------------------------------------------------------------------


def configuration_variables() -> set[str]:
    rows = table_rows(section(README, "Configuration"))
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row[0])}


def env_example_variables() -> set[str]:
    return set(re.findall(r"^([A-Z][A-Z0-9_]+)=", ENV_EXAMPLE, re.M))


def test_the_configuration_table_and_env_example_list_the_same_variables() -> None:
    assert configuration_variables() == env_example_variables()


def test_every_configured_variable_is_read_by_the_bot() -> None:
    for name in configuration_variables():
        assert f'"{name}"' in BOT_SOURCE, f"{name} is documented but read nowhere in bot/"


def test_every_variable_named_in_run_help_is_in_the_configuration_table() -> None:
    run = subcommands(build_parser())["run"]
    named = set(re.findall(r"\[([A-Z][A-Z0-9_]+)", run.format_help().replace("\n", " ")))
    assert named and named <= configuration_variables()


def test_the_webhook_secret_rule_is_the_same_in_code_help_and_docs() -> None:
    low = settings.SECRET_MIN_LENGTH
    rule = f"{low} to 256"
    assert rule in TELEGRAM_DOC and rule in README
    run_help = " ".join(subcommands(build_parser())["run"].format_help().split())
    assert rule in run_help
    assert settings.SECRET_RE.fullmatch("a" * low) and not settings.SECRET_RE.fullmatch(
        "a" * (low - 1)
    )
    assert settings.SECRET_RE.fullmatch("a" * 256) and not settings.SECRET_RE.fullmatch("a" * 257)


# -- paths --------------------------------------------------------------------------------


def named_paths(text: str) -> set[str]:
    """Repository paths a document names: in backticks, as relative markdown links, and file
    paths in code blocks."""
    names = set(re.findall(r"`([^`\s]+)`", text))
    names |= set(re.findall(r"\]\(([^)#:\s]+)(?:#[^)]*)?\)", text))
    names |= set(re.findall(r"\b(?:bot|tests|docs|bench)/[\w/.-]+\.(?:py|md|png|yaml)\b", text))
    paths = set()
    for name in names:
        name = name.removeprefix("../").rstrip(".,;:")
        if any(mark in name for mark in "<>{}*…") or "..." in name:
            continue  # a placeholder such as phrases/<lang>/<id>.yaml
        if name.startswith(REPO_TOP) or name in REPO_FILES:
            paths.add(name)
    return paths


@pytest.mark.parametrize("document", ["README.md", "docs/telegram.md"])
def test_every_repository_path_a_document_names_exists(document: str) -> None:
    text = (ROOT / document).read_text(encoding="utf-8")
    paths = named_paths(text)
    assert paths
    missing = [p for p in paths if not p.startswith(GENERATED) and not (ROOT / p).exists()]
    assert missing == []


def test_every_python_module_the_readme_runs_exists() -> None:
    modules = set(re.findall(r"python -m ([a-z_][a-z0-9_.]*)", README)) - {"pytest", "bench"}
    assert modules
    for module in modules:
        path = ROOT / module.replace(".", "/")
        assert path.with_suffix(".py").is_file() or (path / "__main__.py").is_file(), module


# -- examples -----------------------------------------------------------------------------


def test_the_console_example_is_what_the_piped_session_prints() -> None:
    two = section(README, "Two commands")
    excerpt = re.search(r"```\n(What's your situation\?.*?)```", two, re.S)
    command = re.search(r"printf '([^']*)'", two)
    assert excerpt and command
    lines = codecs.decode(command.group(1), "unicode_escape")
    env = {**os.environ, "DOORAJAR_STORE": "memory"}
    env.pop("TELEGRAM_BOT_TOKEN", None)
    done = subprocess.run(
        [sys.executable, "-m", "bot", "chat"],
        input=lines,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    printed = [line.strip() for line in done.stdout.splitlines()]
    at = 0
    for line in excerpt.group(1).splitlines():
        line = line.strip()
        if not line or line.startswith(">") or line == "...":
            continue  # typed input, which a pipe does not echo, and left-out lines
        assert line in printed[at:], f"not printed (in this order): {line}"
        at = printed.index(line, at) + 1


EXAMPLE_PHRASES = """\
title: Turn down a job offer
summary: Say no clearly and kindly, and keep the door open.
refinements:
  tone: Change tone
  door: Change how the door stays open
  figure: Mention the pay I'd need
  channel: Change channel
questions:
  channel:
    text: How will you tell them?
    options: {email: Email, linkedin: LinkedIn, messenger: A chat message, phone: A call}
  reason:
    text: What is the main reason you're saying no?
    options: {another_offer: I took another offer, pay: The pay, family: Family, private: Private}
  negotiated:
    text: Did you try to negotiate?
    options: {tried: "Yes, it didn't move", not_tried: Not yet}
  company: {text: Which company made the offer?}
  role: {text: What is the job title?}
  recipient: {text: Who are you writing to?, skip: "I don't know the name"}
  your_name: {text: "Your name, for the sign-off?"}
  tone:
    text: How should it sound?
    options: {warm: Warm, formal: Formal, brief: Brief}
  door:
    text: How should the door stay open?
    options: {stay_in_touch: Stay in touch, other_roles: Other roles later, neutral: A goodbye}
  figure: {text: What pay would you accept?}
shared:
  - &greeting
    join: line
    choose:
      - when: {tone: formal, recipient: {filled: true}}
        text: "Dear {recipient_formal},"
      - when: {tone: formal}
        text: "Dear Hiring Team,"
      - when: {recipient: {filled: true}}
        text: "Hi {recipient_first},"
      - text: "Hello,"
  - &opening
    choose:
      - when: {tone: formal}
        text:
          - Thank you for offering me the {role} job at {company}. I have decided to decline it.
          - I am grateful for the {role} offer from {company}. I will not accept it, though.
          - Thank you for the {role} offer from {company}. Having weighed it, I decline.
      - when: {tone: brief}
        text:
          - Thanks for the {role} offer at {company}. I've decided not to accept it.
          - Thank you for offering me the {role} role at {company}; I'm going to say no.
          - I appreciate the {role} offer from {company}, but I won't be accepting it.
      - text:
          - Thank you so much for the {role} offer at {company}. I've decided not to accept.
          - It meant a lot to be offered the {role} job at {company}. I'm going to turn it down.
          - I'm glad you offered me the {role} job at {company}. It was hard, but I'm declining.
  - &reason
    join: space
    choose:
      - when: {reason: another_offer}
        text: I have accepted another position.
      - when: {reason: pay, figure: {filled: true}}
        text: "The package is the sticking point: I could say yes at {figure}."
      - when: {reason: pay}
        text: The package isn't where it needs to be for me right now.
      - when: {reason: family}
        text: Family matters mean the timing is not right for me.
      - text: It simply isn't the right move for me at this point.
  - &door
    choose:
      - when: {door: other_roles}
        text: If another role opens up later, I would be glad to hear about it.
      - when: {door: neutral}
        text: I wish you and the team all the best.
      - text: I'd be glad to stay in touch, and I hope our paths cross again.
result:
  messages:
    - kind: email
      when: {channel: email}
      decision: true
      subject:
        text: ["{your_name}: {role} offer", "Decision on the {role} offer"]
      parts: [*greeting, *opening, *reason, *door, {join: line, text: "{your_name}"}]
    - kind: linkedin
      when: {channel: linkedin}
      decision: true
      parts: [*greeting, *opening, *reason, *door, {join: line, text: "{your_name}"}]
    - kind: messenger
      when: {channel: messenger}
      decision: true
      parts: [*greeting, *opening, *reason, *door, {join: space, text: "{your_name}"}]
    - kind: script
      when: {channel: phone}
      parts:
        - choose:
            - when: {recipient: {filled: true}}
              text: "Hi {recipient_first}, it's {your_name} calling about the {role} offer."
            - text: "Hello, it's {your_name} calling about the {role} offer."
        - *opening
        - *reason
        - *door
advice:
  - kind: warning
    when: {reason: pay, negotiated: not_tried}
    text: You haven't tried negotiating yet. If pay is all that is in the way, ask first.
  - kind: tip
    when: {reason: pay, negotiated: tried}
    text: You already asked for more, so this answer should surprise nobody.
  - text: Send it soon after you decide. A quick answer lets them move on.
  - text: Keep the reason to one line. Nobody needs the whole story.
  - text: Connect with the people you met, so staying in touch is real.
"""
"""Complete phrases for the README's example flow (the README shows only some of them)."""

SECOND_STORY = """
  - name: a formal email with only a goodbye
    steps:
      - choose: email
      - choose: family
      - text: Northwind
      - text: Analyst
      - text: Dr Ana Meyer
      - text: Sam Carter
      - {refine: tone}
      - choose: formal
      - {refine: door}
      - choose: neutral
    expect:
      contains_exact: [Dear Dr Meyer,]
      not_contains: [stay in touch]
"""
"""Each flow needs two stories; the README shows one."""


def test_the_writing_a_situation_example_passes_doorajar_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    writing = section(README, "Writing a situation")
    blocks = re.findall(r"```yaml\n(.*?)```", writing, re.S)
    flow = next(block for block in blocks if block.startswith("id: "))
    story = next(block for block in blocks if block.startswith("flow: "))
    flow_id = re.match(r"id: (\w+)", flow)
    assert flow_id
    for folder in ("flows", "phrases/en", "stories"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "flows" / f"{flow_id.group(1)}.yaml").write_text(flow)
    (tmp_path / "stories" / f"{flow_id.group(1)}.yaml").write_text(story + SECOND_STORY)
    (tmp_path / "phrases/en" / f"{flow_id.group(1)}.yaml").write_text(EXAMPLE_PHRASES)
    common = ROOT / "phrases/en/_common.yaml"
    (tmp_path / "phrases/en/_common.yaml").write_text(common.read_text())
    code = main(["check", "--walks", "20", str(tmp_path / "flows" / f"{flow_id.group(1)}.yaml")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "2 stories played" in out


def test_the_sayings_the_readme_lists_are_the_ones_the_loader_knows() -> None:
    listed = re.search(r"^Sayings: (.*?) \(a typo", README, re.M | re.S)
    assert listed
    assert tuple(" ".join(listed.group(1).split()).split(", ")) == SAYINGS
