"""The passages nearest to a question vector, for an index too large to score every passage.

Below `settings.ann_min_passages` a search scores every passage exactly (see `qa.retrieve.scoring`). From
that size on, each segment of at least that many passages carries an HNSW graph (FAISS
`IndexHNSWSQ` over 8-bit codes, inner product over unit vectors = cosine), written with the
segment and memory-mapped when loaded; the rows of smaller segments are scored exactly. `Nearest.search`
merges both into the best n live rows. Parameters were chosen from bench/ann.py's
recall/latency curves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from .row_files import DiskRows
from .rows import best_rows

HNSW_M = 32  # links per node
HNSW_EF_CONSTRUCTION = 80
# faiss-cpu's hand-written stubs are wrong for these two: IndexHNSWSQ takes the quantiser's type
# (an int), and SearchParametersHNSW exists at run time. Both are reached through an untyped handle.
_untyped: Any = faiss


def build_hnsw(vectors: np.ndarray) -> faiss.Index:
    """The graph over 8-bit scalar-quantised copies of the vectors (a quarter of their size): it
    only proposes candidates, whose cosines are then computed from the float vectors."""
    index = _untyped.IndexHNSWSQ(vectors.shape[1], faiss.ScalarQuantizer.QT_8bit, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    data = np.ascontiguousarray(vectors, dtype=np.float32)
    index.train(data)
    index.add(data)
    return index


def build_hnsw_from(slices: Callable[[], Iterable[np.ndarray]], dimension: int) -> faiss.Index:
    """The same graph as `build_hnsw` over the vectors `slices()` yields, a slice at a time (it is
    called twice): the 8-bit quantiser is trained on each dimension's minimum and maximum, which
    is all its min-max training keeps of the vectors."""
    low, high = np.full(dimension, np.inf, dtype=np.float32), np.full(dimension, -np.inf, dtype=np.float32)
    for part in slices():
        if len(part):
            np.minimum(low, part.min(axis=0), out=low)
            np.maximum(high, part.max(axis=0), out=high)
    index = _untyped.IndexHNSWSQ(dimension, faiss.ScalarQuantizer.QT_8bit, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    if not np.isfinite(low).all():
        return index
    index.train(np.stack([low, high]))
    for part in slices():
        index.add(np.ascontiguousarray(part, dtype=np.float32))
    return index


def write_hnsw(index: faiss.Index, path: Path) -> None:
    try:
        faiss.write_index(index, str(path))
    except RuntimeError as e:  # faiss reports a failed write (a full disk) this way
        raise OSError(f"writing {path.name} failed: {str(e).strip().splitlines()[-1]}") from e


def read_hnsw(path: Path) -> faiss.Index:
    """Memory-mapped (the codes and the links: IO_FLAG_MMAP_IFC), so pages are read as the graph
    is walked and shared between processes."""
    return faiss.read_index(str(path), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)


class Nearest:
    """Best rows by cosine over HNSW graphs (each with the served row of each of its rows, -1
    for rows no longer served) and exactly scored rows."""

    def __init__(
        self, vectors: np.ndarray | DiskRows, graphs: list[tuple[faiss.Index, np.ndarray]], exact_rows: np.ndarray
    ) -> None:
        self.vectors, self.graphs, self.exact_rows = vectors, graphs, exact_rows
        # vectors read from disk: the exactly scored rows (of small segments) are kept in memory
        self._exact = None if isinstance(vectors, np.ndarray) else vectors[exact_rows]

    def search(self, q: np.ndarray, n: int, ef_search: int) -> np.ndarray:
        """The (up to) n best served rows, best first (`ef_search`: HNSW's search breadth)."""
        rows, scores = [], []
        query = np.ascontiguousarray(q.reshape(1, -1), dtype=np.float32)
        for graph, served in self.graphs:
            want = min(n, graph.ntotal)
            while True:  # ask again, for more, while rows no longer served crowd out live ones
                params = _untyped.SearchParametersHNSW(efSearch=max(ef_search, want))
                found_scores, found = graph.search(query, want, params=params)
                ok = found[0] >= 0
                mapped = served[found[0][ok]]
                live = mapped >= 0
                if live.sum() >= min(n, graph.ntotal) or want >= graph.ntotal:
                    break
                want = min(want * 2, graph.ntotal)
            rows.append(mapped[live])
            scores.append(found_scores[0][ok][live])
        if len(self.exact_rows):
            exact = (self.vectors[self.exact_rows] if self._exact is None else self._exact) @ q
            top = best_rows(exact, n)
            rows.append(self.exact_rows[top])
            scores.append(exact[top])
        all_rows, all_scores = np.concatenate(rows), np.concatenate(scores)
        return all_rows[np.argsort(-all_scores, kind="stable")[:n]]
