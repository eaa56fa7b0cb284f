"""Answer types: what kind of answer a question asks for, and whether a sentence holds one.

"Who ...?" asks for a name, "When ...?" or "What year ...?" for a date, "How many ...?" for a
quantity, "Where ...?" for a place. A sentence *holds a candidate* when it has a word of that
kind that the question does not already have: a capitalised name, a number, a year or a month.
No tagger is loaded: these are surface patterns, cheap enough to run on the sentences of the
best passages of every question.
"""

from __future__ import annotations

import bisect
import functools
import re

import numpy as np

NAME, DATE, NUMBER, PLACE = "name", "date", "number", "place"
KINDS = (NAME, DATE, NUMBER, PLACE)
# Chosen on SQuAD's tune articles (0-23), in fused-score units; see bench/results/ranking-notes.md.
HIGHLIGHT_TYPE_WEIGHT = 1.0  # added to a sentence's score for the highlight when it holds a candidate

# Checked against the question folded to lower case: the match that begins first wins ("Who led
# the troops when ...?" asks for a name), and at one place the kind listed first ("which city").
_PLACES = "city|country|town|region|state|place|village|river|island|continent"
_TIMES = "year|date|day|month|century|decade|time|period|era"
_ASKS: list[tuple[str, re.Pattern[str]]] = [
    (NUMBER, re.compile(r"\bhow (many|much|long|far|old|large|big|high|tall|often)\b|\bwhat (percentage|number|amount)\b")),
    (DATE, re.compile(rf"\bwhen\b|\b(what|which) ({_TIMES})\b|\bin which year\b")),
    (PLACE, re.compile(rf"\bwhere\b|\b(what|which) ({_PLACES})\b")),
    # ", which" opens a relative clause ("..., which was how many years ago?"), asking nothing
    (
        NAME,
        re.compile(
            r"\bwho\b|\bwhom\b|\bwhose\b|(?<!, )\bwhich\b"
            r"|\bwhat (is|was) the name\b|\bwhat \w+ (is|was|were) named\b"
        ),
    ),
]
MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty"
    "|hundred|thousand|million|billion|dozens?"
)
YEAR = r"(?:1[0-9]{3}|20[0-9]{2})"  # a year of the last thousand years
_YEAR = rf"\b{YEAR}s?\b"
_MONTH = rf"\b(?:{MONTHS})\b"
_CANDIDATES = {
    DATE: re.compile(rf"{_YEAR}|{_MONTH}", re.IGNORECASE),
    NUMBER: re.compile(rf"\b(?:\d[\d,.]*|{NUMBER_WORDS})\b", re.IGNORECASE),
    NAME: re.compile(r"\b[A-Z][\w'’-]+"),
    PLACE: re.compile(r"\b[A-Z][\w'’-]+"),
}
_WORD = re.compile(r"[\w'’-]+")
# A nationality or another proper adjective before a lower-case word ("Armenian forces", "Azerbaijani
# drones", "Catholic church") names no one: a capitalised word with such an ending, then a lower-case
# word. Answer types (`_names`) and answer spans (`spans`) both go by it.
ADJECTIVE = re.compile(r"[A-Z][\w'’-]*(?:an|ese|ish|ic|i)\s+[a-z]")
MONTH_NAMES = frozenset(MONTHS.split("|"))
_AFTER_NAME = re.compile(r"[A-Z][\w'’-]*\s+$")


def asks_for(question: str) -> str:
    """The kind of answer a question asks for (one of KINDS), or "" when it is not clear."""
    folded = question.casefold()
    found = [(m.start(), n, kind) for n, (kind, pattern) in enumerate(_ASKS) if (m := pattern.search(folded))]
    return min(found)[2] if found else ""


def holds_candidate(sentence: str, kind: str, question: str) -> bool:
    """Whether `sentence` has a word of this kind that the question does not have."""
    return bool(typed_sentences(question, kind, sentence, ((0, len(sentence)),))[0])


@functools.lru_cache(maxsize=1024)
def typed_sentences(question: str, kind: str, text: str, sentences: tuple[tuple[int, int], ...]) -> np.ndarray:
    """For each sentence (offsets into `text`), whether it holds a candidate of this kind that
    the question does not have: a year or a month (date), a number (number), or a capitalised
    word that does not begin its sentence (name, place). One pass over the text; remembered for
    the last passages typed (the reranker and the highlight read the same ones). Read-only."""
    typed = [False] * len(sentences)
    if kind:
        asked = {w.casefold().removesuffix("'s").removesuffix("’s") for w in _WORD.findall(question)}
        starts = [start for start, _ in sentences]
        for match in _CANDIDATES[kind].finditer(text):
            at = bisect.bisect_right(starts, match.start()) - 1
            if at < 0 or typed[at] or match.start() >= sentences[at][1] or match.group(0).casefold() in asked:
                continue
            if kind in (NAME, PLACE) and not _names(text, starts[at], match):
                continue
            typed[at] = True
    result = np.array(typed, dtype=bool)
    result.flags.writeable = False  # shared by every caller that asks again
    return result


def _names(text: str, sentence_start: int, match: re.Match[str]) -> bool:
    """Whether a capitalised word may be a name: not the first word of its sentence (capitalised
    anyway), nor a month, nor a lone demonym used as an adjective."""
    before = text[sentence_start : match.start()]
    if not before.strip() or match.group(0).casefold() in MONTH_NAMES:
        return False
    return not (ADJECTIVE.match(text, match.start()) and not _AFTER_NAME.search(before))


def highlight_scores(typed: np.ndarray, sentence_scores: np.ndarray) -> np.ndarray:
    """The sentences' scores for picking the highlight: a sentence holding a candidate of the
    kind asked gains HIGHLIGHT_TYPE_WEIGHT."""
    return sentence_scores + HIGHLIGHT_TYPE_WEIGHT * typed
