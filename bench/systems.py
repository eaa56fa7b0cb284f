"""One retrieval system on one dataset, in a process of its own (so its peak RSS is its own).

    .venv/bin/python bench/systems.py SYSTEM DATASET --work DIR [--questions N] [--repeat R] [--phase build|query]

SYSTEM: qa (this project, in-process, its defaults: ONNX int8 questions, hybrid ranking),
qa-torch (the same with torch fp32 questions), plain (a hand-rolled sentence-transformers +
FAISS flat script), bm25s (bm25s alone, stemmed, English stopwords), txtai (txtai Embeddings
with the same model, content off). DATASET: default (the default corpus and the seed
questions) or squad (SQuAD v1.1 dev, one document per paragraph, test-split questions).

Every system indexes the same passages (this project's splitting; peers get each passage with
its document title in front, as this project embeds it) and is asked the same questions. The
`build` phase builds and saves the index; the `query` phase loads it and answers, and prints
JSON: build seconds, recall (the gold document among the top k passages' documents), the
latency of each question (p50/p99, median over --repeat rounds) and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SYSTEMS = ("qa", "qa-torch", "plain", "bm25s", "txtai")


def dataset(name: str, limit: int) -> tuple[list, list[tuple[str, set[str]]]]:
    """Documents and (question, gold document ids) pairs."""
    from qa.config import Settings
    from qa.eval.datasets import load_dataset
    from qa.ingest.documents import read_corpus

    if name == "default":
        docs = read_corpus(Settings.load().corpus_dir, Path.cwd())
        data = load_dataset("seed")
        questions = [(q.text, set(q.relevant)) for q in data.questions if q.relevant]
    else:
        from qa.ingest.documents import documents_from

        data = load_dataset("squad")
        docs = documents_from(data.documents or [])
        questions = [(q.text, set(q.relevant)) for q in data.split("test") if q.relevant]
    return docs, questions[:limit]


def passages(docs: list) -> tuple[list[str], list[str]]:
    """(texts as peers index them, document id of each)."""
    from qa.config import Settings
    from qa.ingest.passages import passages_of

    s = Settings.load()
    titles = {d.id: d.title for d in docs}
    found = passages_of(docs, s.passage_target_chars, s.passage_max_chars, s.passage_overlap_sentences)
    return [f"{titles[p.doc_id]}. {p.text}" for p in found], [p.doc_id for p in found]


def model_path() -> str:
    from qa.config import DEFAULT_MODEL
    from qa.encode.embedder import resolve_model_path

    return resolve_model_path(DEFAULT_MODEL)


class System:
    """build(work) saves an index; open(work) loads it; ask(q, k) returns document ids in rank order."""

    def __init__(self, docs: list, work: Path) -> None:
        self.docs, self.work = docs, work


class QA(System):
    encoder = "auto"

    def build(self) -> int:
        """From a corpus folder of one .jsonl (so that `qa serve` can serve it unchanged)."""
        from qa.encode.embedder import SentenceTransformerEmbedder
        from qa.index.build import build_index
        from qa.index.load import load_index

        corpus = self.work / "corpus"
        corpus.mkdir(parents=True, exist_ok=True)
        (corpus / "documents.jsonl").write_text("".join(json.dumps(d.to_dict(), ensure_ascii=False) + "\n" for d in self.docs))
        settings = self.settings()
        build_index(settings, SentenceTransformerEmbedder(settings.model, 0, settings.build_precision), full=True)
        manifest = load_index(settings.index_dir).manifest
        self.export_s = manifest.query_encoder.get("export_seconds", 0.0)  # once per model, included in build_s
        return manifest.passages

    def settings(self):
        from qa.config import Settings

        return Settings.load(corpus_dir=self.work / "corpus", index_dir=self.work / "index", query_encoder=self.encoder)

    def open(self) -> None:
        from qa.retrieve.searcher import Searcher

        self.searcher = Searcher.open(self.settings())

    def ask(self, q: str, k: int) -> list[str]:
        return [h.document.id for h in self.searcher.search(q, k).hits]


class QATorch(QA):
    encoder = "torch"


class Plain(System):
    """What a user would write by hand: encode, normalise, IndexFlatIP, search."""

    def build(self) -> int:
        import faiss
        import numpy as np
        from sentence_transformers import SentenceTransformer

        texts, ids = passages(self.docs)
        model = SentenceTransformer(model_path(), device="cpu")
        vectors = model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
        index = faiss.IndexFlatIP(vectors.shape[1])
        index.add(np.asarray(vectors, dtype=np.float32))
        self.work.mkdir(parents=True, exist_ok=True)
        faiss.write_index(index, str(self.work / "plain.faiss"))
        (self.work / "ids.json").write_text(json.dumps(ids))
        return len(texts)

    def open(self) -> None:
        import faiss
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(1)  # as this project answers questions: one thread each
        faiss.omp_set_num_threads(1)
        self.index = faiss.read_index(str(self.work / "plain.faiss"))
        self.ids = json.loads((self.work / "ids.json").read_text())
        self.model = SentenceTransformer(model_path(), device="cpu")

    def ask(self, q: str, k: int) -> list[str]:
        vector = self.model.encode([q], normalize_embeddings=True, convert_to_numpy=True)
        _, rows = self.index.search(vector, k)
        return [self.ids[r] for r in rows[0] if r >= 0]


class BM25s(System):
    def build(self) -> int:
        import bm25s
        import Stemmer

        texts, ids = passages(self.docs)
        retriever = bm25s.BM25()
        retriever.index(
            bm25s.tokenize(texts, stopwords="en", stemmer=Stemmer.Stemmer("english"), show_progress=False), show_progress=False
        )
        retriever.save(str(self.work))
        (self.work / "ids.json").write_text(json.dumps(ids))
        return len(texts)

    def open(self) -> None:
        import bm25s
        import Stemmer

        self.bm25s, self.stemmer = bm25s, Stemmer.Stemmer("english")
        self.retriever = bm25s.BM25.load(str(self.work))
        self.ids = json.loads((self.work / "ids.json").read_text())

    def ask(self, q: str, k: int) -> list[str]:
        tokens = self.bm25s.tokenize([q], stopwords="en", stemmer=self.stemmer, show_progress=False)
        rows, _ = self.retriever.retrieve(tokens, k=min(k, len(self.ids)), show_progress=False, n_threads=1)
        return [self.ids[r] for r in rows[0]]


class Txtai(System):
    def build(self) -> int:
        from txtai import Embeddings

        texts, ids = passages(self.docs)
        embeddings = Embeddings(path=model_path(), content=False, backend="faiss")
        embeddings.index([(i, t, None) for i, t in enumerate(texts)])
        embeddings.save(str(self.work / "txtai"))
        (self.work / "ids.json").write_text(json.dumps(ids))
        return len(texts)

    def open(self) -> None:
        import torch
        from txtai import Embeddings

        torch.set_num_threads(1)
        self.embeddings = Embeddings()
        self.embeddings.load(str(self.work / "txtai"))
        self.ids = json.loads((self.work / "ids.json").read_text())

    def ask(self, q: str, k: int) -> list[str]:
        return [self.ids[int(i)] for i, _ in self.embeddings.search(q, k)]


CLASSES = {"qa": QA, "qa-torch": QATorch, "plain": Plain, "bm25s": BM25s, "txtai": Txtai}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("system", choices=SYSTEMS)
    parser.add_argument("dataset", choices=("default", "squad"))
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--phase", choices=("build", "query"), default="query")
    parser.add_argument("--questions", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    docs, questions = dataset(args.dataset, args.questions)
    system = CLASSES[args.system](docs, args.work / args.system.removesuffix("-torch"))  # qa-torch asks qa's index
    out: dict = {"system": args.system, "dataset": args.dataset}
    if args.phase == "build":
        started = time.perf_counter()
        out["passages"] = system.build()
        out["build_s"] = round(time.perf_counter() - started, 2)
        out["passages_per_s"] = round(out["passages"] / out["build_s"], 1)
        if hasattr(system, "export_s"):
            out["of_which_encoder_export_s"] = system.export_s
    else:
        started = time.perf_counter()
        system.open()
        system.ask(questions[0][0], 5)
        out["open_and_first_answer_s"] = round(time.perf_counter() - started, 3)
        rounds = []
        for _ in range(args.repeat):
            latencies: list[float] = []
            hits1 = hits5 = 0
            for q, gold in questions:
                began = time.perf_counter()
                found = system.ask(q, 5)
                latencies.append((time.perf_counter() - began) * 1000)
                hits1 += bool(found[:1]) and found[0] in gold
                hits5 += any(d in gold for d in found[:5])
            latencies.sort()
            rounds.append(
                {
                    "p50": latencies[len(latencies) // 2],
                    "p99": latencies[int(len(latencies) * 0.99)],
                    "qps": 1000 * len(latencies) / sum(latencies),
                    "r1": hits1 / len(questions),
                    "r5": hits5 / len(questions),
                }
            )
        out.update(
            {
                "questions": len(questions),
                "p50_ms": round(statistics.median(r["p50"] for r in rounds), 2),
                "p99_ms": round(statistics.median(r["p99"] for r in rounds), 2),
                "qps": round(statistics.median(r["qps"] for r in rounds), 1),  # one thread, back to back
                "R@1": round(rounds[0]["r1"], 4),
                "R@5": round(rounds[0]["r5"], 4),
            }
        )
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
