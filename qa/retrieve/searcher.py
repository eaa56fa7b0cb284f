"""Answering a question: the best passages, each with its answering sentence and citation.

A `Searcher` puts the pieces together: the question is checked (`queries`), encoded
(`question_encoder`), scored through the index backend by the exact or the candidate path (`scoring`),
ranked (`ranking`) and turned into hits with their citations (`citations`, `results`)."""

from __future__ import annotations

import copy
import dataclasses
import functools
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import numpy as np

from ..config import ANY_LANGUAGE, Settings
from ..encode import late
from ..encode.embedder import Embedder, question_encoder
from ..errors import IndexMismatchError
from ..index import provenance
from ..index.backend import IndexBackend
from ..index.load import Index
from ..index.opening import open_index
from ..index.records import Recent
from ..ingest.cleaning import normalize_for_embedding
from ..ingest.documents import Document
from ..ingest.passages import Passage
from . import answers, citations, evidence, language, queries, ranking, rerank, scoring, spans
from .filters import Filter
from .question_encoder import QuestionEncoder
from .results import ABSTAIN_REASONS, Hit, SearchResult
from .scoring import MIN_POOL, Scored

if TYPE_CHECKING:
    from ..index.milvus.reader import MilvusIndex

__all__ = ["ABSTAIN_REASONS", "MIN_POOL", "POOL_PER_RESULT", "Hit", "SearchResult", "Searcher"]

# Best passages considered for the results (overlaps and diversity skip some). The pool is the
# same for every k up to MIN_POOL / POOL_PER_RESULT, so a smaller k gives a prefix of a larger k.
POOL_PER_RESULT = 4
REMEMBERED_FILTERS = 64

B = TypeVar("B", bound=IndexBackend)
C = TypeVar("C", bound=IndexBackend)


class Searcher(Generic[B]):
    """An open index (any `IndexBackend`) and the model that encodes questions for it. Safe to
    share between threads."""

    def __init__(self, index: B, embedder: Embedder | QuestionEncoder, settings: Settings) -> None:
        encoder = embedder if isinstance(embedder, QuestionEncoder) else QuestionEncoder(embedder)
        if encoder.embedder.dimension != index.dimension:
            raise IndexMismatchError(
                f"model {encoder.embedder.name!r} gives {encoder.embedder.dimension}-d vectors, the index "
                f"holds {index.dimension}-d: rebuild it with `qa build`"
            )
        self.index = index
        self.encoder = encoder  # the model and its lock, shared by the searchers of one server
        self.settings = settings
        self._allowed: Recent[Filter, np.ndarray] = Recent(REMEMBERED_FILTERS)  # the rows of recent filters

    @classmethod
    def open(cls, settings: Settings | None = None, embedder: Embedder | None = None) -> Searcher[Any]:
        settings = settings or Settings.load()
        if settings.model_language != ANY_LANGUAGE:
            language.preload()  # while the index and the encoder load
        index: Index | MilvusIndex = open_index(settings, model=settings.model)
        settings = provenance.with_recorded_corpus(settings, index.manifest)  # what a rebuild reads
        if embedder is None:
            encoders = index.manifest.query_encoder
            embedder = question_encoder(
                settings.model, settings.torch_threads, settings.query_encoder, Path(settings.index_dir), encoders
            )
        return Searcher(index, embedder, settings)

    @property
    def embedder(self) -> Embedder:
        """The model that encodes questions."""
        return self.encoder.embedder

    def encoder_info(self) -> dict[str, str]:
        """What encodes questions here and why (an ONNX tier, or torch and the reason)."""
        return self.encoder.info()

    def passage_encoder(self) -> Embedder:
        """The model that encodes passages for a rebuild in this process (`QuestionEncoder.passage_encoder`)."""
        return self.encoder.passage_encoder(self.settings)

    def with_index(self, index: C) -> Searcher[C]:
        """Another index searched with the same model, settings and lock (the model and the stemmer
        must never run in two threads at once, whichever index a request is answered from)."""
        return Searcher(index, self.encoder, self.settings)

    def with_settings(self, **changes: object) -> Searcher[B]:
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
        vectors, tokens = self.encode(queries)
        remote = self.index.candidates_only  # the engine applies the filter in each request
        rows = None if remote else self._allowed_rows(filter)
        encoded_ms = (time.perf_counter() - started) * 1000 / max(len(queries), 1)
        results = []
        for query, vector, question_tokens in zip(queries, vectors, tokens, strict=True):
            began = time.perf_counter()
            result = self._answer(query, vector, k, rows, filter if remote else None, question_tokens)
            if self.settings.model_language != ANY_LANGUAGE:
                result = self._check_language(result)
            if result.abstained:  # hits are still shown, but no answer in bold under "no confident answer"
                result = result.without_answers()
            took = encoded_ms + (time.perf_counter() - began) * 1000
            results.append(dataclasses.replace(result, took_ms=took))
        return results

    def encode(self, queries: Sequence[str]) -> tuple[np.ndarray, list[np.ndarray | None]]:
        """The questions' vectors, and their token vectors for late interaction (None each when
        the model has no projection: `encode.late`)."""
        texts = [normalize_for_embedding(q) for q in queries]
        projection = late.projection(self.settings.model)
        vectors, tokens = self.encoder.encode_with_tokens(texts, self.settings.max_query_chars, projection)
        return vectors, list(tokens) if tokens is not None else [None] * len(texts)

    def _allowed_rows(self, filter: Filter | None) -> np.ndarray | None:
        """The passage rows a filter allows (None: all), remembered for recent filters."""
        if not filter:
            return None
        remembered = self._allowed.get(filter)
        if remembered is not None:
            return remembered
        return self._allowed.put(filter, self.index.allowed_rows(filter))

    def _answer(
        self,
        query: str,
        vector: np.ndarray,
        k: int,
        rows: np.ndarray | None,
        condition: Filter | None = None,
        question_tokens: np.ndarray | None = None,
    ) -> SearchResult:
        """`rows`: those a filter allows (None: all); `condition`: a filter the engine applies
        instead; `question_tokens`: for late interaction in the reranker."""
        ranked = self.ranked(query, vector, rows, condition)
        if ranked is None:
            return _no_match(query)
        scored, fused = ranked
        mode = self.settings.ranking
        kind = answers.asks_for(query) if mode == "hybrid" else ""
        if self._reranks():
            fused = rerank.rerank(self.index, query, kind, fused, scored, question_tokens)
        placed = self.index.placement(scored.rows)
        highlights = functools.cache(lambda i: self._highlight(i, scored, query, kind, question_tokens))

        def cites(a: int, b: int) -> bool:
            """Whether the b-th passage cites the characters of the a-th passage's highlight."""
            start, end = highlights(a)
            return placed.spans[a, 0] + start < placed.spans[b, 1] and placed.spans[b, 0] < placed.spans[a, 0] + end

        def quotes_again(a: int, b: int) -> bool:
            """Whether overlapping passages a and b would show one answering sentence twice."""
            return placed.overlaps(a, b) and (cites(a, b) or cites(b, a))

        chosen = ranking.diverse_top(
            fused,
            k,
            doc_of=lambda i: int(placed.doc[i]),
            clashes=quotes_again,
            penalty=self.settings.source_diversity,
            pool=max(k * POOL_PER_RESULT, MIN_POOL),
        )
        hits = [self._hit(rank, score, i, scored, highlights(i), query, kind) for rank, (i, score) in enumerate(chosen, 1)]
        confidence = hits[0].similarity if hits else 0.0
        if confidence >= self.settings.abstain_threshold or (
            hits and self._on_evidence(query, scored.row(chosen[0][0]), confidence)
        ):
            return SearchResult(query=query, hits=hits, abstained=False, confidence=confidence)
        threshold = self.settings.abstain_threshold
        message = f"No passage is close enough to the question (confidence {confidence:.2f}, below {threshold:g})."
        return SearchResult(query, hits, True, confidence, abstain_reason="confidence", abstain_message=message)

    def ranked(
        self, query: str, vector: np.ndarray, rows: np.ndarray | None = None, condition: Filter | None = None
    ) -> tuple[Scored, np.ndarray] | None:
        """The passages scored for a question (by the exact or the candidate path) and their fused
        scores, before reranking; None when a filter allows no passage."""
        if rows is not None and not len(rows):
            return None
        mode = self.settings.ranking
        if self.index.candidates_only or self.index.passage_count >= self.settings.ann_min_passages:
            scored = scoring.candidates(self.index, query, vector, rows, mode, self.settings.ann_ef_search, condition)
            if scored.rows is not None and not len(scored.rows):
                return None
        else:
            scored = scoring.exact(self.index, self.signals(query, vector), rows, mode)
        return scored, ranking.fuse(scored.passages, ranking.WEIGHTS[mode])

    def _on_evidence(self, query: str, row: int, confidence: float) -> bool:
        """Whether a question whose cosine fell short is answered on the words the top passage holds."""
        return self.settings.abstain_lexical and evidence.answers_on_evidence(self.index, query, row, confidence)

    def _check_language(self, result: SearchResult) -> SearchResult:
        """The result with the question's language; abstained (hits kept) when it is confidently
        not the model's language, whatever the confidence."""
        model_language = self.settings.model_language
        detected = language.detect(result.query, model_language)
        if not detected.foreign or result.abstain_reason == "filter":
            return dataclasses.replace(result, language=detected.language)
        message = language.explain(detected, model_language)
        return dataclasses.replace(
            result, language=detected.language, abstained=True, abstain_reason="language", abstain_message=message
        )

    def _highlight(self, i: int, scored: Scored, query: str, kind: str, question_tokens: np.ndarray | None) -> tuple[int, int]:
        """The i-th passage's answering sentence (offsets in its text): its best by sentence
        score, favouring one that holds a candidate of the `kind` of answer asked for, and, in
        hybrid ranking where token vectors are at hand, the question's MaxSim over its tokens
        (`rerank.highlight_scores`)."""
        passage = self.index.passage(scored.row(i))
        sentence_scores = scored.sentence_scores[scored.sentences[i]]
        typed = answers.typed_sentences(query, kind, passage.text, passage.sentences).astype(np.float64)
        blocks = rerank.token_blocks(self.index, scored, np.array([i]), question_tokens) if self._reranks() else None
        scores = rerank.highlight_scores(sentence_scores, typed, blocks[0] if blocks else None, question_tokens)
        return passage.sentences[int(np.argmax(scores))]

    def _reranks(self) -> bool:
        return self.settings.ranking == "hybrid" and self.settings.rerank

    def _hit(self, rank: int, score: float, i: int, scored: Scored, highlight: tuple[int, int], query: str, kind: str) -> Hit:
        """The hit for the i-th passage scored, with the answer span in its highlight when exactly
        one candidate of the `kind` of answer asked for is new (`spans.answer_span`)."""
        passage = self.index.passage(scored.row(i))
        return Hit(
            rank=rank,
            score=score,
            passage=passage,
            document=self.index.documents[passage.doc_id],
            highlight=highlight,
            similarity=float(max(scored.passages["dense"][i], scored.passages["dense_sentence"][i])),
            answer=spans.answer_span(query, kind, passage.text, highlight) if kind else None,
        )

    def document(self, doc_id: str) -> Document:
        """A served document by id (`citations.document`)."""
        return citations.document(self.index, doc_id)

    def original_file(self, doc_id: str) -> Path:
        """The PDF or DOCX file a served document was read from (`citations.original_file`)."""
        return citations.original_file(self.index, self.settings.corpus_dir, doc_id)

    def passage(self, passage_id: str) -> tuple[Passage, Document]:
        """A passage by its id, for checking an old citation (`citations.passage`)."""
        return citations.passage(self.index, passage_id)

    def check_query(self, query: object) -> str:
        return queries.check_query(query, self.settings)

    def check_k(self, k: object) -> int:
        return queries.check_k(k, self.settings)

    def signals(self, query: str, q: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Every passage's four ranking signals, plus every sentence's own scores (for highlights).

        `q` is the encoded question, when it is already at hand."""
        with self.encoder.lock:  # the model and BLAS use every core: one question at a time
            if q is None:
                q = self.encoder.embedder.encode([normalize_for_embedding(query)])[0]
            measured = scoring.measure(self.index, query, q)
        return scoring.signals(self.index, measured)


def _no_match(query: str) -> SearchResult:
    """The answer when no passage may answer (a filter that allows none)."""
    message = "No passage matches the filter."
    return SearchResult(query, [], True, 0.0, abstain_reason="filter", abstain_message=message)
