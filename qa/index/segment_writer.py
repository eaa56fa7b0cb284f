"""Writing one segment part by part, so that a build's memory does not grow with the corpus.

A `SegmentWriter` takes the segment's documents a batch at a time (each batch a `Segment` of
its own, rows counted from 0) and appends them: records to the JSON-lines files, vectors to the
.npy files (their header is written last, once the row count is known), what every row needs in
small arrays. Only the BM25 tokens (a few int32 per text) stay until `close`, which writes the
tokens, the postings and, for a large segment, the HNSW graph, built from the vector file read
back in slices. The files are those `segments.write` makes of the whole segment at once.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from ..encode import late
from .catalog import Span
from .hnsw import build_hnsw_from, write_hnsw
from .lexical import Postings, Tokens
from .token_vectors import DATA, save_starts

if TYPE_CHECKING:
    from .segments import Segment

NPY_HEADER = 128  # bytes: the .npy header of any (rows < 10**15, dimension) float32 array, padded
GRAPH_SLICE = 131_072  # vectors read back at a time to add to the HNSW graph


class SegmentWriter:
    """One segment, written batch by batch (`add`), then finished (`close`)."""

    def __init__(self, base: Path, dimension: int) -> None:
        self.base, self.dimension = base, dimension
        self._files = ExitStack()
        self._documents = self._files.enter_context(_open(Path(f"{base}.documents.jsonl")))
        self._passages = self._files.enter_context(_open(Path(f"{base}.passages.jsonl")))
        self._vectors = self._files.enter_context(_open(Path(f"{base}.vectors.npy"), NPY_HEADER))
        self._sentence_vectors = self._files.enter_context(_open(Path(f"{base}.sentences.npy"), NPY_HEADER))
        self._late = self._files.enter_context(_open(Path(f"{base}.{DATA}"), NPY_HEADER))
        self._late_counts: list[np.ndarray] | None = []  # None once a batch came without token vectors
        self._late_starts: list[np.ndarray] = []
        self._late_bounds: list[np.ndarray] = []
        self._document_lines: list[np.ndarray] = [np.zeros(1, dtype=np.int64)]
        self._passage_lines: list[np.ndarray] = [np.zeros(1, dtype=np.int64)]
        self._spans: list[np.ndarray] = []
        self._sentence_counts: list[np.ndarray] = []
        self._sentence_rows: list[np.ndarray] = []
        self._ids: list[np.ndarray] = []
        self._tokens: dict[str, list[Tokens]] = {"passage": [], "sentence": []}
        self.documents = self.passages = self.sentences = 0

    def add(self, part: Segment) -> np.ndarray:
        """Append a batch's documents; returns their spans in the whole segment, a row each:
        (row, first passage, end, first sentence, end) (see `span_of`)."""
        spans = np.array([(s.row, *s.passages, *s.sentences) for s in part.spans()], dtype=np.int64).reshape(-1, 5)
        spans += (self.documents, self.passages, self.passages, self.sentences, self.sentences)
        self._document_lines.append(_write_lines(self._documents, (d.to_dict() for d in part.documents)))
        self._passage_lines.append(_write_lines(self._passages, (asdict(p) for p in part.passages)))
        self._spans.append(np.array([(p.start, p.end) for p in part.passages], dtype=np.int64).reshape(-1, 2))
        self._sentence_counts.append(np.array([len(r) for r in part.sentence_rows], dtype=np.int64))
        rows = np.fromiter((r for rows in part.sentence_rows for r in rows), dtype=np.int64)
        self._sentence_rows.append(rows + self.sentences)
        self._ids.append(np.array([p.id.encode("utf-8") for p in part.passages], dtype="S"))
        self._vectors.write(np.ascontiguousarray(part.vectors, dtype=np.float32).tobytes())
        self._sentence_vectors.write(np.ascontiguousarray(part.sentence_vectors, dtype=np.float32).tobytes())
        self._tokens["passage"].append(part.passage_tokens)
        self._tokens["sentence"].append(part.sentence_tokens)
        if part.passage_late is None or self._late_counts is None:
            self._late_counts = None
        else:
            self._late.write(np.ascontiguousarray(part.passage_late.data, dtype=np.int8).tobytes())
            self._late_counts.append(np.diff(part.passage_late.offsets))
            self._late_starts.append(part.passage_late.starts)
            self._late_bounds.append(np.diff(part.passage_late.bounds))
        self.documents += len(part.documents)
        self.passages += len(part.passages)
        self.sentences += len(part.sentence_vectors)
        return spans

    def close(self, graph: bool = False) -> None:
        """Finish the files; with `graph`, also an HNSW graph over the passage vectors."""
        _write_npy_header(self._vectors, self.passages, self.dimension)
        _write_npy_header(self._sentence_vectors, self.sentences, self.dimension)
        late_offsets = None
        if self._late_counts is not None:
            late_offsets = np.zeros(self.passages + 1, dtype=np.int64)
            np.cumsum(_joined(self._late_counts, np.int64), out=late_offsets[1:])
            _write_npy_header(self._late, int(late_offsets[-1]), late.DIMS, "|i1")
        self._files.close()
        if late_offsets is None:  # a batch had none: the segment has none
            Path(f"{self.base}.{DATA}").unlink()
        else:
            bounds = np.zeros(self.passages + 1, dtype=np.int64)
            np.cumsum(_joined(self._late_bounds, np.int64), out=bounds[1:])
            save_starts(self.base, late_offsets, _joined(self._late_starts, np.int32), bounds)
        self._late_starts = self._late_bounds = []
        sentence_starts = np.zeros(self.passages + 1, dtype=np.int64)
        np.cumsum(_joined(self._sentence_counts, np.int64), out=sentence_starts[1:])
        with open(f"{self.base}.rows.npz", "wb") as f:
            np.savez(
                f,
                document_lines=_offsets(self._document_lines),
                passage_lines=_offsets(self._passage_lines),
                spans=np.concatenate(self._spans) if self._spans else np.zeros((0, 2), dtype=np.int64),
                sentence_starts=sentence_starts,
                sentence_rows=_joined(self._sentence_rows, np.int64),
                ids=np.concatenate(self._ids) if self._ids else np.zeros(0, dtype="S1"),
            )
        self._spans = self._sentence_counts = self._sentence_rows = self._ids = []
        for part in ("passage", "sentence"):
            tokens = _concat_consuming(self._tokens.pop(part))
            tokens.save(Path(f"{self.base}.{part}-tokens.npz"))
            Postings.of(tokens).save(f"{self.base}.{part}")
            del tokens
        if graph:
            path = Path(f"{self.base}.vectors.npy")
            write_hnsw(build_hnsw_from(lambda: read_slices(path, GRAPH_SLICE), self.dimension), Path(f"{self.base}.hnsw.faiss"))

    def abandon(self) -> None:
        self._files.close()


def span_of(row: np.ndarray) -> Span:
    """A row of `SegmentWriter.add`'s spans as a `Span`."""
    r, p0, p1, s0, s1 = (int(x) for x in row)
    return Span(r, (p0, p1), (s0, s1))


def read_slices(path: Path, rows: int) -> Iterator[np.ndarray]:
    """A written .npy array of float32 rows, `rows` at a time, read (not mapped: the pages stay
    out of this process)."""
    mapped = np.load(path, mmap_mode="r")  # for its shape and where its data starts: no page is read
    (left, dimension), offset = mapped.shape, mapped.offset
    del mapped
    with open(path, "rb") as f:
        f.seek(offset)
        while left:
            n = min(rows, left)
            chunk = np.fromfile(f, dtype=np.float32, count=n * dimension).reshape(n, dimension)
            left -= n
            yield chunk


def _concat_consuming(parts: list[Tokens]) -> Tokens:
    """`Tokens.concat(parts)`, emptying `parts` as it goes: what it holds is the result and one part."""
    ids = np.empty(sum(len(p.ids) for p in parts), dtype=np.int32)
    offsets = np.zeros(sum(len(p) for p in parts) + 1, dtype=np.int64)
    index: dict[str, int] = {}
    at = row = 0
    while parts:
        part = parts.pop(0)
        remap = np.array([index.setdefault(w, len(index)) for w in part.vocab], dtype=np.int32)
        ids[at : at + len(part.ids)] = remap[part.ids] if len(part.ids) else part.ids
        offsets[row + 1 : row + len(part) + 1] = part.offsets[1:] + at
        at, row = at + len(part.ids), row + len(part)
    return Tokens(list(index), ids, offsets)


def _open(path: Path, header: int = 0) -> BinaryIO:
    """A file to write, `header` bytes left for a header written last (`_write_npy_header`)."""
    f = open(path, "wb")  # noqa: SIM115  (closed by the writer's ExitStack)
    f.write(b"\0" * header)
    return f


def _write_npy_header(f: BinaryIO, rows: int, dimension: int, descr: str = "<f4") -> None:
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": descr, "fortran_order": False, "shape": (rows, dimension)})
    if len(header.getvalue()) != NPY_HEADER:
        raise ValueError(f"a .npy header of {len(header.getvalue())} bytes, not {NPY_HEADER}")
    f.seek(0)
    f.write(header.getvalue())


def _write_lines(f: BinaryIO, rows: Iterator[dict]) -> np.ndarray:
    """Append one JSON record per line; returns each line's end, from the file's start."""
    ends, at = [], f.tell()
    for row in rows:
        line = (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")
        f.write(line)
        at += len(line)
        ends.append(at)
    return np.array(ends, dtype=np.int64)


def _offsets(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts)


def _joined(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype=dtype)
