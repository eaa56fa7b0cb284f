"""The catalog: which segment and rows serve each document, in corpus order, with its content
digest and file. A build folder stores it as columns (`catalog.npz`) so that opening an index of
a million documents reads a few arrays instead of parsing a JSON object per document.

In a build, a document's place is an `Entry`: its segment, digest, file, source and `Span`.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

FILE = "catalog.npz"


class Span(NamedTuple):
    """Where one document's rows are in its segment: its line in documents.jsonl, then the
    [start, end) rows of its passages and of its sentences (each document's are contiguous)."""

    row: int
    passages: tuple[int, int]
    sentences: tuple[int, int]


@dataclass(frozen=True)
class Entry:
    """One document of the catalog: the segment and rows that serve it, and where it came from."""

    segment: str
    digest: str  # sha256 (hex) of its text, title and metadata
    file: str  # its corpus file, relative to the corpus folder ("" for documents given in memory)
    source: str  # its file as shown to people
    span: Span

    @property
    def passages(self) -> int:
        return self.span.passages[1] - self.span.passages[0]

    @property
    def sentences(self) -> int:
        return self.span.sentences[1] - self.span.sentences[0]


@dataclass(frozen=True)
class Columns:
    ids: list[str]
    segments: list[str]  # the names `segment` codes stand for
    segment: np.ndarray  # int32 per document
    row: np.ndarray  # its line in the segment's documents.jsonl
    passages: np.ndarray  # (documents, 2): its passage rows in the segment
    sentences: np.ndarray  # (documents, 2)
    digests: np.ndarray  # (documents, 32) uint8: sha256 of its text, title and metadata
    files: list[str]
    file: np.ndarray
    sources: list[str]
    source: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def entries(self) -> dict[str, Entry]:
        """The catalog as a build uses it: document id -> entry."""
        columns = zip(
            self.ids,
            self.segment.tolist(),
            self.digests,
            self.file.tolist(),
            self.source.tolist(),
            self.row.tolist(),
            self.passages.tolist(),
            self.sentences.tolist(),
            strict=True,
        )
        return {
            doc_id: Entry(self.segments[s], bytes(d).hex(), self.files[f], self.sources[o], Span(r, (p0, p1), (s0, s1)))
            for doc_id, s, d, f, o, r, (p0, p1), (s0, s1) in columns
        }


def write(path: Path, entries: Mapping[str, Entry]) -> None:
    values = list(entries.values())
    arrays: dict[str, Any] = {}  # (all arrays: typed Any so that numpy's stubs take them as **kwargs)
    for name in ("segment", "file", "source"):
        names = sorted({getattr(e, name) for e in values})
        code = {n: i for i, n in enumerate(names)}
        arrays[f"{name}_code"] = np.array([code[getattr(e, name)] for e in values], dtype=np.int32)
        arrays[f"{name}_bytes"], arrays[f"{name}_offsets"] = _strings(names)
    arrays["id_bytes"], arrays["id_offsets"] = _strings(list(entries))
    arrays["row"] = np.array([e.span.row for e in values], dtype=np.int64)
    arrays["passages"] = np.array([e.span.passages for e in values], dtype=np.int64).reshape(-1, 2)
    arrays["sentences"] = np.array([e.span.sentences for e in values], dtype=np.int64).reshape(-1, 2)
    digests = b"".join(bytes.fromhex(e.digest) for e in values)
    arrays["digests"] = np.frombuffer(digests, dtype=np.uint8).reshape(-1, 32)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def read(path: Path) -> Columns:
    with np.load(path) as data:
        a = {key: data[key] for key in data.files}
    return Columns(
        ids=_unstrings(a["id_bytes"], a["id_offsets"]),
        segments=_unstrings(a["segment_bytes"], a["segment_offsets"]),
        segment=a["segment_code"],
        row=a["row"],
        passages=a["passages"],
        sentences=a["sentences"],
        digests=a["digests"],
        files=_unstrings(a["file_bytes"], a["file_offsets"]),
        file=a["file_code"],
        sources=_unstrings(a["source_bytes"], a["source_offsets"]),
        source=a["source_code"],
    )


def _strings(values: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Strings as one UTF-8 buffer and the offsets of each (any character allowed)."""
    encoded = [v.encode("utf-8", "surrogatepass") for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets


def _unstrings(buffer: np.ndarray, offsets: np.ndarray) -> list[str]:
    data = buffer.tobytes()
    bounds = offsets.tolist()
    return [data[a:z].decode("utf-8", "surrogatepass") for a, z in itertools.pairwise(bounds)]
