"""Index-only scaling: FAISS flat against HNSW at 100k and 1M vectors, recall and latency.

    .venv/bin/python bench/ann.py [--index DIR] [--sizes 100000,1000000] [--queries 200] [--json FILE]

The vectors are synthetic but shaped like real ones: each is a real all-MiniLM-L6-v2 vector of
a SQuAD dev passage or sentence (from an index of SQuAD dev: --index, by default the one
`qa eval squad` builds in .eval-cache/squad, or the one bench/run.py builds in /tmp/qa-bench)
plus Gaussian noise, normalised (so there are many near neighbours, as in a real corpus, and no
exact duplicates). Queries are real SQuAD questions encoded the same way. For each size: flat
search (exact, one thread) and HNSW (as qa/index/hnsw.py builds it: M=32, efConstruction=80,
8-bit codes; one thread) at several efSearch, with recall@10 against flat, the share of flat's
top 10 among HNSW's top 400 (what the service asks for, then scores exactly), p50/p99 latency,
the build time and the file size. This chose the defaults in
qa/index/hnsw.py and QA_ANN_EF_SEARCH.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import faiss
import numpy as np

from qa.config import Settings
from qa.encode.embedder import SentenceTransformerEmbedder
from qa.eval.datasets import load_dataset
from qa.index.hnsw import HNSW_EF_CONSTRUCTION, HNSW_M, build_hnsw
from qa.index.load import load_index


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--noise", type=float, default=0.6)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--index", type=Path, default=Path(".eval-cache") / "squad")
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)
    index = load_index(args.index)
    real = np.concatenate([index.vectors, index.sentence_vectors])
    questions = [q.text for q in load_dataset("squad").split("test")[: args.queries]]
    settings = Settings.load()
    queries = SentenceTransformerEmbedder(settings.model).encode(questions)
    rng = np.random.default_rng(20261122)
    rows = []
    print(
        "| vectors | index | efSearch | recall@10 | top 10 in 400 | p50 ms |"
        " p99 ms | build s | size MB |\n|---|---|---|---|---|---|---|---|---|"
    )
    for size in [int(s) for s in args.sizes.split(",")]:
        vectors = np.empty((size, real.shape[1]), dtype=np.float32)
        for start in range(0, size, 100_000):
            n = min(100_000, size - start)
            block = real[rng.integers(0, len(real), n)] + args.noise / np.sqrt(real.shape[1]) * rng.standard_normal(
                (n, real.shape[1]), dtype=np.float32
            )
            vectors[start : start + n] = block / np.linalg.norm(block, axis=1, keepdims=True)
        flat = faiss.IndexFlatIP(vectors.shape[1])
        flat.add(vectors)
        truth, latencies = [], []
        for q in queries:
            began = time.perf_counter()
            _, found = flat.search(q.reshape(1, -1), 10)
            latencies.append((time.perf_counter() - began) * 1000)
            truth.append(set(found[0]))
        rows.append(report(size, "flat", 0, 1.0, 1.0, latencies, 0.0, vectors.nbytes))
        began = time.perf_counter()
        faiss.omp_set_num_threads(0)  # building uses every core
        hnsw = build_hnsw(vectors)
        faiss.omp_set_num_threads(1)
        built = time.perf_counter() - began
        faiss.write_index(hnsw, "/tmp/qa-bench-ann.faiss")
        size_bytes = Path("/tmp/qa-bench-ann.faiss").stat().st_size
        Path("/tmp/qa-bench-ann.faiss").unlink()
        for ef in (32, 64, 128, 256):
            latencies, recall, pooled = [], [], []
            for q, exact in zip(queries, truth, strict=True):
                began = time.perf_counter()
                _, found = hnsw.search(q.reshape(1, -1), 10, params=faiss.SearchParametersHNSW(efSearch=ef))
                latencies.append((time.perf_counter() - began) * 1000)
                recall.append(len(set(found[0]) & exact) / 10)
                _, pool = hnsw.search(q.reshape(1, -1), 400, params=faiss.SearchParametersHNSW(efSearch=max(ef, 400)))
                pooled.append(len(set(pool[0]) & exact) / 10)
            kind = f"HNSW M={HNSW_M} efC={HNSW_EF_CONSTRUCTION} 8-bit"
            rows.append(report(size, kind, ef, float(np.mean(recall)), float(np.mean(pooled)), latencies, built, size_bytes))
        del flat, hnsw, vectors
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


def report(
    size: int, kind: str, ef: int, recall: float, pooled: float, latencies: list[float], built: float, nbytes: int
) -> dict:
    latencies.sort()
    row = {
        "vectors": size,
        "index": kind,
        "ef_search": ef,
        "recall_at_10": round(recall, 4),
        "top10_in_400": round(pooled, 4),
        "p50_ms": round(latencies[len(latencies) // 2], 3),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)], 3),
        "build_s": round(built, 1),
        "size_mb": round(nbytes / 2**20),
    }
    print(
        f"| {size:,} | {kind} | {ef or '—'} | {row['recall_at_10']} | {row['top10_in_400']} |"
        f" {row['p50_ms']} | {row['p99_ms']} | {row['build_s']} | {row['size_mb']} |",
        flush=True,
    )
    return row


if __name__ == "__main__":
    main()
