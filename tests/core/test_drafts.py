"""Each draft check catches its mistake, and leaves the user's own words alone."""

from __future__ import annotations

from dataclasses import replace

from bot.compose import ComposedMessage, ComposedResult
from bot.content.catalog import Advice, TypedSlot
from bot.content.conditions import parse_condition
from bot.drafts import check_message, check_result

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


def test_an_opt_in_answer_appears_only_when_its_condition_holds() -> None:
    body = GOOD.replace("decline it.", "decline it and join Bluebird.")
    opt_in = {"other_company": parse_condition({"name_other": "name_it"})}
    kept = {"other_company": "Bluebird", "name_other": "keep_private"}
    assert check_message(email(body), kept, WORDS, {"other_company"}, opt_in=opt_in) == [
        "'other_company' appears although the user chose not to mention it"
    ]
    chosen = {"other_company": "Bluebird", "name_other": "name_it"}
    assert check_message(email(body), chosen, WORDS, {"other_company"}, opt_in=opt_in) == []


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


# -- names, fragments and what a message says ------------------------------------------------

PERSON = TypedSlot(holds="person")
WRITTEN = {
    "recipient": PERSON,
    "your_name": PERSON,
    "people": TypedSlot(holds="people", excludes="recipient"),
    "background": TypedSlot(lead=("I'm", "I am")),
}
TYPED = ("recipient", "your_name", "people", "background")


def problems_of(body: str, answers: dict[str, str]) -> list[str]:
    return check_message(email(body, decision=False), answers, WORDS, TYPED, written=WRITTEN)


def test_a_full_name_after_hi_is_caught_and_a_first_name_is_not() -> None:
    answers = {"recipient": "James Park"}
    assert any("full name after 'Hi'" in p for p in problems_of("Hi James Park,\n\nNo.", answers))
    assert problems_of("Hi James,\n\nNo.", answers) == []
    assert problems_of("Dear James Park,\n\nNo.", answers) == []
    assert problems_of("Hi Ms O'Brien,\n\nNo.", answers) == []
    script = '1. Open: "Hello Dr Paul Meyer, it\'s Sam."'
    assert any("full name" in p for p in problems_of(script, {}))


def test_a_name_in_lower_case_is_caught_in_the_greeting_and_the_sign_off() -> None:
    assert any("lower case after 'Dear'" in p for p in problems_of("Dear linda,\n\nNo.", {}))
    assert any("lower case after 'Hi'" in p for p in problems_of("Hi ms. o'brien,\n\nNo.", {}))
    signed = "Dear Linda,\n\nNo.\n\nBest,\nwei zhang"
    found = problems_of(signed, {"your_name": "wei zhang"})
    assert "a name in all lower case (your_name)" in found
    assert problems_of(signed.replace("wei zhang", "Wei Zhang"), {"your_name": "wei zhang"}) == []
    assert problems_of("Dear Anna van der Berg,\n\nNo.", {}) == []


def test_problems_never_quote_the_typed_name() -> None:
    found = problems_of("Hi james park,\n\nNo.\n\nwei zhang", {"your_name": "wei zhang"})
    assert found and not any("james" in p or "wei" in p for p in found)


def test_a_doubled_lead_is_caught() -> None:
    doubled = problems_of("Hello,\n\nI'm I'm a backend engineer.", {})
    assert "a doubled lead: 'I'm I'm'" in doubled
    assert problems_of("Hello,\n\nWe met we met at PyCon.", {})
    assert problems_of("Hello,\n\nI\u2019m I'm a designer.", {})
    assert problems_of("Hello,\n\nI'm a backend engineer.", {}) == []


def test_the_reader_in_the_thank_you_list_is_caught() -> None:
    answers = {"recipient": "Ana Ruiz", "people": "Ana and Luis"}
    body = "Hi Ana,\n\nNo. Please give my regards to Ana and Luis."
    assert any("reader is in the list" in p for p in problems_of(body, answers))
    thanks = "Hi Ana,\n\nNo. My thanks also go to Luis, Ana and Tom."
    assert any("reader is in the list" in p for p in problems_of(thanks, answers))
    fine = "Hi Ana,\n\nNo. Please give my regards to Luis."
    assert problems_of(fine, answers) == []


def test_must_say_and_must_not_say_bite_only_where_declared() -> None:
    plain = email(GOOD)
    assert check_message(plain, {}, WORDS) == []
    sorry = replace(plain, says=frozenset({"thanks"}), must_say=frozenset({"apology"}))
    assert any("'apology'" in p and "must_say" in p for p in check_message(sorry, {}, WORDS))
    praise = replace(plain, says=frozenset({"praise"}), must_not_say=frozenset({"praise"}))
    assert any("must_not_say" in p for p in check_message(praise, {}, WORDS))
    kept = replace(plain, says=frozenset({"apology"}), must_say=frozenset({"apology"}))
    assert check_message(kept, {}, WORDS) == []


def test_advice_that_claims_what_no_message_does_is_caught() -> None:
    thanking = replace(email(GOOD), says=frozenset({"thanks"}))
    claim = Advice("The message thanks them.", claims=frozenset({"thanks"}))
    door = Advice("The message leaves the door ajar.", claims=frozenset({"door_open"}))
    result = ComposedResult((thanking,), (claim,), ())
    assert check_result(result, {}, WORDS) == []
    found = check_result(ComposedResult((thanking,), (claim, door), ()), {}, WORDS)
    assert found == ["advice: claims the message says 'door_open' but no message does"]


def test_check_result_names_the_message_kind() -> None:
    result = ComposedResult((email(GOOD, subject=None),), (), ())
    assert check_result(result, {}, WORDS) == ["email: the email has no subject"]
