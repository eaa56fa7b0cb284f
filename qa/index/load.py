"""Opening a served build for searching: the catalog's rows put together in catalog order.

Nothing is parsed per document or passage (see `tables`), BM25 weighs postings per question
(`lexical`), and a large index (one with HNSW graphs) reads its candidates' vectors from disk
(`disk_rows`); so opening takes time and memory in proportion to the number of rows, not to
the size of their text or vectors.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import IndexMismatchError
from . import catalog as catalog_file
from . import records as tables
from . import segments, storage
from .hnsw import Nearest, read_hnsw
from .lexical import Lexical
from .manifest import BM25_B, BM25_K1, FORMAT_VERSION, Manifest, mismatch
from .row_files import DiskRows, RowFile
from .rows import SentenceMap

__all__ = ["BM25_B", "BM25_K1", "FORMAT_VERSION", "Index", "load_index"]


@dataclass
class Index:
    """Everything a search needs: arrays in memory or mapped, records read when used (`tables`)."""

    manifest: Manifest
    documents: tables.DocumentTable  # by id, in corpus order
    passages: tables.PassageTable
    sentence_rows: SentenceMap  # per passage: its rows of `sentence_vectors`, one per sentence
    vectors: np.ndarray | DiskRows  # passage vectors, unit length, rows as in `passages`
    sentence_vectors: np.ndarray | DiskRows
    lexical: Lexical  # BM25 over title-prefixed passages, rows as in `passages`
    sentence_lexical: Lexical  # BM25 over the distinct sentences, rows as in `sentence_vectors`
    nearest: Nearest  # the best passages by cosine without scoring all (HNSW in large segments)
    folder: Path | None = None  # the build folder it was loaded from

    @property
    def version(self) -> str:
        return self.manifest.index_version


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
        rows = tables.layout(stored, catalog_file.read(build / catalog_file.FILE))
        parts = [stored[name] for name in rows.segments]  # in the order rows.passage_rows counts them
        dimension = manifest.dimension
        if any(s.graph is not None for s in parts):  # a large index: rows are read as questions need them
            vectors = DiskRows([RowFile(Path(f"{s.base}.vectors.npy")) for s in parts], rows.passage_rows)
            sentence_vectors = DiskRows([RowFile(Path(f"{s.base}.sentences.npy")) for s in parts], rows.sentence_rows)
        else:
            vectors = segments.stack_rows([s.vectors for s in parts], rows.passage_rows, dimension)
            sentence_vectors = segments.stack_rows([s.sentence_vectors for s in parts], rows.sentence_rows, dimension)
        graphs = [(read_hnsw(stored[n].graph), rows.served[n]) for n in rows.segments if stored[n].graph is not None]
        exact = [rows.served[n][rows.served[n] >= 0] for n in rows.segments if stored[n].graph is None]
        nearest = Nearest(vectors, graphs, np.sort(np.concatenate(exact)) if exact else np.zeros(0, np.int64))
        passage_bm25 = Lexical([(stored[n].postings("passage"), rows.served[n]) for n in rows.segments], len(vectors), BM25_K1, BM25_B)
        sentence_bm25 = Lexical([(stored[n].postings("sentence"), rows.served_sentences[n]) for n in rows.segments], len(sentence_vectors), BM25_K1, BM25_B)
    except (OSError, ValueError, KeyError, TypeError, IndexError, RuntimeError, AssertionError) as e:
        raise IndexMismatchError(f"index in {index_dir} cannot be read ({e}): rebuild it with `qa build --full`") from None
    counts = (len(rows.passages), len(vectors), passage_bm25.size, len(sentence_vectors), sentence_bm25.size)
    if counts != (manifest.passages,) * 3 + (manifest.sentences,) * 2:
        raise IndexMismatchError(f"index in {index_dir} is inconsistent: rebuild it with `qa build --full`")
    return Index(manifest, rows.documents, rows.passages, rows.sentences, vectors, sentence_vectors, passage_bm25, sentence_bm25, nearest, build)
