"""Who encodes a build's texts: this process (`local`), or a pool of Ray actors (`ray`, a local
Ray; `ray://host:port`, a Ray cluster), chosen by `settings.build_workers`.

`bulk_encoder` is the one seam: a context manager that yields an `Embedder` for the duration of
a build's encoding. Locally that is the build's own embedder. With Ray it is a `RayEncoder`:
the texts go to Ray Data (`from_arrow` -> `map_batches` over an actor pool), each actor loads
the encoder once, from the `Settings` it is given (the same way a local build does, offline),
and the vectors come back in the texts' order. Ray is imported only here, and only then.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import EncodersUnavailable
from .embedder import Embedder, Progress
from .late import Encodes, Tokens

if TYPE_CHECKING:
    from ..config import Settings

log = logging.getLogger(__name__)

LOCAL = "local"
RAY = "ray"
CLUSTER_PREFIX = "ray://"
PROBE_SECONDS = 5.0  # to open a TCP connection to a ray:// address
ROWS_PER_BLOCK = 2048  # texts per Ray Data block at most
BLOCKS_PER_ACTOR = 4  # blocks per actor at least (when there are texts enough): the work is spread


@contextmanager
def bulk_encoder(settings: Settings, embedder: Embedder) -> Iterator[Embedder]:
    """The encoder of a build's passages and sentences: `embedder` itself for a local build, a
    `RayEncoder` (connected on first use, disconnected on leaving) for a Ray build."""
    if settings.build_workers == LOCAL:
        yield embedder
        return
    encoder = RayEncoder(settings, embedder)
    try:
        yield encoder
    finally:
        encoder.close()


@dataclass
class _Connection:
    ray: Any
    started: bool  # by us: shut down when done
    gpus: int
    cpus: int


class RayEncoder(Encodes):
    """A `TokenEmbedder` whose `encode` and `encode_tokens` run on a Ray actor pool. `name`,
    `dimension` and `precision` are the local `embedder`'s, which must be the same model; token
    starts are the local one's (the tokenizer is cheap)."""

    def __init__(self, settings: Settings, embedder: Embedder) -> None:
        self.settings = settings
        self.name, self.dimension = embedder.name, embedder.dimension
        self.precision = getattr(embedder, "precision", "fp32")
        self.tier = f"ray ({settings.build_workers})"
        self._connection: _Connection | None = None
        self._local = embedder

    def token_starts(self, texts: Sequence[str]) -> list[np.ndarray]:
        return self._local.token_starts(texts)  # type: ignore[attr-defined]

    def _run(self, texts: Sequence[str], batch_size: int, progress: Progress | None, tokens: Tokens | None) -> np.ndarray:
        """The actors encode; with `tokens`, they give each text's token vectors too, compacted
        there when `tokens` has a projection (a batch's float32 tokens never leave an actor)."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        c = self._connect()
        import pyarrow as pa

        actors, resources = pool_size(self.settings.ray_actors, c.gpus, c.cpus)
        order = np.argsort([len(t) for t in texts], kind="stable")  # blocks of like length: less padding
        count = min(len(texts), max(actors * BLOCKS_PER_ACTOR, -(-len(texts) // ROWS_PER_BLOCK)))
        blocks = [
            pa.table({"row": rows, "text": pa.array([texts[i] for i in rows], type=pa.large_string())})
            for rows in np.array_split(order, count)
        ]  # blocks put in the object store as they are: no task has to split them
        data = c.ray.data.from_arrow(blocks)
        vectors = data.map_batches(
            EncodeBatches,
            fn_constructor_kwargs={
                "settings": self.settings,
                "threads": int(resources.get("num_cpus", 0)),
                "tokens": tokens is not None,
                "projection": None if tokens is None else tokens.projection,
            },
            batch_size=max(batch_size * 8, 1),
            batch_format="numpy",
            compute=c.ray.data.ActorPoolStrategy(size=actors),
            **resources,
        )
        done = 0
        try:
            for batch in vectors.iter_batches(batch_size=None, batch_format="numpy"):
                out[batch["row"]] = batch["vector"]
                if tokens is not None:
                    for row, flat, count in zip(batch["row"], batch["tokens"], batch["count"], strict=True):
                        tokens.rows[int(row)] = np.asarray(flat).reshape(int(count), -1)  # as the actor made them
                done += len(batch["row"])
                if progress:
                    progress(done, len(texts))
        except Exception as e:
            raise EncodersUnavailable(f"encoding on Ray failed ({type(e).__name__}: {_first_line(e)})") from e
        if done != len(texts):
            raise EncodersUnavailable(f"Ray returned {done} vectors for {len(texts)} texts")
        return out

    def _connect(self) -> _Connection:
        if self._connection is None:
            self._connection = connect(self.settings.build_workers)
        return self._connection

    def close(self) -> None:
        if self._connection is not None and self._connection.started:
            self._connection.ray.shutdown()
        self._connection = None


def check_reachable(workers: str) -> None:
    """Fail at once, in one line (`EncodersUnavailable`), when Ray is not installed or a
    `ray://host:port` address takes no connection (Ray's own client would retry for 30 s)."""
    if workers == LOCAL:
        return
    try:
        import ray.data  # noqa: F401  (ray without its `data` extra has no ray.data)
    except ImportError as e:
        raise EncodersUnavailable(f"--workers {workers} needs Ray Data: pip install 'qa[ray]' ({e})") from None
    if workers.startswith(CLUSTER_PREFIX):
        host, _, port = workers.removeprefix(CLUSTER_PREFIX).partition("/")[0].rpartition(":")
        try:
            socket.create_connection((host.strip("[]") or "127.0.0.1", int(port or 10001)), timeout=PROBE_SECONDS).close()
        except (OSError, ValueError) as e:
            raise EncodersUnavailable(f"cannot reach the Ray cluster at {workers} ({e})") from None


def connect(workers: str) -> _Connection:
    """Ray, connected: an already initialised Ray as it is; `ray` starts a local one; `ray://…`
    joins that cluster. Missing or unreachable: `EncodersUnavailable`, one line."""
    check_reachable(workers)
    import ray

    started = not ray.is_initialized()
    if started:
        address = None if workers == RAY else workers
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
        except Exception as e:
            where = "a local Ray" if address is None else f"the Ray cluster at {address}"
            raise EncodersUnavailable(f"cannot reach {where} ({type(e).__name__}: {_first_line(e)})") from None
    ray.data.DataContext.get_current().enable_progress_bars = False
    resources = ray.cluster_resources()
    log.info("encoding on Ray: %s", resources)
    return _Connection(ray, started, int(resources.get("GPU", 0)), int(resources.get("CPU", 1)))


def pool_size(actors: int, gpus: int, cpus: int) -> tuple[int, dict[str, float]]:
    """How many actors, and what each reserves: one GPU each on a cluster with GPUs (one per
    GPU by default), else a share of the CPUs (one CPU each, one per CPU, by default)."""
    if gpus:
        return (actors or gpus), {"num_gpus": 1}
    n = actors or max(cpus, 1)
    return n, {"num_cpus": max(cpus // n, 1)}


class EncodeBatches:
    """A Ray actor's work: the encoder loaded once, from settings, then batch after batch."""

    def __init__(self, settings: Settings, threads: int, tokens: bool = False, projection: np.ndarray | None = None) -> None:
        self.embedder, self.batch_size = actor_encoder(settings, threads), settings.batch_size
        self.tokens = tokens  # also each text's token vectors (the embedder must give them)
        self.projection = projection  # ... compacted with it

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        texts = [str(t) for t in batch["text"]]
        if not self.tokens:
            return {"row": batch["row"], "vector": self.embedder.encode(texts, self.batch_size)}
        vectors, tokens = self.embedder.encode_tokens(texts, self.batch_size, None, self.projection)  # type: ignore[attr-defined]
        flat = np.empty(len(tokens), dtype=object)  # ragged: each text's tokens, flattened
        flat[:] = [t.reshape(-1) for t in tokens]
        return {"row": batch["row"], "vector": vectors, "tokens": flat, "count": np.array([len(t) for t in tokens])}


def actor_encoder(settings: Settings, threads: int) -> Embedder:
    """The encoder a local build would use (`passage_encoder`), on `threads` cores; on a GPU,
    when the actor was given one, the torch model there."""
    from .embedder import SentenceTransformerEmbedder, passage_encoder

    try:
        import ray

        on_gpu = bool(ray.get_gpu_ids())
    except Exception:  # outside an actor
        on_gpu = False
    if on_gpu:
        return SentenceTransformerEmbedder(settings.model, 0, settings.build_precision, device="cuda")
    return passage_encoder(settings, threads)


def _first_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return lines[0] if lines else "no message"
