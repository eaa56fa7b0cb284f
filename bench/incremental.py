"""How long a change to a large corpus takes to index, at two corpus sizes.

    .venv/bin/python bench/incremental.py [--dir /tmp/qa-bench-incremental] [--copies 1,3] [--repeat 3]

For each --copies N: writes the SQuAD v1.1 dev paragraphs of the corpus `qa eval squad` uses
(../shared/eval), N times under distinct ids and titles (1: about 3,200 passages; 3: about
9,500), as a .jsonl corpus; builds it in full with the real model (minutes; later runs reuse
the index in --dir/N); then times, in-process with the model loaded, the median of --repeat
rounds of: a build with nothing changed, adding one new document (a file of its own, as
`qa add` does), replacing it, removing it, and loading the index (what a server's reload costs).
If the time of a change follows the document and not the corpus, the two sizes give about the
same figures. Prints a markdown table; --json writes the figures.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import time
from pathlib import Path

from qa.config import Settings
from qa.encode.embedder import SentenceTransformerEmbedder
from qa.eval.datasets import load_dataset
from qa.index.build import build_index
from qa.index.load import load_index

NEW = {
    "id": "bench-new",
    "title": "Zebra crossing",
    "text": "A zebra crossing was painted on the Armenian border near Tavush in 2026. " * 6,
}


class Counting:
    def __init__(self, embedder: SentenceTransformerEmbedder) -> None:
        self.inner, self.name, self.dimension, self.texts = embedder, embedder.name, embedder.dimension, 0

    def encode(self, texts, batch_size=32, progress=None):
        self.texts += len(texts)
        return self.inner.encode(texts, batch_size, progress)


def seconds(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", type=Path, default=Path("/tmp/qa-bench-incremental"))
    parser.add_argument("--copies", default="1,3", help="corpus sizes, as copies of the SQuAD dev paragraphs")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    data = load_dataset("squad")
    embedder: Counting | None = None
    rows = []
    print("| passages | change | median s | texts encoded |\n|---|---|---|---|", flush=True)
    for copies in [int(c) for c in args.copies.split(",")]:
        corpus = args.dir / str(copies) / "corpus"
        corpus.mkdir(parents=True, exist_ok=True)
        docs = [
            {**d, "id": f"{d['id']}#copy{c}", "title": f"{d['title']} (copy {c})"}
            for c in range(copies)
            for d in data.documents or []
        ]  # distinct titles make every passage's embedded text distinct; sentences repeat across copies
        (corpus / "squad.jsonl").write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs))
        new = corpus / "new.jsonl"
        new.unlink(missing_ok=True)
        settings = Settings.load(corpus_dir=corpus, index_dir=args.dir / str(copies) / "index")
        embedder = embedder or Counting(
            SentenceTransformerEmbedder(settings.model, settings.torch_threads, settings.build_precision)
        )
        full_seconds = seconds(functools.partial(build_index, settings, embedder))
        passages = load_index(settings.index_dir).manifest.passages
        print(f"| {passages} | full build (or reuse of an earlier run) | {full_seconds:.1f} | {embedder.texts} |")
        changes = {
            "nothing changed": lambda: None,
            "one document added": functools.partial(new.write_text, json.dumps(NEW) + "\n"),
            "that document replaced": functools.partial(
                new.write_text, json.dumps({**NEW, "text": NEW["text"].replace("2026", "2027")}) + "\n"
            ),
            "that document removed": new.unlink,
        }
        timings: dict[str, list[float]] = {name: [] for name in [*changes, "load (a server's reload)"]}
        encoded: dict[str, int] = {}
        for _ in range(args.repeat):
            for name, change in changes.items():
                change()
                embedder.texts = 0
                timings[name].append(seconds(functools.partial(build_index, settings, embedder)))
                encoded[name] = embedder.texts
            timings["load (a server's reload)"].append(seconds(functools.partial(load_index, settings.index_dir)))
        for name, values in timings.items():
            median = statistics.median(values)
            print(f"| {passages} | {name} | {median:.3f} | {encoded.get(name, 0)} |", flush=True)
            rows.append(
                {
                    "passages": passages,
                    "change": name,
                    "median_seconds": round(median, 4),
                    "runs": [round(v, 4) for v in values],
                    "texts_encoded": encoded.get(name, 0),
                }
            )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
