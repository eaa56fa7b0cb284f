"""Embeddings reused by content: a build encodes only the texts that the previous build has not
already embedded with the same model (new or changed documents), so updating a corpus costs
time in proportion to what changed. Passages' token vectors for late interaction (`late`) are
kept the same way, compacted as the index stores them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from .embedder import Embedder, TokenEmbedder


class EmbeddingCache:
    """Vectors by the exact text that was embedded."""

    def __init__(self, vectors: Mapping[str, np.ndarray] | None = None, tokens: Mapping[str, np.ndarray] | None = None) -> None:
        self.vectors = dict(vectors or {})
        self.tokens = dict(tokens or {})  # int8 token vectors (`late.compact`) by text
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
        return self.encode_with_tokens(embedder, texts, batch_size, progress, None)[0]

    def encode_with_tokens(
        self,
        embedder: Embedder,
        texts: Sequence[str],
        batch_size: int,
        progress: Callable[[int, int], None] | None,
        projection: np.ndarray | None,
    ) -> tuple[np.ndarray, list[np.ndarray] | None]:
        """`encode`, and each text's int8 token vectors from the same forward pass; None (and only
        `encode`) when the model has no `projection` or the embedder gives no token vectors."""
        with_tokens = projection is not None and isinstance(embedder, TokenEmbedder)  # a text lacking either is encoded
        missing = list(dict.fromkeys(t for t in texts if t not in self.vectors or (with_tokens and t not in self.tokens)))
        if missing:
            if with_tokens:
                vectors, tokens = embedder.encode_tokens(missing, batch_size, progress, projection)  # type: ignore[attr-defined]
                self.tokens.update(zip(missing, tokens, strict=True))  # compacted as they came
            else:
                vectors = embedder.encode(missing, batch_size, progress)
            self.vectors.update(zip(missing, vectors, strict=True))
            self.encoded += len(missing)
            self._added += missing
        elif progress:
            progress(len(texts), len(texts))
        self.reused += len(texts) - len(missing)
        out = np.empty((len(texts), embedder.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            out[row] = self.vectors[text]
        return out, [self.tokens[t] for t in texts] if with_tokens else None

    def forget_encoded(self) -> None:
        """Drop the vectors encoded so far (a build writes a batch's, then frees them); the ones
        it was given stay."""
        for text in self._added:
            self.vectors.pop(text, None)
            self.tokens.pop(text, None)
        self._added = []
