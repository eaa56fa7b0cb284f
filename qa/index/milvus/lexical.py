"""BM25 of given rows as the segment store computes it, from what the engine stores, and the rows
fetched by primary key (vectors, tokens, texts), a recent few kept.

The weights are `qa.index.lexical.Lexical`'s: idf = ln(1 + (N - df + 0.5) / (df + 0.5)) times
tf / (tf + k1 (1 - b + b |d| / avgdl)), in float32, with N, avgdl and df kept in the engine by
the writer (`terms`), and each row's tokens and length fetched with the row, so a passage's BM25
is the same on both backends. (`TEXT_MATCH` counts would give df without keeping it, but Milvus
Lite scans every row for each: seconds a word at 30,000 rows.)
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from ..manifest import BM25_B, BM25_K1
from ..records import Recent
from .engine import Engine


def bm25(
    words: Sequence[str], rows: list[dict], size: int, average: float, frequency: Callable[[Sequence[str]], np.ndarray]
) -> np.ndarray:
    """These fetched rows' BM25 (each with its `counts` and `length`), words added in query order;
    `size` texts of `average` length served, `frequency` their df."""
    out = np.zeros(len(rows), dtype=np.float32)
    if not len(rows) or not words:
        return out
    lengths = np.array([row.get("length", 0) for row in rows], dtype=np.int64)
    norm = BM25_K1 * ((1 - BM25_B) + BM25_B * lengths / average) if average else np.full(len(rows), BM25_K1)
    norm = norm.astype(np.float32)
    unique = list(dict.fromkeys(words))
    df = dict(zip(unique, frequency(unique).tolist(), strict=True))
    looked: dict[str, np.ndarray] = {}
    for word in words:
        if word not in looked:
            counts = np.array([row.get("counts", Counter()).get(word, 0) for row in rows], dtype=np.float32)
            weights = np.zeros(len(rows), dtype=np.float32)
            held = counts > 0
            if held.any():
                idf = np.float32(np.log1p((size - df[word] + 0.5) / (df[word] + 0.5)))
                weights[held] = counts[held] / (counts[held] + norm[held]) * idf
            looked[word] = weights
        out += looked[word]
    return out


class Fetched:
    """Rows of a collection by primary key (`key`), a recent `keep` of them remembered (thread-safe)."""

    def __init__(self, engine: Engine, part: str, fields: list[str], keep: int, key: str = "row") -> None:
        self.engine, self.part, self.fields, self.key = engine, part, fields, key
        self._rows: Recent[int, dict] = Recent(keep)
        self._lock = threading.Lock()

    def rows(self, ids: list[int]) -> list[dict]:
        with self._lock:
            known = {i: self._rows.get(i) for i in dict.fromkeys(ids)}
        missing = [i for i, row in known.items() if row is None]
        if missing:
            for row in self.engine.by_ids(self.part, missing, self.fields):
                if "terms" in row:
                    row["counts"] = Counter(row.pop("terms").split())
                if "vector" in row:  # 4 bytes a dimension kept, not a Python float's 32
                    row["vector"] = np.asarray(row["vector"], dtype=np.float32)
                known[row[self.key]] = row
            with self._lock:
                for i in missing:
                    if known.get(i) is not None:
                        self._rows.put(i, known[i])  # type: ignore[arg-type]
        return [known[i] or {} for i in ids]

    def vectors(self, ids: list[int], dimension: int) -> np.ndarray:
        rows = self.rows(ids)
        out = np.zeros((len(ids), dimension), dtype=np.float32)
        for n, row in enumerate(rows):
            if row:
                out[n] = row["vector"]
        return out
