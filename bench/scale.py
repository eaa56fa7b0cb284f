"""The whole service at about 100k passages: build, then latency in-process and over HTTP, and RSS.

    .venv/bin/python bench/scale.py [--copies 30] [--source /tmp/qa-bench/squad/qa/index] [--dir /tmp/qa-bench-scale]

Encoding 100k passages with the real model would take about an hour here, so the vectors are
synthetic: the corpus is SQuAD dev's paragraphs --copies times (each copy's titles marked
"(copy N)", so texts differ), and each text's vector is the real vector of the same text in
--source (an index of SQuAD dev, e.g. the one bench/run.py builds) plus Gaussian noise,
normalised. Everything else is real: splitting, BM25, HNSW graphs, the checked ONNX question
encoder (copied from --source), ranking, `qa serve`. Questions: SQuAD dev test-split questions.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import signal
import socket
import statistics
import subprocess
import time
import urllib.parse
import urllib.request
import zlib
from pathlib import Path

import numpy as np

from qa.config import Settings
from qa.encode.onnx import ENCODERS
from qa.eval.datasets import load_dataset
from qa.index.build import build_index
from qa.index.encoding import distinct_sentences as _distinct_sentences
from qa.index.encoding import embedding_text
from qa.index.load import load_index
from qa.retrieve.searcher import Searcher

REPO = Path(__file__).resolve().parent.parent  # the checkout: bench/ is run from it
COPY = re.compile(r" \(copy \d+\)")


class Synthetic:
    """Real vectors of the source index's texts, plus noise that differs for each copy."""

    def __init__(self, source: Path, name: str, noise: float) -> None:
        index = load_index(source)
        titles = {d.id: d.title for d in index.documents.values()}
        texts = [embedding_text(p, titles[p.doc_id], True) for p in index.passages]
        vectors = index.vectors
        self.vectors = dict(zip(texts, vectors, strict=True)) | dict(
            zip(_distinct_sentences(index.passages)[0], index.sentence_vectors, strict=True)
        )
        self.name, self.dimension, self.noise = name, vectors.shape[1], noise

    def encode(self, texts, batch_size=32, progress=None):
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            base = self.vectors.get(COPY.sub("", text))
            rng = np.random.default_rng(zlib.crc32(text.encode()))
            v = (base if base is not None else rng.standard_normal(self.dimension)) + self.noise / np.sqrt(
                self.dimension
            ) * rng.standard_normal(self.dimension)
            out[row] = v / np.linalg.norm(v)
        if progress:
            progress(len(texts), len(texts))
        return out

    def export_onnx(self, folder, probe):
        raise RuntimeError("never called: the source's checked encoder is copied in first")


def write_corpus(corpus: Path, copies: int) -> None:
    """SQuAD dev's paragraphs `copies` times, in one JSON-lines file (titles marked "(copy N)")."""
    corpus.mkdir(parents=True, exist_ok=True)
    docs = load_dataset("squad").documents or []
    with open(corpus / "squad.jsonl", "w") as f:
        for c in range(copies):
            for d in docs:
                f.write(json.dumps({**d, "id": f"{d['id']}#{c}", "title": f"{d['title']} (copy {c})"}) + "\n")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ask(port: int, q: str) -> None:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/search?" + urllib.parse.urlencode({"q": q}), timeout=30) as r:
        json.load(r)


def percentiles(values: list[float]) -> tuple[float, float]:
    values = sorted(values)
    return round(values[len(values) // 2], 2), round(values[int(len(values) * 0.99)], 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=30)
    parser.add_argument("--source", type=Path, default=Path("/tmp/qa-bench/squad/qa/index"))
    parser.add_argument("--dir", type=Path, default=Path("/tmp/qa-bench-scale"))
    parser.add_argument("--noise", type=float, default=0.3)
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    corpus, index_dir = args.dir / "corpus", args.dir / "index"
    settings = Settings.load(corpus_dir=corpus, index_dir=index_dir)
    result: dict = {"copies": args.copies, "vectors": f"synthetic: real vectors of the same texts + noise {args.noise}"}
    if not (index_dir / "CURRENT").exists():
        write_corpus(corpus, args.copies)
        encoders = index_dir / ENCODERS
        shutil.copytree(args.source / ENCODERS, encoders, dirs_exist_ok=True)  # the checked ONNX question encoder
        started = time.perf_counter()
        build_index(settings, Synthetic(args.source, settings.model, args.noise))
        result["build_s"] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    searcher = Searcher.open(settings)
    result["load_s"] = round(time.perf_counter() - started, 2)
    result["passages"] = len(searcher.index.passages)
    result["sentences"] = len(searcher.index.sentence_vectors)
    result["graphs"] = len(searcher.index.nearest.graphs)
    questions = [q.text for q in load_dataset("squad").split("test")[: args.questions]]
    for q in questions[:20]:
        searcher.search(q)
    took = []
    for q in questions:
        began = time.perf_counter()
        searcher.search(q)
        took.append((time.perf_counter() - began) * 1000)
    result["in_process_p50_ms"], result["in_process_p99_ms"] = percentiles(took)
    del searcher
    port = free_port()
    began = time.perf_counter()
    server = subprocess.Popen(
        [str(REPO / ".venv" / "bin" / "qa"), "serve", "--corpus", str(corpus), "--index", str(index_dir), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            try:
                ask(port, questions[0])
                break
            except OSError:
                assert server.poll() is None, "qa serve stopped"
                time.sleep(0.05)
        result["first_answer_s"] = round(time.perf_counter() - began, 2)
        for q in questions[:20]:
            ask(port, q)
        rounds = []
        for _ in range(3):
            took = []
            for q in questions:
                t = time.perf_counter()
                ask(port, q)
                took.append((time.perf_counter() - t) * 1000)
            rounds.append(percentiles(took))
        result["http_p50_ms"] = statistics.median(r[0] for r in rounds)
        result["http_p99_ms"] = statistics.median(r[1] for r in rounds)
        status = Path(f"/proc/{server.pid}/status").read_text()
        for field, key in (
            ("VmRSS", "server_rss_mb"),
            ("VmHWM", "server_peak_rss_mb"),
            ("RssAnon", "server_rss_anon_mb"),
            ("RssFile", "server_rss_file_mb"),
        ):
            result[key] = round(int(status.split(f"{field}:")[1].split()[0]) / 1024)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
