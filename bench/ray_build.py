"""Passages per second of a full build encoded in this process against one encoded by Ray Data
actors (`build_workers=ray`) on a local Ray with 1 and with 2 actors.

    .venv/bin/python bench/ray_build.py [--paragraphs 300] [--runs 3] [--dir /tmp/qa-bench-ray] [--json out.json]

The corpus is SQuAD dev's first --paragraphs paragraphs (a fixed slice). Each configuration
builds once to warm up (the first build of an index folder also exports the ONNX encoders, which
the later builds and the actors then use: the fp32 ONNX passage encoder), then --runs full
builds (`full=True`: every passage and sentence encoded again), timed; medians are reported.
The in-process build's model is loaded before the clock starts, as `qa build` loads it before it
builds; the actors load theirs within each build, which is part of what Ray costs. Ray itself is
started once per configuration (`ray.init(num_cpus=2)`), outside the timed builds; its start is
reported apart.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import time
from pathlib import Path

from qa.config import Settings
from qa.encode.embedder import passage_encoder
from qa.eval.datasets import load_dataset
from qa.index.build import build_index
from qa.index.storage import current_build, read_manifest


def write_corpus(corpus: Path, paragraphs: int) -> None:
    corpus.mkdir(parents=True, exist_ok=True)
    docs = (load_dataset("squad").documents or [])[:paragraphs]
    (corpus / "squad.jsonl").write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs))


def timed_builds(settings: Settings, runs: int) -> dict:
    build_index(settings, passage_encoder(settings))  # warm-up: exports the ONNX encoders once
    embedder = passage_encoder(settings)  # the fp32 ONNX passage encoder, as `qa build` would load it
    took = []
    for _ in range(runs):
        started = time.perf_counter()
        build_index(settings, embedder, full=True)
        took.append(time.perf_counter() - started)
    m = read_manifest(current_build(settings.index_dir))
    seconds = statistics.median(took)
    return {
        "build_s": [round(t, 2) for t in took],
        "median_build_s": round(seconds, 2),
        "passages": m.passages,
        "encoded_texts": m.encoded_texts,
        "passages_per_s": round(m.passages / seconds, 1),
        "texts_per_s": round(m.encoded_texts / seconds, 1),
        "encoder": getattr(embedder, "tier", "torch"),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--paragraphs", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/qa-bench-ray"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    shutil.rmtree(args.dir, ignore_errors=True)
    corpus = args.dir / "corpus"
    write_corpus(corpus, args.paragraphs)
    result: dict = {"paragraphs": args.paragraphs, "runs": args.runs, "cpus": os.cpu_count(), "machine": platform.machine()}
    base = Settings.load(corpus_dir=corpus, index_dir=args.dir / "local")
    result["in_process"] = timed_builds(base, args.runs)
    import ray

    for actors in (1, 2):
        started = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        ray_start = time.perf_counter() - started
        settings = base.replace(index_dir=args.dir / f"ray-{actors}", build_workers="ray", ray_actors=actors)
        try:
            result[f"ray_{actors}_actors"] = {**timed_builds(settings, args.runs), "ray_init_s": round(ray_start, 2)}
        finally:
            ray.shutdown()
    local = result["in_process"]["passages_per_s"]
    for actors in (1, 2):
        row = result[f"ray_{actors}_actors"]
        row["vs_in_process"] = round(row["passages_per_s"] / local, 2)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    shutil.rmtree(args.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
