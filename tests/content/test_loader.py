"""Validation at load time: every broken fixture is refused with `file:line: what is wrong`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.content.loader import default_content_root, load_catalog
from bot.content.report import CatalogError

FLOW = "flows/decline_offer.yaml"
PHRASES = "phrases/en/decline_offer.yaml"


def edit(root: Path, name: str, old: str, new: str, count: int = 1) -> int:
    """Replace text in a content file; return the 1-based line where the edit starts."""
    path = root / name
    text = path.read_text()
    assert old in text, f"{old!r} not in {name}"
    line = text[: text.index(old)].count("\n") + 1
    path.write_text(text.replace(old, new, count))
    return line


def problems(root: Path) -> list[str]:
    """The problems the loader reports for a content folder, as printed lines."""
    with pytest.raises(CatalogError) as caught:
        load_catalog([root])
    return [str(p) for p in caught.value.problems]


def assert_problem(found: list[str], where: str, text: str) -> None:
    assert any(where in p and text in p for p in found), (where, text, found)


def test_project_content_is_valid() -> None:
    catalog = load_catalog()
    assert "decline_offer" in catalog.flows


def test_yaml_syntax_error_names_file_and_line(content_copy: Path) -> None:
    line = edit(content_copy, FLOW, "  sure:\n", "  sure: [oops\n")
    assert_problem(problems(content_copy), f"{FLOW}:", "YAML syntax error")
    assert any(f"{FLOW}:{line + 1}:" in p for p in problems(content_copy))


def test_unknown_target_state_names_the_line(content_copy: Path) -> None:
    line = edit(content_copy, FLOW, "to: offer_written", "to: offer_writen")
    assert_problem(
        problems(content_copy), f"{FLOW}:{line - 1}:", "unknown target state 'offer_writen'"
    )


def test_unknown_target_in_plain_next(content_copy: Path) -> None:
    line = edit(content_copy, FLOW, "    next: recipient", "    next: nowhere")
    assert_problem(problems(content_copy), f"{FLOW}:{line}:", "unknown target state 'nowhere'")


def test_unknown_phrase_key_for_missing_state(content_copy: Path) -> None:
    line = edit(content_copy, PHRASES, "  your_name:\n", "  your_nam:\n")
    found = problems(content_copy)
    assert_problem(found, f"{PHRASES}:{line}:", "unknown phrase key")
    assert_problem(found, f"{PHRASES}:", "no question text for state 'your_name'")


def test_unknown_option_label_is_reported(content_copy: Path) -> None:
    line = edit(content_copy, PHRASES, "      decided: I've", "      decidd: I've")
    found = problems(content_copy)
    assert_problem(found, f"{PHRASES}:{line}:", "has no option 'decidd'")
    assert_problem(found, PHRASES, "missing label for option 'decided'")


def test_unknown_placeholder(content_copy: Path) -> None:
    line = edit(
        content_copy, PHRASES, "I appreciate the {role} offer", "I appreciate the {rol} offer"
    )
    assert_problem(problems(content_copy), f"{PHRASES}:", "unknown placeholder '{rol}'")
    assert line > 0


def test_format_string_placeholders_are_refused(content_copy: Path) -> None:
    edit(
        content_copy,
        PHRASES,
        "I appreciate the {role} offer",
        "I appreciate the {0.__class__} offer",
    )
    assert_problem(problems(content_copy), PHRASES, "unknown placeholder '{0.__class__}'")


def test_unreachable_state(content_copy: Path) -> None:
    edit(content_copy, FLOW, "  done:\n", "  orphan:\n    ask: text\n    next: done\n\n  done:\n")
    edit(content_copy, PHRASES, "  your_name:\n", "  orphan:\n    text: Lost?\n  your_name:\n")
    assert_problem(
        problems(content_copy),
        FLOW,
        "state 'orphan' cannot be reached from 'channel' or a refinement",
    )


def test_state_that_cannot_reach_an_end(content_copy: Path) -> None:
    edit(
        content_copy,
        FLOW,
        "      - if: {reason: pay}\n",
        "      - if: {reason: family}\n        to: loop_a\n      - if: {reason: pay}\n",
    )
    edit(
        content_copy,
        FLOW,
        "  done:\n",
        "  loop_a:\n    ask: text\n    next: loop_b\n"
        "  loop_b:\n    ask: text\n    next: loop_a\n  done:\n",
    )
    edit(
        content_copy,
        PHRASES,
        "  your_name:\n",
        "  loop_a:\n    text: A?\n  loop_b:\n    text: B?\n  your_name:\n",
    )
    found = problems(content_copy)
    assert_problem(found, FLOW, "state 'loop_a' cannot reach an end state")
    assert_problem(found, FLOW, "state 'loop_b' cannot reach an end state")


def test_duplicate_flow_ids(content_copy: Path) -> None:
    (content_copy / "flows/decline_copy.yaml").write_text((content_copy / FLOW).read_text())
    assert_problem(problems(content_copy), "flows/decline_", "duplicate flow id 'decline_offer'")


def test_duplicate_option_ids(content_copy: Path) -> None:
    line = edit(content_copy, FLOW, "options: [decided, torn]", "options: [decided, torn, torn]")
    assert_problem(problems(content_copy), f"{FLOW}:{line}:", "duplicate option id 'torn'")


def test_duplicate_keys(content_copy: Path) -> None:
    line = edit(content_copy, FLOW, "  reason:\n", "  channel:\n    end: true\n  reason:\n")
    assert_problem(problems(content_copy), f"{FLOW}:{line}:", "duplicate key 'channel'")


def test_callback_data_over_64_bytes(content_copy: Path) -> None:
    long_id = "a_very_long_option_identifier_that_will_not_fit_in_telegram_data"
    edit(content_copy, FLOW, "options: [decided, torn]", f"options: [decided, {long_id}]")
    edit(content_copy, PHRASES, "      torn: I'm", f"      {long_id}: I'm")
    assert_problem(problems(content_copy), FLOW, "(Telegram allows 64)")


def test_flow_without_phrases(content_copy: Path) -> None:
    (content_copy / PHRASES).unlink()
    assert_problem(problems(content_copy), f"{FLOW}:1:", "has no phrases")


def test_yes_no_option_ids_must_be_quoted(content_copy: Path) -> None:
    edit(content_copy, FLOW, "options: [decided, torn]", "options: [yes, no]")
    assert_problem(problems(content_copy), FLOW, "quote them")


def test_condition_on_unknown_option(content_copy: Path) -> None:
    line = edit(content_copy, FLOW, "if: {reason: pay}", "if: {reason: salary}")
    assert_problem(problems(content_copy), f"{FLOW}:{line}:", "'reason' has no option 'salary'")


def test_condition_on_unknown_answer_in_phrases(content_copy: Path) -> None:
    edit(content_copy, PHRASES, "when: {sure: torn}", "when: {sure_ness: torn}")
    assert_problem(problems(content_copy), PHRASES, "condition reads unknown answer 'sure_ness'")


def test_last_branch_must_be_unconditional(content_copy: Path) -> None:
    edit(
        content_copy,
        FLOW,
        "      - to: company\n",
        "      - if: {reason: culture}\n        to: company\n",
        count=1,
    )
    assert_problem(problems(content_copy), FLOW, "the last branch of 'next' must have no 'if'")


def test_email_without_subject(content_copy: Path) -> None:
    edit(content_copy, PHRASES, "      subject:\n        choose:", "      subjec:\n        choose:")
    assert_problem(problems(content_copy), PHRASES, "an email message needs a 'subject'")


def run_cli(*args: str, content: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if content is not None:
        env["DOORAJAR_CONTENT"] = str(content)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        input="",
    )


def test_check_command_passes_on_the_project() -> None:
    done = run_cli("check")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok: ") and "flows" in done.stdout


def test_check_command_reports_wrong_target_with_file_and_line(content_copy: Path) -> None:
    line = edit(content_copy, FLOW, "to: offer_written", "to: offer_writen")
    done = run_cli("check", str(content_copy))
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert any(
        text.endswith(
            f"decline_offer.yaml:{line - 1}: unknown target state 'offer_writen' in state 'reason'"
        )
        for text in lines
    ), lines


def test_a_broken_flow_never_starts_the_bot(content_copy: Path) -> None:
    edit(content_copy, FLOW, "to: offer_written", "to: offer_writen")
    for command in ("chat", "run"):
        done = run_cli(command, content=content_copy)
        assert done.returncode == 1
        assert "unknown target state 'offer_writen'" in done.stderr
        assert "nothing was started" in done.stderr


def test_yaml_merge_keys_may_override_without_a_duplicate_key(tmp_path: Path) -> None:
    from bot.content.yamlread import read_yaml

    path = tmp_path / "m.yaml"
    path.write_text(
        "base: &b {join: line, text: x}\npart:\n  <<: *b\n  join: space\ndup: 1\ndup: 2\n"
    )
    data, duplicates = read_yaml(path)
    assert data["part"] == {"join": "space", "text": "x"}
    assert duplicates == [("dup", 6)]


def test_check_of_one_flow_file_checks_just_that_flow() -> None:
    done = run_cli("check", FLOW)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok: 1 flows")


def test_phrases_without_a_flow_file_are_reported(content_copy: Path) -> None:
    (content_copy / FLOW).unlink()
    assert_problem(problems(content_copy), PHRASES, "phrases for unknown flow 'decline_offer'")


def test_yaml_reads_every_scalar_as_safe_load_does(tmp_path: Path) -> None:
    import yaml

    from bot.content.yamlread import read_yaml

    text = (
        "a: yes\nb: No\nc: ~\nd: null\ne: 12\nf: 1.5\ng: 'yes'\nh: on\ni: Yesterday\n"
        "j: nothing\nk: -3\nl: .inf\nm:\nn: 0x1F\no: 2001-12-14\np: OFF\nq: Thank you\n"
    )
    path = tmp_path / "scalars.yaml"
    path.write_text(text)
    data, _ = read_yaml(path)
    assert data == yaml.safe_load(text)
    for content in sorted((default_content_root() / "phrases" / "en").glob("*.yaml")):
        assert read_yaml(content)[0] == yaml.safe_load(content.read_text())
