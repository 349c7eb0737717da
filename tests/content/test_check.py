"""`doorajar check` runs every content rule on a content folder: a new situation needs no
Python, and each broken rule is one `file:line: problem` line with exit code 1."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from tests.content.test_loader import edit

NEW_FLOW = """\
id: ask_hours
group: process
order: 95
start: stage
states:
  stage:
    ask: choice
    options: [before_offer, after_offer]
    next: channel
  channel:
    ask: choice
    options: [email, messenger]
    next: hours
  hours:
    ask: text
    max_length: 20
    pattern: "\\\\d{1,2} hours"
    example: 30 hours
    next: company
  company:
    ask: text
    max_length: 60
    example: Harbour Lane Studio
    next: your_name
  your_name:
    ask: text
    remember: true
    max_length: 60
    example: Sam Carter
    next: done
  done:
    end: true
"""

NEW_PHRASES = """\
title: Ask about weekly hours
summary: Find out how many hours a week the role expects before you go further.
questions:
  stage:
    text: Where are you in the process?
    options: {before_offer: Still interviewing, after_offer: I have an offer}
  channel:
    text: How will you send it?
    options: {email: Email, messenger: A chat message}
  hours:
    text: How many hours a week would suit you?
    hint: For example, 30 hours.
    invalid: Please write it like "30 hours".
  company:
    text: Which company is it?
  your_name:
    text: What name should I sign with?
result:
  messages:
    - kind: email
      when: {channel: email}
      subject:
        text: ["Weekly hours at {company}", "A question about hours at {company}"]
      parts:
        - Hello,
        - text:
            - Could you tell me how many hours a week the role at {company} usually takes?
            - I'd like to understand the weekly hours the role at {company} expects.
            - May I ask what a typical working week looks like at {company}?
        - text:
            - "I'm hoping for around {hours}."
            - "Something close to {hours} would suit me."
        - text: ["Thanks,\\n{your_name}", "Best wishes,\\n{your_name}"]
    - kind: messenger
      when: {channel: messenger}
      parts:
        - join: space
          text:
            - Quick question about the role at {company}, how many hours a week does it take?
            - Could I check the usual weekly hours for the role at {company}?
            - What does a normal working week look like in the role at {company}?
        - join: space
          text:
            - "I'm aiming for about {hours}. Thanks, {your_name}"
            - "{hours} would be ideal. {your_name}"
advice:
  - text: Ask early, so neither side spends time on a role that will not fit.
  - text: Keep the question neutral; you are gathering facts, not negotiating yet.
  - text: Write down the answer, so you can compare it with any offer later.
  - when: {stage: after_offer}
    text: With an offer in hand, ask for the hours in writing before you accept.
"""

NEW_STORIES = """\
flow: ask_hours
stories:
  - name: email before an offer
    steps:
      - choose: before_offer
      - choose: email
      - text: 32 hours
      - text: Harbour Lane Studio
      - text: Sam Carter
    expect:
      kinds: [email]
      contains: [32 hours, Harbour Lane Studio, Sam Carter]
  - name: chat message after an offer asks for the hours in writing
    steps:
      - choose: after_offer
      - choose: messenger
      - {at: hours}
      - text: 30 hours
      - text: Harbour Lane Studio
      - text: Sam Carter
    expect:
      kinds: [messenger]
      advice_includes: [in writing]
"""


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["check", *args])
    out, err = capsys.readouterr()
    return code, out, err


def add_situation(root: Path) -> None:
    (root / "flows" / "ask_hours.yaml").write_text(NEW_FLOW)
    (root / "phrases" / "en" / "ask_hours.yaml").write_text(NEW_PHRASES)
    (root / "stories" / "ask_hours.yaml").write_text(NEW_STORIES)


def test_a_new_situation_needs_no_python(
    content_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, before, _ = check(capsys, str(content_copy), "--walks", "5")
    add_situation(content_copy)
    code, out, err = check(capsys, str(content_copy), "--walks", "5")
    assert (code, err) == (0, "")
    assert "15 flows" in out and "every path walked" in out
    stories_before = int(before.split(" stories played")[0].rsplit(" ", 1)[1])
    assert f"{stories_before + 2} stories played" in out
    results = int(out.split("every path walked (")[1].split(" ")[0])
    assert results > int(before.split("every path walked (")[1].split(" ")[0])


def test_the_new_situations_stories_and_paths_really_run(
    content_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_situation(content_copy)
    line = edit(content_copy, "stories/ask_hours.yaml", "[32 hours,", "[33 hours,")
    phrases = content_copy / "phrases" / "en" / "ask_hours.yaml"
    phrases.write_text(
        phrases.read_text().replace(
            "  - text: Ask early",
            "  - when: {stage: after_offer}\n    text: Ask early",
        )
    )
    code, _, err = check(capsys, str(content_copy), "--walks", "5")
    assert code == 1
    story = "story 'email before an offer': contains: missing '33 hours'"
    assert f"stories/ask_hours.yaml:{line}: {story}" in err, err
    assert "phrases/en/ask_hours.yaml:" in err and "advice bullets (a result needs 3 to 6)" in err


def test_a_pattern_without_an_example_is_refused_at_its_line(
    content_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_situation(content_copy)
    line = edit(content_copy, "flows/ask_hours.yaml", "    example: 30 hours\n", "")
    code, _, err = check(capsys, str(content_copy))
    assert code == 1
    assert "needs an 'example' answer" in err and "flows/ask_hours.yaml:" in err
    edit(
        content_copy,
        "flows/ask_hours.yaml",
        "    next: company",
        "    example: about thirty\n    next: company",
    )
    _, _, err = check(capsys, str(content_copy))
    assert (
        f"flows/ask_hours.yaml:{line}: the example does not match the question's 'pattern'" in err
    )


def test_deleting_a_front_end_phrase_fails_the_check(
    content_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = content_copy / "phrases" / "en" / "_common.yaml"
    kept = [
        line
        for line in common.read_text().splitlines(keepends=True)
        if "wording_label:" not in line
    ]
    common.write_text("".join(kept))
    code, _, err = check(capsys, str(content_copy))
    assert code == 1
    assert "missing common phrase 'wording_label' (used by console, telegram)" in err, err


def test_an_opt_in_must_name_a_real_choice(
    content_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = edit(
        content_copy,
        "flows/decline_offer.yaml",
        "  other_company:\n    ask: text\n",
        "  other_company:\n    ask: text\n    opt_in: {tone: formalish}\n",
    )
    code, _, err = check(capsys, str(content_copy))
    assert code == 1
    assert f"flows/decline_offer.yaml:{line + 2}: 'tone' has no option 'formalish'" in err, err


def test_the_draft_checks_read_the_opt_ins_from_the_flow(
    content_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The other employer may now be named only in a formal message: the story that names it
    # in a warm email must now fail the draft checks.
    edit(
        content_copy,
        "flows/decline_offer.yaml",
        "  other_company:\n    ask: text\n",
        "  other_company:\n    ask: text\n    opt_in: {tone: formal}\n",
    )
    code, _, err = check(capsys, str(content_copy), "--walks", "5")
    assert code == 1
    assert "'other_company' appears although the user chose not to mention it" in err, err
    assert "stories/decline_offer.yaml:" in err
