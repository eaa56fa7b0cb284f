"""Build-time encoding speed per passage encoder, on this CPU, in one run.

    .venv/bin/python bench/ingest.py [--paragraphs 400] [--rounds 3]

Encodes the passages (title-prefixed, as indexed) and the distinct sentences of the first
--paragraphs SQuAD dev paragraphs with each encoder a build can use, each in a fresh process,
and prints passages a second (their sentences included; median of --rounds) and the cosine of
its vectors to torch fp32's:
- torch fp32 (sentence-transformers, length-sorted batches of 32, every core);
- torch fp32 with ATEN_CPU_CAPABILITY=avx2 (torch's AVX2 kernels, as on a CPU without AVX-512);
- the fp32 ONNX export, batched (what builds use once an index has an export; needs one in
  /tmp/qa-ingest, made by the first run);
- torch bf16, only where the CPU has AMX.
Writes bench/results/ingest-<cpu>.json; the CPU is named in it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = Path("/tmp/qa-ingest")


def texts(paragraphs: int) -> tuple[list[str], int]:
    from qa.eval.datasets import load_dataset
    from qa.index.encoding import distinct_sentences as _distinct_sentences
    from qa.index.encoding import embedding_text
    from qa.ingest.documents import documents_from
    from qa.ingest.passages import passages_of

    docs = documents_from(load_dataset("squad").documents)[:paragraphs]
    ps = passages_of(docs, 600, 1000, 1)
    titles = {d.id: d.title for d in docs}
    return [embedding_text(p, titles[p.doc_id], True) for p in ps] + _distinct_sentences(ps)[0], len(ps)


def encoder(kind: str):
    from qa.config import Settings
    from qa.encode.embedder import SentenceTransformerEmbedder, passage_encoder

    settings = Settings.load(env={}, index_dir=WORK / "index", corpus_dir=ROOT / "corpus")
    if kind == "onnx-fp32":
        chosen = passage_encoder(settings.replace(build_precision="fp32"))
        assert getattr(chosen, "tier", "") == "onnx-fp32", "no fp32 export in /tmp/qa-ingest: run without --only first"
        return chosen
    return SentenceTransformerEmbedder(settings.model, 0, "bf16" if kind == "torch-bf16" else "fp32")


def measure(kind: str, paragraphs: int, rounds: int) -> None:
    """In this process: encode everything `rounds` times; save the vectors; print one JSON line."""
    items, passages = texts(paragraphs)
    model = encoder(kind.removesuffix("-avx2"))
    model.encode(items[:64])  # warm up
    seconds = []
    for _ in range(rounds):
        began = time.perf_counter()
        vectors = model.encode(items, 32)
        seconds.append(time.perf_counter() - began)
    np.save(WORK / f"{kind}.npy", vectors)
    s = statistics.median(seconds)
    print(
        json.dumps(
            {
                "encoder": kind,
                "passages": passages,
                "texts": len(items),
                "seconds": round(s, 2),
                "passages_per_s": round(passages / s, 1),
                "texts_per_s": round(len(items) / s, 1),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paragraphs", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", help="measure this encoder in this process (used by the driver)")
    args = parser.parse_args()
    if args.only:
        return measure(args.only, args.paragraphs, args.rounds)
    from qa.encode import cpu

    WORK.mkdir(exist_ok=True)
    if not (WORK / "index" / "CURRENT").exists():  # an index of the default corpus makes the export
        env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
        subprocess.run(
            [str(ROOT / ".venv" / "bin" / "qa"), "build", "--corpus", str(ROOT / "corpus"), "--index", str(WORK / "index")],
            env=env | {"QA_BUILD_PRECISION": "fp32"},
            check=True,
        )
    runs = [("torch-fp32", {}), ("torch-fp32-avx2", {"ATEN_CPU_CAPABILITY": "avx2"}), ("onnx-fp32", {})]
    if cpu.has("amx_bf16"):
        runs.append(("torch-bf16", {}))
    rows = []
    for kind, extra in runs:
        command = [sys.executable, __file__, "--only", kind, "--paragraphs", str(args.paragraphs), "--rounds", str(args.rounds)]
        out = subprocess.run(command, env=os.environ | extra, check=True, capture_output=True, text=True).stdout
        row = json.loads(out.strip().splitlines()[-1]) | {"encoder": kind}
        rows.append(row)
        print(row, flush=True)
    reference = np.load(WORK / "torch-fp32.npy")
    for row in rows:
        cosine = np.sum(np.load(WORK / f"{row['encoder']}.npy") * reference, axis=1)
        row["min_cosine_to_torch_fp32"] = round(float(cosine.min()), 6)
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "cpu": cpu.describe(),
        "cores": os.cpu_count(),
        "command": "bench/ingest.py " + " ".join(sys.argv[1:]),
        "rows": rows,
    }
    slug = re.sub(r"[^a-z0-9]+", "-", cpu.name().lower()).strip("-")
    (ROOT / "bench" / "results" / f"ingest-{slug}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
