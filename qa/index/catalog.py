"""The catalog: which segment and rows serve each document, in corpus order, with its content
digest and file. A build folder stores it as columns (`catalog.npz`) so that opening an index of
a million documents reads a few arrays instead of parsing a JSON object per document.

In a build, an entry is a dict: {"segment", "digest", "file", "source", "row", "passages":
[start, end], "sentences": [start, end]} (see `index._entry`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

FILE = "catalog.npz"


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

    def entries(self) -> dict[str, dict]:
        """The catalog as a build uses it: document id -> entry."""
        digests = [bytes(d).hex() for d in self.digests]
        return {
            doc_id: {
                "segment": self.segments[s], "digest": digest, "file": self.files[f], "source": self.sources[o],
                "row": r, "passages": p, "sentences": q,
            }  # fmt: skip
            for doc_id, s, digest, f, o, r, p, q in zip(
                self.ids, self.segment.tolist(), digests, self.file.tolist(), self.source.tolist(),
                self.row.tolist(), self.passages.tolist(), self.sentences.tolist(),
            )  # fmt: skip
        }


def write(path: Path, entries: dict[str, dict]) -> None:
    values = list(entries.values())
    arrays: dict[str, np.ndarray] = {}
    for name in ("segment", "file", "source"):
        names = sorted({e[name] for e in values})
        code = {n: i for i, n in enumerate(names)}
        arrays[f"{name}_code"] = np.array([code[e[name]] for e in values], dtype=np.int32)
        arrays[f"{name}_bytes"], arrays[f"{name}_offsets"] = _strings(names)
    arrays["id_bytes"], arrays["id_offsets"] = _strings(list(entries))
    arrays["row"] = np.array([e["row"] for e in values], dtype=np.int64)
    for name in ("passages", "sentences"):
        arrays[name] = np.array([e[name] for e in values], dtype=np.int64).reshape(-1, 2)
    arrays["digests"] = np.frombuffer(b"".join(bytes.fromhex(e["digest"]) for e in values), dtype=np.uint8).reshape(-1, 32)
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
    return [data[a:z].decode("utf-8", "surrogatepass") for a, z in zip(bounds, bounds[1:])]
