"""`MilvusIndex`: an index served by Milvus, as search sees it (`qa.index.backend.IndexBackend`).

On open, a compact row table is read (each passage's id, document, span, token count and
sentence spans, as numpy) with the documents' metadata; vectors, terms and texts are fetched by
primary key for the candidate rows of a question only, and a document's text when it is shown.
Candidates come from the engine (dense top-N by inner product, BM25 top-N from its sparse
index), with a filter pushed down as an expression in each request; the signals of the
candidates are then computed here exactly as the segment store computes them (qa's BM25 from
the stored tokens and the engine's document frequencies), so both backends rank alike.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from ...errors import IndexMismatchError, IndexMissingError
from ...ingest.documents import Document
from ...ingest.passages import Passage
from ..backend import DocumentCondition, LexicalCandidates, Placement
from ..lexical import tokenize
from ..manifest import Manifest, mismatch
from ..records import Recent
from ..rows import SentenceMap
from . import expressions, state
from .engine import Engine
from .lexical import EngineBM25, Fetched
from .schema import sentence_key


class Documents(Mapping[str, Document]):
    """The committed documents by id, in corpus order; texts read from the engine when asked (a few kept)."""

    def __init__(self, engine: Engine, committed: dict[str, state.Committed]) -> None:
        self.engine, self.committed = engine, committed
        self._positions = {doc_id: n for n, doc_id in enumerate(committed)}
        self._texts: Recent[str, Document] = Recent(32)

    def __len__(self) -> int:
        return len(self.committed)

    def __iter__(self) -> Iterator[str]:
        return iter(self.committed)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self.committed

    def __getitem__(self, doc_id: str) -> Document:
        found = self._texts.get(doc_id)
        if found is None:
            c = self.committed[doc_id]
            found = self._texts.put(doc_id, dataclasses.replace(c.doc, text=state.document_text(self.engine, doc_id, c.chunks)))
        return found

    def position(self, doc_id: str) -> int:
        return self._positions[doc_id]


@dataclasses.dataclass
class RowTable:
    """The passages in corpus order, and their sentences (one per passage's sentence, in order)."""

    ids: list[str]
    doc: np.ndarray  # int64: the document's position
    spans: np.ndarray  # int64 (passages, 2)
    lengths: np.ndarray  # int64: BM25 tokens
    sentences: SentenceMap
    sentence_spans: np.ndarray  # int64 (sentences, 2): relative to the passage
    sentence_lengths: np.ndarray
    distinct_sentences: np.ndarray  # the lengths of the distinct sentences (the sentences' BM25 averages these)
    passage_df: Counter[str]  # how many served passages hold each word
    sentence_df: Counter[str]  # how many served sentences hold each word

    @classmethod
    def read(cls, engine: Engine, documents: Documents) -> RowTable:
        rows = list(engine.each("passages", ["id", "doc", "start", "end", "length", "sentences", "terms"]))
        rows = [r for r in rows if r["doc"] in documents]  # a document being written is not served until committed
        passage_df = _frequencies(r["terms"] for r in rows)
        sentence_df = _frequencies(r["terms"] for r in engine.each("sentences", ["doc", "terms"]) if r["doc"] in documents)
        rows.sort(key=lambda r: (documents.position(r["doc"]), r["start"], r["end"]))
        sentences = [json.loads(r["sentences"]) for r in rows]
        flat = np.array([s for mine in sentences for s in mine], dtype=np.int64).reshape(-1, 3)
        doc = np.array([documents.position(r["doc"]) for r in rows], dtype=np.int64)
        spans = np.array([(r["start"], r["end"]) for r in rows], dtype=np.int64).reshape(-1, 2)
        owner = np.repeat(np.arange(len(rows)), [len(m) for m in sentences])
        absolute = np.stack([doc[owner], flat[:, 0] + spans[owner, 0], flat[:, 1] + spans[owner, 0]], axis=1)
        _, first = np.unique(absolute, axis=0, return_index=True) if len(flat) else (None, np.zeros(0, np.int64))
        return cls(
            [r["id"] for r in rows],
            doc,
            spans,
            np.array([r["length"] for r in rows], dtype=np.int64),
            SentenceMap(np.arange(len(flat), dtype=np.int64), _starts([len(m) for m in sentences])),
            flat[:, :2],
            flat[:, 2],
            flat[first, 2],
            passage_df,
            sentence_df,
        )


def _frequencies(texts: Iterable[str]) -> Counter[str]:
    """How many of these token lists (space-separated) hold each word."""
    df: Counter[str] = Counter()
    for text in texts:
        df.update(set(text.split()))
    return df


def _starts(lengths: list[int]) -> np.ndarray:
    starts = np.zeros(len(lengths), dtype=np.int64)
    if len(lengths) > 1:
        np.cumsum(lengths[:-1], out=starts[1:])
    return starts


class MilvusIndex:
    """A build in Milvus, opened for searching (see the module docstring)."""

    candidates_only = True  # always the candidate path, with filters pushed down to the engine
    folder = None  # no build folder on this machine

    def __init__(self, engine: Engine, manifest: Manifest, version: str) -> None:
        self.engine, self.manifest, self._version = engine, manifest, version
        self._documents = Documents(engine, state.committed(engine))
        self.rows = RowTable.read(engine, self._documents)
        self._row_of = {pid: n for n, pid in enumerate(self.rows.ids)}
        self._doc_ids = list(self._documents.committed)
        self.passages = EngineBM25(self.rows.passage_df, self.rows.lengths, len(self.rows.ids))
        self.sentences = EngineBM25(self.rows.sentence_df, self.rows.sentence_lengths, len(self.rows.distinct_sentences),
                                    self.rows.distinct_sentences)  # fmt: skip
        self._passage_rows = Fetched(engine, "passages", ["id", "vector", "terms", "text"], 8192)
        self._sentence_rows = Fetched(engine, "sentences", ["id", "vector", "terms"], 32768)

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
        return cls(engine, manifest, manifest.index_version)

    @property
    def version(self) -> str:
        return self._version

    @property
    def dimension(self) -> int:
        return self.manifest.dimension

    @property
    def passage_count(self) -> int:
        return len(self.rows.ids)

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
            limit=n, filter=expressions.of(condition), search_params={"metric_type": "IP", "params": {"ef": max(breadth, n)}},
        )  # fmt: skip
        return self._rows_of_hits(found[0] if found else [])

    def lexical_candidates(self, words: Sequence[str], n: int, condition: DocumentCondition | None = None) -> LexicalCandidates:
        """The engine's best by its BM25 (Milvus Lite gives the score negated, as a distance: only
        the order is used), rescored here as the segment store scores them."""
        rows = np.zeros(0, dtype=np.int64)
        if words:
            found = self.engine.call(
                "search", self.engine.loaded("passages"), data=[" ".join(words)], anns_field="sparse", limit=n,
                filter=expressions.of(condition), search_params={"metric_type": "BM25"},
            )  # fmt: skip
            rows = self._rows_of_hits(found[0] if found else [])
        return LexicalCandidates(rows, lambda some: self.bm25_of(words, some))

    def _rows_of_hits(self, hits: Sequence[Any]) -> np.ndarray:
        rows = [self._row_of.get(hit["id"]) for hit in hits]
        return np.array([r for r in rows if r is not None], dtype=np.int64)  # rows written since this opened: not yet

    def words(self, query: str) -> list[str]:
        return tokenize([query])[0]

    def passage_frequency(self, words: Sequence[str]) -> np.ndarray:
        return np.array([self.passages.frequency(w) for w in words], dtype=np.int64)

    # Signals of given rows, from the rows fetched by primary key.

    def _ids(self, rows: np.ndarray | None) -> list[str]:
        return list(self.rows.ids) if rows is None else [self.rows.ids[int(r)] for r in rows]

    def _sentence_ids(self, rows: np.ndarray | None) -> list[str]:
        rows = np.arange(len(self.rows.sentence_spans)) if rows is None else np.asarray(rows, np.int64)
        owner = np.searchsorted(self.rows.sentences.starts, rows, side="right") - 1
        start = self.rows.spans[owner, 0] + self.rows.sentence_spans[rows, 0]
        end = self.rows.spans[owner, 0] + self.rows.sentence_spans[rows, 1]
        return [sentence_key(self._doc_ids[d], int(s), int(e)) for d, s, e in zip(self.rows.doc[owner], start, end, strict=True)]

    def vectors_of(self, rows: np.ndarray | None) -> np.ndarray:
        return self._passage_rows.vectors(self._ids(rows), self.dimension)

    def sentence_vectors_of(self, rows: np.ndarray | None) -> np.ndarray:
        return self._sentence_rows.vectors(self._sentence_ids(rows), self.dimension)

    def bm25_of(self, query: str | Sequence[str], rows: np.ndarray | None) -> np.ndarray:
        words = self.words(query) if isinstance(query, str) else list(query)
        rows = np.arange(self.passage_count) if rows is None else np.asarray(rows, np.int64)
        return self.passages.scores(words, rows, self._passage_rows.terms(self._ids(rows)))

    def sentence_bm25_of(self, query: str | Sequence[str], rows: np.ndarray | None) -> np.ndarray:
        words = self.words(query) if isinstance(query, str) else list(query)
        rows = np.arange(len(self.rows.sentence_spans)) if rows is None else np.asarray(rows, np.int64)
        return self.sentences.scores(words, rows, self._sentence_rows.terms(self._sentence_ids(rows)))

    def sentences_of(self, rows: np.ndarray | None) -> SentenceMap:
        return self.rows.sentences if rows is None else SentenceMap(*self.rows.sentences.of_passages(np.asarray(rows)))

    # Records.

    def passage(self, row: int) -> Passage:
        pid = self.rows.ids[row]
        text = self._passage_rows.text(pid)
        start, end = (int(x) for x in self.rows.spans[row])
        lo, hi = self.rows.sentences.starts[row], self._sentence_end(row)
        spans = tuple((int(s), int(e)) for s, e in self.rows.sentence_spans[lo:hi])
        return Passage(pid, self._doc_ids[int(self.rows.doc[row])], start, end, text, spans)

    def _sentence_end(self, row: int) -> int:
        starts = self.rows.sentences.starts
        return int(starts[row + 1]) if row + 1 < len(starts) else len(self.rows.sentence_spans)

    def row_of(self, passage_id: str) -> int | None:
        return self._row_of.get(passage_id)

    def placement(self, rows: np.ndarray | None) -> Placement:
        if rows is None:
            return Placement(self.rows.doc, self.rows.spans)
        return Placement(self.rows.doc[rows], self.rows.spans[rows])

    def corpus_file(self, doc_id: str) -> str:
        return self._documents.committed[doc_id].file

    def removed_document(self, doc_id: str) -> str | None:
        return None if doc_id in self._documents else state.tombstone(self.engine, state.REMOVED, doc_id)

    def retired_passage(self, passage_id: str) -> str | None:
        return None if passage_id in self._row_of else state.tombstone(self.engine, state.RETIRED, passage_id)

    def allowed_rows(self, condition: DocumentCondition) -> np.ndarray:
        allowed = [n for n, c in enumerate(self._documents.committed.values()) if condition.allows(c.doc)]
        return np.flatnonzero(np.isin(self.rows.doc, allowed)).astype(np.int64)
