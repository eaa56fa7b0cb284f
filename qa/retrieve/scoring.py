"""Scoring a question's passages through an index backend, by one of two paths.

The exact path (a small index) scores every passage and every sentence; the candidate path (an
index of `settings.ann_min_passages` passages or more) scores only the best MIN_POOL passages by
cosine and by BM25, or, with a filter, the passages it allows. Either way the result is a
`Scored`: the four ranking signals of some passages and the fused scores of their sentences.
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..index.backend import DocumentCondition, IndexBackend
from ..index.rows import SentenceMap
from . import ranking

MIN_POOL = 400  # candidates by cosine and by BM25, and the fewest passages a ranking considers


@dataclass(frozen=True)
class Scored:
    """One question's signals over some passages (`rows`; None: every passage, in row order),
    and the fused scores of their sentences: the i-th passage's are
    `sentence_scores[sentences[i]]`."""

    rows: np.ndarray | None
    passages: dict[str, np.ndarray]  # ranking.SIGNALS, one value per passage scored
    sentences: SentenceMap
    sentence_scores: np.ndarray

    def row(self, i: int) -> int:
        """The index row of the i-th passage scored."""
        return i if self.rows is None else int(self.rows[i])


def measure(index: IndexBackend, query: str, q: np.ndarray) -> dict[str, np.ndarray]:
    """Every passage's and every sentence's cosine and BM25 for a question (`q`: its vector).
    The caller holds the encoder's lock: these use every core."""
    return {
        "sentence_dense": index.sentence_vectors_of(None) @ q,
        "dense": index.vectors_of(None) @ q,
        "sentence_bm25": index.sentence_bm25_of(query, None),
        "bm25": index.bm25_of(query, None),
    }


def signals(index: IndexBackend, measured: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every passage's four ranking signals, plus every sentence's own scores (for highlights)."""
    sentences = index.sentences_of(None)
    return {
        "dense": measured["dense"],
        "dense_sentence": sentences.best(measured["sentence_dense"]),
        "bm25": measured["bm25"],
        "bm25_sentence": sentences.best(measured["sentence_bm25"]),
        "sentence_dense": measured["sentence_dense"],
        "sentence_bm25": measured["sentence_bm25"],
    }


def exact(index: IndexBackend, signals: dict[str, np.ndarray], rows: np.ndarray | None, mode: str) -> Scored:
    """Every passage's signals, kept for these rows (None: all), and their sentences' scores,
    normalised over the sentences of the passages kept (as the candidate path does)."""
    weights = ranking.sentence_weights(mode)
    if rows is None:
        every = {name: signals[name] for name in ranking.SIGNALS}
        return Scored(None, every, index.sentences_of(None), ranking.fuse(signals, weights))
    sentences = index.sentences_of(rows)
    kept = {name: signals[name][sentences.rows] for name in ("sentence_dense", "sentence_bm25")}
    passages = {name: signals[name][rows] for name in ranking.SIGNALS}
    return Scored(rows, passages, sentences.numbered(), ranking.fuse(kept, weights))


def candidates(
    index: IndexBackend,
    query: str,
    q: np.ndarray,
    allowed: np.ndarray | None,
    mode: str,
    breadth: int,
    condition: DocumentCondition | None = None,
) -> Scored:
    """For a large index: the passages worth ranking (the best MIN_POOL by cosine and by BM25;
    or, with a filter, the `allowed` ones) and their signals, and their sentences' scores,
    normalised over these candidates only. Sentences' BM25 is looked up for the candidates'
    sentences alone. `condition`: a filter the backend applies to its candidates (a remote engine's
    expression) rather than a list of `allowed` rows."""
    words = index.words(query)  # (passages and sentences are tokenised alike)
    if allowed is None:
        lexical = _helper().submit(index.lexical_candidates, words, MIN_POOL, condition)  # on the other core
        nearest = index.dense_candidates(q, MIN_POOL, breadth, condition)
        best = lexical.result()
        rows = _corpus_order(index, np.unique(np.concatenate([nearest, best.rows])))
        bm25 = best.scores_of(rows)
    else:  # a filter: its passages are scored, however few or many (reads their vectors)
        rows, bm25 = allowed, index.bm25_of(words, allowed)
    if not len(rows):  # nothing the condition allows
        return Scored(rows, {}, SentenceMap(rows, rows), np.zeros(0, np.float32))
    sentences = index.sentences_of(rows)
    sentence_dense = index.sentence_vectors_of(sentences.rows) @ q
    sentence_bm25 = index.sentence_bm25_of(words, sentences.rows)
    passages = {
        "dense": index.vectors_of(rows) @ q,
        "dense_sentence": np.maximum.reduceat(sentence_dense, sentences.starts),
        "bm25": bm25,
        "bm25_sentence": np.maximum.reduceat(sentence_bm25, sentences.starts),
    }
    weights = ranking.sentence_weights(mode)
    sentence_scores = ranking.fuse({"sentence_dense": sentence_dense, "sentence_bm25": sentence_bm25}, weights)
    return Scored(rows, passages, sentences.numbered(), sentence_scores)


def _corpus_order(index: IndexBackend, rows: np.ndarray) -> np.ndarray:
    """Candidate rows in corpus order (document, then span), as the segment store numbers them: a
    remote engine's rows are keys in no such order, and ties in the ranking go to the earlier row."""
    if not index.candidates_only or not len(rows):
        return rows
    placed = index.placement(rows)
    return rows[np.lexsort((placed.spans[:, 1], placed.spans[:, 0], placed.doc))]


@functools.cache
def _helper() -> ThreadPoolExecutor:
    """One thread that asks for the BM25 candidates while the request's thread asks for the
    nearest by cosine, in a large index (numpy and FAISS let both run at once)."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="qa-search")
