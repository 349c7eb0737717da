"""The story tests and the every-path walk, through the same code `doorajar check` runs."""

from __future__ import annotations

import pytest

from bot.check.stories import (
    STORY_FOLDER,
    Story,
    StoryError,
    check_stories,
    read_stories,
    run_story,
)
from bot.check.walk import check_paths
from bot.content.catalog import Catalog
from bot.content.loader import default_content_root
from bot.engine import Engine

STORIES, STORY_FILE_PROBLEMS = read_stories(default_content_root() / STORY_FOLDER)


def test_story_files_read_without_problems() -> None:
    assert STORIES
    assert STORY_FILE_PROBLEMS == []


@pytest.mark.parametrize("story", STORIES, ids=[f"{story.flow}:{story.name}" for story in STORIES])
def test_story(engine: Engine, story: Story) -> None:
    run_story(engine, story)


def test_every_flow_has_at_least_two_stories(engine: Engine) -> None:
    assert check_stories(engine, []) != []
    by_flow = {story.flow: [s for s in STORIES if s.flow == story.flow] for story in STORIES}
    assert set(by_flow) == set(engine.catalog.flows)
    assert all(len(stories) >= 2 for stories in by_flow.values())


def test_a_story_that_breaks_is_reported_at_its_step_line(engine: Engine) -> None:
    story = next(s for s in STORIES if s.flow == "decline_offer" and len(s.steps) > 3)
    broken = Story(
        story.path,
        story.line,
        story.flow,
        story.name,
        (*story.steps[:2], {"choose": "no_such_option"}),
        story.step_lines[:3],
        story.expect,
    )
    with pytest.raises(StoryError) as caught:
        run_story(engine, broken)
    assert caught.value.line == story.step_lines[2]
    problems = check_stories(engine, [broken], whole_content=False)
    assert any(p.line == story.step_lines[2] and "not accepted" in p.message for p in problems)


def test_every_path_of_every_flow_passes_every_rule(engine: Engine, catalog: Catalog) -> None:
    problems, checked = check_paths(engine, catalog.ordered_flows())
    assert [str(p) for p in problems] == []
    print(f"every-path: {checked} results across {len(catalog.flows)} flows, 0 problems")


def _reminder_story() -> Story:
    return next(s for s in STORIES if s.flow == "ask_for_time" and "remind" in s.steps)


def _changed(story: Story, steps: tuple[object, ...], expect: dict[str, object]) -> Story:
    return Story(
        story.path,
        story.line,
        story.flow,
        story.name,
        steps,
        tuple(range(100, 100 + len(steps))),
        expect,
        {key: 900 for key in expect},
    )


def test_a_reminder_story_reaches_the_next_situations_draft(engine: Engine) -> None:
    story = _reminder_story()
    result = run_story(engine, story)
    assert result.flow == "decline_offer"  # the follow-on's draft, not the first one


def test_a_reused_answer_that_is_not_shown_fails_at_its_keep_step(engine: Engine) -> None:
    story = _reminder_story()
    index = story.steps.index({"keep": "Northwind Traders"})
    steps = (*story.steps[:index], {"keep": "Contoso"})
    with pytest.raises(StoryError, match="shows 'Northwind Traders' to keep") as caught:
        run_story(engine, _changed(story, steps, {}))
    assert caught.value.line == 100 + index


def test_reminder_words_that_miss_fail_at_their_expectation(engine: Engine) -> None:
    story = _reminder_story()
    for key in ("remind_confirm_contains", "reminder_contains"):
        with pytest.raises(StoryError, match=key) as caught:
            run_story(engine, _changed(story, story.steps, {key: ["Saturday 18 November"]}))
        assert caught.value.line == 900


def test_a_reminder_step_without_a_reminder_set_is_refused(engine: Engine) -> None:
    story = _reminder_story()
    at = story.steps.index("remind")
    for steps in (
        (*story.steps[:at], {"reminder": "next"}),
        (*story.steps[:at], {"remind_at": "no_such_choice"}),
        (story.steps[0], "remind"),  # not under a draft
    ):
        with pytest.raises(StoryError):
            run_story(engine, _changed(story, steps, {}))
