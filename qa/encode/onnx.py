"""Fast question encoders: the model exported to ONNX (`onnx_export`), run by ONNX Runtime.

An export holds one file per tier of TIERS (int8 with signed weights, int8 with unsigned
weights, fp32), the tokenizer, and torch's own vectors for probe texts; `choice`
measures the tiers on the CPU at hand and picks one. Serving needs neither torch nor
sentence-transformers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError
from .late import Encodes, Tokens

log = logging.getLogger(__name__)

RECIPE = 5  # bump when the export or quantisation changes: encoders of another recipe are redone
ENCODERS = "encoders"  # the folder beside an index's builds: exported question encoders, one per model
FP32_FILE = "model-fp32.onnx"
EXPORT_FILE = "export.json"
REFERENCE_FILE = "reference.npz"
# ONNX Runtime's CPU arena keeps every block it ever allocated, sized for the largest run so far:
# one batch of 32 long texts in fp32 holds ~0.8 GB of activations, kept for good. A call that
# ran more tokens at once than one question can hold (max_tokens) hands the arena back after its
# last run; single questions, and int8's one-text runs, keep it warm.
SHRINK_ARENA = "memory.enable_memory_arena_shrinkage"


@dataclass(frozen=True)
class Tier:
    name: str
    file: str
    quantise: Mapping[str, Any] | None  # onnx_export's recipe; None: the fp32 export itself


# From the least to the most exact. "int8": weights per channel on the full signed range, fast
# where u8×s8 products never saturate. "int8-u8": unsigned weights, which ONNX Runtime multiplies
# by widening to 16 bits on AVX2 (no saturation).
TIERS = (
    Tier("int8", "model-int8.onnx", {"weights": "s8", "reduce_range": False}),
    Tier("int8-u8", "model-int8-u8.onnx", {"weights": "u8", "reduce_range": False}),
    Tier("fp32", FP32_FILE, None),
)
TIER_NAMES = tuple(t.name for t in TIERS)

# Questions of several shapes, checked besides the corpus's own texts.
PROBE = [
    "When did the war start?",
    "Who signed the ceasefire agreement?",
    "How many soldiers were killed?",
    "What is the capital of Armenia?",
    "Which drones were used in the conflict?",
    "Why did the talks fail?",
    "What did the foreign minister say in the interview?",
    "Where is the Lachin corridor?",
    "How long did the blockade last?",
    "Which countries mediated the negotiations?",
    "What happened in September 2023?",
    "Who won the Super Bowl in 2016?",
    "What is photosynthesis?",
    "How do vaccines work?",
    "Which river flows through Paris?",
    "peace treaty",
    "Harop loitering munition",
    "The agreement was signed in Moscow after six weeks of fighting.",
]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class OnnxEmbedder(Encodes):
    """Unit-length vectors from one exported file; `threads` ONNX Runtime threads (0: all cores)."""

    def __init__(
        self,
        folder: Path,
        name: str,
        tier: str = "int8",
        threads: int = 1,
        max_tokens: int = 256,
        sha256: str = "",
        why: str = "",
    ) -> None:
        file = folder / next(t.file for t in TIERS if t.name == tier)
        if sha256 and digest(file) != sha256:
            raise ModelError(f"the ONNX question encoder {file} is damaged (checksum)")
        try:
            import onnxruntime
            from tokenizers import Tokenizer
        except ImportError as e:
            raise ModelError(f"onnxruntime is not installed ({e})") from None
        self.name, self.folder, self.tier, self.why = name, folder, f"onnx-{tier}", why
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])
        self._shrink = onnxruntime.RunOptions()
        self._shrink.add_run_config_entry(SHRINK_ARENA, "cpu:0")
        self.max_tokens = max_tokens
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_tokens)  # the file itself fixes 128
        self._tokenizer.no_padding()
        self.dimension = int(self._session.get_outputs()[0].shape[-1])

    def token_starts(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Where each token of each text begins, [CLS] and [SEP] left out (`TokenEmbedder`)."""
        return [
            np.array([start for start, _ in e.offsets[1:-1]], dtype=np.int64) for e in self._tokenizer.encode_batch(list(texts))
        ]

    def _run(
        self, texts: Sequence[str], batch_size: int, progress: Callable[[int, int], None] | None, tokens: Tokens | None
    ) -> np.ndarray:
        """The pooled vectors of `texts`; with `tokens`, each text's token vectors are put there too
        (`late.Encodes`). int8 tiers encode one text per run, whatever `batch_size`: dynamic
        quantisation scales activations over the whole input, so in a batch a text's vector would
        depend on its neighbours (and on their padding); alone, a question always gets the same
        vector. fp32 runs batches of texts of like length (padding is masked out of the mean)."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        outputs = ["embedding"] if tokens is None else ["embedding", "tokens"]
        encodings = self._tokenizer.encode_batch(list(texts))
        step = max(batch_size, 1) if self.tier == "onnx-fp32" else 1
        order = np.argsort([len(e.ids) for e in encodings], kind="stable") if step > 1 else np.arange(len(texts))
        widest = 0  # the most tokens of one run so far
        for start in range(0, len(texts), step):
            rows = order[start : start + step]
            width = max(len(encodings[r].ids) for r in rows)
            widest = max(widest, len(rows) * width)
            last = start + step >= len(texts)
            feed = {
                name: np.zeros((len(rows), width), dtype=np.int64) for name in ("input_ids", "attention_mask", "token_type_ids")
            }
            for i, r in enumerate(rows):
                e = encodings[r]
                n = len(e.ids)
                feed["input_ids"][i, :n], feed["attention_mask"][i, :n], feed["token_type_ids"][i, :n] = (
                    e.ids,
                    e.attention_mask,
                    e.type_ids,
                )
            shrink = self._shrink if last and widest > self.max_tokens else None
            results = self._session.run(outputs, {k: v for k, v in feed.items() if k in self._inputs}, shrink)
            out[rows] = results[0]
            if tokens is not None:  # copies: a view would keep the whole padded batch alive
                tokens.put(rows, [results[1][i, : len(encodings[r].ids)] for i, r in enumerate(rows)])
            done = start + len(rows)
            if progress and (done % max(batch_size, 1) == 0 or done == len(texts)):
                progress(done, len(texts))
        return out


def export_name(model: str) -> str:
    key = re.sub(r"[^A-Za-z0-9._-]+", "-", model).strip("-")[-60:]
    return f"{key}-{hashlib.sha256(model.encode()).hexdigest()[:8]}-r{RECIPE}"


def read_export(folder: Path) -> dict:
    meta = json.loads((folder / EXPORT_FILE).read_text())
    if meta.get("recipe") != RECIPE:
        raise ValueError(f"recipe {meta.get('recipe')}, not {RECIPE}")
    return meta
