"""The seam between search and an index: what `qa.retrieve` may ask of any index backend.

A search asks an index for candidates (the best passages by cosine, the best by BM25), for the
signals of given passages (their vectors, their BM25, their sentences'), for records (a passage
by row, a document or a passage by id) and for the passages a filter allows; it never reaches
into how the index keeps them. The segment store (`qa.index.load.Index`) is one backend; a
distributed engine with server-side dense search, BM25 and scalar filters can be another.

Rows are the backend's int64 passage keys, stable while it is open; sentence rows likewise key
the sentences. For the segment store they are numbers, 0 to `passage_count - 1` in corpus order,
and `rows=None` means every row, in row order (the exact path scores every passage of a small
index). For a `candidates_only` backend (a remote engine) they are opaque keys (Milvus: a 63-bit
hash of the passage id), fetched by key for a question's candidates only: `rows=None` is never
asked (the exact path is not taken, a filter is a condition rather than `allowed_rows`), and no
code may assume they are contiguous or index an array by them. Search keeps candidates in corpus
order (`Placement`) so that ties rank alike on every backend.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..encode import late
from ..ingest.documents import Document
from ..ingest.passages import Passage
from .rows import SentenceMap


@dataclass(frozen=True, eq=False)
class LexicalCandidates:
    """The best rows by BM25 for a question's words, and the BM25 of any rows for those words."""

    rows: np.ndarray  # int64: the (up to) n best rows among those holding a query word, in no order
    scores_of: Callable[[np.ndarray], np.ndarray]  # float32 BM25 of the given rows (same words)


@dataclass(frozen=True, eq=False)
class Placement:
    """Where some passages sit: each one's document (its position in corpus order) and its
    [start, end) span in that document's text; two passages overlap when they share both.
    Sorting by (doc, start, end) puts passages in corpus order."""

    doc: np.ndarray  # int, one per passage
    spans: np.ndarray  # int64 (passages, 2)

    def overlaps(self, a: int, b: int) -> bool:
        """True when the a-th and b-th passages cite some of the same characters."""
        spans = self.spans
        return bool(self.doc[a] == self.doc[b] and spans[a, 0] < spans[b, 1] and spans[b, 0] < spans[a, 1])


class DocumentCondition(Protocol):
    """Which documents a search may answer from (`qa.retrieve.filters.Filter` is one): by id,
    by a prefix of their source or source URL, by an inclusive range of ISO dates."""

    @property
    def doc_ids(self) -> tuple[str, ...]: ...
    @property
    def source(self) -> str: ...
    @property
    def date_from(self) -> str: ...
    @property
    def date_to(self) -> str: ...
    def allows(self, doc: Document) -> bool: ...


class IndexBackend(Protocol):
    """An open index as search sees it. Every method is safe to call from several threads."""

    @property
    def version(self) -> str:
        """The served build's version, which changes whenever its contents do."""
        ...

    @property
    def dimension(self) -> int:
        """The length of its vectors (the question encoder must give as many)."""
        ...

    @property
    def passage_count(self) -> int:
        """How many passages it serves (the segment store: rows 0 to passage_count - 1)."""
        ...

    @property
    def documents(self) -> Mapping[str, Document]:
        """The served documents by id, in corpus order (a `candidates_only` backend: in its own
        order, read lazily: `in` and `[id]` are lookups, iterating pages through the engine)."""
        ...

    @property
    def candidates_only(self) -> bool:
        """Whether every search takes the candidate path, with a filter passed to the candidate
        searches as a condition (a remote engine: it never scores every passage here)."""
        ...

    # Candidates, for an index too large to score every passage.

    def dense_candidates(self, q: np.ndarray, n: int, breadth: int, condition: DocumentCondition | None = None) -> np.ndarray:
        """The rows of the (up to) n passages nearest the unit vector q by cosine, best first;
        `breadth` is how hard an approximate search may look (HNSW's efSearch); only the
        passages of documents the condition allows, when one is given."""
        ...

    def lexical_candidates(self, words: Sequence[str], n: int, condition: DocumentCondition | None = None) -> LexicalCandidates:
        """The (up to) n best rows by BM25 for these words (as `words` gives them), of the
        documents the condition allows when one is given."""
        ...

    def words(self, query: str) -> list[str]:
        """The question's words as the passages' BM25 has them (stemmed, without stopwords)."""
        ...

    def passage_frequency(self, words: Sequence[str]) -> np.ndarray:
        """How many served passages hold each word (as `words` gives them)."""
        ...

    # Signals of given rows.

    def vectors_of(self, rows: np.ndarray | None) -> np.ndarray:
        """The passages' unit vectors, one row each (None: every passage's, in row order)."""
        ...

    def sentence_vectors_of(self, rows: np.ndarray | None) -> np.ndarray:
        """The sentences' unit vectors, by sentence row (None: every sentence's)."""
        ...

    def bm25_of(self, query: str | Sequence[str], rows: np.ndarray | None) -> np.ndarray:
        """The passages' BM25 for a question (tokenised as this BM25 does) or its words, from
        the postings of the question's words (None: every passage's)."""
        ...

    def sentence_bm25_of(self, query: str | Sequence[str], rows: np.ndarray | None) -> np.ndarray:
        """The sentences' BM25 for a question or its words, by sentence row (None: every sentence's)."""
        ...

    def sentences_of(self, rows: np.ndarray | None) -> SentenceMap:
        """The sentence rows of these passages (None: of every passage), passage after passage."""
        ...

    def token_vectors(self, rows: np.ndarray) -> list[late.Block] | None:
        """These passages' int8 token vectors for late interaction, and where each sentence's
        begin (`encode.late`); None when the index keeps none (the reranker then does without)."""
        ...

    # Records by row or id.

    def passage(self, row: int) -> Passage:
        """The passage at a row."""
        ...

    def row_of(self, passage_id: str) -> int | None:
        """The row of a served passage id, or None."""
        ...

    def placement(self, rows: np.ndarray | None) -> Placement:
        """The documents and spans of these passages (None: of every passage), in this order."""
        ...

    def corpus_file(self, doc_id: str) -> str:
        """The file a served document was read from, relative to the corpus folder and
        "/"-separated ("" for a document given in memory)."""
        ...

    def removed_document(self, doc_id: str) -> str | None:
        """Why a document id that was served once is no longer (None: it never was, or still is)."""
        ...

    def retired_passage(self, passage_id: str) -> str | None:
        """The document of a passage id that was served once and is no longer (None: unknown)."""
        ...

    # Filters.

    def allowed_rows(self, condition: DocumentCondition) -> np.ndarray:
        """The rows (int64, ascending) of the passages of the documents the condition allows."""
        ...
