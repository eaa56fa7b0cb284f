"""Passages' token vectors for late interaction (`encode.late`), as a segment keeps them.

A segment's passages' int8 token vectors lie end to end in `<segment>.passage-late.npy`
(tokens × `late.DIMS`); `<segment>.passage-late-offsets.npy` says where each passage's begin,
`<segment>.passage-late-sentences.npz` where each of its sentences begins among them (a
position per sentence, passage after passage, in the order of the passage's sentences). Only
segments encoded by a model with a projection have them; an index serves token vectors only
when every segment it serves has them (`Served.of`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..encode import late

DATA = "passage-late.npy"
OFFSETS = "passage-late-offsets.npy"
SENTENCES = "passage-late-sentences.npz"


def _offsets(lengths: Sequence[int] | np.ndarray) -> np.ndarray:
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return offsets


@dataclass(frozen=True)
class TokenVectors:
    """Many passages' `late.Block`s: passage i's tokens are `data[offsets[i]:offsets[i + 1]]`,
    its sentences' starts `starts[bounds[i]:bounds[i + 1]]`."""

    data: np.ndarray  # (tokens, late.DIMS) int8, in memory or mapped
    offsets: np.ndarray  # int64, one more than there are passages
    starts: np.ndarray  # int32, passage after passage
    bounds: np.ndarray  # int64, one more than there are passages

    @classmethod
    def of(cls, blocks: Sequence[late.Block]) -> TokenVectors:
        data = np.concatenate([b.tokens for b in blocks]) if blocks else np.zeros((0, late.DIMS), dtype=np.int8)
        starts = np.concatenate([b.starts for b in blocks]) if blocks else np.zeros(0, dtype=np.int32)
        return cls(
            data.astype(np.int8, copy=False).reshape(-1, late.DIMS),
            _offsets([len(b.tokens) for b in blocks]),
            starts.astype(np.int32, copy=False),
            _offsets([len(b.starts) for b in blocks]),
        )

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, row: int) -> late.Block:
        return late.Block(
            self.data[self.offsets[row] : self.offsets[row + 1]], self.starts[self.bounds[row] : self.bounds[row + 1]]
        )

    @staticmethod
    def gather(parts: Sequence[TokenVectors], rows: np.ndarray) -> TokenVectors:
        """These passages' blocks, `rows` counting the parts' passages end to end: only those
        rows are read (a merge copies its live rows once, not whole segments)."""
        first = _offsets([len(p) for p in parts])
        part_of = np.searchsorted(first, rows, side="right") - 1
        return TokenVectors.of([parts[int(k)][int(r - first[k])] for k, r in zip(part_of, rows, strict=True)])

    def save(self, base: Path | str) -> None:
        np.save(f"{base}.{DATA}", np.ascontiguousarray(self.data, dtype=np.int8))
        save_starts(base, self.offsets, self.starts, self.bounds)

    @classmethod
    def load(cls, base: Path | str) -> TokenVectors | None:
        """A segment's, memory-mapped; None when it has none."""
        if not Path(f"{base}.{OFFSETS}").is_file():
            return None
        with np.load(f"{base}.{SENTENCES}") as saved:
            starts, bounds = saved["starts"], saved["bounds"]
        return cls(np.load(f"{base}.{DATA}", mmap_mode="r"), np.load(f"{base}.{OFFSETS}"), starts, bounds)


def save_starts(base: Path | str, offsets: np.ndarray, starts: np.ndarray, bounds: np.ndarray) -> None:
    """The files besides the tokens' own: where each passage's tokens and sentences begin."""
    np.save(f"{base}.{OFFSETS}", offsets)
    with open(f"{base}.{SENTENCES}", "wb") as f:
        np.savez(f, starts=starts.astype(np.int32, copy=False), bounds=bounds)


@dataclass(frozen=True)
class Served:
    """The token vectors of an index's served passage rows, across its segments."""

    parts: list[TokenVectors]
    first: np.ndarray  # where each part's passages begin, counted end to end
    rows: np.ndarray  # served passage row -> its row among the parts' passages end to end

    @classmethod
    def of(cls, parts: Sequence[TokenVectors | None], rows: np.ndarray) -> Served | None:
        """None unless every part has token vectors."""
        if not parts or any(p is None for p in parts):
            return None
        kept = [p for p in parts if p is not None]
        return cls(kept, _offsets([len(p) for p in kept])[:-1], rows)

    def __getitem__(self, passage_row: int) -> late.Block:
        at = int(self.rows[passage_row])
        part = int(np.searchsorted(self.first, at, side="right")) - 1
        return self.parts[part][at - int(self.first[part])]
