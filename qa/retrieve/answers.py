"""Answer types: what kind of answer a question asks for, and whether a sentence holds one.

"Who ...?" asks for a name, "When ...?" or "What year ...?" for a date, "How many ...?" for a
quantity, "Where ...?" for a place. A sentence *holds a candidate* when it has a word of that
kind that the question does not already have: a capitalised name, a number, a year or a month.
No tagger is loaded: these are surface patterns, cheap enough to run on the sentences of the
best passages of every question.
"""

from __future__ import annotations

import re

NAME, DATE, NUMBER, PLACE = "name", "date", "number", "place"
KINDS = (NAME, DATE, NUMBER, PLACE)

# First match wins; checked against the question folded to lower case.
_PLACES = "city|country|town|region|state|place|village|river|island|continent"
_TIMES = "year|date|day|month|century|decade|time|period|era"
_ASKS: list[tuple[str, re.Pattern[str]]] = [
    (NUMBER, re.compile(r"\bhow (many|much|long|far|old|large|big|high|tall|often)\b|\bwhat (percentage|number|amount)\b")),
    (DATE, re.compile(rf"\bwhen\b|\b(what|which) ({_TIMES})\b|\bin which year\b")),
    (PLACE, re.compile(rf"\bwhere\b|\b(what|which) ({_PLACES})\b")),
    (NAME, re.compile(r"\bwho\b|\bwhom\b|\bwhose\b|\bwhich\b|\bwhat (is|was) the name\b|\bwhat \w+ (is|was|were) named\b")),
]
MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty"
    "|hundred|thousand|million|billion|dozens?"
)
_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})s?\b")
_MONTH = re.compile(rf"\b({MONTHS})\b", re.IGNORECASE)
_NUMBER = re.compile(rf"\b(\d[\d,.]*|{NUMBER_WORDS})\b", re.IGNORECASE)
_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][\w'’-]+")  # not the first word of a sentence
_WORD = re.compile(r"[\w'’-]+")


def asks_for(question: str) -> str:
    """The kind of answer a question asks for (one of KINDS), or "" when it is not clear."""
    folded = question.casefold()
    return next((kind for kind, pattern in _ASKS if pattern.search(folded)), "")


def holds_candidate(sentence: str, kind: str, question: str) -> bool:
    """Whether `sentence` has a word of this kind that the question does not have."""
    if not kind:
        return False
    asked = {w.casefold() for w in _WORD.findall(question)}
    if kind == DATE:
        found = _YEAR.findall(sentence) + _MONTH.findall(sentence)
    elif kind == NUMBER:
        found = _NUMBER.findall(sentence)
    else:  # a name or a place: a capitalised word inside the sentence
        found = _CAPITALISED.findall(sentence)
    return any(str(w).casefold() not in asked for w in found)
