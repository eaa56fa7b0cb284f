"""Late interaction: the model's own contextual token vectors, kept small, and MaxSim over them.

ColBERT's late interaction scores a passage by, for each question token, its best cosine to a
token of the passage, averaged over the question's tokens (MaxSim). all-MiniLM-L6-v2 was trained
for mean-pooled vectors, not for this, yet its token vectors still tell "the passage that names
the answer" from "the passage about the question" better than the pooled vector does
(bench/reading_ceiling.py `late`), and the sentence that holds the answer from its neighbours.
The index keeps each passage's token vectors from the same forward pass that gives its pooled
vector: [CLS] and [SEP] dropped, projected onto the model's first DIMS principal directions
(`PROJECTIONS`, fitted by `qa/eval/projection.py` on SQuAD's tune articles), unit length,
rounded to int8: 64 bytes a token. With them, where each of its sentences begins among them
(`Block`): the passage's MaxSim reads the tokens of its sentences (not of the title embedded
before them), and each sentence has its own MaxSim, read in its passage's context.

Only models with a shipped projection get token vectors; an index without them ranks without
the MaxSim features (`rerank`).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import ConfigError

DIMS = 64
SCALE = 127.0  # int8 token vectors are unit vectors times SCALE, rounded
FOLDER = Path(__file__).with_name("projections")
# Model name (as configured) -> the projection's file in FOLDER, beside its .sha256.
PROJECTIONS = {
    "sentence-transformers/all-MiniLM-L6-v2": "all-MiniLM-L6-v2.npy",
    "all-MiniLM-L6-v2": "all-MiniLM-L6-v2.npy",
}


def projection_digest(model: str) -> str:
    """The sha256 of the model's projection ("" without one): a build records it, so a refitted
    projection makes the next build encode everything again."""
    path = projection_file(model)
    return _recorded_digest(path) if path is not None and path.is_file() else ""


def projection_file(model: str) -> Path | None:
    name = PROJECTIONS.get(model)
    return FOLDER / name if name else None


@functools.cache
def projection(model: str) -> np.ndarray | None:
    """The model's (dimension, DIMS) projection, once its sha256 matches; None: the model has none."""
    path = projection_file(model)
    if path is None or not path.is_file():
        return None
    if hashlib.sha256(path.read_bytes()).hexdigest() != _recorded_digest(path):
        raise ConfigError(f"{path} does not match its checksum: reinstall qa or refit it (qa/eval/projection.py)")
    return np.load(path).astype(np.float32)


def _recorded_digest(path: Path) -> str:
    """The sha256 written beside a projection's file, as `sha256sum` writes it."""
    return path.with_name(f"{path.name}.sha256").read_text(encoding="ascii").split()[0]


class Tokens:
    """Where an embedder's run puts each text's token vectors (the last hidden state of its own
    tokens, [CLS] and [SEP] included): as they come, float32, or with a `projection`, compacted
    at once (`compact`), so a build holds a batch's float32 tokens at most."""

    def __init__(self, count: int, dimension: int, projection: np.ndarray | None = None) -> None:
        self.rows: list[np.ndarray] = [np.zeros((0, dimension), dtype=np.float32)] * count
        self.projection = projection

    def put(self, rows: Sequence[int] | np.ndarray, tokens: Sequence[np.ndarray]) -> None:
        """A batch's texts' token vectors (compacted together: `compact_many`)."""
        kept = (
            [np.array(mine, dtype=np.float32) for mine in tokens]
            if self.projection is None
            else compact_many(tokens, self.projection)
        )
        for row, mine in zip(rows, kept, strict=True):
            self.rows[int(row)] = mine


class Encodes:
    """`encode` and `encode_tokens` of an embedder that gives token vectors, over its one `_run`:
    the pooled unit vectors, and with `Tokens` to fill, each text's token vectors from the same
    forward pass."""

    dimension: int

    def _run(
        self, texts: Sequence[str], batch_size: int, progress: Callable[[int, int], None] | None, tokens: Tokens | None
    ) -> np.ndarray:
        raise NotImplementedError

    def encode(
        self, texts: Sequence[str], batch_size: int = 32, progress: Callable[[int, int], None] | None = None
    ) -> np.ndarray:
        return self._run(texts, batch_size, progress, None)

    def encode_tokens(
        self,
        texts: Sequence[str],
        batch_size: int = 32,
        progress: Callable[[int, int], None] | None = None,
        projection: np.ndarray | None = None,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """The vectors, and each text's token vectors: float32, or compacted with a `projection`."""
        tokens = Tokens(len(texts), self.dimension, projection)
        return self._run(texts, batch_size, progress, tokens), tokens.rows


class Block(NamedTuple):
    """A passage's stored token vectors, and where each of its sentences' tokens begin among them."""

    tokens: np.ndarray  # (tokens, DIMS) int8
    starts: np.ndarray  # int32, a position in `tokens` per sentence, ascending

    def passage(self) -> np.ndarray:
        """The tokens of its sentences (those before the first sentence are its title's)."""
        return self.tokens[int(self.starts[0]) :] if len(self.starts) else self.tokens[:0]

    def sentences(self) -> list[np.ndarray]:
        ends = [*self.starts[1:].tolist(), len(self.tokens)]
        return [self.tokens[int(a) : int(b)] for a, b in zip(self.starts.tolist(), ends, strict=True)]


def sentence_maxsims(question: np.ndarray, block: Block) -> np.ndarray:
    """`maxsim` of the question over each sentence of the passage, read in the passage's context."""
    return np.array([maxsim(question, tokens) for tokens in block.sentences()])


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)


def question_tokens(tokens: np.ndarray, project: np.ndarray) -> np.ndarray:
    """A question's token vectors as MaxSim reads them: (tokens without [CLS] and [SEP], DIMS)
    float32, unit length. `tokens`: the model's output for the question's tokens, specials included."""
    return _projected(np.asarray(tokens, dtype=np.float32)[1:-1], project)


def _projected(inner: np.ndarray, project: np.ndarray) -> np.ndarray:
    return _unit(_unit(inner) @ project)


def compact(tokens: np.ndarray, project: np.ndarray) -> np.ndarray:
    """A text's token vectors as stored: `question_tokens`, as int8."""
    return compact_many([tokens], project)[0]


def compact_many(tokens: Sequence[np.ndarray], project: np.ndarray) -> list[np.ndarray]:
    """`compact` of several texts in one product (small products one a text, right after the
    model's run, are slow while its threads still spin)."""
    inner = [np.asarray(mine, dtype=np.float32)[1:-1] for mine in tokens]
    joined = np.concatenate(inner) if inner else np.zeros((0, project.shape[0]), dtype=np.float32)
    stored = np.round(_projected(joined, project) * SCALE).astype(np.int8)
    return np.split(stored, np.cumsum([len(mine) for mine in inner])[:-1])


def maxsim(question: np.ndarray, stored: np.ndarray) -> float:
    """For each question token, its best cosine to a stored token; averaged (0 with no tokens)."""
    if not len(question) or not len(stored):
        return 0.0
    return float((question @ (stored.astype(np.float32).T / SCALE)).max(axis=1).mean())


def fit(tokens: list[np.ndarray]) -> np.ndarray:
    """The first DIMS principal directions of these texts' token vectors (each as the model gives
    them, specials included): a (dimension, DIMS) float32 projection. The sign of each direction
    is fixed (its largest entry positive), so a refit on another machine gives the same file."""
    sample = np.vstack([_unit(np.asarray(t, dtype=np.float32)[1:-1]) for t in tokens if len(t) > 2]).astype(np.float64)
    directions = np.linalg.svd(sample - sample.mean(axis=0), full_matrices=False)[2][:DIMS]
    signs = np.sign(directions[np.arange(DIMS), np.abs(directions).argmax(axis=1)])
    return (directions * signs[:, None]).T.astype(np.float32)
