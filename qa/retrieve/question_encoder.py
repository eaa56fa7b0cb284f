"""The model that encodes questions, and the lock it runs under.

torch and BLAS both use every core, so their calls are serialised, first come first served
(`FairLock`): a batch is encoded in chunks, each under the lock, so a question asked meanwhile
waits for one chunk, not for the batch. A server keeps one `QuestionEncoder` for every index it
serves in turn (`LiveSearcher`): the model and the stemmer never run in two threads at once,
whichever index a request is answered from."""

from __future__ import annotations

import os

import numpy as np

from ..config import Settings
from ..encode import cpu, late
from ..encode.embedder import Embedder, TokenEmbedder, passage_encoder
from ..encode.onnx import OnnxEmbedder
from .fair_lock import FairLock


class QuestionEncoder:
    """An embedder for questions, its lock, and the passage encoder loaded beside it for rebuilds."""

    def __init__(self, embedder: Embedder, passages: Embedder | None = None) -> None:
        """`passages`: the model that encodes passages for rebuilds, when not the default
        (see `passage_encoder`)."""
        self.embedder = embedder
        self.lock = FairLock()  # held while the model or BLAS runs (see the module's docstring)
        self._passages = passages  # the passage encoder: given, or once loaded

    def encode(self, texts: list[str], max_chars: int) -> np.ndarray:
        """The texts' vectors, encoded in chunks of up to `max_chars` characters (or one text),
        each under the lock."""
        return self.encode_with_tokens(texts, max_chars, None)[0]

    def encode_with_tokens(
        self, texts: list[str], max_chars: int, projection: np.ndarray | None
    ) -> tuple[np.ndarray, list[np.ndarray] | None]:
        """`encode`, and each text's token vectors for late interaction (`late.question_tokens`)
        from the same forward pass; None without a `projection` or a model that gives them."""
        chunks: list[list[str]] = [[]]
        for text in texts:
            if chunks[-1] and sum(map(len, chunks[-1])) + len(text) > max_chars:
                chunks.append([])
            chunks[-1].append(text)
        embedder = self.embedder
        vectors, tokens = [], []
        for chunk in chunks:
            with self.lock:
                if projection is not None and isinstance(embedder, TokenEmbedder):
                    encoded, raw = embedder.encode_tokens(chunk)
                    tokens += [late.question_tokens(t, projection) for t in raw]
                else:
                    encoded = embedder.encode(chunk)
                vectors.append(encoded)
        return np.concatenate(vectors), tokens if len(tokens) == len(texts) else None

    def info(self) -> dict[str, str]:
        """What encodes questions here and why (an ONNX tier, or torch and the reason)."""
        tier = getattr(self.embedder, "tier", type(self.embedder).__name__)
        return {"tier": tier, "why": getattr(self.embedder, "why", ""), "cpu": cpu.describe()}

    def passage_encoder(self, settings: Settings) -> Embedder:
        """The model that encodes passages for a rebuild in this process: the fp32 ONNX export or
        torch (loaded on first use when questions are encoded by an ONNX tier); see
        `embedder.passage_encoder`."""
        if self._passages is None and not isinstance(self.embedder, OnnxEmbedder):
            return self.embedder
        with self.lock:
            if self._passages is None:
                self._passages = passage_encoder(settings, threads=beside_searches())
            return self._passages


def beside_searches() -> int:
    """Cores for a build inside a server: all but one, which stays free for the searches that
    are answered meanwhile."""
    return max((os.cpu_count() or 1) - 1, 1)
