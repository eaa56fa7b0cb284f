"""`MilvusIndex`: an index served by Milvus, as search sees it (`qa.index.backend.IndexBackend`).

Stateless: opening reads the manifest and the BM25 stats (`terms.Stats`) from the state
collection and nothing per passage or per document. Rows are the passages' int64 keys
(`schema.row_key` of their ids), sentence rows the sentences' (`schema.sentence_row`); a question's
candidate rows are fetched by key (vectors, tokens, spans, texts; a recent few kept), its words'
document frequencies likewise (`terms.Frequencies`), documents lazily by id (`documents`).
Candidates come from the engine (dense top-N by inner product, BM25 top-N from its sparse index),
with a filter pushed down as an expression in each request; their signals are computed here as
the segment store computes them (qa's BM25 from the stored tokens and the engine's counts), so
both backends rank alike. Rows of documents not committed yet (a build writing) are not served.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ...encode import late
from ...errors import ConfigError, IndexMismatchError, IndexMissingError
from ...ingest.documents import Document
from ...ingest.passages import Passage
from ..backend import DocumentCondition, LexicalCandidates, Placement
from ..lexical import tokenize
from ..manifest import Manifest, mismatch
from ..rows import SentenceMap
from . import expressions, state, terms
from .documents import Documents
from .engine import Engine
from .lexical import Fetched, bm25
from .schema import row_key, sentence_row

PASSAGE_FIELDS = ["row", "id", "doc", "start", "end", "length", "sentences", "vector", "terms", "text"]


def _every(rows: np.ndarray | None) -> np.ndarray:
    """Rows given (a remote index never scores every passage: the exact path is not taken)."""
    if rows is None:
        raise ConfigError("the Milvus backend scores candidates only: it has no every row to give (tune on QA_BACKEND=segments)")
    return np.asarray(rows, dtype=np.int64)


class MilvusIndex:
    """A build in Milvus, opened for searching (see the module docstring)."""

    candidates_only = True  # always the candidate path, with filters pushed down to the engine
    folder = None  # no build folder on this machine

    def __init__(self, engine: Engine, manifest: Manifest, version: str, stats: terms.Stats) -> None:
        self.engine, self.manifest, self._version, self.stats = engine, manifest, version, stats
        self._documents = Documents(engine, manifest.documents)
        self.frequencies = terms.Frequencies(engine)
        self._passage_rows = Fetched(engine, "passages", PASSAGE_FIELDS, 8192)
        self._sentence_rows = Fetched(engine, "sentences", ["row", "vector", "terms", "length"], 32768)

    @classmethod
    def open(cls, engine: Engine, model: str | None = None) -> MilvusIndex:
        if not engine.exists():
            raise IndexMissingError(f"no index in Milvus at {engine.describe()}: build one with `qa build`")
        manifest = state.read_manifest(engine)
        if manifest is None:
            raise IndexMissingError(f"no complete build in Milvus at {engine.describe()}: run `qa build`")
        wrong = mismatch(manifest, model)
        if wrong is not None:
            raise IndexMismatchError(f"index in Milvus at {engine.describe()} {wrong.detail}: {wrong.advice}")
        stats = terms.read_stats(engine)
        if stats is None:
            raise IndexMismatchError(f"index in Milvus at {engine.describe()} was built by an older qa: run `qa build --full`")
        return cls(engine, manifest, manifest.index_version, stats)

    @property
    def version(self) -> str:
        return self._version

    @property
    def dimension(self) -> int:
        return self.manifest.dimension

    @property
    def passage_count(self) -> int:
        return self.stats.passages

    @property
    def documents(self) -> Mapping[str, Document]:
        return self._documents

    def reachable(self) -> bool:
        """Whether the engine answers now."""
        try:
            state.version(self.engine)
        except Exception:
            return False
        return True

    # Candidates, from the engine.

    def dense_candidates(self, q: np.ndarray, n: int, breadth: int, condition: DocumentCondition | None = None) -> np.ndarray:
        found = self.engine.call(
            "search", self.engine.loaded("passages"), data=[np.asarray(q, np.float32).tolist()], anns_field="vector",
            limit=n, output_fields=["doc"], filter=expressions.of(condition),
            search_params={"metric_type": "IP", "params": {"ef": max(breadth, n)}},
        )  # fmt: skip
        return self._rows_of_hits(found[0] if found else [])

    def lexical_candidates(self, words: Sequence[str], n: int, condition: DocumentCondition | None = None) -> LexicalCandidates:
        """The engine's best by its BM25 (Milvus Lite gives the score negated, as a distance: only
        the order is used), rescored here as the segment store scores them."""
        rows = np.zeros(0, dtype=np.int64)
        if words:
            found = self.engine.call(
                "search", self.engine.loaded("passages"), data=[" ".join(words)], anns_field="sparse", limit=n,
                output_fields=["doc"], filter=expressions.of(condition), search_params={"metric_type": "BM25"},
            )  # fmt: skip
            rows = self._rows_of_hits(found[0] if found else [])
        return LexicalCandidates(rows, lambda some: self.bm25_of(words, some))

    def _rows_of_hits(self, hits: Sequence[Any]) -> np.ndarray:
        """The hits' rows, of committed documents only (a build may be writing others)."""
        rows = np.array([hit["row"] for hit in hits], dtype=np.int64)
        fetched = self._passage_rows.rows(rows.tolist())
        served = self._documents.committed_many(r["doc"] for r in fetched if r)
        return rows[[bool(r) and r["doc"] in served for r in fetched]] if len(rows) else rows

    def words(self, query: str) -> list[str]:
        return tokenize([query])[0]

    def passage_frequency(self, words: Sequence[str]) -> np.ndarray:
        return self.frequencies.of(words, "passages")

    # Signals of given rows, from the rows fetched by key.

    def vectors_of(self, rows: np.ndarray | None) -> np.ndarray:
        return self._passage_rows.vectors(_every(rows).tolist(), self.dimension)

    def sentence_vectors_of(self, rows: np.ndarray | None) -> np.ndarray:
        return self._sentence_rows.vectors(_every(rows).tolist(), self.dimension)

    def token_vectors(self, rows: np.ndarray) -> list[late.Block] | None:
        return None  # the collections keep no token vectors

    def bm25_of(self, query: str | Sequence[str], rows: np.ndarray | None) -> np.ndarray:
        words = self.words(query) if isinstance(query, str) else list(query)
        fetched = self._passage_rows.rows(_every(rows).tolist())
        frequency = lambda w: self.frequencies.of(w, "passages")  # noqa: E731
        return bm25(words, fetched, self.stats.passages, self.stats.passage_average, frequency)

    def sentence_bm25_of(self, query: str | Sequence[str], rows: np.ndarray | None) -> np.ndarray:
        words = self.words(query) if isinstance(query, str) else list(query)
        fetched = self._sentence_rows.rows(_every(rows).tolist())
        frequency = lambda w: self.frequencies.of(w, "sentences")  # noqa: E731
        return bm25(words, fetched, self.stats.sentences, self.stats.sentence_average, frequency)

    def sentences_of(self, rows: np.ndarray | None) -> SentenceMap:
        """The sentence keys of these passages, passage after passage (from their stored spans)."""
        keys: list[int] = []
        starts = []
        for row in self._passage_rows.rows(_every(rows).tolist()):
            starts.append(len(keys))
            start = int(row["start"])
            keys += (sentence_row(row["doc"], start + s, start + e) for s, e, _ in json.loads(row["sentences"]))
        return SentenceMap(np.array(keys, dtype=np.int64), np.array(starts, dtype=np.int64))

    # Records.

    def passage(self, row: int) -> Passage:
        r = self._passage_rows.rows([int(row)])[0]
        if not r:
            raise KeyError(row)
        spans = tuple((int(s), int(e)) for s, e, _ in json.loads(r["sentences"]))
        return Passage(r["id"], r["doc"], int(r["start"]), int(r["end"]), r["text"], spans)

    def row_of(self, passage_id: str) -> int | None:
        row = row_key(passage_id)
        r = self._passage_rows.rows([row])[0]
        return row if r and r["id"] == passage_id and r["doc"] in self._documents else None

    def placement(self, rows: np.ndarray | None) -> Placement:
        """Documents by their place in corpus order (from their commits) and spans."""
        fetched = self._passage_rows.rows(_every(rows).tolist())
        commits = self._documents.committed_many(r["doc"] for r in fetched)
        doc = np.array([commits[r["doc"]].position if r["doc"] in commits else -1 for r in fetched], dtype=np.int64)
        spans = np.array([(r["start"], r["end"]) for r in fetched], dtype=np.int64).reshape(-1, 2)
        return Placement(doc, spans)

    def corpus_file(self, doc_id: str) -> str:
        c = self._documents.committed(doc_id)
        if c is None:
            raise KeyError(doc_id)
        return c.file

    def removed_document(self, doc_id: str) -> str | None:
        return None if doc_id in self._documents else state.tombstone(self.engine, state.REMOVED, doc_id)

    def retired_passage(self, passage_id: str) -> str | None:
        return None if self.row_of(passage_id) is not None else state.tombstone(self.engine, state.RETIRED, passage_id)

    def allowed_rows(self, condition: DocumentCondition) -> np.ndarray:
        """The rows the condition allows, asked of the engine (search never needs them: it pushes
        the condition down; this is for callers that want the list)."""
        found = self.engine.each("passages", ["row", "doc"], filter=expressions.of(condition) or "row >= 0")
        rows = [r for r in found]
        served = self._documents.committed_many(r["doc"] for r in rows)
        return np.sort(np.array([r["row"] for r in rows if r["doc"] in served], dtype=np.int64))
