"""Row arithmetic shared by the index and the ranking: ranges of rows end to end, the sentence
rows of each passage, and the rows of the highest scores."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class SentenceMap:
    """Which sentence rows belong to each passage, flattened for segment-wise maxima."""

    rows: np.ndarray  # all passages' sentence rows, passage after passage
    starts: np.ndarray  # where each passage's rows begin in `rows`

    @classmethod
    def of(cls, sentence_rows: list[list[int]]) -> SentenceMap:
        lengths = np.array([len(r) for r in sentence_rows], dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        return cls(np.fromiter((r for rows in sentence_rows for r in rows), dtype=np.int64), starts)

    def __getitem__(self, passage: int) -> np.ndarray:
        """One passage's sentence rows."""
        end = self.starts[passage + 1] if passage + 1 < len(self.starts) else len(self.rows)
        return self.rows[self.starts[passage] : end]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SentenceMap):
            return NotImplemented
        return np.array_equal(self.rows, other.rows) and np.array_equal(self.starts, other.starts)

    def numbered(self) -> SentenceMap:
        """The same passages' sentences numbered 0, 1, ... in this order: for scores computed for
        these sentences alone."""
        return SentenceMap(np.arange(len(self.rows)), self.starts)

    def best(self, sentence_scores: np.ndarray) -> np.ndarray:
        """Per passage, the highest score among its sentences."""
        return np.maximum.reduceat(sentence_scores[self.rows], self.starts)

    def of_passages(self, passages: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The sentence rows of these passages, passage after passage, and where each passage's
        begin (for `np.maximum.reduceat`)."""
        after = np.minimum(passages + 1, len(self.starts) - 1)
        ends = np.where(passages + 1 < len(self.starts), self.starts[after], len(self.rows))
        flat, offsets = ranges(np.stack([self.starts[passages], ends], axis=1))
        return self.rows[flat], offsets


def ranges(bounds: object) -> tuple[np.ndarray, np.ndarray]:
    """The integers of these [start, end) ranges (an array of pairs), end to end, and where
    each range begins among them."""
    bounds = np.asarray(bounds, dtype=np.int64).reshape(-1, 2)
    lengths = bounds[:, 1] - bounds[:, 0]
    offsets = np.zeros(len(lengths), dtype=np.int64)
    np.cumsum(lengths[:-1], out=offsets[1:])
    return np.arange(int(lengths.sum()), dtype=np.int64) + np.repeat(bounds[:, 0] - offsets, lengths), offsets


def best_rows(scores: np.ndarray, n: int) -> np.ndarray:
    """Rows of the n highest scores, in no particular order (all rows when there are no more)."""
    return np.argpartition(-scores, n - 1)[:n] if n < len(scores) else np.arange(len(scores))
