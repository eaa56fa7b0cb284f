"""Exporting the model as ONNX question encoders, once per model, when an index is built.

torch is loaded then anyway. One `torch.onnx.export` of the transformer with the model's mean
pooling and normalisation gives the fp32 file, with two outputs: "embedding" (the pooled, unit
vectors) and "tokens" (the transformer's last hidden state, for late interaction, `late`).
ONNX Runtime's dynamic quantiser makes the int8 files of `onnx.TIERS` from it (both outputs
kept). The torch model's own vectors for a set of probe texts (questions of several shapes and
short texts of the corpus) are saved beside them, so that any machine can check every file
against torch later without loading torch (`onnx`, `choice`). sentence-transformers' own ONNX
backend needs `optimum`, which would downgrade sentence-transformers (../shared/MODELS.md),
hence this small exporter.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError
from . import cpu
from .onnx import EXPORT_FILE, FP32_FILE, PROBE, RECIPE, REFERENCE_FILE, TIERS, Tier, digest

log = logging.getLogger(__name__)


def export(model: Any, folder: Path, probe: Sequence[str]) -> dict:
    """Export a loaded `SentenceTransformer` into `folder` (written under a temporary name, then
    renamed): every tier's ONNX file, the tokenizer, and torch's vectors for PROBE and `probe`
    (short texts of the corpus). Returns what `export.json` records."""
    started = time.perf_counter()
    tmp = folder.with_name(f".tmp-{folder.name}-{uuid.uuid4().hex[:6]}")
    tmp.mkdir(parents=True)
    try:
        _export_fp32(model, tmp / FP32_FILE)
        for tier in TIERS:
            if tier.quantise is not None:
                _quantise(tmp / FP32_FILE, tmp / tier.file, tier)
        _copy_tokenizer(model[0], tmp)
        questions, texts = list(PROBE), list(dict.fromkeys(probe)) or list(PROBE)
        reference = model.encode(questions + texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        np.savez(
            tmp / REFERENCE_FILE,
            texts=np.array(questions + texts),
            vectors=reference.astype(np.float32),
            questions=np.array(len(questions)),
        )
        meta = {
            "recipe": RECIPE,
            "max_tokens": int(model.max_seq_length),
            "sha256": {name: digest(tmp / name) for name in [t.file for t in TIERS] + ["tokenizer.json"]},
            "questions": len(questions),
            "texts": len(texts),
            "exported_on": cpu.describe(),
            "export_seconds": round(time.perf_counter() - started, 1),
        }
        (tmp / EXPORT_FILE).write_text(json.dumps(meta, indent=1) + "\n")
        if folder.exists():
            shutil.rmtree(folder)
        os.rename(tmp, folder)
        return meta
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _export_fp32(model: Any, path: Path) -> None:
    """The transformer, mean pooling and normalisation as one ONNX graph (dynamic batch and length):
    outputs "embedding" (batch × dim) and "tokens", the last hidden state (batch × tokens × dim)."""
    import torch

    transformer, pooling = model[0], model[1]
    mean = getattr(pooling, "pooling_mode", None) == "mean" or getattr(pooling, "pooling_mode_mean_tokens", False) is True
    if not mean or len(model) > 3:
        raise ModelError("only mean-pooled models export to ONNX here")

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = transformer.auto_model

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)[0]
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1), hidden

    sample = model.tokenizer(["a question", "a longer passage of text"], padding=True, return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {n: {0: "batch", 1: "tokens"} for n in names}
    with torch.no_grad():
        torch.onnx.export(
            Pooled().eval(),
            tuple(sample[n] for n in names),
            str(path),
            input_names=names,
            output_names=["embedding", "tokens"],
            dynamic_axes={**axes, "embedding": {0: "batch"}, "tokens": {0: "batch", 1: "tokens"}},
            opset_version=17,
            dynamo=False,
        )


def _quantise(source: Path, target: Path, tier: Tier) -> None:
    """Dynamic int8 quantisation of the MatMul weights, per channel, as the tier says."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    recipe = dict(tier.quantise or {})
    weight_type = QuantType.QUInt8 if recipe.pop("weights", "s8") == "u8" else QuantType.QInt8
    logging.disable(logging.WARNING)  # the quantiser logs advice on the root logger
    try:
        quantize_dynamic(
            str(source), str(target), weight_type=weight_type, per_channel=True, op_types_to_quantize=["MatMul"], **recipe
        )
    finally:
        logging.disable(logging.NOTSET)


def _copy_tokenizer(transformer: Any, folder: Path) -> None:
    tokenizer = Path(transformer.tokenizer.name_or_path) / "tokenizer.json"
    if not tokenizer.is_file():
        transformer.tokenizer.save_pretrained(str(folder / "hf"))
        tokenizer = folder / "hf" / "tokenizer.json"
    shutil.copyfile(tokenizer, folder / "tokenizer.json")
    shutil.rmtree(folder / "hf", ignore_errors=True)
