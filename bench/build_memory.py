"""Peak memory (VmHWM) of a full build of copies of SQuAD dev, with synthetic vectors.

    .venv/bin/python bench/build_memory.py --copies 30 [--source /tmp/qa-bench/squad/qa/index] [--dir DIR] [--json out.json]

The corpus and the vectors are bench/scale.py's (SQuAD dev's paragraphs --copies times; each
text's vector is the real vector of the same text in --source plus noise), so the build does all
its real work but the model's: reading, splitting, BM25, HNSW graphs, writing. The build runs in
this process; its peak resident set (VmHWM from /proc/self/status) is reported, with the peak
before the build started (the corpus written, the synthetic encoder's table loaded).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import time
from pathlib import Path

from scale import Synthetic, write_corpus

from qa.config import Settings
from qa.encode.onnx import ENCODERS
from qa.index.build import build_index
from qa.index.storage import current_build, read_manifest


def peak_mb() -> int:
    status = Path("/proc/self/status").read_text()
    return round(int(status.split("VmHWM:")[1].split()[0]) / 1024)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=30)
    parser.add_argument("--source", type=Path, default=Path("/tmp/qa-bench/squad/qa/index"))
    parser.add_argument("--dir", type=Path, default=Path("/tmp/qa-bench-build-memory"))
    parser.add_argument("--noise", type=float, default=0.3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    shutil.rmtree(args.dir, ignore_errors=True)
    corpus, index_dir = args.dir / "corpus", args.dir / "index"
    settings = Settings.load(corpus_dir=corpus, index_dir=index_dir)
    write_corpus(corpus, args.copies)
    shutil.copytree(args.source / ENCODERS, index_dir / ENCODERS)  # the checked ONNX question encoder
    encoder = Synthetic(args.source, settings.model, args.noise)
    before = peak_mb()
    started = time.perf_counter()
    build_index(settings, encoder, full=True)
    seconds = time.perf_counter() - started
    manifest = read_manifest(current_build(index_dir))
    result = {
        "copies": args.copies,
        "passages": manifest.passages,
        "sentences": manifest.sentences,
        "segments": len(manifest.segments),
        "build_s": round(seconds, 1),
        "peak_rss_before_build_mb": before,
        "peak_rss_mb": peak_mb(),
        "machine": f"{platform.processor() or platform.machine()}, 2 cores",
    }
    print(json.dumps(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    shutil.rmtree(args.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
