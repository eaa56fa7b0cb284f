"""Hybrid ranking as pure functions: per-passage signals in, fused scores and a diverse top k out.

Four signals score every passage for a question:
  dense           cosine of the question and the passage (title-prefixed) embedding
  dense_sentence  best cosine of the question and one of the passage's sentences
  bm25            BM25 of the passage (title-prefixed, stemmed, no stopwords)
  bm25_sentence   best BM25 of one of the passage's sentences
Each is z-normalised over all passages for this question (so they share one scale whatever
the question's length or vocabulary) and the fused score is their weighted mean.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Hashable

import numpy as np

from ..index.rows import best_rows

SIGNALS = ("dense", "dense_sentence", "bm25", "bm25_sentence")

# Chosen by `qa eval squad --split tune --tune` (SQuAD v1.1 dev articles 0-23); reported on 24-47.
WEIGHTS: dict[str, dict[str, float]] = {
    "hybrid": {"dense": 2.0, "dense_sentence": 1.5, "bm25": 1.0, "bm25_sentence": 0.5},
    "dense": {"dense": 1.0},
    "bm25": {"bm25": 1.0},
}
HIGHLIGHT_BM25_WEIGHT = 1.0  # relative to the sentence's dense score; chosen by the same --tune run


def sentence_weights(mode: str) -> dict[str, float]:
    """How the answering sentence inside a passage is chosen: its own dense and BM25 scores."""
    if mode == "hybrid":
        return {"sentence_dense": 1.0, "sentence_bm25": HIGHLIGHT_BM25_WEIGHT}
    return {"sentence_dense": float(mode == "dense"), "sentence_bm25": float(mode == "bm25")}


def zscore(x: np.ndarray) -> np.ndarray:
    """(x - mean) / std, or zeros when x is flat (all equal up to float32 rounding)."""
    x = x.astype(np.float64)
    mean, spread = float(x.mean()), float(x.std())
    return (x - mean) / spread if spread > 1e-6 * max(1.0, abs(mean)) else np.zeros_like(x)


def fuse(signals: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    """Weighted mean of the z-normalised signals (only those with a weight are computed)."""
    used = {name: w for name, w in weights.items() if w > 0}
    return np.asarray(sum(w * zscore(signals[name]) for name, w in used.items()) / sum(used.values()))


def diverse_top(
    scores: np.ndarray,
    k: int,
    doc_of: Callable[[int], Hashable],
    clashes: Callable[[int, int], bool],
    penalty: float,
    pool: int,
) -> list[tuple[int, float]]:
    """Greedy top k (row, score) from the best `pool` rows.

    A row that shares sentences with a chosen one of its document is set aside, and used only
    when too few others remain. Each passage already chosen from a document lowers that
    document's next passage by `penalty` (in fused-score units) when picking, so another
    document's nearly-as-good passage goes first; the returned scores are the unpenalised ones.
    Penalties only grow, so a lazy max-heap finds each pick without rescoring every row.
    """
    heap = [(-float(scores[r]), 0, int(r)) for r in best_rows(scores, pool)]  # (-penalised score, doc count when scored, row)
    heapq.heapify(heap)
    chosen: list[int] = []
    by_doc: dict[Hashable, list[int]] = {}
    set_aside: list[int] = []
    while heap and len(chosen) < k:
        _, seen, row = heapq.heappop(heap)
        doc = doc_of(row)
        mine = by_doc.setdefault(doc, [])
        if seen != len(mine):  # its document gained a result since: rescore and retry
            heapq.heappush(heap, (-(float(scores[row]) - penalty * len(mine)), len(mine), row))
        elif any(clashes(row, other) for other in mine):
            set_aside.append(row)
        else:
            chosen.append(row)
            mine.append(row)
    chosen += sorted(set_aside, key=lambda r: -scores[r])[: k - len(chosen)]
    return [(r, float(scores[r])) for r in chosen]
