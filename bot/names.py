"""People's names as a careful writer writes them: capitals, titles, first names, lists.

Pure functions on typed text, no I/O. The rules:

- A name typed with any capital letter is kept exactly ("van der Berg", "DeShawn", "eBay");
  a name typed all in lower case gets its capitals back ("o'neill" -> "O'Neill", "mcdonald" ->
  "McDonald", "mary-jane" -> "Mary-Jane"). Particles (van, der, de, von, ...) stay lower case
  inside a name and are capitalised when they start it, as Dutch usage does with no given name
  before them ("van der berg" -> "Van der Berg", "anna van der berg" -> "Anna van der Berg").
  "Mac" is left alone on purpose: "mackenzie" and "macy" are not "MacKenzie" and "MacY".
- A title (Dr, Prof, Ms, Mrs, Mr, Mx, Miss, with or without a dot, any case) is recognised and
  written with a capital; a dot the person typed is kept ("ms." -> "Ms.").
- Text that is plainly not a name ("the hiring team", "everyone") is kept as typed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TITLES = {
    "dr": "Dr",
    "doctor": "Doctor",
    "prof": "Prof",
    "professor": "Professor",
    "ms": "Ms",
    "mrs": "Mrs",
    "mr": "Mr",
    "mx": "Mx",
    "miss": "Miss",
}
PARTICLES = frozenset(
    {"van", "von", "der", "den", "de", "del", "della", "da", "das", "dos", "di", "du", "la", "le"}
    | {"ter", "ten", "y", "zu", "af"}
)
# Words that show a typed "name" is really a description: such text is kept as typed.
NOT_NAME_WORDS = frozenset(
    {"the", "team", "everyone", "everybody", "all", "panel", "hiring", "manager", "recruiter"}
    | {"recruiters", "interviewers", "people", "my", "your", "our", "their", "whole", "staff"}
    | {"colleagues", "folks", "and", "of", "at", "hr", "sir", "madam"}
)
LIST_SPLIT_RE = re.compile(r"\s*(?:,|;|&|\+|\band\b)\s*", re.IGNORECASE)
APOSTROPHES = "'\u2019"
PIECE_BREAK_RE = re.compile(f"([-{APOSTROPHES}])")
MAX_NAME_WORDS = 5
ABBREVIATED = frozenset({"Dr", "Prof", "Ms", "Mrs", "Mr", "Mx"})


@dataclass(frozen=True, slots=True)
class PersonName:
    """One person's name split into what a greeting needs.

    `given` is empty when only a title and a surname were typed ("Ms O'Brien").
    """

    title: str
    given: str
    surname: str
    full: str

    @property
    def first(self) -> str:
        """How a warm or brief greeting names them: the given name, else title and surname."""
        if self.given:
            return self.given
        return f"{self.title} {self.surname}".strip()

    @property
    def formal(self) -> str:
        """How a formal greeting names them: title and surname when a title was typed."""
        if self.title and self.surname:
            return f"{self.title} {self.surname}"
        return self.without_title

    @property
    def without_title(self) -> str:
        """The name itself, with no title."""
        return " ".join(part for part in (self.given, self.surname) if part)


def _title(word: str) -> str | None:
    """The written form of a title, or None when `word` is not one."""
    bare = word.rstrip(".")
    written = TITLES.get(bare.casefold())
    if written is None:
        return None
    return f"{written}." if word.endswith(".") and written in ABBREVIATED else written


def _capitalise_piece(piece: str) -> str:
    if not piece:
        return piece
    if piece.startswith("mc") and len(piece) > 3:
        return "Mc" + piece[2].upper() + piece[3:]
    return piece[0].upper() + piece[1:]


def capitalise_word(word: str) -> str:
    """One lower-case name word with its capitals: hyphens and apostrophes start a new part."""
    pieces = PIECE_BREAK_RE.split(word)
    out = []
    for index, piece in enumerate(pieces):
        # "o'neill" -> O'Neill and "d'angelo" -> D'Angelo, but a trailing "'s" stays lower.
        after_apostrophe = index > 0 and pieces[index - 1] in APOSTROPHES
        if after_apostrophe and len(piece) < 2:
            out.append(piece)
        else:
            out.append(_capitalise_piece(piece))
    return "".join(out)


def looks_like_name(text: str) -> bool:
    """True when `text` reads as a name rather than a description such as "the whole team"."""
    words = [w.rstrip(".").casefold() for w in text.split()]
    if not words or len(words) > MAX_NAME_WORDS:
        return False
    if any(w in NOT_NAME_WORDS for w in words):
        return False
    return all(any(ch.isalpha() for ch in w) for w in words)


def is_lower_case(text: str) -> bool:
    """True when `text` has letters and none of them is a capital."""
    return any(ch.isalpha() for ch in text) and not any(ch.isupper() for ch in text)


def restore_capitals(name: str) -> str:
    """A name typed all in lower case, with its capitals; any other text unchanged."""
    name = " ".join(name.split())
    if not is_lower_case(name) or not looks_like_name(name):
        return name
    words = name.split(" ")
    out = []
    for index, word in enumerate(words):
        if word in PARTICLES and index > 0 and _title(words[index - 1]) is None:
            out.append(word)
        else:
            out.append(capitalise_word(word))
    return " ".join(out)


def parse_person(typed: str) -> PersonName:
    """A typed name as title, given name and surname, with capitals restored where needed."""
    words = " ".join(typed.split()).split(" ") if typed.strip() else []
    title = ""
    if len(words) > 1 and (written := _title(words[0])) is not None:
        title, words = written, words[1:]
    rest = " ".join(words)
    if not looks_like_name(rest):
        return PersonName("", "", "", " ".join(typed.split()))
    rest = restore_capitals(rest)
    words = rest.split(" ")
    if title and len(words) == 1:
        given, surname = "", words[0]
    elif len(words) == 1:
        given, surname = words[0], ""
    elif words[0].casefold() in PARTICLES:
        given, surname = "", rest
    else:
        # The surname is the last word with the particles just before it ("van der Berg").
        start = len(words) - 1
        while start > 1 and words[start - 1].casefold() in PARTICLES:
            start -= 1
        given, surname = words[0], " ".join(words[start:])
    full = " ".join(part for part in (title, rest) if part)
    return PersonName(title, given, surname, full)


def split_people(typed: str) -> list[str]:
    """The names in a typed list: "Priya and Tom", "Priya, Tom", "Priya & Tom"."""
    return [part for part in LIST_SPLIT_RE.split(typed.strip()) if part.strip()]


def join_people(names: list[str]) -> str:
    """Names as a sentence lists them: "Priya", "Priya and Tom", "Priya, Tom and Ana"."""
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _name_words(name: str | PersonName) -> list[str]:
    person = parse_person(name) if isinstance(name, str) else name
    return [word.casefold() for word in person.without_title.split()]


def same_person(name: str | PersonName, other: str | PersonName) -> bool:
    """True when a typed `name` refers to the person `other` names ("Ana" and "Ana Ruiz")."""
    a = _name_words(name)
    b = _name_words(other)
    if not a or not b:
        return False
    if a == b:
        return True
    if len(a) == 1 or len(b) == 1:
        short, long = (a, b) if len(a) == 1 else (b, a)
        return short[0] in (long[0], long[-1])
    return a[0] == b[0] and a[-1] == b[-1]


def people_list(typed: str, without: str = "") -> str:
    """A typed list of people with capitals restored and the person `without` left out.

    Empty when nobody is left, so a sentence that needs the list is passed over.
    When the text is not a list of names ("the whole team") it is kept as typed.
    """
    names = split_people(typed)
    if not names or not all(looks_like_name(n) for n in names):
        return " ".join(typed.split())
    reader = parse_person(without) if without else None
    kept = []
    for name in names:
        person = parse_person(name)
        if reader is None or not same_person(person, reader):
            kept.append(person.full)
    return join_people(kept)


# -- companies ---------------------------------------------------------------------------

COMPANY_SUFFIXES = {
    "ltd": "Ltd",
    "inc": "Inc",
    "llc": "LLC",
    "llp": "LLP",
    "plc": "plc",
    "gmbh": "GmbH",
    "ag": "AG",
    "co": "Co",
    "corp": "Corp",
    "bv": "BV",
    "nv": "NV",
    "sa": "SA",
    "sas": "SAS",
    "srl": "Srl",
    "oy": "Oy",
    "ab": "AB",
    "pty": "Pty",
}
"""Company-form words and how they are written ("ltd" -> "Ltd", "gmbh" -> "GmbH")."""
KNOWN_SPELLINGS = {
    name.casefold(): name
    for name in (
        "eBay",
        "PayPal",
        "LinkedIn",
        "YouTube",
        "GitHub",
        "GitLab",
        "OpenAI",
        "DeepMind",
        "JPMorgan",
        "BlackRock",
        "HubSpot",
        "DoorDash",
        "WhatsApp",
        "SpaceX",
        "MongoDB",
        "DigitalOcean",
        "SoundCloud",
        "WordPress",
        "PlayStation",
        "iRobot",
    )
}
"""Employers whose capitals no rule can guess, written their way when typed in lower case."""
COMPANY_JOINERS = frozenset({"and", "of", "for", "the", "de", "la", "&"})
"""Small words written in lower case inside a company name ("Bank of Ireland")."""
COMPANY_WORD_RE = re.compile(r"[a-z]+(?:['\u2019-][a-z]+)*\.?")
MIN_PLAIN_WORD = 4
"""Shorter words typed in lower case may be initials ("ibm", "sap", "red hat"): a name with one
is kept as typed rather than guessed at."""


def company_name(typed: str) -> str:
    """A company name as a careful writer writes it.

    Typed with any capital it is kept exactly ("eBay", "IBM", "bol.com"). Typed all in lower
    case, its words get their capitals back ("northwind analytics" -> "Northwind Analytics",
    "bank of ireland plc" -> "Bank of Ireland plc") when every word is a plain word of at least
    four letters, a company form (ltd, inc, GmbH, ...) or a small joining word; a name with
    a shorter word ("ibm", "red hat"), a digit or a symbol ("web3 labs", "bol.com") is kept as
    typed, since its capitals cannot be told.
    """
    name = " ".join(typed.split())
    if not is_lower_case(name):
        return name
    if name in KNOWN_SPELLINGS:
        return KNOWN_SPELLINGS[name]
    words = name.split(" ")
    written = []
    for index, word in enumerate(words):
        bare = word.rstrip(".")
        if bare in COMPANY_SUFFIXES and index > 0:
            written.append(COMPANY_SUFFIXES[bare] + word[len(bare) :])
        elif bare in COMPANY_JOINERS and 0 < index < len(words) - 1:
            written.append(word)
        elif bare in COMPANY_JOINERS and bare.isalpha() and index == 0 and len(words) > 1:
            written.append(word.capitalize())
        elif bare in KNOWN_SPELLINGS:
            written.append(KNOWN_SPELLINGS[bare] + word[len(bare) :])
        elif COMPANY_WORD_RE.fullmatch(word) and len(bare) >= MIN_PLAIN_WORD:
            written.append(capitalise_word(word))
        else:
            return name
    return " ".join(written)
