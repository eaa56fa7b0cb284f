"""Opening a served build for searching: the catalog's rows put together in catalog order.

Nothing is parsed per document or passage (see `records`), BM25 weighs postings per question
(`lexical`), and a large index (one with HNSW graphs) reads its candidates' vectors from disk
(`row_files`); so opening takes time and memory in proportion to the number of rows, not to
the size of their text or vectors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..encode import late
from ..errors import IndexMismatchError
from ..ingest.passages import Passage
from . import catalog as catalog_file
from . import records, segments, storage, token_vectors
from .backend import DocumentCondition, LexicalCandidates, Placement
from .hnsw import Nearest, read_hnsw
from .lexical import Lexical
from .manifest import BM25_B, BM25_K1, Manifest, mismatch
from .row_files import DiskRows, RowFile
from .rows import SentenceMap


@dataclass
class Index:
    """Everything a search needs: arrays in memory or mapped, records read when used (`tables`)."""

    manifest: Manifest
    documents: records.DocumentTable  # by id, in corpus order
    passages: records.PassageTable
    sentence_rows: SentenceMap  # per passage: its rows of `sentence_vectors`, one per sentence
    vectors: np.ndarray | DiskRows  # passage vectors, unit length, rows as in `passages`
    sentence_vectors: np.ndarray | DiskRows
    lexical: Lexical  # BM25 over title-prefixed passages, rows as in `passages`
    sentence_lexical: Lexical  # BM25 over the distinct sentences, rows as in `sentence_vectors`
    nearest: Nearest  # the best passages by cosine without scoring all (HNSW in large segments)
    folder: Path | None = None  # the build folder it was loaded from
    tokens: token_vectors.Served | None = None  # passages' token vectors, when every segment has them

    @property
    def version(self) -> str:
        return self.manifest.index_version

    # The segment store as an `IndexBackend` (see backend.py for what each method promises).

    @property
    def dimension(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def passage_count(self) -> int:
        return len(self.passages)

    candidates_only = False  # a small index scores every passage; a filter is a list of rows

    def dense_candidates(self, q: np.ndarray, n: int, breadth: int, condition: DocumentCondition | None = None) -> np.ndarray:
        """(With a condition: the nearest that it allows among the n nearest; the searcher scores a
        filter's rows instead.)"""
        rows = self.nearest.search(q, n, breadth)
        return rows if condition is None else rows[np.isin(rows, self.allowed_rows(condition))]

    def lexical_candidates(self, words: Sequence[str], n: int, condition: DocumentCondition | None = None) -> LexicalCandidates:
        scores, rows = self.lexical.ranked(list(words), n)  # every passage's BM25: any row's is at hand
        if condition is not None:
            rows = rows[np.isin(rows, self.allowed_rows(condition))]
        return LexicalCandidates(rows, scores.__getitem__)

    def words(self, query: str) -> list[str]:
        return self.lexical.words(query)

    def passage_frequency(self, words: Sequence[str]) -> np.ndarray:
        return np.array([self.lexical.frequency(w) for w in words], dtype=np.int64)

    def vectors_of(self, rows: np.ndarray | None) -> np.ndarray:
        return _rows_of(self.vectors, rows)

    def sentence_vectors_of(self, rows: np.ndarray | None) -> np.ndarray:
        return _rows_of(self.sentence_vectors, rows)

    def bm25_of(self, query: str | Sequence[str], rows: np.ndarray | None) -> np.ndarray:
        return _bm25_of(self.lexical, query, rows)

    def sentence_bm25_of(self, query: str | Sequence[str], rows: np.ndarray | None) -> np.ndarray:
        return _bm25_of(self.sentence_lexical, query, rows)

    def sentences_of(self, rows: np.ndarray | None) -> SentenceMap:
        return self.sentence_rows if rows is None else SentenceMap(*self.sentence_rows.of_passages(rows))

    def token_vectors(self, rows: np.ndarray) -> list[late.Block] | None:
        served = self.tokens
        return None if served is None else [served[int(r)] for r in rows]

    def passage(self, row: int) -> Passage:
        return self.passages[row]

    def row_of(self, passage_id: str) -> int | None:
        return self.passages.row_of(passage_id)

    def placement(self, rows: np.ndarray | None) -> Placement:
        if rows is None:
            return Placement(self.passages.doc, self.passages.spans)
        return Placement(self.passages.doc[rows], self.passages.spans[rows])

    def corpus_file(self, doc_id: str) -> str:
        return self.documents.file_of(doc_id)

    def removed_document(self, doc_id: str) -> str | None:
        return self.manifest.removed_documents.get(doc_id) or None

    def retired_passage(self, passage_id: str) -> str | None:
        return self.manifest.retired_passages.get(passage_id)

    def allowed_rows(self, condition: DocumentCondition) -> np.ndarray:
        """A condition on ids alone looks them up; one on sources or dates reads every document."""
        documents = self.documents
        if condition.source or condition.date_from or condition.date_to:
            allowed = [n for n, doc in enumerate(documents.values()) if condition.allows(doc)]
        else:
            allowed = [documents.position(i) for i in dict.fromkeys(condition.doc_ids) if i in documents]
        return np.flatnonzero(np.isin(self.passages.doc, allowed)).astype(np.int64)


def _rows_of(vectors: np.ndarray | DiskRows, rows: np.ndarray | None) -> np.ndarray:
    """Some rows of vectors in memory or on disk (None: all of them, as one matrix)."""
    if rows is None:
        return vectors if isinstance(vectors, np.ndarray) else np.asarray(vectors)
    return vectors[rows]


def _bm25_of(lexical: Lexical, query: str | Sequence[str], rows: np.ndarray | None) -> np.ndarray:
    """BM25 of a question (tokenised as `lexical` does) or its words, for some rows (None: all)."""
    if rows is None:
        return lexical.ranked(query if isinstance(query, str) else list(query), 0)[0]
    return lexical.scores_of(lexical.words(query) if isinstance(query, str) else list(query), rows)


def load_index(index_dir: Path, model: str | None = None) -> Index:
    """Load the served build, checking format, model, files and checksums."""
    build = storage.current_build(index_dir)
    manifest = storage.read_manifest(build)
    wrong = mismatch(manifest, model)
    if wrong is not None:
        raise IndexMismatchError(f"index in {index_dir} {wrong.detail}: {wrong.advice}")
    storage.verify_checksums(build, manifest)
    try:
        stored = {s.name: segments.open_stored(build, s.name) for s in manifest.segments}
        rows = records.layout(stored, catalog_file.read(build / catalog_file.FILE))
        vectors, sentence_vectors, nearest = _vectors(stored, rows, manifest.dimension)
        tokens = token_vectors.Served.of([stored[n].late for n in rows.segments], rows.passage_rows)
        passage_bm25 = Lexical(
            [(stored[n].postings("passage"), rows.served[n]) for n in rows.segments], len(vectors), BM25_K1, BM25_B
        )
        sentence_bm25 = Lexical(
            [(stored[n].postings("sentence"), rows.served_sentences[n]) for n in rows.segments],
            len(sentence_vectors),
            BM25_K1,
            BM25_B,
        )
    except (OSError, ValueError, KeyError, TypeError, IndexError, RuntimeError, AssertionError) as e:
        raise IndexMismatchError(f"index in {index_dir} cannot be read ({e}): rebuild it with `qa build --full`") from None
    counts = (len(rows.passages), len(vectors), passage_bm25.size, len(sentence_vectors), sentence_bm25.size)
    if counts != (manifest.passages,) * 3 + (manifest.sentences,) * 2:
        raise IndexMismatchError(f"index in {index_dir} is inconsistent: rebuild it with `qa build --full`")
    parts = (rows.documents, rows.passages, rows.sentences, vectors, sentence_vectors, passage_bm25, sentence_bm25)
    return Index(manifest, *parts, nearest, build, tokens)


def _vectors(
    stored: dict[str, segments.Stored], rows: records.Layout, dimension: int
) -> tuple[np.ndarray | DiskRows, np.ndarray | DiskRows, Nearest]:
    """The served rows' passage and sentence vectors, and the search for the nearest: in memory,
    or for a large index (one with HNSW graphs) read from disk as questions need them."""
    parts = [stored[name] for name in rows.segments]  # in the order rows.passage_rows counts them
    vectors: np.ndarray | DiskRows
    sentence_vectors: np.ndarray | DiskRows
    if any(s.graph is not None for s in parts):
        vectors = DiskRows([RowFile(Path(f"{s.base}.vectors.npy")) for s in parts], rows.passage_rows)
        sentence_vectors = DiskRows([RowFile(Path(f"{s.base}.sentences.npy")) for s in parts], rows.sentence_rows)
    else:
        vectors = segments.stack_rows([s.vectors for s in parts], rows.passage_rows, dimension)
        sentence_vectors = segments.stack_rows([s.sentence_vectors for s in parts], rows.sentence_rows, dimension)
    graphs = [(read_hnsw(graph), rows.served[n]) for n in rows.segments if (graph := stored[n].graph) is not None]
    exact = [rows.served[n][rows.served[n] >= 0] for n in rows.segments if stored[n].graph is None]
    nearest = Nearest(vectors, graphs, np.sort(np.concatenate(exact)) if exact else np.zeros(0, np.int64))
    return vectors, sentence_vectors, nearest
