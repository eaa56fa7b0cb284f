"""Answering a question: the best passages, each with its answering sentence and citation."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .cleaning import normalize_for_embedding
from .config import Settings
from .documents import Document
from .embedder import Embedder, SentenceTransformerEmbedder
from .errors import DocumentNotFound, IndexMismatchError, InvalidK, InvalidQuery
from .index import Index, load_index
from .passages import Passage

CANDIDATES_PER_RESULT = 3  # candidates fetched per result asked for, so overlapping ones can be skipped


@dataclass(frozen=True)
class Hit:
    rank: int
    score: float
    passage: Passage
    document: Document
    highlight: tuple[int, int]  # the answering sentence, as offsets inside passage.text

    def to_dict(self) -> dict:
        """The HTTP result shape (also what `qa ask --json` prints)."""
        return {
            "rank": self.rank,
            "score": round(self.score, 4),
            "passage_id": self.passage.id,
            "text": self.passage.text,
            "document": {"id": self.document.id, "title": self.document.title, "source": self.document.source},
            "start": self.passage.start,
            "end": self.passage.end,
            "highlight": {"start": self.highlight[0], "end": self.highlight[1]},
        }


@dataclass(frozen=True)
class SearchResult:
    query: str
    hits: list[Hit]
    abstained: bool
    took_ms: float = field(default=0.0)

    def to_dict(self) -> dict:
        return {
            "query": self.query,
            "results": [h.to_dict() for h in self.hits],
            "abstained": self.abstained,
            "took_ms": round(self.took_ms, 2),
        }


class Searcher:
    """An open index and the model that encodes questions for it. Safe to share between threads."""

    def __init__(self, index: Index, embedder: Embedder, settings: Settings) -> None:
        if embedder.dimension != index.vectors.d:
            raise IndexMismatchError(
                f"model {embedder.name!r} gives {embedder.dimension}-d vectors, the index holds "
                f"{index.vectors.d}-d: rebuild it with `qa build`"
            )
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self._lock = threading.Lock()  # torch and FAISS calls are serialised; both use all cores

    @classmethod
    def open(cls, settings: Settings | None = None, embedder: Embedder | None = None) -> "Searcher":
        settings = settings or Settings.load()
        index = load_index(Path(settings.index_dir), model=settings.model)
        embedder = embedder or SentenceTransformerEmbedder(settings.model, settings.torch_threads)
        return cls(index, embedder, settings)

    def search(self, query: str, k: int | None = None) -> SearchResult:
        started = time.perf_counter()
        query = self.check_query(query)
        k = self.check_k(k)
        with self._lock:
            q = self.embedder.encode([normalize_for_embedding(query)])
            scores, rows = self.index.vectors.search(q, min(k * CANDIDATES_PER_RESULT, self.index.vectors.ntotal))
        ranked = [(float(score), int(row)) for score, row in zip(scores[0], rows[0]) if row >= 0]
        chosen = self._without_overlaps(ranked, k)
        hits = [self._hit(rank, score, row, q[0]) for rank, (score, row) in enumerate(chosen, 1)]
        abstained = not hits or hits[0].score < self.settings.abstain_threshold
        took = (time.perf_counter() - started) * 1000
        return SearchResult(query=query, hits=hits, abstained=abstained, took_ms=took)

    def document(self, doc_id: str) -> Document:
        try:
            return self.index.documents[doc_id]
        except KeyError:
            raise DocumentNotFound(f"no document with id {doc_id!r}") from None

    def check_query(self, query: object) -> str:
        if not isinstance(query, str) or not query.strip():
            raise InvalidQuery("the question is missing or empty")
        if len(query) > self.settings.max_query_chars:
            raise InvalidQuery(f"the question is longer than {self.settings.max_query_chars} characters")
        return query.strip()

    def check_k(self, k: object) -> int:
        if k is None:
            return self.settings.default_k
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= self.settings.max_k:
            raise InvalidK(f"k must be an integer from 1 to {self.settings.max_k}")
        return k

    def _without_overlaps(self, ranked: list[tuple[float, int]], k: int) -> list[tuple[float, int]]:
        """Top k, skipping a passage that overlaps a better one of the same document (overlapping
        passages share sentences); skipped ones fill in only when too few others remain."""
        kept: list[tuple[float, int]] = []
        skipped: list[tuple[float, int]] = []
        for score, row in ranked:
            passage = self.index.passages[row]
            clash = any(passage.overlaps(self.index.passages[r]) for _, r in kept)
            (skipped if clash else kept).append((score, row))
            if len(kept) == k:
                break
        return sorted(kept + skipped[: k - len(kept)], key=lambda pair: -pair[0])

    def _hit(self, rank: int, score: float, row: int, query_vector: np.ndarray) -> Hit:
        passage = self.index.passages[row]
        sentence_rows = self.index.sentence_rows[row]
        best = int(np.argmax(self.index.sentence_vectors[sentence_rows] @ query_vector))
        return Hit(
            rank=rank,
            score=score,
            passage=passage,
            document=self.index.documents[passage.doc_id],
            highlight=passage.sentences[best],
        )
