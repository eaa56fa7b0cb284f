"""What the learned reranker costs a question, in-process, on the served index.

    .venv/bin/python bench/rerank_cost.py [--rounds N]

Asks the seed questions (../shared/eval/seed_dev.jsonl) plus a few of our own, N rounds, through
one open `Searcher` four ways, in turn for each question: reranking off (`QA_RERANK=false`), on
without late interaction (the index's token vectors hidden, as for an index without them), on
with the tokens of the sentences it reads forgotten first (a passage never read before), and on
as served (the tokens remembered from earlier questions). Prints each way's median `took_ms`
and the medians of the per-question differences.
"""

from __future__ import annotations

import argparse
import dataclasses
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
    plain = served.with_index(dataclasses.replace(served.index, tokens=None))
    for q in questions:  # warm: the encoder, the index's pages, the model
        served.search(q), off.search(q), plain.search(q)
    took: dict[str, list[float]] = {"off": [], "plain": [], "cold": [], "warm": []}
    for _ in range(args.rounds):
        for q in questions:
            took["off"].append(off.search(q).took_ms)
            took["plain"].append(plain.search(q).took_ms)
            rerank.forget()
            took["cold"].append(served.search(q).took_ms)
            took["warm"].append(served.search(q).took_ms)
    medians = {way: statistics.median(times) for way, times in took.items()}
    cost = {
        way: statistics.median(a - b for a, b in zip(took[way], took["off"], strict=True)) for way in ("plain", "cold", "warm")
    }
    late = statistics.median(a - b for a, b in zip(took["warm"], took["plain"], strict=True))
    print(
        f"{len(took['off'])} questions: took_ms p50 off {medians['off']:.2f}, on without late interaction "
        f"{medians['plain']:.2f}, on (cold tokens) {medians['cold']:.2f}, on (as served) {medians['warm']:.2f}; "
        f"cost a question (median difference to off) without late interaction {cost['plain']:.2f} ms, cold "
        f"{cost['cold']:.2f} ms, as served {cost['warm']:.2f} ms; late interaction as served {late:.2f} ms"
    )


if __name__ == "__main__":
    main()
