"""BM25 of given rows as the segment store computes it, from what the engine stores, and the rows
fetched by primary key (vectors, tokens, texts), a recent few kept.

The weights are `qa.index.lexical.Lexical`'s: idf = ln(1 + (N - df + 0.5) / (df + 0.5)) times
tf / (tf + k1 (1 - b + b |d| / avgdl)), in float32, with N and avgdl from the row table read on
open and df counted from the stored tokens of the served rows when the index is opened, so a
passage's BM25 is the same on both backends. (`TEXT_MATCH` counts would give df without reading
the tokens, but Milvus Lite scans every row for each: seconds a word at 30,000 rows.)
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence

import numpy as np

from ..manifest import BM25_B, BM25_K1
from ..records import Recent
from .engine import Engine


class EngineBM25:
    """BM25 over one collection's stored tokens; `lengths` per row scored, `distinct` per stored
    text (the same unless rows repeat texts: a sentence shared by overlapping passages)."""

    def __init__(self, df: Counter[str], lengths: np.ndarray, size: int, distinct: np.ndarray | None = None) -> None:
        self.df, self.size = df, size
        stored = lengths if distinct is None else distinct
        average = float(stored.mean()) if len(stored) else 0.0
        self.norm = BM25_K1 * ((1 - BM25_B) + BM25_B * lengths / average) if average else np.full(len(lengths), BM25_K1)
        self.norm = self.norm.astype(np.float32)

    def frequency(self, word: str) -> int:
        """How many served texts hold the word."""
        return self.df.get(word, 0)

    def scores(self, words: Sequence[str], rows: np.ndarray, terms: list[Counter[str]]) -> np.ndarray:
        """These rows' BM25 (`terms`: each row's token counts), words added in query order."""
        out = np.zeros(len(rows), dtype=np.float32)
        looked: dict[str, np.ndarray] = {}
        for word in words:
            if word not in looked:
                counts = np.array([t.get(word, 0) for t in terms], dtype=np.float32)
                weights = np.zeros(len(rows), dtype=np.float32)
                held = counts > 0
                if held.any():
                    df = self.frequency(word)
                    idf = np.float32(np.log1p((self.size - df + 0.5) / (df + 0.5)))
                    weights[held] = counts[held] / (counts[held] + self.norm[rows[held]]) * idf
                looked[word] = weights
            out += looked[word]
        return out


class Fetched:
    """Rows of a collection by primary key, a recent `keep` of them remembered (thread-safe)."""

    def __init__(self, engine: Engine, part: str, fields: list[str], keep: int) -> None:
        self.engine, self.part, self.fields = engine, part, fields
        self._rows: Recent[str, dict] = Recent(keep)
        self._lock = threading.Lock()

    def rows(self, ids: list[str]) -> list[dict]:
        with self._lock:
            known = {i: self._rows.get(i) for i in dict.fromkeys(ids)}
        missing = [i for i, row in known.items() if row is None]
        if missing:
            for row in self.engine.by_ids(self.part, missing, self.fields):
                if "terms" in row:
                    row["counts"] = Counter(row["terms"].split())
                known[row["id"]] = row
            with self._lock:
                for i in missing:
                    if known.get(i) is not None:
                        self._rows.put(i, known[i])  # type: ignore[arg-type]
        return [known[i] or {} for i in ids]

    def vectors(self, ids: list[str], dimension: int) -> np.ndarray:
        rows = self.rows(ids)
        out = np.zeros((len(ids), dimension), dtype=np.float32)
        for n, row in enumerate(rows):
            if row:
                out[n] = row["vector"]
        return out

    def terms(self, ids: list[str]) -> list[Counter[str]]:
        return [row.get("counts", Counter()) for row in self.rows(ids)]

    def text(self, passage_id: str) -> str:
        return str(self.rows([passage_id])[0].get("text", ""))
