"""What a qa replica on the Milvus backend holds and reads on open (and so on every reload), at two
corpus sizes: it must not grow with the passages.

    .venv/bin/python bench/replica_memory.py [--passages 20000 200000] [--folder DIR]

For each size, synthetic passages (16-hex ids, 74 BM25 tokens from a 5,000-word vocabulary, 3.25
sentences a passage as in bench/results/scale-1m.json, 20 passages a document, 8-dimensional
vectors) are written straight into a Milvus Lite file through the writer's row layout, and the
writer's `terms.recount` stores N, the lengths and the document frequencies (timed: the writer's
pass over every row, once per build). Then a fresh process opens the index as a replica does
(`MilvusIndex.open`) and reports the Python memory held after opening and at its peak
(tracemalloc), its RSS growth, the open's wall time, and the engine calls and rows it made; then
the same for its first question's candidate fetch. Milvus Lite runs inside the measuring process:
its RSS after a search includes the engine's loaded collection, so the replica's own memory is
tracemalloc's figure (Python allocations: qa's state), and the RSS before the first search.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from qa.config import Settings
from qa.index.manifest import FORMAT_VERSION, Manifest
from qa.index.milvus import schema, state, terms
from qa.index.milvus.engine import Engine

SENTENCES = (3, 3, 3, 4)  # 3.25 a passage on average
PER_DOCUMENT = 20  # passages a document
DIMENSION = 8
VOCABULARY = [f"w{n}" for n in range(5000)]


def settings(folder: Path) -> Settings:
    return Settings.load(env={}, index_dir=folder, backend="milvus", model="synthetic", milvus_timeout=600.0)


def populate(folder: Path, passages: int) -> float:
    """Write the synthetic rows; returns the seconds of the writer's `recount`."""
    engine = Engine(settings(folder))
    schema.create(engine, DIMENSION)
    rng = random.Random(passages)
    documents = (passages + PER_DOCUMENT - 1) // PER_DOCUMENT
    for at in range(0, passages, 1000):
        rows, sentences = [], []
        for n in range(at, min(at + 1000, passages)):
            pid, doc, start = f"{n:016x}", f"doc-{n // PER_DOCUMENT:09d}", (n % PER_DOCUMENT) * 600
            spans = [[i * 150, i * 150 + 140, 20] for i in range(SENTENCES[n % len(SENTENCES)])]
            vector = [rng.random() for _ in range(DIMENSION)]
            rows.append({"row": schema.row_key(pid), "id": pid, "doc": doc, "start": start, "end": start + 680, "length": 74,
                         "text": "x" * 680, "sentences": json.dumps(spans), "title": doc, "source": "", "source_url": "",
                         "day": "", "terms": " ".join(rng.choices(VOCABULARY, k=74)), "vector": vector})  # fmt: skip
            sentences += [{"row": schema.sentence_row(doc, start + s, start + e), "doc": doc, "length": 20,
                           "terms": " ".join(rng.choices(VOCABULARY, k=20)), "vector": vector} for s, e, _ in spans]  # fmt: skip
        engine.call("insert", engine.name("passages"), rows)
        engine.call("insert", engine.name("sentences"), sentences)
    for d in range(documents):
        meta = {"id": f"doc-{d:09d}", "title": "t", "source": "", "_position": d, "_digest": "", "_file": "", "_chunks": 1}
        engine.call("upsert", engine.name("documents"), [state.record(f"doc-{d:09d}#0", json.dumps(meta), 0, meta["id"])])
    began = time.perf_counter()
    terms.recount(engine)
    recount = time.perf_counter() - began
    data = {
        "format_version": FORMAT_VERSION,
        "model": "synthetic",
        "dimension": DIMENSION,
        "documents": documents,
        "passages": passages,
        "index_version": "bench",
    }
    state.write_manifest(engine, Manifest.from_json(data))
    for part in ("passages", "sentences", "documents", "state", "terms"):
        engine.call("flush", engine.name(part))
    engine.client().close()
    return recount


class Counted(Engine):
    calls = rows = 0

    def call(self, method, *args, **kwargs):  # type: ignore[no-untyped-def]
        out = super().call(method, *args, **kwargs)
        Counted.calls, Counted.rows = Counted.calls + 1, Counted.rows + (len(out) if isinstance(out, list) else 0)
        return out

    def each(self, part, fields, filter="", batch=4096):  # type: ignore[no-untyped-def]
        Counted.calls += 1
        for row in super().each(part, fields, filter, batch):
            Counted.rows += 1
            yield row


def measure_open(folder: Path) -> dict:
    """In this (fresh) process: open the index as a replica does, then fetch one question's candidates."""
    import numpy as np

    from qa.index.milvus.reader import MilvusIndex

    engine = Counted(settings(folder))
    engine.exists()  # connect first: the client and the engine's own start are not the replica's state
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    Counted.calls = Counted.rows = 0
    tracemalloc.start()
    began = time.perf_counter()
    index = MilvusIndex.open(engine)
    seconds = time.perf_counter() - began
    held, peak = tracemalloc.get_traced_memory()
    out = {"open_s": seconds, "open_held_bytes": held, "open_peak_bytes": peak, "open_calls": Counted.calls,
           "open_rows": Counted.rows, "passage_count": index.passage_count,
           "open_rss_growth_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss}  # fmt: skip
    Counted.calls = Counted.rows = 0
    began = time.perf_counter()
    rows = index.dense_candidates(np.ones(DIMENSION, np.float32) / DIMENSION**0.5, 400, 400)
    index.bm25_of(["w1", "w2", "w3"], rows)
    index.sentence_bm25_of(["w1", "w2"], index.sentences_of(rows).rows)
    held, peak = tracemalloc.get_traced_memory()
    out |= {"question_s": time.perf_counter() - began, "question_rows": Counted.rows, "candidates": len(rows),
            "question_held_bytes": held, "question_peak_bytes": peak}  # fmt: skip
    tracemalloc.stop()
    # Milvus Lite runs inside this process: the RSS after a search includes the engine's loaded
    # collection (the engine's memory, on the Milvus nodes in a deployment), tracemalloc's does not.
    out["question_rss_growth_kb_with_lite"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, nargs="+", default=[20_000, 200_000])
    parser.add_argument("--folder", type=Path, default=None, help="where the Milvus Lite files go (default: a temp folder)")
    parser.add_argument("--measure", type=Path, default=None, help=argparse.SUPPRESS)  # a child process: opens
    parser.add_argument("--populate", type=Path, default=None, help=argparse.SUPPRESS)  # a child process: writes
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure_open(args.measure)))
        return
    if args.populate:  # (a Milvus Lite file is held by the process that opened it until it exits)
        began = time.perf_counter()
        recount = populate(args.populate, args.passages[0])
        print(json.dumps({"write_s": time.perf_counter() - began, "recount_s": recount}))
        return
    root = args.folder or Path(tempfile.mkdtemp(prefix="replica-memory-"))
    results = []
    for n in args.passages:
        folder = root / f"p{n}"
        written = _child("--populate", str(folder), "--passages", str(n))
        results.append({"passages": n} | written | _child("--measure", str(folder)))
        print(json.dumps(results[-1]), flush=True)


def _child(*args: str) -> dict:
    child = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if child.returncode:
        raise SystemExit(child.stderr[-2000:])
    return dict(json.loads(child.stdout.splitlines()[-1]))


if __name__ == "__main__":
    main()
