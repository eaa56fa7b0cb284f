"""Answering a question: the best passages, each with its answering sentence and citation."""

from __future__ import annotations

import copy
import dataclasses
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from . import ranking
from .cleaning import normalize_for_embedding
from .config import Settings
from .documents import Document
from .embedder import Embedder, SentenceTransformerEmbedder, question_encoder
from .onnx_encoder import OnnxEmbedder
from .filters import Filter
from .errors import (
    DocumentGone, DocumentNotFound, IndexMismatchError, InvalidK, InvalidQuery, PassageGone, PassageMoved, PassageNotFound,
)  # fmt: skip
from .index import Index, load_index
from .passages import Passage

# Best passages considered for the results (overlaps and diversity skip some). The pool is the
# same for every k up to MIN_POOL / POOL_PER_RESULT, so a smaller k gives a prefix of a larger k.
POOL_PER_RESULT = 4
# Refused in a question: control characters (tab and line breaks are fine) and lone surrogates.
CONTROLS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f"
CONTROL_CHARACTERS = re.compile(f"[{CONTROLS}\ud800-\udfff]")
MIN_POOL = 400


@dataclass(frozen=True)
class Hit:
    rank: int
    score: float  # the ranking score: higher is better, comparable within one question only
    passage: Passage
    document: Document
    highlight: tuple[int, int]  # the answering sentence, as offsets inside passage.text
    similarity: float = 0.0  # best cosine of the question and the passage or one of its sentences

    def to_dict(self) -> dict:
        """The HTTP result shape (also what `qa ask --json` prints)."""
        return {
            "rank": self.rank,
            "score": round(self.score, 4),
            "passage_id": self.passage.id,
            "text": self.passage.text,
            "document": self.document.ref(),
            "start": self.passage.start,
            "end": self.passage.end,
            "highlight": {"start": self.highlight[0], "end": self.highlight[1]},
            "similarity": round(self.similarity, 4),
        }


@dataclass(frozen=True)
class SearchResult:
    query: str
    hits: list[Hit]
    abstained: bool
    confidence: float = field(default=0.0)  # the top hit's best cosine, what abstention is decided on
    took_ms: float = field(default=0.0)

    def to_dict(self) -> dict:
        return {
            "query": self.query,
            "results": [h.to_dict() for h in self.hits],
            "abstained": self.abstained,
            "confidence": round(self.confidence, 4),
            "took_ms": round(self.took_ms, 2),
        }


class Searcher:
    """An open index and the model that encodes questions for it. Safe to share between threads."""

    def __init__(self, index: Index, embedder: Embedder, settings: Settings) -> None:
        if embedder.dimension != index.vectors.shape[1]:
            raise IndexMismatchError(
                f"model {embedder.name!r} gives {embedder.dimension}-d vectors, the index holds "
                f"{index.vectors.shape[1]}-d: rebuild it with `qa build`"
            )
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self._passage_vectors = index.vectors
        self._sentences = index.sentence_rows
        self._passage_of_sentence: np.ndarray | None = None  # made on first use, by a large index
        self._lock = threading.Lock()  # torch and BLAS calls are serialised; both use all cores
        self._models: dict[str, Embedder | None] = {}  # shared by copies: the passage encoder, once loaded

    @classmethod
    def open(cls, settings: Settings | None = None, embedder: Embedder | None = None) -> "Searcher":
        settings = settings or Settings.load()
        index = load_index(Path(settings.index_dir), model=settings.model)
        if embedder is None:
            embedder = question_encoder(
                settings.model, settings.torch_threads, settings.query_encoder, Path(settings.index_dir), index.manifest
            )
        return cls(index, embedder, settings)

    def passage_encoder(self) -> Embedder:
        """The model that encodes passages for a rebuild: the torch model (loaded on first use when
        questions are encoded by the ONNX export, so that passage vectors never change kind)."""
        if not isinstance(self.embedder, OnnxEmbedder):
            return self.embedder
        with self._lock:
            if self._models.get("passages") is None:
                self._models["passages"] = SentenceTransformerEmbedder(
                    self.settings.model, self.settings.torch_threads, self.settings.build_precision
                )
            return self._models["passages"]

    def with_index(self, index: Index) -> "Searcher":
        """Another index searched with the same model, settings and lock (the model and the stemmer
        must never run in two threads at once, whichever index a request is answered from)."""
        other = Searcher(index, self.embedder, self.settings)
        other._lock, other._models = self._lock, self._models
        return other

    def with_settings(self, **changes: object) -> "Searcher":
        """The same open index and model with other query-time settings (ranking, diversity...)."""
        other = copy.copy(self)  # shares the index, vectors, model and lock
        other.settings = self.settings.replace(**changes)
        return other

    def search(self, query: str, k: int | None = None, filter: Filter | None = None) -> SearchResult:
        """The best `k` passages for `query` (default `settings.default_k`), from the documents
        `filter` allows (applied before ranking)."""
        return self.search_many([query], k, filter)[0]

    def search_many(
        self, queries: Sequence[str], k: int | None = None, filter: Filter | None = None
    ) -> list[SearchResult]:
        """Answer several questions at once (their encoding is batched); every one is checked first."""
        started = time.perf_counter()
        queries = [self.check_query(q) for q in queries]
        k = self.check_k(k)
        with self._lock:
            vectors = self.embedder.encode([normalize_for_embedding(q) for q in queries])
        rows = self._allowed_rows(filter)
        encoded_ms = (time.perf_counter() - started) * 1000 / max(len(queries), 1)
        results = []
        for query, vector in zip(queries, vectors):
            began = time.perf_counter()
            result = self._answer(query, vector, k, rows)
            took = encoded_ms + (time.perf_counter() - began) * 1000
            results.append(dataclasses.replace(result, took_ms=took))
        return results

    def _allowed_rows(self, filter: Filter | None) -> np.ndarray | None:
        """The passage rows a filter allows (None: all)."""
        if not filter:
            return None
        documents = self.index.documents
        allowed = [n for n, doc in enumerate(documents.values()) if filter.allows(doc)]
        return np.flatnonzero(np.isin(self.index.passages.doc, allowed)).astype(np.int64)

    def _answer(self, query: str, vector: np.ndarray, k: int, rows: np.ndarray | None) -> SearchResult:
        if rows is not None and not len(rows):
            return SearchResult(query=query, hits=[], abstained=True, confidence=0.0)
        if rows is None and len(self.index.passages) >= self.settings.ann_min_passages:
            rows, signals = self._candidate_signals(query, vector)
        else:
            signals = self.signals(query, vector)
        candidates = signals if rows is None else {name: signals[name][rows] for name in ranking.SIGNALS}
        row = (lambda r: r) if rows is None else (lambda r: int(rows[r]))
        fused = ranking.fuse(candidates, ranking.WEIGHTS[self.settings.ranking])
        passages = self.index.passages
        chosen = [(row(r), score) for r, score in ranking.diverse_top(
            fused,
            k,
            doc_of=lambda r: int(passages.doc[row(r)]),
            clashes=lambda a, b: passages.overlaps(row(a), row(b)),
            penalty=self.settings.source_diversity,
            pool=max(k * POOL_PER_RESULT, MIN_POOL),
        )]  # fmt: skip
        sentence_scores = self._sentence_scores(signals)
        hits = [self._hit(rank, score, row, signals, sentence_scores) for rank, (row, score) in enumerate(chosen, 1)]
        confidence = hits[0].similarity if hits else 0.0
        return SearchResult(
            query=query, hits=hits, abstained=confidence < self.settings.abstain_threshold, confidence=confidence
        )

    def document(self, doc_id: str) -> Document:
        if doc_id in self.index.documents:
            return self.index.documents[doc_id]
        removed = self.index.manifest.get("removed_documents", {}).get(doc_id)
        if removed:
            raise DocumentGone(f"document {doc_id!r} was removed from these documents ({removed})")
        raise DocumentNotFound(f"no document with id {doc_id!r}")

    def passage(self, passage_id: str) -> tuple[Passage, Document]:
        """A passage by its id, for checking an old citation: it is still served, or it says why not."""
        row = self.index.passages.row_of(passage_id)
        if row is not None:
            passage = self.index.passages[row]
            return passage, self.index.documents[passage.doc_id]
        doc_id = self.index.manifest.get("retired_passages", {}).get(passage_id)
        if doc_id is None:
            raise PassageNotFound(f"no passage with id {passage_id!r}")
        if doc_id in self.index.documents:
            raise PassageMoved(f"passage {passage_id!r} is no longer served: document {doc_id!r} has changed since")
        raise PassageGone(f"passage {passage_id!r} is no longer served: document {doc_id!r} was removed")

    def check_query(self, query: object) -> str:
        if not isinstance(query, str) or not query.strip():
            raise InvalidQuery("the question is missing or empty")
        if len(query) > self.settings.max_query_chars:
            raise InvalidQuery(f"the question is longer than {self.settings.max_query_chars} characters")
        if CONTROL_CHARACTERS.search(query):
            raise InvalidQuery("the question contains control characters (such as NUL) or a lone surrogate")
        return query.strip()

    def check_k(self, k: object) -> int:
        if k is None:
            return self.settings.default_k
        if isinstance(k, float) and k.is_integer():  # JSON does not tell 4 from 4.0
            k = int(k)
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= self.settings.max_k:
            raise InvalidK(f"k must be an integer from 1 to {self.settings.max_k}")
        return k

    def signals(self, query: str, q: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Every passage's four ranking signals, plus every sentence's own scores (for highlights).

        `q` is the encoded question, when it is already at hand."""
        with self._lock:  # also guards the stemmer, which must not run in two threads at once
            if q is None:
                q = self.embedder.encode([normalize_for_embedding(query)])[0]
            sentence_dense = self.index.sentence_vectors @ q
            passage_dense = self._passage_vectors @ q
            sentence_bm25 = self.index.sentence_lexical.scores(query)
            passage_bm25 = self.index.lexical.scores(query)
        return {
            "dense": passage_dense,
            "dense_sentence": self._sentences.best(sentence_dense),
            "bm25": passage_bm25,
            "bm25_sentence": self._sentences.best(sentence_bm25),
            "sentence_dense": sentence_dense,
            "sentence_bm25": sentence_bm25,
        }

    def _candidate_signals(self, query: str, q: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """For a large index: the passages worth ranking (the best by cosine from the HNSW graphs,
        by BM25, and those holding the best sentences by BM25, MIN_POOL of each) and their signals,
        normalised over these candidates only. Arrays are full-size; other rows hold -inf."""
        with self._lock:  # the stemmer must not run in two threads at once
            passage_bm25, best_passages = self.index.lexical.ranked(query, MIN_POOL)
            sentence_bm25, best_sentences = self.index.sentence_lexical.ranked(query, MIN_POOL)
        rows = np.unique(np.concatenate([
            self.index.nearest.search(q, MIN_POOL, self.settings.ann_ef_search),
            best_passages,
            self._passage_of(best_sentences),
        ]))  # fmt: skip
        sentences, starts = self._sentences.of_passages(rows)
        sentence_dense = np.full(len(self.index.sentence_vectors), -np.inf, dtype=np.float32)
        sentence_dense[sentences] = self.index.sentence_vectors[sentences] @ q
        dense = np.full(len(self.index.passages), -np.inf, dtype=np.float32)
        dense[rows] = self._passage_vectors[rows] @ q
        dense_sentence, bm25_sentence = np.full_like(dense, -np.inf), np.full_like(dense, -np.inf)
        dense_sentence[rows] = np.maximum.reduceat(sentence_dense[sentences], starts)
        bm25_sentence[rows] = np.maximum.reduceat(sentence_bm25[sentences], starts)
        return rows, {
            "dense": dense, "dense_sentence": dense_sentence, "bm25": passage_bm25, "bm25_sentence": bm25_sentence,
            "sentence_dense": sentence_dense, "sentence_bm25": sentence_bm25, "sentences": sentences,
        }  # fmt: skip

    def _passage_of(self, sentences: np.ndarray) -> np.ndarray:
        """A passage holding each of these sentence rows."""
        if self._passage_of_sentence is None:
            self._passage_of_sentence = self._sentences.passage_of(len(self.index.sentence_vectors))
        return self._passage_of_sentence[sentences]

    def _sentence_scores(self, signals: dict[str, np.ndarray]) -> np.ndarray:
        """How well each sentence answers (to pick a hit's highlight): over all sentences, or over
        the candidates' sentences only (`signals["sentences"]`; -inf elsewhere)."""
        weights = ranking.sentence_weights(self.settings.ranking)
        if "sentences" not in signals:
            return ranking.fuse(signals, weights)
        rows = signals["sentences"]
        scores = np.full(len(self.index.sentence_vectors), -np.inf)
        scores[rows] = ranking.fuse({name: signals[name][rows] for name in weights}, weights)
        return scores

    def _hit(
        self, rank: int, score: float, row: int, signals: dict[str, np.ndarray], sentence_scores: np.ndarray
    ) -> Hit:
        passage = self.index.passages[row]
        best = int(np.argmax(sentence_scores[self._sentences[row]]))
        return Hit(
            rank=rank,
            score=score,
            passage=passage,
            document=self.index.documents[passage.doc_id],
            highlight=passage.sentences[best],
            similarity=float(max(signals["dense"][row], signals["dense_sentence"][row])),
        )
