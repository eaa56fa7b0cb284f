"""Answer spans: the words inside a highlighted sentence that answer a typed question.

When a question asks for a date, a number, a name or a place (`answers.asks_for`), the candidates
of that kind are read off the highlighted sentence with surface patterns (no tagger):

- a date: a full date expression, "27 September 2020", "September 2020", "12–14 September 2022",
  "May 3, 1994", or a year alone ("1994", "the 1990s"); only the year when the question asks
  for one ("In what year ...?");
- a number: a number with the noun it counts unless the question has that noun ("3,800
  soldiers", but "3,800" for "How many soldiers ...?"), its qualifier ("nearly 300"), "80%",
  "$1.2 billion"; never a number inside a date; only numbers counting X (or nothing named) for
  "how many X", only percentages for "what percentage";
- a name or a place: a run of capitalised words, "Suren Papikyan", "Bayraktar TB2",
  "Nagorno-Karabakh", "Leonardo da Vinci" (lower-case "of", "da", ... inside a run); a place
  only after "in", "at", "to", "from" and the like. Not a name: the sentence's first word
  alone, a month alone, a proper adjective before a lower-case word ("Armenian forces").

A candidate whose words the question already has is not an answer (the question's own subject),
and the question's words split a run of capitalised words ("Armenian Defence Minister Suren
Papikyan" asked "Who was Armenia's defence minister?" leaves "Suren Papikyan"; "Johann" of
"Johann Tetzel" asked about "Tetzel" is the rest of the question's name, dropped). A span is
given only when exactly one candidate is left: the answer is then the sentence's only new thing
of the kind asked. Anything else (no candidate, two or more, no kind) gives None: a wrong bold
answer costs more than none. A span is always exact offsets into the passage's text, inside
the highlight. The rules were chosen on SQuAD's tune articles (0-23) only.
"""

from __future__ import annotations

import re

from .answers import ADJECTIVE, DATE, MONTH_NAMES, MONTHS, NAME, NUMBER, NUMBER_WORDS, PLACE, YEAR

Span = tuple[int, int]

_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_DASH = r"\s*[–—-]\s*"
_YEAR = YEAR
_MONTH = "(?:" + "|".join(m.capitalize() for m in MONTHS.split("|")) + ")"
_DATES = re.compile(
    rf"\b(?:{_DAY}(?:{_DASH}{_DAY})?\s+(?:of\s+)?)?{_MONTH}(?:\s+{_DAY}(?:{_DASH}{_DAY})?)?(?:,?\s+{_YEAR})?\b"
    rf"|\b{_YEAR}(?:s|{_DASH}(?:{_YEAR}|\d{{2}})\b)?\b"
)
_YEARS = re.compile(rf"\b{_YEAR}s?\b")
_ASKS_YEAR = re.compile(r"\byears?\b|\bdecade\b", re.IGNORECASE)
_QUALIFIER = r"(?:nearly|about|approximately|around|almost|over|under|roughly|some|more than|less than|fewer than|at least|up to)"
_FIGURE = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?[½¼¾]?"  # "3,800", "2.5", "5½"
_AMOUNT = rf"(?P<amount>(?:(?<![\w$£€])[$£€]\s?|\b)(?:{_FIGURE}|(?:{NUMBER_WORDS})(?:[\s-](?:{NUMBER_WORDS}))*))"
_SCALE = r"(?P<scale>(?:\s*%|\s+(?:percent|per cent|hundred|thousand|million|billion|trillion))?)"
_NUMBERS = re.compile(rf"(?:\b{_QUALIFIER}\s+)?{_AMOUNT}{_SCALE}(?:\s+(?P<noun>(?-i:[a-z][a-z-]+)))?", re.IGNORECASE)
# What a question counts: "how many soldiers", not "how many died" or "how many were there".
_COUNTED = re.compile(r"\bhow many (?!(?:are|were|is|was|did|do|does|have|has|had|of|in)\b)(\w+)(?<!ed)\b")
_PERCENT = re.compile(r"%|\bper ?cent", re.IGNORECASE)
_LOCATIVE = re.compile(r"\b(?:in|at|from|to|near|into|across|throughout|outside|inside|of)\s+(?:the\s+)?$", re.IGNORECASE)
# Lower-case words a name may hold between capitalised ones ("Bank of America", "Leonardo da Vinci").
_JOINERS = "of|de|da|del|della|der|van|von|la|le|du|the|for|y"
_JOINER_SET = frozenset(_JOINERS.split("|"))
_CAPITALISED = r"(?:[A-Z][\w'’.&-]*|[0-9]+[A-Z][\w-]*)"
_NAMES = re.compile(rf"\b{_CAPITALISED}(?:\s+(?:(?:{_JOINERS})\s+)*{_CAPITALISED})*")
# Capitalised at a sentence's start or as a title, not names: dropped from a run's edges.
_NOT_NAME_WORDS = (
    "a an the in on at by of for from to with and or but as after before during while when where who which what "
    "however although though despite this that these those there their his her its it he she they we i mr mrs ms dr st"
)
_NOT_NAMES = frozenset(_NOT_NAME_WORDS.split())
# Words a number does not count: the noun after a number is kept only when it is not one of these.
_NOT_NOUN_WORDS = (
    "a an the and or of in on at by to for from with was were is are be been had has have as than that which who "
    "when while per through into over under after before during since until about between among against each "
    "more less most other main different independent major new"
)
_NOT_NOUNS = frozenset(_NOT_NOUN_WORDS.split())
_WORD = re.compile(r"[\w'’]+")
_CAPITALISED_WORD = re.compile(r"\b[A-Z][\w'’]*")
_STEM = 5  # words sharing their first _STEM letters count as one ("Armenia", "Armenian")


def answer_span(question: str, kind: str, text: str, highlight: Span) -> Span | None:
    """The answer inside `text[highlight[0]:highlight[1]]`, as offsets into `text`: the only
    candidate of `kind` the question does not already have; None when there is no kind, no such
    candidate or more than one."""
    if kind not in (DATE, NUMBER, NAME, PLACE):
        return None
    asked = _words(question)
    start, end = highlight
    sentence = text[start:end]
    found = {span for span in candidates(kind, sentence, question) if not _asked(sentence[slice(*span)], asked)}
    if len(found) != 1:
        return None
    first, last = found.pop()
    return start + first, start + last


def candidates(kind: str, sentence: str, question: str) -> list[Span]:
    """Every candidate of `kind` in `sentence` (offsets into it) that may answer `question`."""
    asked = _words(question)
    if kind == DATE:  # a question asking for the year gets the year of a date
        if _ASKS_YEAR.search(question):
            return [m.span() for date in _DATES.finditer(sentence) for m in _YEARS.finditer(sentence, *date.span())]
        return [m.span() for m in _DATES.finditer(sentence)]
    if kind == NUMBER:
        return _numbers(sentence, question, asked)
    named = {w.casefold() for w in _CAPITALISED_WORD.findall(question[1:])}  # the question's own names
    return _names(kind, sentence, asked, named)


def _names(kind: str, sentence: str, asked: set[str], named: set[str]) -> list[Span]:
    """The runs of capitalised words, cut at the question's words and trimmed (`_trimmed`); a
    lone proper adjective before a lower-case word ("Armenian", "Catholic") is no name, nor is a
    month alone ("September")."""
    spans: list[Span] = []
    for m in _NAMES.finditer(sentence):
        words = [(w.start() + m.start(), w.end() + m.start()) for w in re.finditer(r"\S+", m.group(0))]
        for part in _split(words, sentence, asked, named):
            spans.extend(_trimmed(sentence, part))
    spans = [span for span in spans if " " in sentence[slice(*span)] or not _adjective_or_month(sentence, span)]
    if kind == PLACE:  # a place is where something is, goes or comes from: "in Belgrade", "to Prague"
        spans = [span for span in spans if _LOCATIVE.search(sentence[: span[0]])]
    return spans


def _adjective_or_month(sentence: str, span: Span) -> bool:
    return bool(ADJECTIVE.match(sentence, span[0])) or sentence[slice(*span)].casefold() in MONTH_NAMES


def _numbers(sentence: str, question: str, asked: set[str]) -> list[Span]:
    """The numbers of a sentence that are not part of a date, each with the noun it counts when
    the question lacks it ("3,800 soldiers"). A question asking "how many X" keeps only the
    numbers counting X or nothing named ("300 ships" does not answer "how many men"); one asking
    for a percentage keeps only percentages."""
    dates = [m.span() for m in _DATES.finditer(sentence)]
    counted = _COUNTED.search(question.casefold())
    found = []
    for m in _NUMBERS.finditer(sentence):
        if any(d[0] < m.end() and m.start() < d[1] for d in dates) or m.group("amount").casefold() == "one":
            continue
        noun = (m.group("noun") or "").casefold()
        noun = "" if noun in _NOT_NOUNS else noun
        if counted and noun and not _in(noun, {counted.group(1)}):
            continue
        if _PERCENT.search(question) and not _PERCENT.search(m.group(0)):
            continue
        end = m.end() if noun and not _in(noun, asked) and "%" not in m.group(0) else m.end("scale")
        found.append((m.start(), end))
    return found


def _split(words: list[Span], sentence: str, asked: set[str], named: set[str]) -> list[list[Span]]:
    """A run of words cut at the words the question has. A part just before a name the question
    has is the start of that name ("Johann" of "Johann Tetzel" asked about "Tetzel"): dropped."""
    parts: list[list[Span]] = [[]]
    before_name = [False]
    for word in words:
        bare = _bare(sentence[slice(*word)])
        if _in(bare, asked):
            before_name[-1] = before_name[-1] or _in(bare, named)
            parts.append([])
            before_name.append(False)
        else:
            parts[-1].append(word)
    return [p for p, first_names in zip(parts, before_name, strict=True) if p and not first_names]


def _trimmed(sentence: str, words: list[Span]) -> list[Span]:
    """A run of capitalised words trimmed of _NOT_NAMES and joiners at its edges and of the
    punctuation after it; nothing when only the sentence's first word is left."""
    while words and _bare(sentence[slice(*words[0])]) in _NOT_NAMES:
        words = words[1:]
    while words and _bare(sentence[slice(*words[-1])]) in _NOT_NAMES | _JOINER_SET:
        words = words[:-1]
    if not words or (len(words) == 1 and not sentence[: words[0][0]].strip()):
        return []
    first, last = words[0][0], words[-1][1]
    while last > first and sentence[last - 1] in ".,;:'’\")":
        last -= 1  # "Papikyan." ends the sentence, not the name
    if sentence[first:last].endswith(("'s", "’s")):
        last -= 2  # "Papikyan's" is his
    return [(first, last)]


def _bare(word: str) -> str:
    return word.strip(".,;:'’\"()").casefold()


def _words(text: str) -> set[str]:
    return {w.casefold() for w in _WORD.findall(text)}


def _asked(candidate: str, asked: set[str]) -> bool:
    """Whether the question already has every word of `candidate` that matters."""
    words = [w for w in _words(candidate) if w not in _NOT_NAMES and w not in _NOT_NOUNS]
    return all(_in(w, asked) for w in words) if words else True


def _in(word: str, asked: set[str]) -> bool:
    """Whether the question has `word`, or a word sharing its first _STEM letters."""
    if word in asked:
        return True
    return len(word) >= _STEM and any(len(a) >= _STEM and a[:_STEM] == word[:_STEM] for a in asked)
