"""Each draft check catches its mistake, and leaves the user's own words alone."""

from __future__ import annotations

from bot.compose import ComposedMessage
from bot.drafts import check_message

WORDS = ("decline", "withdraw")


def email(
    body: str, subject: str | None = "Offer decision", decision: bool = True
) -> ComposedMessage:
    return ComposedMessage("email", body, subject, 2000, decision)


GOOD = "Dear Jo,\n\nThank you for the offer. I have decided to decline it.\n\nBest,\nSam"


def test_a_good_email_has_no_problems() -> None:
    assert check_message(email(GOOD), {}, WORDS) == []


def test_leftover_placeholders_and_brackets_are_caught() -> None:
    assert check_message(email(GOOD + " {company}"), {}, WORDS)
    assert check_message(email(GOOD + " [insert interest]"), {}, WORDS)


def test_braces_typed_by_the_user_are_not_a_leftover_placeholder() -> None:
    body = GOOD.replace("the offer", "the offer from {0} Corp [UK]")
    answers = {"company": "{0} Corp [UK]"}
    assert check_message(email(body), answers, WORDS, {"company"}) == []


def test_length_subject_and_kind_rules() -> None:
    assert check_message(email(GOOD + "x" * 2000), {}, WORDS)
    assert "the email has no subject" in check_message(email(GOOD, subject=None), {}, WORDS)
    note = ComposedMessage("linkedin", GOOD, "Subject", 1000)
    assert check_message(note, {}, WORDS) == ["a linkedin message should not have a subject"]


def test_salary_figure_needs_the_users_consent() -> None:
    body = GOOD.replace("decline it.", "decline it; I need 85,000.")
    assert check_message(email(body), {}, WORDS)
    opted = {"mention_figure": "with_figure", "figure": "85,000"}
    assert check_message(email(body), opted, WORDS, {"figure"}) == []


def test_other_employer_named_only_when_chosen() -> None:
    body = GOOD.replace("decline it.", "decline it and join Bluebird.")
    declined = {"other_company": "Bluebird", "name_other": "keep_private"}
    assert check_message(email(body), declined, WORDS, {"other_company"})
    chosen = {"other_company": "Bluebird", "name_other": "name_it"}
    assert check_message(email(body), chosen, WORDS, {"other_company"}) == []
    # Asked by a refinement ("Name the company I'm joining"), which is itself the opt-in.
    assert check_message(email(body), {"other_company": "Bluebird"}, WORDS, {"other_company"}) == []


def test_unkind_words_are_caught() -> None:
    body = GOOD.replace("decline it.", "decline it; I found a better offer.")
    assert any("better offer" in p for p in check_message(email(body), {}, WORDS))


def test_decision_must_come_in_the_first_two_sentences() -> None:
    late = "Dear Jo,\n\nThank you. It was great. I loved it. So I decline.\n\nSam"
    assert "the decision is not stated in the first two sentences" in check_message(
        email(late), {}, WORDS
    )
    assert check_message(email(late, decision=False), {}, WORDS) == []


def test_chosen_option_ids_do_not_hide_decision_words() -> None:
    answers = {"intent": "withdraw", "company": "Acme"}
    body = "Hello,\n\nI'm writing to withdraw my application to Acme.\n\nSam"
    assert check_message(email(body), answers, WORDS, {"company"}) == []
