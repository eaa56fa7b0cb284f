"""Embeddings reused by content: a build encodes only the texts that the previous build has not
already embedded with the same model (new or changed documents), so updating a corpus costs
time in proportion to what changed."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from .embedder import Embedder


class EmbeddingCache:
    """Vectors by the exact text that was embedded."""

    def __init__(self, vectors: Mapping[str, np.ndarray] | None = None) -> None:
        self.vectors = dict(vectors or {})
        self.reused = 0
        self.encoded = 0  # texts this cache had to encode
        self._added: list[str] = []  # the texts it encoded, since `forget_encoded`

    def encode(
        self,
        embedder: Embedder,
        texts: Sequence[str],
        batch_size: int,
        progress: Callable[[int, int], None] | None = None,
    ) -> np.ndarray:
        """Vectors for `texts`, encoding only the ones not in the cache (each distinct text once)."""
        missing = list(dict.fromkeys(t for t in texts if t not in self.vectors))
        if missing:
            self.vectors.update(zip(missing, embedder.encode(missing, batch_size, progress), strict=True))
            self.encoded += len(missing)
            self._added += missing
        elif progress:
            progress(len(texts), len(texts))
        self.reused += len(texts) - len(missing)
        out = np.empty((len(texts), embedder.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            out[row] = self.vectors[text]
        return out

    def forget_encoded(self) -> None:
        """Drop the vectors encoded so far (a build writes a batch's, then frees them); the ones
        it was given stay."""
        for text in self._added:
            del self.vectors[text]
        self._added = []
