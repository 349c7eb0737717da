"""Typed fragments that finish a sentence the bot starts: 'Finish "We met…"', 'Finish "I'm…"'.

Pure functions on typed text, no I/O. A person may or may not repeat the lead words ("We met at
PyCon" or "at PyCon"), may leave out the preposition ("PyCon 2023"), and may start with a
capital ("At PyCon"). `join_fragment` returns the words that read right after the lead:
"at PyCon 2023", never "We met We met at PyCon" or "We met PyCon 2023".
"""

from __future__ import annotations

import re

# Words a fragment may start with that already join it to "We met ..." / "meet you ...".
PREPOSITIONS = frozenset(
    {"at", "in", "on", "through", "via", "during", "when", "while", "last", "this", "that"}
    | {"after", "before", "from", "over", "by", "with", "as", "since", "around", "near"}
    | {"online", "back", "earlier", "recently", "yesterday", "years", "months", "weeks"}
    | {"once", "briefly", "across", "inside", "outside", "under", "within", "into", "between"}
    | {"about", "for", "while", "last", "here", "there", "just", "twice", "both"}
)
# Words that start a fragment mid-sentence, so a capital the person typed is lowered.
FUNCTION_WORDS = PREPOSITIONS | {"a", "an", "the", "my", "your", "our", "their", "his", "her"}
# A fragment naming a span of time ("the hiring process") joins with "during", not "at".
SPAN_WORDS = frozenset(
    {"process", "interview", "interviews", "internship", "project", "course", "programme"}
    | {"program", "recruitment", "selection", "onboarding", "placement", "assessment"}
)
AGO_RE = re.compile(r"\bago\b", re.IGNORECASE)
QUOTES = "\"'\u201c\u201d\u2018\u2019\u00ab\u00bb"
ELLIPSIS_RE = re.compile(r"^(?:\.{2,}|…)\s*")
WORD_RE = re.compile("[\\w\u2019']+")


def _normalise(text: str) -> str:
    return text.replace("\u2019", "'").casefold()


def strip_lead(typed: str, leads: tuple[str, ...]) -> str:
    """The fragment without the lead words it repeats, however often and in whatever case."""
    text = " ".join(typed.split()).strip(QUOTES + " ")
    changed = True
    while changed and text:
        changed = False
        text = ELLIPSIS_RE.sub("", text)
        for lead in sorted(leads, key=len, reverse=True):
            wanted = _normalise(lead).rstrip(".…")
            head = _normalise(text[: len(wanted)])
            after = text[len(wanted) : len(wanted) + 1]
            if wanted and head == wanted and (not after or not after.isalnum()):
                text = text[len(wanted) :].lstrip(" ,:;-").strip(QUOTES + " ")
                changed = True
                break
    return ELLIPSIS_RE.sub("", text)


def join_fragment(typed: str, leads: tuple[str, ...] = (), joins_with: str | None = None) -> str:
    """The words that follow the lead: lead words removed, preposition added when missing.

    Empty when nothing but the lead words was typed.
    """
    text = strip_lead(typed, leads)
    words = WORD_RE.findall(text)
    if not words:
        return text
    first = words[0]
    if first != "I" and first.casefold() in FUNCTION_WORDS and text.startswith(first):
        text = first.casefold() + text[len(first) :]
    if joins_with and first.casefold() not in PREPOSITIONS and not AGO_RE.search(text):
        spans = {w.casefold() for w in words} & SPAN_WORDS
        preposition = "during" if joins_with == "at" and spans else joins_with
        text = f"{preposition} {text}"
    return text
