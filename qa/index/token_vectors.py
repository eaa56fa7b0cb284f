"""Sentences' token vectors for late interaction (`encode.late`), as a segment keeps them.

A segment's sentences' int8 token vectors lie end to end in `<segment>.sentence-late.npy`
(tokens × `late.DIMS`), and `<segment>.sentence-late-offsets.npy` says where each sentence's
begin. Only segments encoded by a model with a projection have them; an index serves token
vectors only when every segment it serves has them (`Served.of`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..encode import late

DATA = "sentence-late.npy"
OFFSETS = "sentence-late-offsets.npy"


@dataclass(frozen=True)
class TokenVectors:
    """Many texts' token vectors: text i's are `data[offsets[i]:offsets[i + 1]]`."""

    data: np.ndarray  # (tokens, late.DIMS) int8, in memory or mapped
    offsets: np.ndarray  # int64, one more than there are texts

    @classmethod
    def of(cls, matrices: Sequence[np.ndarray]) -> TokenVectors:
        offsets = np.zeros(len(matrices) + 1, dtype=np.int64)
        np.cumsum([len(m) for m in matrices], out=offsets[1:])
        data = np.concatenate(matrices) if len(matrices) else np.zeros((0, late.DIMS), dtype=np.int8)
        return cls(data.astype(np.int8, copy=False).reshape(-1, late.DIMS), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, row: int) -> np.ndarray:
        return self.data[self.offsets[row] : self.offsets[row + 1]]

    def rows(self) -> list[np.ndarray]:
        return [self[i] for i in range(len(self))]

    def take(self, rows: np.ndarray) -> TokenVectors:
        """These texts' token vectors, in this order."""
        return TokenVectors.of([self[int(r)] for r in rows])

    @staticmethod
    def concat(parts: Sequence[TokenVectors]) -> TokenVectors:
        return TokenVectors.of([m for part in parts for m in part.rows()])

    def save(self, base: Path | str) -> None:
        np.save(f"{base}.{DATA}", np.ascontiguousarray(self.data, dtype=np.int8))
        np.save(f"{base}.{OFFSETS}", self.offsets)

    @classmethod
    def load(cls, base: Path | str) -> TokenVectors | None:
        """A segment's, memory-mapped; None when it has none."""
        if not Path(f"{base}.{OFFSETS}").is_file():
            return None
        return cls(np.load(f"{base}.{DATA}", mmap_mode="r"), np.load(f"{base}.{OFFSETS}"))


@dataclass(frozen=True)
class Served:
    """The token vectors of an index's served sentence rows, across its segments."""

    parts: list[TokenVectors]
    starts: np.ndarray  # where each part's sentences begin, counted end to end
    rows: np.ndarray  # served sentence row -> its row among the parts' sentences end to end

    @classmethod
    def of(cls, parts: Sequence[TokenVectors | None], rows: np.ndarray) -> Served | None:
        """None unless every part has token vectors."""
        if not parts or any(p is None for p in parts):
            return None
        kept = [p for p in parts if p is not None]
        starts = np.zeros(len(kept), dtype=np.int64)
        np.cumsum([len(p) for p in kept[:-1]], out=starts[1:])
        return cls(kept, starts, rows)

    def __getitem__(self, sentence_row: int) -> np.ndarray:
        at = int(self.rows[sentence_row])
        part = int(np.searchsorted(self.starts, at, side="right")) - 1
        return self.parts[part][at - int(self.starts[part])]
