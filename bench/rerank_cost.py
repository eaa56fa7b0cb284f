"""What the learned reranker costs a question, in-process, on the served index.

    .venv/bin/python bench/rerank_cost.py [--rounds N]

Asks the seed questions (../shared/eval/seed_dev.jsonl) plus a few of our own, N rounds, through
one open `Searcher` three ways, in turn for each question: reranking off (`QA_RERANK=false`), on
with the tokens of the sentences it reads forgotten first (a passage never read before), and on
as served (the tokens remembered from earlier questions). Prints each way's median `took_ms`
and the medians of the per-question differences.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from qa.retrieve import rerank
from qa.retrieve.searcher import Searcher

SEED = Path(__file__).resolve().parent.parent.parent / "shared" / "eval" / "seed_dev.jsonl"
OWN = ["How long did the war last?", "Which drones did Azerbaijan use?", "Who brokered the ceasefire?"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    questions = OWN + ([json.loads(line)["q"] for line in SEED.read_text().splitlines() if line.strip()] if SEED.exists() else [])
    served = Searcher.open()
    off = served.with_settings(rerank=False)
    for q in questions:  # warm: the encoder, the index's pages, the model
        served.search(q), off.search(q)
    took: dict[str, list[float]] = {"off": [], "cold": [], "warm": []}
    for _ in range(args.rounds):
        for q in questions:
            took["off"].append(off.search(q).took_ms)
            rerank.forget()
            took["cold"].append(served.search(q).took_ms)
            took["warm"].append(served.search(q).took_ms)
    medians = {way: statistics.median(times) for way, times in took.items()}
    cost = {way: statistics.median(a - b for a, b in zip(took[way], took["off"], strict=True)) for way in ("cold", "warm")}
    print(
        f"{len(took['off'])} questions: took_ms p50 off {medians['off']:.2f}, on (cold tokens) {medians['cold']:.2f}, "
        f"on (as served) {medians['warm']:.2f}; cost a question (median difference) cold {cost['cold']:.2f} ms, "
        f"as served {cost['warm']:.2f} ms"
    )


if __name__ == "__main__":
    main()
