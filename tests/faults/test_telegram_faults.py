"""Telegram misbehaving: flood limits (429 with retry_after), 5xx, timeouts, a user who blocked
the bot. The webhook keeps answering, nothing crashes, the answer is saved, and no message goes
out before the flood wait is over."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.content.catalog import Catalog
from bot.service import Handled
from tests import figures
from tests.fake_bot_api import TIMEOUT
from tests.harness import Bot, running_bot

DECIDED = "Email"


@pytest.fixture
async def bot(catalog: Catalog, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Bot]:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")  # RetryAfter's own deprecation notice, not ours
    async with running_bot(catalog, webhook=True, rate_limit=True) as bot:
        yield bot


async def test_flood_wait_is_respected_before_the_next_message(bot: Bot) -> None:
    bot.api.fail("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    mark = bot.api.mark()
    assert await bot.post(bot.user.text("/start decline_offer")) == 200
    refused, sent = bot.api.calls_since(mark, "sendMessage")
    waited = sent.at - refused.at
    assert waited >= 1.0
    assert "How will you tell them" in sent.params["text"]
    figures.record("flood_wait", retry_after=1, waited_seconds=round(waited, 3), early_sends=0)


async def test_flood_wait_on_a_tap_delays_but_loses_nothing(bot: Bot) -> None:
    # Delivered by polling: the tap is answered by a request (a webhook's answer carries it).
    assert await bot.deliver(bot.user.text("/start decline_offer")) is Handled.APPLIED
    bot.api.fail("answerCallbackQuery", 429, "Too Many Requests: retry after 1", retry_after=1)
    mark = bot.api.mark()
    assert await bot.deliver(bot.user.tap(DECIDED)) is Handled.APPLIED
    calls = bot.api.calls_since(mark)
    refused = calls[0]
    assert refused.method == "answerCallbackQuery"
    assert all(call.at - refused.at >= 1.0 for call in calls[1:])
    assert "main reason" in calls[-1].params["text"]


async def test_a_tap_is_answered_in_the_webhooks_answer_not_by_a_request(bot: Bot) -> None:
    assert await bot.post(bot.user.text("/start decline_offer")) == 200
    mark = bot.api.mark()
    tap = bot.user.tap(DECIDED)
    assert await bot.post(tap) == 200
    calls = bot.api.calls_since(mark)
    (answer,) = [call for call in calls if call.method == "answerCallbackQuery"]
    assert answer.carried and answer.params == {"callback_query_id": tap["callback_query"]["id"]}
    assert [call.method for call in calls if not call.carried] == ["editMessageText", "sendMessage"]
    figures.record("carried_answer", requests_per_tap=2, carried_per_tap=1)


async def test_a_tap_handed_back_is_answered_by_a_request_as_a_503_carries_nothing(
    bot: Bot,
) -> None:
    assert await bot.post(bot.user.text("/start decline_offer")) == 200
    bot.api.fail("sendMessage", 502, "Bad Gateway")
    mark = bot.api.mark()
    assert await bot.post(bot.user.tap(DECIDED)) == 503
    answers = bot.api.calls_since(mark, "answerCallbackQuery")
    assert [answer.carried for answer in answers] == [False]  # answered once, by a request


@pytest.mark.parametrize(
    "status, description",
    [(502, "Bad Gateway"), (500, "Internal Server Error"), (TIMEOUT, "timeout")],
)
async def test_a_failed_send_hands_the_update_back_and_its_redelivery_shows_the_question(
    bot: Bot, status: int, description: str
) -> None:
    assert await bot.post(bot.user.text("/start decline_offer")) == 200
    bot.api.fail("sendMessage", status, description)
    mark = bot.api.mark()
    tap = bot.user.tap(DECIDED)
    assert await bot.post(tap) == 503  # saved, but the reply is lost: deliver it again
    conv = await bot.conversation()
    assert conv is not None and conv.answers == {"channel": "email"}  # saved before sending
    assert await bot.post(tap) == 200  # Telegram's redelivery
    sent = bot.api.calls_since(mark, "sendMessage")
    assert "main reason" in sent[-1].params["text"]
    assert bot.common["sorry_error"] not in [call.params["text"] for call in sent]
    after = await bot.conversation()
    assert after is not None and after.version == conv.version  # applied once
    figures.record(
        "telegram_fault",
        fault=f"sendMessage {description}",
        webhook_statuses=[503, 200],
        answer_kept=True,
        question_shown_on_redelivery=True,
    )


@pytest.mark.parametrize("method", ["answerCallbackQuery", "editMessageText"])
async def test_a_timed_out_side_call_does_not_cost_the_next_question(bot: Bot, method: str) -> None:
    # Delivered by polling, so the tap is answered by a request that can time out.
    assert await bot.deliver(bot.user.text("/start decline_offer")) is Handled.APPLIED
    bot.api.fail(method, TIMEOUT, "timeout")
    mark = bot.api.mark()
    assert await bot.deliver(bot.user.tap(DECIDED)) is Handled.APPLIED
    (question,) = bot.api.calls_since(mark, "sendMessage")
    assert "main reason" in question.params["text"]
    figures.record("telegram_fault", fault=f"{method} timeout", next_question_sent=True)


async def test_a_user_who_blocked_the_bot_is_no_error(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    bot.api.fail("sendMessage", 403, "Forbidden: bot was blocked by the user")
    mark = bot.api.mark()
    assert await bot.post(bot.user.text("/start decline_offer")) == 200
    assert len(bot.api.calls_since(mark, "sendMessage")) == 1  # no apology to a blocked chat
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    conv = await bot.conversation()
    assert conv is not None and conv.flow == "decline_offer"
    figures.record("telegram_fault", fault="403 bot was blocked", webhook_status=200, error_logs=0)
