"""Choosing the ranking constants on a tuning split (`qa eval DATASET --split tune --tune`).

Prints what it would choose; the constants in `ranking.WEIGHTS` and the settings' defaults are
set by hand from that output, so a report on the other split stays untouched by tuning.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from ..retrieve import ranking
from ..retrieve.searcher import Searcher
from . import measure
from .datasets import Dataset, Question
from .measure import holds_answer

WEIGHT_GRID = (0.0, 0.5, 1.0, 1.5, 2.0)  # relative to bm25 = 1
# "Nearly as good" means within half a standard deviation of fused score, so 0.5 is the most
# diversity offered; among penalties whose R@5 is within RECALL_TOLERANCE of the best, the
# largest wins (more sources for the same recall).
DIVERSITY_GRID = (0.0, 0.1, 0.25, 0.5)
RECALL_TOLERANCE = 0.001
MAX_WRONG_ABSTAIN = 0.02
HIGHLIGHT_GRID = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0)
TUNED = ("dense", "dense_sentence", "bm25_sentence")


@dataclass(frozen=True)
class Choice:
    name: str
    value: object
    why: str


def choose(searcher: Searcher, dataset: Dataset, split: str) -> list[Choice]:
    """Every constant this split would choose, with its evidence (questions encoded once)."""
    answerable, off_topic = measure.questions_of(dataset, split)
    if not answerable:
        return []
    searcher = measure.with_cached_questions(searcher, answerable + off_topic)
    choices = [tune_weights(searcher, answerable)]
    choices += [tune_highlight(searcher, answerable)] if dataset.has_answers else []
    return [*choices, tune_diversity(searcher, answerable), calibrate_abstention(searcher, answerable, off_topic)]


def tune_weights(searcher: Searcher, questions: list[Question]) -> Choice:
    """The hybrid weights with the best R@1 + R@5 of the gold document (documents ranked by
    their best passage), by grid search with bm25's weight fixed at 1."""
    present, doc_of = np.unique(searcher.index.placement(None).doc, return_inverse=True)  # documents with passages
    ids = list(searcher.index.documents)  # in corpus order, as placement numbers them
    number = {ids[p]: n for n, p in enumerate(present.tolist())}
    order = np.argsort(doc_of, kind="stable")  # passages grouped by document, for reduceat
    starts = np.searchsorted(doc_of[order], np.arange(len(present)))
    stacked = np.stack([_zscored(searcher, q.text)[:, order] for q in questions])  # question, signal, passage
    gold = [[number[d] for d in q.relevant if d in number] for q in questions]
    best: tuple[float, tuple[float, ...]] = (-1.0, ())
    for combo in itertools.product(WEIGHT_GRID, repeat=len(TUNED)):
        weights = dict(zip(TUNED, combo, strict=True), bm25=1.0)
        w = np.array([weights[name] for name in ranking.SIGNALS], dtype=np.float32)
        fused = np.einsum("qsp,s->qp", stacked, w)
        docs = np.maximum.reduceat(fused, starts, axis=1)  # each document's best passage
        ranks = np.array([(docs[i] > docs[i, g].max()).sum() + 1 if g else np.inf for i, g in enumerate(gold)])
        score = float(np.mean(ranks <= 1) + np.mean(ranks <= 5))
        if score > best[0]:
            best = (score, combo)
    chosen = dict(zip(TUNED, best[1], strict=True), bm25=1.0)
    return Choice("ranking.WEIGHTS['hybrid']", chosen, f"R@1 + R@5 = {best[0]:.4f} on {len(questions)} questions")


def tune_highlight(searcher: Searcher, questions: list[Question]) -> Choice:
    """The weight of a sentence's BM25 (its dense score weighs 1) that most often highlights a
    sentence holding the gold answer, among top passages that hold it."""
    counts = dict.fromkeys(HIGHLIGHT_GRID, 0)
    asked = 0
    for q in questions:
        hit = searcher.search(q.text, 1).hits[0]
        if not q.answers or not holds_answer(hit.passage.text, q.answers):
            continue
        asked += 1
        signals = searcher.signals(q.text)
        row = searcher.index.row_of(hit.passage.id)
        assert row is not None, hit.passage.id  # a hit's passage is one of the index's
        rows = searcher.index.sentences_of(np.array([row])).rows
        dense, bm25 = (ranking.zscore(signals[name])[rows] for name in ("sentence_dense", "sentence_bm25"))
        for weight in HIGHLIGHT_GRID:
            start, end = hit.passage.sentences[int(np.argmax(dense + weight * bm25))]
            counts[weight] += holds_answer(hit.passage.text[start:end], q.answers)
    best = max(HIGHLIGHT_GRID, key=lambda w: (counts[w], -w))
    table = ", ".join(f"{w:g}: {counts[w] / max(asked, 1):.4f}" for w in HIGHLIGHT_GRID)
    return Choice("ranking.HIGHLIGHT_BM25_WEIGHT", best, f"highlight accuracy by weight {table}")


def tune_diversity(searcher: Searcher, questions: list[Question]) -> Choice:
    """The largest source-diversity penalty that keeps R@5 of the gold document (in the returned
    list) within RECALL_TOLERANCE of the best penalty's."""
    results = []
    for penalty in DIVERSITY_GRID:
        diverse = searcher.with_settings(source_diversity=penalty)
        hits = [diverse.search(q.text, 5).hits for q in questions]
        recall = np.mean([any(h.document.id in q.relevant for h in found) for q, found in zip(questions, hits, strict=True)])
        results.append((penalty, float(recall)))
    top = max(recall for _, recall in results)
    chosen = max(penalty for penalty, recall in results if recall >= top - RECALL_TOLERANCE)
    table = ", ".join(f"{penalty:g}: {recall:.4f}" for penalty, recall in results)
    return Choice("source_diversity", chosen, f"R@5 by penalty {table}")


def calibrate_abstention(searcher: Searcher, answerable: list[Question], off_topic: list[Question]) -> Choice:
    """The highest confidence threshold that abstains on at most MAX_WRONG_ABSTAIN of the
    answerable questions (an abstained answer still lists its passages, but says it is unsure);
    the off-topic rate is what that threshold gives."""
    on = np.array([searcher.search(q.text, 1).confidence for q in answerable])
    off = np.array([searcher.search(q.text, 1).confidence for q in off_topic])
    threshold = math.floor(float(np.quantile(on, MAX_WRONG_ABSTAIN, method="lower")) * 100) / 100
    return Choice(
        "abstain_threshold",
        threshold,
        f"wrongly abstained {np.mean(on < threshold):.3f}, off-topic answered {np.mean(off >= threshold):.3f}",
    )


def _zscored(searcher: Searcher, query: str) -> np.ndarray:
    signals = searcher.signals(query)
    return np.stack([ranking.zscore(signals[name]) for name in ranking.SIGNALS]).astype(np.float32)
