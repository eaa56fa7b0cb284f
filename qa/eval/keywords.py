"""Keyword queries: SQuAD answer strings and article titles asked as bare keywords.

Each keyword is asked twice, through a filter that allows one article's paragraphs: its own
article (it should answer, with a passage that holds the keyword) and the next article of the
split (it should abstain, unless that article holds the keyword too). The rates:

  OwnWrongAbstain   own article: abstained
  OwnWrongAnswer    own article: answered, but the top passage does not hold the keyword
  OtherAnswered     another article: answered at all
  OtherWrongAnswer  another article: answered, and the top passage does not hold the keyword
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ..retrieve.filters import Filter
from ..retrieve.searcher import Searcher
from .datasets import Dataset, Question
from .measure import Report, holds_answer, with_cached_questions

PER_ARTICLE = 20  # answer strings per article (the first distinct ones, in question order)
MAX_WORDS = 4  # longer answers are phrases, not keywords
COLUMNS = ["OwnWrongAbstain", "OwnWrongAnswer", "OtherAnswered", "OtherWrongAnswer", "keywords"]
# label -> query-time settings: abstention as it was (cosine alone) and as it is.
MODES: dict[str, dict[str, object]] = {
    "cosine only": {"abstain_lexical": False},
    "cosine + rare words held (default)": {},
}


@dataclass(frozen=True)
class Keyword:
    text: str
    own: Filter  # the paragraphs of the article it comes from
    other: Filter  # the paragraphs of the next article of the split


def keywords_of(dataset: Dataset, split: str) -> list[Keyword]:
    """Each article's title and first PER_ARTICLE distinct short answers with a letter in them."""
    questions = dataset.split(split)
    articles = sorted({q.group for q in questions})
    paragraphs = {g: _paragraphs(dataset, g) for g in articles}
    keywords = []
    for n, group in enumerate(articles):
        own, other = paragraphs[group], paragraphs[articles[(n + 1) % len(articles)]]
        for text in _texts(dataset, [q for q in questions if q.group == group]):
            keywords.append(Keyword(text, Filter(doc_ids=own), Filter(doc_ids=other)))
    return keywords


def _paragraphs(dataset: Dataset, group: int) -> tuple[str, ...]:
    """The document ids of one article (SQuAD: `<title>#<n>`, the article of `group`)."""
    docs = {d for q in dataset.questions if q.group == group for d in q.relevant}
    titles = {d.rsplit("#", 1)[0] for d in docs}
    return tuple(d["id"] for d in dataset.documents or [] if d["id"].rsplit("#", 1)[0] in titles)


def _texts(dataset: Dataset, questions: list[Question]) -> list[str]:
    """The article's title, then its first distinct short answers (case folded to compare)."""
    title = next(iter(questions[0].relevant)).rsplit("#", 1)[0].replace("_", " ") if questions else ""
    chosen: dict[str, str] = {title.casefold(): title} if title else {}
    for answer in (a.strip() for q in questions for a in q.answers):
        if len(chosen) > PER_ARTICLE:
            break
        if re.search(r"[^\W\d_]", answer) and len(answer.split()) <= MAX_WORDS:
            chosen.setdefault(answer.casefold(), answer)
    return list(chosen.values())


def evaluate_keywords(searcher: Searcher, keywords: list[Keyword]) -> dict[str, float]:
    """The four rates of one searcher configuration (see the module docstring)."""
    own_abstained = own_wrong = other_answered = other_wrong = 0
    for keyword in keywords:
        own = searcher.search(keyword.text, 1, keyword.own)
        own_abstained += own.abstained
        own_wrong += not own.abstained and not _holds(own.hits, keyword.text)
        other = searcher.search(keyword.text, 1, keyword.other)
        other_answered += not other.abstained
        other_wrong += not other.abstained and not _holds(other.hits, keyword.text)
    n = max(len(keywords), 1)
    rates = [own_abstained, own_wrong, other_answered, other_wrong]
    return {**dict(zip(COLUMNS, (r / n for r in rates), strict=False)), "keywords": float(len(keywords))}


def _holds(hits: list, keyword: str) -> bool:
    return bool(hits) and holds_answer(hits[0].passage.text, (keyword,))


def compare_keywords(
    searcher: Searcher, dataset: Dataset, split: str, progress: Callable[[str], None] | None = None
) -> list[Report]:
    """Abstention with cosine alone and with lexical evidence, on the split's keyword queries."""
    keywords = keywords_of(dataset, split)
    searcher = with_cached_questions(searcher, [Question(k.text, k.text, {}) for k in keywords])
    reports = []
    for label, changes in MODES.items():
        if progress:
            progress(label)
        reports.append(Report(label, evaluate_keywords(searcher.with_settings(**changes), keywords)))
    return reports


def keyword_table(reports: list[Report]) -> str:
    """A markdown table of the keyword rates."""
    lines = ["| abstention | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    return "\n".join(lines + [r.row(COLUMNS) for r in reports])
