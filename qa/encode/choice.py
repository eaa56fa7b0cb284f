"""Which encoder answers questions on this CPU: every tier of an ONNX export measured against
torch's saved vectors, the best that passes taken, the reason kept.

A tier passes when every probe question and 95 % of the probe texts keep a cosine of at least
MIN_COSINE to torch; of those, the fastest is taken, or a more exact one that is nearly as
fast. int8 is accurate where the CPU multiplies u8×s8 without saturating (AVX-512 VNNI,
AVX-VNNI, ARM's dot product) and can saturate on AVX2 alone; int8-u8 does not saturate there;
fp32 is exact everywhere. When no tier passes or none can be opened, questions go to torch,
and the reason is said.

The choice is made when the index is built, and made again the first time the index is opened
on another kind of CPU (`cpu.key`); each choice is kept in the export's `choices/` folder.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import time
import uuid
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError
from . import cpu
from .onnx import RECIPE, REFERENCE_FILE, TIER_NAMES, TIERS, OnnxEmbedder, export_name, read_export

log = logging.getLogger(__name__)

MIN_COSINE = 0.99
NEARLY_AS_FAST = 1.15  # a more exact tier is preferred when at most this much slower than the fastest
CHOICES = "choices"
TORCH = "torch"


@dataclass(frozen=True)
class Choice:
    """Which tier encodes questions on one kind of CPU, why, and what each tier measured."""

    tier: str  # a TIER_NAMES name, or TORCH
    why: str
    cpu: str = field(default_factory=lambda: cpu.key())
    cpu_name: str = field(default_factory=lambda: cpu.describe())
    checks: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def of(cls, entry: Mapping[str, Any]) -> Choice:
        return cls(entry["tier"], entry["why"], entry["cpu"], entry.get("cpu_name", ""), dict(entry.get("checks", {})))


def ensure(encoders_dir: Path, embedder: Any, probe: Sequence[str], threads: int = 1) -> dict:
    """The question encoder of an index built with `embedder` (its manifest entry), exporting the
    model once per model and recipe into `encoders_dir` and choosing a tier on this CPU."""
    export_to = getattr(embedder, "export_onnx", None)
    folder = encoders_dir / export_name(embedder.name)
    try:
        meta = read_export(folder)
    except (OSError, ValueError, KeyError):
        if export_to is None:
            return {"backend": TORCH, "why": "this embedder has no ONNX export"}
        try:
            with warnings.catch_warnings():  # the tracer's advice on the model's Python branches
                warnings.simplefilter("ignore")
                meta = export_to(folder, probe)
        except Exception as e:  # an export that fails leaves torch in charge, never the build failed
            log.warning("no ONNX question encoder (%s: %s); questions use torch", type(e).__name__, e)
            return {"backend": TORCH, "why": f"the ONNX export failed ({type(e).__name__}: {e})"}
    choice = recalled(folder, cpu.key())
    if choice is None:
        choice = choose(folder, meta, threads)
        remember(folder, choice)
    return {
        "backend": "onnx" if choice.tier != TORCH else TORCH,
        "folder": folder.name,
        "recipe": RECIPE,
        "export_seconds": meta.get("export_seconds", 0.0),
        **asdict(choice),
    }


def choose(folder: Path, meta: Mapping[str, Any], threads: int = 1, tiers: Sequence[str] = TIER_NAMES) -> Choice:
    """Measure `tiers` of the export in `folder` on this CPU and take the best that passes."""
    checks = {name: check(folder, meta, name, threads) for name in tiers}
    return decide(checks)


def check(folder: Path, meta: Mapping[str, Any], tier: str, threads: int = 1) -> dict:
    """One tier against torch's vectors for the probe texts: min cosine of the questions, 5th
    percentile of the texts, and the median milliseconds per question (or why it cannot run)."""
    try:
        encoder = OnnxEmbedder(folder, "check", tier, threads, meta.get("max_tokens", 256), _sha(meta, tier))
        with np.load(folder / REFERENCE_FILE) as saved:
            texts, reference, n = [str(t) for t in saved["texts"]], saved["vectors"], int(saved["questions"])
        cosine = np.sum(encoder.encode(texts) * reference, axis=1)
        times = []
        for text in texts[:n] * 2:
            began = time.perf_counter()
            encoder.encode([text])
            times.append((time.perf_counter() - began) * 1000)
    except Exception as e:  # a missing, damaged or unloadable file: this tier is out
        return {"error": f"{type(e).__name__}: {e}"}
    return {
        "question_min_cosine": round(float(cosine[:n].min()), 4),
        "text_p5_cosine": round(float(np.percentile(cosine[n:] if len(cosine) > n else cosine, 5)), 4),
        "ms": round(statistics.median(times[n:]), 2),
    }  # the first round warms up


def passes(result: Mapping[str, Any]) -> bool:
    return "error" not in result and min(result["question_min_cosine"], result["text_p5_cosine"]) >= MIN_COSINE


def decide(checks: Mapping[str, dict]) -> Choice:
    """The fastest tier that passes, or the most exact one within NEARLY_AS_FAST of it."""
    good = [t for t in TIER_NAMES if t in checks and passes(checks[t])]
    failed = "; ".join(f"{t}: {_failure(r)}" for t, r in checks.items() if not passes(r))
    if not good:
        return Choice(TORCH, f"no ONNX tier passed its check against torch ({failed})", checks=dict(checks))
    fastest = min(checks[t]["ms"] for t in good)
    tier = next(t for t in reversed(good) if checks[t]["ms"] <= fastest * NEARLY_AS_FAST)
    why = (
        f"{tier}: {checks[tier]['ms']} ms a question, cosine to torch ≥ "
        f"{min(checks[tier]['question_min_cosine'], checks[tier]['text_p5_cosine'])}"
    )
    others = [f"{t} {checks[t]['ms']} ms" for t in good if t != tier]
    return Choice(
        tier,
        why + (f" (also passed: {', '.join(others)})" if others else "") + (f"; failed: {failed}" if failed else ""),
        checks=dict(checks),
    )


def _failure(result: Mapping[str, Any]) -> str:
    if "error" in result:
        return str(result["error"])
    worst = min(result["question_min_cosine"], result["text_p5_cosine"])
    return f"cosine {worst} < {MIN_COSINE}"


def _sha(meta: Mapping[str, Any], tier: str) -> str:
    return meta.get("sha256", {}).get(next(t.file for t in TIERS if t.name == tier), "")


def remember(folder: Path, choice: Choice) -> None:
    """Keep a CPU's choice in the export folder (best effort: a read-only index measures again)."""
    try:
        (folder / CHOICES).mkdir(exist_ok=True)
        tmp = folder / CHOICES / f".{choice.cpu}.{uuid.uuid4().hex[:6]}.tmp"
        tmp.write_text(json.dumps(asdict(choice), ensure_ascii=False, indent=1) + "\n")
        os.replace(tmp, folder / CHOICES / f"{choice.cpu}.json")
    except OSError as e:
        log.info("cannot keep the question encoder choice in %s (%s)", folder, e)


def recalled(folder: Path, key: str) -> Choice | None:
    try:
        return Choice.of(json.loads((folder / CHOICES / f"{key}.json").read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def fp32_passage_encoder(folder: Path, model: str, threads: int = 0) -> OnnxEmbedder | None:
    """The fp32 tier of an export, batched, on `threads` cores (0: all), for a build's passages:
    None where there is no export, or its fp32 file fails its check on this CPU."""
    try:
        meta = read_export(folder)
    except (OSError, ValueError, KeyError):
        return None
    choice = recalled(folder, cpu.key())
    if choice is None:
        choice = choose(folder, meta, threads=1)
        remember(folder, choice)
    if not passes(choice.checks.get("fp32", {})):
        return None
    try:
        return OnnxEmbedder(
            folder, model, "fp32", threads, meta.get("max_tokens", 256), _sha(meta, "fp32"), "passages: fp32 ONNX"
        )
    except Exception as e:  # damaged since: torch encodes
        log.warning("the fp32 ONNX export cannot encode passages (%s); torch does", e)
        return None


def known_choice(encoders_dir: Path, entry: Mapping[str, Any]) -> Choice | None:
    """This CPU's choice for the export an index's manifest `entry` names, if one was made: the
    build's own on the CPU it was built on, else one kept in the export's folder."""
    if "folder" not in entry:
        return Choice(TORCH, entry.get("why", "this index has no ONNX question encoder (built before there was one)"))
    key = cpu.key()
    return Choice.of(entry) if entry.get("cpu") == key and "tier" in entry else recalled(encoders_dir / entry["folder"], key)


def open_encoder(encoders_dir: Path, entry: Mapping[str, Any], model: str, setting: str, threads: int) -> OnnxEmbedder | Choice:
    """The ONNX encoder to use for questions on this CPU, or the Choice of torch (with why).

    `setting`: auto (measured), onnx (measured, but torch is an error), or a tier's name (that
    tier, whatever its check says). The build's choice is reused on the CPU it was made on, a
    choice kept for this CPU elsewhere; otherwise the tiers are measured now (about a second)."""
    if "folder" not in entry:
        return Choice(TORCH, entry.get("why", "this index has no ONNX question encoder (built before there was one)"))
    folder = encoders_dir / entry["folder"]
    try:
        meta = read_export(folder)
    except (OSError, ValueError, KeyError) as e:
        return Choice(TORCH, f"the ONNX export {folder} cannot be read ({e}): run `qa build` to export it again")
    if setting in TIER_NAMES:
        return _open(folder, meta, model, setting, threads, f"{setting}: chosen by QA_QUERY_ENCODER")
    known = known_choice(encoders_dir, entry)
    if known is None:
        log.info("measuring the ONNX question encoders on this CPU (%s), first time", cpu.describe())
        known = choose(folder, meta, threads)
        remember(folder, known)
    if known.tier == TORCH:
        return known
    try:
        return _open(folder, meta, model, known.tier, threads, known.why)
    except ModelError as e:  # damaged since it was chosen: measure again without it
        log.warning("ONNX question encoder %s unusable (%s); measuring the other tiers", known.tier, e)
        again = choose(folder, meta, threads)
        remember(folder, again)
        return again if again.tier == TORCH else _open(folder, meta, model, again.tier, threads, again.why)


def _open(folder: Path, meta: Mapping[str, Any], model: str, tier: str, threads: int, why: str) -> OnnxEmbedder:
    try:
        return OnnxEmbedder(folder, model, tier, threads, meta.get("max_tokens", 256), _sha(meta, tier), why)
    except ModelError:
        raise
    except Exception as e:  # onnxruntime and tokenizers raise their own kinds
        raise ModelError(f"cannot open the ONNX question encoder {tier} ({type(e).__name__}: {e})") from None
