"""Names and typed fragments written as a careful writer would, and the placeholders compose
offers for them."""

from __future__ import annotations

import pytest

from bot.compose import placeholder_values
from bot.content.catalog import TypedSlot
from bot.fragments import join_fragment, strip_lead
from bot.names import company_name, parse_person, people_list, restore_capitals, same_person

PERSON = TypedSlot(holds="person")


@pytest.mark.parametrize(
    ("typed", "written"),
    [
        ("o'neill", "O'Neill"),
        ("mcdonald", "McDonald"),
        ("mary-jane", "Mary-Jane"),
        ("linda o'neill", "Linda O'Neill"),
        ("wei zhang", "Wei Zhang"),
        ("ólafur", "Ólafur"),
        ("van der berg", "Van der Berg"),
        ("anna van der berg", "Anna van der Berg"),
        ("  sam   carter ", "Sam Carter"),
    ],
)
def test_a_name_typed_all_in_lower_case_gets_its_capitals(typed: str, written: str) -> None:
    assert restore_capitals(typed) == written


@pytest.mark.parametrize("typed", ["van der Berg", "DeShawn", "Ólafur", "deShawn Smith", "eBay"])
def test_a_name_typed_with_any_capital_is_kept_exactly(typed: str) -> None:
    assert restore_capitals(typed) == typed


def test_text_that_is_not_a_name_is_kept_as_typed() -> None:
    assert restore_capitals("the hiring team") == "the hiring team"
    assert parse_person("the hiring team").first == ""


@pytest.mark.parametrize(
    ("typed", "first", "formal"),
    [
        ("Dr Paul Meyer", "Paul", "Dr Meyer"),
        ("dr. paul meyer", "Paul", "Dr. Meyer"),
        ("PROF Anna van der Berg", "Anna", "Prof van der Berg"),
        ("ms. o'brien", "Ms. O'Brien", "Ms. O'Brien"),
        ("Mx Sam Lee", "Sam", "Mx Lee"),
        ("James Park", "James", "James Park"),
        ("Jordan", "Jordan", "Jordan"),
    ],
)
def test_a_title_gives_the_formal_greeting_and_the_first_name_the_warm_one(
    typed: str, first: str, formal: str
) -> None:
    person = parse_person(typed)
    assert (person.first, person.formal) == (first, formal)


def test_a_list_of_people_gets_capitals_and_leaves_out_the_reader() -> None:
    assert people_list("priya and tom") == "Priya and Tom"
    assert people_list("Priya, Tom & ana") == "Priya, Tom and Ana"
    assert people_list("Ana and Luis", without="Ana Ruiz") == "Luis"
    assert people_list("ana ruiz, luis", without="Ana Ruiz") == "Luis"
    assert people_list("Ana", without="Ana Ruiz") == ""
    assert people_list("the whole team") == "the whole team"


def test_same_person_matches_first_name_full_name_and_title() -> None:
    assert same_person("Ana", "Ana Ruiz")
    assert same_person("Ms Ruiz", "Ana Ruiz")
    assert same_person("ana ruiz", "Dr Ana Ruiz")
    assert not same_person("Luis", "Ana Ruiz")
    assert not same_person("Ana Lopez", "Ana Ruiz")


@pytest.mark.parametrize(
    ("typed", "joined"),
    [
        ("We met at PyCon 2023", "at PyCon 2023"),
        ("PyCon 2023", "at PyCon 2023"),
        ("we met PyCon 2023", "at PyCon 2023"),
        ("We met… At the Data Summit", "at the Data Summit"),
        ("the Data Analyst hiring process", "during the Data Analyst hiring process"),
        ("when I interviewed for the analyst role", "when I interviewed for the analyst role"),
        ("two years ago at Acme", "two years ago at Acme"),
        ('"We met we met at a meetup"', "at a meetup"),
    ],
)
def test_a_we_met_fragment_joins_the_sentence(typed: str, joined: str) -> None:
    assert join_fragment(typed, ("We met",), "at") == joined


@pytest.mark.parametrize(
    "typed", ["I'm a backend engineer", "I\u2019m a backend engineer", "i am a backend engineer"]
)
def test_an_im_fragment_never_doubles_the_lead(typed: str) -> None:
    assert join_fragment(typed, ("I'm", "I am")) == "a backend engineer"


def test_a_lead_is_only_removed_as_whole_words() -> None:
    assert strip_lead("I amassed a following", ("I am",)) == "I amassed a following"
    assert strip_lead("We meticulously planned", ("We met",)) == "We meticulously planned"


def test_placeholder_values_write_names_lists_and_fragments() -> None:
    typed = {
        "recipient": PERSON,
        "your_name": PERSON,
        "people": TypedSlot(holds="people", excludes="recipient"),
        "company": TypedSlot(holds="company"),
        "where_met": TypedSlot(lead=("We met",), joins_with="at"),
    }
    answers = {
        "recipient": "dr ana ruiz",
        "your_name": "wei zhang",
        "people": "ana and luis",
        "company": "eBay",
        "where_met": "PyCon 2023",
    }
    values = placeholder_values(typed, answers)
    assert values["recipient_first"] == "Ana"
    assert values["recipient_formal"] == "Dr Ruiz"
    assert values["recipient"] == "Dr Ana Ruiz"
    assert values["your_name"] == "Wei Zhang"
    assert values["people"] == "Luis"
    assert values["company"] == "eBay"
    assert values["where_met"] == "at PyCon 2023"
    assert answers["recipient"] == "dr ana ruiz"  # the answers themselves are not changed


def test_a_skipped_name_leaves_every_form_empty() -> None:
    values = placeholder_values({"recipient": PERSON}, {})
    assert values["recipient_first"] == values["recipient_formal"] == ""


@pytest.mark.parametrize(
    "typed, written",
    [
        ("northwind analytics", "Northwind Analytics"),
        ("  acme   corp ", "Acme Corp"),
        ("bank of ireland plc", "Bank of Ireland plc"),
        ("deutsche bank ag", "Deutsche Bank AG"),
        ("initech inc.", "Initech Inc."),
        ("the walt disney company", "The Walt Disney Company"),
        ("johnson & johnson", "Johnson & Johnson"),
        ("mcdonald's", "McDonald's"),
        ("openai", "OpenAI"),  # capitals no rule can guess: written their way
        ("paypal holdings", "PayPal Holdings"),
        ("ibm", "ibm"),  # short words may be initials: kept as typed, not "Ibm"
        ("red hat", "red hat"),
        ("bol.com", "bol.com"),  # symbols and digits: kept
        ("web3 labs", "web3 labs"),
        ("eBay", "eBay"),  # any capital typed: kept exactly
        ("NORTHWIND", "NORTHWIND"),
    ],
)
def test_a_company_typed_in_lower_case_gets_its_capitals_back_only_when_they_can_be_told(
    typed: str, written: str
) -> None:
    assert company_name(typed) == written
