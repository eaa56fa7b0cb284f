"""How long a change to a large corpus takes to index: a full build, then incremental ones.

    .venv/bin/python bench/incremental.py [--dir /tmp/qa-bench-incremental]

Writes the SQuAD v1.1 dev paragraphs of the corpus `qa eval squad` uses (../shared/eval), --copies
times under distinct ids (3: about 9,500 passages), as a .jsonl corpus, builds it in full with
the real model (the first run takes minutes; later runs reuse the index in --dir), then times,
in-process with the model loaded: a rebuild with nothing changed, adding one new document, and
replacing one. Prints passages, seconds and texts encoded for each.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from qa.config import Settings
from qa.embedder import SentenceTransformerEmbedder
from qa.eval_data import load_dataset
from qa.index import build_index, load_index

NEW = {"id": "bench-new", "title": "Zebra crossing",
       "text": "A zebra crossing was painted on the Armenian border near Tavush in 2026. " * 6}  # fmt: skip


class Counting:
    def __init__(self, embedder: SentenceTransformerEmbedder) -> None:
        self.inner, self.name, self.dimension, self.texts = embedder, embedder.name, embedder.dimension, 0

    def encode(self, texts, batch_size=32, progress=None):  # type: ignore[no-untyped-def]
        self.texts += len(texts)
        return self.inner.encode(texts, batch_size, progress)


def timed(label: str, settings: Settings, embedder: Counting, **kwargs: object) -> None:
    embedder.texts = 0
    started = time.perf_counter()
    build_index(settings, embedder, **kwargs)  # type: ignore[arg-type]
    seconds = time.perf_counter() - started
    passages = load_index(settings.index_dir).manifest["passages"]
    print(f"| {label} | {passages} | {seconds:.1f} | {embedder.texts} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", type=Path, default=Path("/tmp/qa-bench-incremental"))
    parser.add_argument("--copies", type=int, default=3, help="copies of the paragraphs (3: about 10k passages)")
    args = parser.parse_args()
    corpus = args.dir / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    data = load_dataset("squad")
    docs = [
        {**d, "id": f"{d['id']}#copy{c}", "title": f"{d['title']} (copy {c})"}
        for c in range(args.copies)
        for d in data.documents or []
    ]  # distinct titles make every passage's embedded text distinct; sentences repeat across copies
    (corpus / "squad.jsonl").write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs))
    (corpus / "new.jsonl").unlink(missing_ok=True)
    settings = Settings.load(corpus_dir=corpus, index_dir=args.dir / "index")
    embedder = Counting(SentenceTransformerEmbedder(settings.model, settings.torch_threads))
    print("| build | passages | seconds | texts encoded |\n|---|---|---|---|")
    timed("full (or reuse of an earlier run)", settings, embedder)
    timed("nothing changed", settings, embedder)
    (corpus / "new.jsonl").write_text(json.dumps(NEW) + "\n")
    timed("one document added", settings, embedder)
    (corpus / "new.jsonl").write_text(json.dumps({**NEW, "text": NEW["text"].replace("2026", "2027")}) + "\n")
    timed("that document replaced", settings, embedder)


if __name__ == "__main__":
    main()
