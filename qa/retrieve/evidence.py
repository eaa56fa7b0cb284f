"""Lexical evidence for answering: the rare question words that the top passage holds.

Cosine alone misjudges a bare keyword query. "Bayraktar TB2" is far from every passage's
vector (0.36), though the top two passages hold both words. Abstention therefore also asks the
BM25 index: when the top passage holds nearly all of the question's words (weighed by idf) and
at least one of them is rare in the corpus, the corpus does speak of what was asked. A question
about something the corpus never mentions ("the recipe for chocolate cake") has words that no
passage holds, and those weigh most.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from bm25s.stopwords import STOPWORDS_EN

from ..index.backend import IndexBackend
from ..index.lexical import tokenize
from ..ingest.cleaning import normalize_for_embedding

# Chosen on SQuAD's tune articles (0-23) and the seed development questions; see
# bench/results/ranking-notes.md.
RARE_SHARE = 0.02  # a word is rare when at most this share of the passages (or one passage) holds it
MIN_COVERAGE = 0.999  # share of the question words' idf that the top passage must hold
MIN_COSINE = 0.2  # below this the passage is too far from the question whatever it holds
# Asking words are no evidence either way (the BM25 stopwords keep them: "which", "did").
ASKING = "what which who whom whose when where why how did does do is are was were"
NOT_CONTENT = frozenset(STOPWORDS_EN) | frozenset(ASKING.split())  # words that carry no evidence, as typed


@dataclass(frozen=True)
class Evidence:
    """What the top passage holds of the question's words (stemmed, as BM25 has them)."""

    held: tuple[str, ...]
    missing: tuple[str, ...]
    coverage: float  # the held words' share of the question words' idf (0 when it has none)
    rare: tuple[str, ...]  # the held words that are rare in the corpus
    inexact: tuple[str, ...] = ()  # the question's words (as typed, case folded) the passage lacks

    @property
    def sufficient(self) -> bool:
        """Whether this counts as evidence that the passage speaks of what was asked."""
        return bool(self.rare) and self.coverage >= MIN_COVERAGE and not self.inexact


NONE = Evidence((), (), 0.0, ())


def lexical_evidence(index: IndexBackend, query: str, row: int) -> Evidence:
    """The question's content words that passage `row` holds, and which of them are rare."""
    words = content_words(index, query)
    if not words:
        return NONE
    df = index.passage_frequency(words)
    n = index.passage_count
    idf = bm25_idf(df, n)
    holds = np.array([index.bm25_of([w], np.array([row]))[0] > 0 for w in words])
    coverage = float(idf[holds].sum() / idf.sum()) if idf.sum() > 0 else 0.0
    rare = holds & (df <= max(1.0, RARE_SHARE * n))
    inexact = _typed_words(query) - _typed_words(_indexed_text(index, row))
    return Evidence(_pick(words, holds), _pick(words, ~holds), coverage, _pick(words, rare), tuple(sorted(inexact)))


def content_words(index: IndexBackend, query: str) -> list[str]:
    """The question's words as BM25 has them (stemmed, no stopwords), each once, asking words aside."""
    return [w for w in dict.fromkeys(index.words(query)) if w not in _asking()]


def bm25_idf(df: np.ndarray, passages: int) -> np.ndarray:
    """BM25's idf (bm25s's) of words held by `df` of `passages` passages: a word no passage holds
    weighs most."""
    return np.log1p((passages - df + 0.5) / (df + 0.5))


def answers_on_evidence(index: IndexBackend, query: str, row: int, cosine: float) -> bool:
    """Whether a question whose cosine fell short is answered on what the top passage holds."""
    return cosine >= MIN_COSINE and lexical_evidence(index, query, row).sufficient


def _indexed_text(index: IndexBackend, row: int) -> str:
    """The passage's text with its document's title, as BM25 indexed it."""
    passage = index.passage(row)
    return f"{index.documents[passage.doc_id].title} {passage.text}"


def _typed_words(text: str) -> set[str]:
    """The words of a text as typed (NFKC, case folded; not stemmed), without stopwords and
    asking words: "transformer" is not "transformation", and "February 7" needs its 7."""
    words = re.findall(r"\w+", normalize_for_embedding(text).casefold())
    return {w for w in words if w not in NOT_CONTENT}


def _pick(words: list[str], mask: np.ndarray) -> tuple[str, ...]:
    return tuple(w for w, keep in zip(words, mask, strict=True) if keep)


@functools.cache
def _asking() -> frozenset[str]:
    return frozenset(_stems(ASKING.split()))


def _stems(words: Sequence[str]) -> list[str]:
    return [w for token in tokenize(list(words)) for w in token]
