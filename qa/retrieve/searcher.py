"""Answering a question: the best passages, each with its answering sentence and citation."""

from __future__ import annotations

import copy
import dataclasses
import functools
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..config import ANY_LANGUAGE, Settings
from ..encode import cpu
from ..encode.embedder import Embedder, passage_encoder, question_encoder
from ..encode.onnx import OnnxEmbedder
from ..errors import DocumentGone, DocumentNotFound, IndexMismatchError, PassageGone, PassageMoved, PassageNotFound
from ..index import provenance
from ..index.load import Index, load_index
from ..index.records import Recent
from ..index.rows import SentenceMap
from ..ingest.cleaning import normalize_for_embedding
from ..ingest.documents import Document
from ..ingest.passages import Passage
from . import language, queries, ranking
from .fair_lock import FairLock
from .filters import Filter

# Best passages considered for the results (overlaps and diversity skip some). The pool is the
# same for every k up to MIN_POOL / POOL_PER_RESULT, so a smaller k gives a prefix of a larger k.
POOL_PER_RESULT = 4
MIN_POOL = 400
REMEMBERED_FILTERS = 64
# Why a result abstained ("" when it did not): no hit close enough, a question confidently not in
# the model's language (settings.model_language), or a filter that allows no passage.
ABSTAIN_REASONS = ("", "confidence", "language", "filter")


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
    language: str = ""  # the question's language (ISO 639-1), "" when unsure or not checked
    abstain_reason: str = ""  # one of ABSTAIN_REASONS
    abstain_message: str = ""  # the reason, in a sentence for people

    def to_dict(self) -> dict:
        return {
            "query": self.query,
            "results": [h.to_dict() for h in self.hits],
            "abstained": self.abstained,
            "abstain_reason": self.abstain_reason,
            "abstain_message": self.abstain_message,
            "confidence": round(self.confidence, 4),
            "language": self.language,
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
        self._sentences = index.sentence_rows
        self._allowed: Recent[Filter, np.ndarray] = Recent(REMEMBERED_FILTERS)  # the rows of recent filters
        self._lock = FairLock()  # torch and BLAS calls are serialised (both use all cores), first come first served
        self._models: dict[str, Embedder | None] = {}  # shared by copies: the passage encoder, once loaded

    @classmethod
    def open(cls, settings: Settings | None = None, embedder: Embedder | None = None) -> Searcher:
        settings = settings or Settings.load()
        if settings.model_language != ANY_LANGUAGE:
            language.preload()  # while the index and the encoder load
        index = load_index(Path(settings.index_dir), model=settings.model)
        settings = provenance.with_recorded_corpus(settings, index.manifest)  # what a rebuild reads
        if embedder is None:
            encoders = index.manifest.query_encoder
            embedder = question_encoder(
                settings.model, settings.torch_threads, settings.query_encoder, Path(settings.index_dir), encoders
            )
        return cls(index, embedder, settings)

    def encoder_info(self) -> dict[str, str]:
        """What encodes questions here and why (an ONNX tier, or torch and the reason)."""
        tier = getattr(self.embedder, "tier", type(self.embedder).__name__)
        return {"tier": tier, "why": getattr(self.embedder, "why", ""), "cpu": cpu.describe()}

    def passage_encoder(self) -> Embedder:
        """The model that encodes passages for a rebuild in this process: the fp32 ONNX export or
        torch (loaded on first use when questions are encoded by an ONNX tier); see
        `embedder.passage_encoder`."""
        if not isinstance(self.embedder, OnnxEmbedder):
            return self.embedder
        with self._lock:
            if self._models.get("passages") is None:
                self._models["passages"] = passage_encoder(self.settings, threads=beside_searches())
            return self._models["passages"]

    def with_index(self, index: Index) -> Searcher:
        """Another index searched with the same model, settings and lock (the model and the stemmer
        must never run in two threads at once, whichever index a request is answered from)."""
        other = Searcher(index, self.embedder, self.settings)
        other._lock, other._models = self._lock, self._models
        return other

    def with_settings(self, **changes: object) -> Searcher:
        """The same open index and model with other query-time settings (ranking, diversity...)."""
        other = copy.copy(self)  # shares the index, vectors, model and lock
        other.settings = self.settings.replace(**changes)
        return other

    def search(self, query: str, k: int | None = None, filter: Filter | None = None) -> SearchResult:
        """The best `k` passages for `query` (default `settings.default_k`), from the documents
        `filter` allows (applied before ranking)."""
        return self.search_many([query], k, filter)[0]

    def search_many(self, queries: Sequence[str], k: int | None = None, filter: Filter | None = None) -> list[SearchResult]:
        """Answer several questions at once (their encoding is batched); every one is checked first."""
        started = time.perf_counter()
        queries = [self.check_query(q) for q in queries]
        k = self.check_k(k)
        vectors = self._encode([normalize_for_embedding(q) for q in queries])
        rows = self._allowed_rows(filter)
        encoded_ms = (time.perf_counter() - started) * 1000 / max(len(queries), 1)
        results = []
        for query, vector in zip(queries, vectors):
            began = time.perf_counter()
            result = self._answer(query, vector, k, rows)
            if self.settings.model_language != ANY_LANGUAGE:
                result = self._check_language(result)
            took = encoded_ms + (time.perf_counter() - began) * 1000
            results.append(dataclasses.replace(result, took_ms=took))
        return results

    def _encode(self, texts: list[str]) -> np.ndarray:
        """The questions' vectors, encoded in chunks of about one longest question's characters,
        each under the (fair) lock: a question asked meanwhile waits for one chunk, not the batch."""
        chunks: list[list[str]] = [[]]
        for text in texts:
            if chunks[-1] and sum(map(len, chunks[-1])) + len(text) > self.settings.max_query_chars:
                chunks.append([])
            chunks[-1].append(text)
        vectors = []
        for chunk in chunks:
            with self._lock:
                vectors.append(self.embedder.encode(chunk))
        return np.concatenate(vectors)

    def _allowed_rows(self, filter: Filter | None) -> np.ndarray | None:
        """The passage rows a filter allows (None: all). A filter on ids alone looks them up;
        one on sources or dates reads every document once, and is then remembered."""
        if not filter:
            return None
        remembered = self._allowed.get(filter)
        if remembered is not None:
            return remembered
        documents = self.index.documents
        if filter.source or filter.date_from or filter.date_to:
            allowed = [n for n, doc in enumerate(documents.values()) if filter.allows(doc)]
        else:
            allowed = [documents.position(i) for i in dict.fromkeys(filter.doc_ids) if i in documents]
        return self._allowed.put(filter, np.flatnonzero(np.isin(self.index.passages.doc, allowed)).astype(np.int64))

    def _answer(self, query: str, vector: np.ndarray, k: int, rows: np.ndarray | None) -> SearchResult:
        if rows is not None and not len(rows):
            message = "No passage matches the filter."
            return SearchResult(query, [], True, 0.0, abstain_reason="filter", abstain_message=message)
        if len(self.index.passages) >= self.settings.ann_min_passages:
            scored = self._candidates(query, vector, rows)
        else:
            scored = self._scored(self.signals(query, vector), rows)
        at = (lambda i: i) if scored.rows is None else (lambda i: int(scored.rows[i]))  # type: ignore[index]
        fused = ranking.fuse(scored.passages, ranking.WEIGHTS[self.settings.ranking])
        passages = self.index.passages
        chosen = ranking.diverse_top(
            fused,
            k,
            doc_of=lambda i: int(passages.doc[at(i)]),
            clashes=lambda a, b: passages.overlaps(at(a), at(b)),
            penalty=self.settings.source_diversity,
            pool=max(k * POOL_PER_RESULT, MIN_POOL),
        )
        hits = [self._hit(rank, score, at(i), i, scored) for rank, (i, score) in enumerate(chosen, 1)]
        confidence = hits[0].similarity if hits else 0.0
        if confidence >= self.settings.abstain_threshold:
            return SearchResult(query=query, hits=hits, abstained=False, confidence=confidence)
        threshold = self.settings.abstain_threshold
        message = f"No passage is close enough to the question (confidence {confidence:.2f}, below {threshold:g})."
        return SearchResult(query, hits, True, confidence, abstain_reason="confidence", abstain_message=message)

    def _check_language(self, result: SearchResult) -> SearchResult:
        """The result with the question's language; abstained (hits kept) when it is confidently
        not the model's language, whatever the confidence."""
        model_language = self.settings.model_language
        detected = language.detect(result.query, model_language)
        if not detected.foreign or result.abstain_reason == "filter":
            return dataclasses.replace(result, language=detected.language)
        return dataclasses.replace(
            result, language=detected.language, abstained=True, abstain_reason="language",
            abstain_message=language.explain(detected, model_language),
        )  # fmt: skip

    def document(self, doc_id: str) -> Document:
        if doc_id in self.index.documents:
            return self.index.documents[doc_id]
        removed = self.index.manifest.removed_documents.get(doc_id)
        if removed:
            raise DocumentGone(f"document {doc_id!r} was removed from these documents ({removed})")
        raise DocumentNotFound(f"no document with id {doc_id!r}")

    def passage(self, passage_id: str) -> tuple[Passage, Document]:
        """A passage by its id, for checking an old citation: it is still served, or it says why not."""
        row = self.index.passages.row_of(passage_id)
        if row is not None:
            passage = self.index.passages[row]
            return passage, self.index.documents[passage.doc_id]
        doc_id = self.index.manifest.retired_passages.get(passage_id)
        if doc_id is None:
            raise PassageNotFound(f"no passage with id {passage_id!r}")
        if doc_id in self.index.documents:
            raise PassageMoved(f"passage {passage_id!r} is no longer served: document {doc_id!r} has changed since")
        raise PassageGone(f"passage {passage_id!r} is no longer served: document {doc_id!r} was removed")

    def check_query(self, query: object) -> str:
        return queries.check_query(query, self.settings)

    def check_k(self, k: object) -> int:
        return queries.check_k(k, self.settings)

    def signals(self, query: str, q: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Every passage's four ranking signals, plus every sentence's own scores (for highlights).

        `q` is the encoded question, when it is already at hand."""
        with self._lock:  # the model and BLAS use every core: one question at a time
            if q is None:
                q = self.embedder.encode([normalize_for_embedding(query)])[0]
            sentence_dense = self.index.sentence_vectors @ q
            passage_dense = self.index.vectors @ q
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

    def _scored(self, signals: dict[str, np.ndarray], rows: np.ndarray | None) -> Scored:
        """Every passage's signals, kept for these rows (None: all), and every sentence's score."""
        sentence_scores = ranking.fuse(signals, ranking.sentence_weights(self.settings.ranking))
        if rows is None:
            return Scored(None, {name: signals[name] for name in ranking.SIGNALS}, self._sentences, sentence_scores)
        sentences = SentenceMap(*self._sentences.of_passages(rows))
        return Scored(rows, {name: signals[name][rows] for name in ranking.SIGNALS}, sentences, sentence_scores)

    def _candidates(self, query: str, q: np.ndarray, allowed: np.ndarray | None = None) -> Scored:
        """For a large index: the passages worth ranking (the best MIN_POOL by cosine from the HNSW
        graphs and by BM25; or, with a filter, the `allowed` ones) and their signals, and their
        sentences' scores, normalised over these candidates only. Sentences' BM25 is looked up
        for the candidates' sentences alone."""
        words = self.index.lexical.words(query)  # (both BM25 indexes tokenise alike)
        if allowed is None:
            ranked = _helper().submit(self.index.lexical.ranked, words, MIN_POOL)  # on the other core
            nearest = self.index.nearest.search(q, MIN_POOL, self.settings.ann_ef_search)
            passage_bm25, best_passages = ranked.result()
            rows = np.unique(np.concatenate([nearest, best_passages]))
            bm25 = passage_bm25[rows]
        else:  # a filter: its passages are scored, however few or many (reads their vectors)
            rows, bm25 = allowed, self.index.lexical.scores_of(words, allowed)
        sentences, starts = self._sentences.of_passages(rows)
        sentence_dense = self.index.sentence_vectors[sentences] @ q
        sentence_bm25 = self.index.sentence_lexical.scores_of(words, sentences)
        passages = {
            "dense": self.index.vectors[rows] @ q, "dense_sentence": np.maximum.reduceat(sentence_dense, starts),
            "bm25": bm25, "bm25_sentence": np.maximum.reduceat(sentence_bm25, starts),
        }  # fmt: skip
        weights = ranking.sentence_weights(self.settings.ranking)
        sentence_scores = ranking.fuse({"sentence_dense": sentence_dense, "sentence_bm25": sentence_bm25}, weights)
        return Scored(rows, passages, SentenceMap(np.arange(len(sentences)), starts), sentence_scores)

    def _hit(self, rank: int, score: float, row: int, i: int, scored: Scored) -> Hit:
        """The hit for passage `row`, the i-th of those `scored`."""
        passage = self.index.passages[row]
        best = int(np.argmax(scored.sentence_scores[scored.sentences[i]]))
        return Hit(
            rank=rank,
            score=score,
            passage=passage,
            document=self.index.documents[passage.doc_id],
            highlight=passage.sentences[best],
            similarity=float(max(scored.passages["dense"][i], scored.passages["dense_sentence"][i])),
        )


def beside_searches() -> int:
    """Cores for a build inside a server: all but one, which stays free for the searches that
    are answered meanwhile."""
    return max((os.cpu_count() or 1) - 1, 1)


@functools.cache
def _helper() -> ThreadPoolExecutor:
    """One thread that scores passages' BM25 while the request's thread asks the HNSW graphs, in
    a large index (numpy and FAISS let both run at once)."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="qa-search")


@dataclass(frozen=True)
class Scored:
    """One question's signals over some passages (`rows`; None: every passage, in row order),
    and the fused scores of their sentences: the i-th passage's are
    `sentence_scores[sentences[i]]`."""

    rows: np.ndarray | None
    passages: dict[str, np.ndarray]  # ranking.SIGNALS, one value per passage scored
    sentences: SentenceMap
    sentence_scores: np.ndarray
