"""A faster question encoder: the model exported to ONNX, int8-quantised, run by ONNX Runtime.

The export happens once per model, offline, when an index is built (torch is loaded then
anyway): `torch.onnx.export` of the transformer with the model's mean pooling and
normalisation, then ONNX Runtime's dynamic int8 quantisation. It is checked against the torch
model and used only when every probe question and 95 % of the corpus's sentences (short texts,
as questions are) keep a cosine of at least MIN_COSINE. Serving with it
needs neither torch nor sentence-transformers, so a server starts in about a second and answers
a question in a few milliseconds. sentence-transformers' own ONNX backend needs `optimum`, which
would downgrade sentence-transformers (../shared/MODELS.md), hence this small exporter.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import time
import uuid
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .embedder import cpu_has
from .errors import ModelError

log = logging.getLogger(__name__)

RECIPE = 3  # bump when the export or quantisation changes: encoders of another recipe are redone
ENCODERS = "encoders"  # the folder beside an index's builds: exported question encoders, one per model
MIN_COSINE = 0.99
MODEL_FILE = "model-int8.onnx"
CHECK_FILE = "check.json"


# Questions of several shapes, checked besides the corpus's own texts when an export is made.
PROBE = [
    "When did the war start?", "Who signed the ceasefire agreement?", "How many soldiers were killed?",
    "What is the capital of Armenia?", "Which drones were used in the conflict?", "Why did the talks fail?",
    "What did the foreign minister say in the interview?", "Where is the Lachin corridor?",
    "How long did the blockade last?", "Which countries mediated the negotiations?",
    "What happened in September 2023?", "Who won the Super Bowl in 2016?", "What is photosynthesis?",
    "How do vaccines work?", "Which river flows through Paris?", "peace treaty", "Harop loitering munition",
    "The agreement was signed in Moscow after six weeks of fighting.",
]


def ensure(encoders_dir: Path, embedder: Any, probe: Sequence[str]) -> dict:
    """The question encoder an index built with `embedder` should use, exporting it once per
    model into `encoders_dir` (a manifest entry: the ONNX file and its check, or torch and why)."""
    export_to = getattr(embedder, "export_onnx", None)
    if export_to is None:
        return {"backend": "torch", "why": "this embedder has no ONNX export"}
    key = re.sub(r"[^A-Za-z0-9._-]+", "-", embedder.name).strip("-")[-60:]
    folder = encoders_dir / f"{key}-{hashlib.sha256(embedder.name.encode()).hexdigest()[:8]}-r{RECIPE}"
    try:
        check = json.loads((folder / CHECK_FILE).read_text())
    except (OSError, ValueError):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                check = export_to(folder, probe)
        except Exception as e:  # an export that fails leaves torch in charge, never the build failed
            log.warning("no ONNX question encoder (%s: %s); questions use torch", type(e).__name__, e)
            return {"backend": "torch", "why": f"export failed ({type(e).__name__})"}
    worst = min(check.get("question_min_cosine", 0), check.get("text_p5_cosine", 0))
    if worst < MIN_COSINE:
        return {"backend": "torch", "why": f"ONNX int8 cosine to torch {worst} < {MIN_COSINE}"}
    return {"backend": "onnx-int8", "folder": folder.name, **check}


def _digest(folder: Path) -> str:
    """sha256 of the model file and the tokenizer together."""
    h = hashlib.sha256()
    for name in (MODEL_FILE, "tokenizer.json"):
        h.update((folder / name).read_bytes())
    return h.hexdigest()


class OnnxEmbedder:
    """Unit-length vectors from the exported model; `threads` ONNX Runtime threads (0: all cores)."""

    def __init__(self, folder: Path, name: str, max_tokens: int = 256, threads: int = 1, sha256: str = "") -> None:
        if sha256 and _digest(folder) != sha256:
            raise ModelError(f"the ONNX question encoder in {folder} is damaged (checksum)")
        try:
            import onnxruntime
            from tokenizers import Tokenizer
        except ImportError as e:
            raise ModelError(f"onnxruntime is not installed ({e})") from None
        self.name = name
        self.folder = folder
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(
            str(folder / MODEL_FILE), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_tokens)  # the file itself fixes 128
        self._tokenizer.no_padding()
        self.dimension = int(self._session.get_outputs()[0].shape[-1])

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress=None) -> np.ndarray:  # type: ignore[no-untyped-def]
        """One text per run, whatever `batch_size`: dynamic quantisation scales activations over
        the whole input, so in a batch a text's vector would depend on its neighbours (and on
        their padding). Alone, a question always gets the same vector."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, encoding in enumerate(self._tokenizer.encode_batch(list(texts))):
            feed = {
                "input_ids": np.array([encoding.ids], dtype=np.int64),
                "attention_mask": np.array([encoding.attention_mask], dtype=np.int64),
                "token_type_ids": np.array([encoding.type_ids], dtype=np.int64),
            }
            out[row] = self._session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0][0]
            if progress and (row + 1) % max(batch_size, 1) == 0:
                progress(row + 1, len(texts))
        return out


def export(model, folder: Path, probe: Sequence[str]) -> dict:  # type: ignore[no-untyped-def]
    """Export and quantise a loaded `SentenceTransformer` into `folder` (written under a temporary
    name, then renamed), and check it against the model on the PROBE
    questions and on `probe`, short texts of the corpus. Returns the check.

    Only MatMul weights are quantised, per channel: on this model that kept every question's
    cosine to torch at 0.993 or more, against 0.991 when every operator is quantised and 0.965
    per tensor (seed questions; 192 default-corpus passages: 0.987, 0.984 and 0.80), at the same
    speed (1.7 ms a question on one thread)."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    transformer, pooling = model[0], model[1]
    mean = getattr(pooling, "pooling_mode", None) == "mean" or getattr(pooling, "pooling_mode_mean_tokens", False) is True
    if not mean or len(model) > 3:
        raise ModelError("only mean-pooled models export to ONNX here")

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = transformer.auto_model

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)[0]
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

    started = time.perf_counter()
    tmp = folder.with_name(f".tmp-{folder.name}-{uuid.uuid4().hex[:6]}")
    tmp.mkdir(parents=True)
    try:
        sample = model.tokenizer(["a question", "a longer passage of text"], padding=True, return_tensors="pt")
        names = ["input_ids", "attention_mask", "token_type_ids"]
        axes = {n: {0: "batch", 1: "tokens"} for n in names}
        with torch.no_grad():
            torch.onnx.export(
                Pooled().eval(), tuple(sample[n] for n in names), str(tmp / "model.onnx"),
                input_names=names, output_names=["embedding"], dynamic_axes={**axes, "embedding": {0: "batch"}},
                opset_version=17, dynamo=False,
            )  # fmt: skip
        logging.disable(logging.WARNING)  # the quantiser logs advice on the root logger
        try:
            quantize_dynamic(
                str(tmp / "model.onnx"), str(tmp / MODEL_FILE), weight_type=QuantType.QInt8,
                per_channel=True, reduce_range=not cpu_has("avx512_vnni"), op_types_to_quantize=["MatMul"],
            )  # fmt: skip
        finally:
            logging.disable(logging.NOTSET)
        (tmp / "model.onnx").unlink()
        tokenizer = Path(transformer.tokenizer.name_or_path) / "tokenizer.json"
        if not tokenizer.is_file():
            transformer.tokenizer.save_pretrained(str(tmp / "hf"))
            tokenizer = tmp / "hf" / "tokenizer.json"
        shutil.copyfile(tokenizer, tmp / "tokenizer.json")
        shutil.rmtree(tmp / "hf", ignore_errors=True)
        onnx = OnnxEmbedder(tmp, "check", model.max_seq_length, threads=0)
        questions, texts = list(PROBE), list(probe) or list(PROBE)
        cosine = {
            name: np.sum(onnx.encode(batch) * model.encode(batch, normalize_embeddings=True, convert_to_numpy=True), axis=1)
            for name, batch in (("questions", questions), ("texts", texts))
        }
        check = {
            "recipe": RECIPE, "vnni": cpu_has("avx512_vnni"), "max_tokens": int(model.max_seq_length),
            "sha256": _digest(tmp),
            "questions": len(questions), "question_min_cosine": round(float(cosine["questions"].min()), 4),
            "texts": len(texts), "text_p5_cosine": round(float(np.percentile(cosine["texts"], 5)), 4),
            "text_min_cosine": round(float(cosine["texts"].min()), 4),
            "export_seconds": round(time.perf_counter() - started, 1),
        }  # fmt: skip
        (tmp / CHECK_FILE).write_text(json.dumps(check) + "\n")
        if folder.exists():
            shutil.rmtree(folder)
        os.rename(tmp, folder)
        return check
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
