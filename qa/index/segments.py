"""Segments: the immutable parts an index is made of.

A segment holds some documents with their passages, passage and sentence vectors, and BM25
tokens, in files named `<segment>.<part>`. It is written once and never changed: a build
hard-links the files of the segments it keeps into its own folder and writes one new segment
for the documents that are new or changed (plus the live rows of segments it merges), so the
work of a build follows what changed, not the size of the corpus.

Which rows of which segment serve a document is said by the build's catalog (`catalog`); a document that
changed or went is simply no longer listed there, and its old rows are dropped when their
segment is next merged.
"""

from __future__ import annotations

import errno
import itertools
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..ingest.documents import Document
from ..ingest.passages import Passage
from .catalog import Span
from .lexical import Postings, Tokens
from .records import Lines, passage_of, remap
from .rows import SentenceMap
from .segment_writer import SegmentWriter
from .token_vectors import TokenVectors

PARTS = (
    "documents.jsonl",
    "passages.jsonl",
    "rows.npz",
    "vectors.npy",
    "sentences.npy",
    *(f"{part}-{kind}" for part in ("passage", "sentence") for kind in ("tokens.npz", "postings.npy", "postings-starts.npy")),
)
GRAPH = "hnsw.faiss"  # only in a segment of at least settings.ann_min_passages passages


@dataclass
class Segment:
    documents: list[Document]
    passages: list[Passage]
    sentence_rows: list[list[int]]  # per passage: rows of `sentence_vectors`
    vectors: np.ndarray
    sentence_vectors: np.ndarray
    passage_tokens: Tokens  # of the title-prefixed passages, rows as in `passages`
    sentence_tokens: Tokens  # rows as in `sentence_vectors`
    passage_late: TokenVectors | None = None  # late interaction's token vectors, rows as in `passages`

    def spans(self) -> list[Span]:
        """Each document's rows, in document order."""
        bounds: dict[str, list[int]] = {}
        for row, (p, sentences) in enumerate(zip(self.passages, self.sentence_rows, strict=True)):
            b = bounds.setdefault(p.doc_id, [row, row + 1, -1, -1])
            b[1] = row + 1
            if sentences:
                b[2] = sentences[0] if b[2] < 0 else min(b[2], sentences[0])
                b[3] = max(b[3], sentences[-1] + 1)
        spans, p_end, s_end = [], 0, 0
        for row, doc in enumerate(self.documents):
            p0, p1, s0, s1 = bounds.get(doc.id, [p_end, p_end, s_end, s_end])
            s0, s1 = (s_end, s_end) if s0 < 0 else (s0, s1)
            spans.append(Span(row, (p0, p1), (s0, s1)))
            p_end, s_end = p1, s1
        return spans


def files(folder: Path, name: str) -> list[str]:
    """The files of segment `name` in a build folder."""
    return sorted(p.name for p in folder.glob(f"{name}.*"))


def write(folder: Path, name: str, segment: Segment, graph: bool = False) -> None:
    """Write a segment's files; with `graph`, also an HNSW graph over its passage vectors.

    rows.npz holds what a search needs of every row without parsing a record: each line's
    offset in documents.jsonl and passages.jsonl, each passage's span, sentence rows and id.
    (A build writes its segment a batch at a time with the `SegmentWriter` this uses.)"""
    dimension = segment.vectors.shape[1] if segment.vectors.ndim == 2 else 0
    writer = SegmentWriter(folder / name, dimension)
    try:
        writer.add(segment)
    except BaseException:
        writer.abandon()
        raise
    writer.close(graph=graph)


def link(source: Path, folder: Path, name: str) -> None:
    """Put a kept segment's files in a new build folder: hard links (nothing copied), or copies
    where the file system has no hard links."""
    for file in files(source, name):
        try:
            os.link(source / file, folder / file)
        except OSError as e:
            if e.errno not in (errno.EPERM, errno.EXDEV, errno.ENOTSUP, errno.EMLINK):
                raise
            shutil.copyfile(source / file, folder / file)


@dataclass
class Stored:
    """A segment as opened for serving: records stay on disk (`Lines`), arrays are mapped or small."""

    base: Path  # <folder>/<segment>: its files are <base>.<part>
    documents: Lines
    passages: Lines
    spans: np.ndarray  # (passages, 2): each passage's [start, end) in its document
    sentence_starts: np.ndarray  # passage i's sentence rows are sentence_rows[starts[i]:starts[i + 1]]
    sentence_rows: np.ndarray
    ids: np.ndarray  # passage ids, bytes
    vectors: np.ndarray  # memory-mapped
    sentence_vectors: np.ndarray  # memory-mapped
    graph: Path | None  # its HNSW graph's file (a large segment): read by whoever searches it
    late: TokenVectors | None  # its passages' token vectors, mapped (None: it has none)

    def tokens(self, part: str) -> Tokens:
        return Tokens.load(Path(f"{self.base}.{part}-tokens.npz"))

    def postings(self, part: str) -> Postings:
        return Postings.load(f"{self.base}.{part}")


def open_stored(folder: Path, name: str) -> Stored:
    base = folder / name
    with np.load(f"{base}.rows.npz") as rows:
        arrays = {key: rows[key] for key in rows.files}
    return Stored(
        base,
        Lines(Path(f"{base}.documents.jsonl"), arrays["document_lines"]),
        Lines(Path(f"{base}.passages.jsonl"), arrays["passage_lines"]),
        arrays["spans"],
        arrays["sentence_starts"],
        arrays["sentence_rows"],
        arrays["ids"],
        np.load(f"{base}.vectors.npy", mmap_mode="r"),
        np.load(f"{base}.sentences.npy", mmap_mode="r"),
        Path(f"{base}.{GRAPH}") if Path(f"{base}.{GRAPH}").is_file() else None,
        TokenVectors.load(base),
    )


def read(folder: Path, name: str) -> Segment:
    """A whole segment, records parsed (for a merge); its vectors are memory-mapped."""
    s = open_stored(folder, name)
    starts = s.sentence_starts.tolist()
    return Segment(
        [Document(**s.documents[i]) for i in range(len(s.documents))],
        [passage_of(s.passages[i]) for i in range(len(s.passages))],
        [s.sentence_rows[a:z].tolist() for a, z in itertools.pairwise(starts)],
        s.vectors,
        s.sentence_vectors,
        s.tokens("passage"),
        s.tokens("sentence"),
        s.late,
    )


def read_some(
    folder: Path, name: str, spans: Sequence[Span], with_tokens: bool = True
) -> tuple[list[Document], list[list[Passage]], list[np.ndarray], list[np.ndarray], list[list[np.ndarray]]]:
    """Only these documents of a segment: each one's document, passages, passage vectors,
    sentence vectors and, `with_tokens`, passages' token vectors (none when the segment has
    none); the lines of other documents are not parsed."""
    s = open_stored(folder, name)
    late = s.late if with_tokens else None
    return (
        [Document(**s.documents[span.row]) for span in spans],
        [[passage_of(s.passages[i]) for i in range(*span.passages)] for span in spans],
        [np.array(s.vectors[slice(*span.passages)]) for span in spans],
        [np.array(s.sentence_vectors[slice(*span.sentences)]) for span in spans],
        [[] if late is None else [np.array(late[i].tokens) for i in range(*span.passages)] for span in spans],
    )


def assemble(pieces: Sequence[tuple[Segment, Span]]) -> Segment:
    """One segment of these documents (each given by its segment and span), in this order."""
    segments = list({id(seg): seg for seg, _ in pieces}.values())
    position = {id(seg): n for n, seg in enumerate(segments)}
    r = remap(
        [SentenceMap.of(s.sentence_rows) for s in segments],
        [len(s.sentence_vectors) for s in segments],
        np.array([position[id(seg)] for seg, _ in pieces], dtype=np.int64),
        np.array([span.passages for _, span in pieces], dtype=np.int64),
        np.array([span.sentences for _, span in pieces], dtype=np.int64),
    )
    passages = [seg.passages[row] for seg, span in pieces for row in range(*span.passages)]
    dimension = segments[0].vectors.shape[1] if segments else 0
    return Segment(
        documents=[seg.documents[span.row] for seg, span in pieces],
        passages=passages,
        sentence_rows=[r.sentences[n].tolist() for n in range(len(passages))],
        vectors=stack_rows([s.vectors for s in segments], r.passage_rows, dimension),
        sentence_vectors=stack_rows([s.sentence_vectors for s in segments], r.sentence_rows, dimension),
        passage_tokens=Tokens.concat([s.passage_tokens for s in segments]).take(r.passage_rows),
        sentence_tokens=Tokens.concat([s.sentence_tokens for s in segments]).take(r.sentence_rows),
        passage_late=_late_of(segments, r.passage_rows),
    )


def _late_of(segments: Sequence[Segment], rows: np.ndarray) -> TokenVectors | None:
    """These passage rows' token vectors, when every segment has them."""
    parts = [s.passage_late for s in segments]
    if not parts or any(p is None for p in parts):
        return None
    return TokenVectors.gather([p for p in parts if p is not None], rows)


def stack_rows(arrays: list[np.ndarray], rows: np.ndarray, dimension: int) -> np.ndarray:
    """These rows of the arrays put end to end. When they are all of one array in order, that
    array itself: memory-mapped, so processes serving one index share its pages."""
    if not arrays:
        return np.zeros((0, dimension), dtype=np.float32)
    if len(arrays) == 1 and len(rows) == len(arrays[0]) and np.array_equal(rows, np.arange(len(rows))):
        return arrays[0]
    whole = arrays[0] if len(arrays) == 1 else np.concatenate(arrays)
    return np.ascontiguousarray(whole[rows], dtype=np.float32)
