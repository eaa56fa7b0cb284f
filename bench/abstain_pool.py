"""Should abstention read the top hit's cosine, or the best cosine among the first few hits?

The reranker may put first a passage that holds every question word but has a low cosine ("When
did the 2020 war begin?": 0.30 on top, 0.60 at rank 4), and the service then abstains. This
asks every answerable question of a SQuAD split and the everyday off-topic questions of that
split once (k = 10, abstention by cosine alone, no lexical evidence), and counts, at the shipped
threshold, how often each rule abstains: confidence from the top hit, or from the best of the
first N hits.

    .venv/bin/python bench/abstain_pool.py [--split tune|test] [--index .eval-cache/dev-v1.1]

Results: bench/results/ranking-notes.md, section 9.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from qa.eval import measure

POOLS = (1, 2, 3, 5, 10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=("tune", "test"), default="tune")
    parser.add_argument("--index", type=Path, default=measure.SQUAD_INDEX)
    args = parser.parse_args()
    searcher, answerable, off_topic = measure.squad_split(args.split, args.index)
    threshold = searcher.settings.abstain_threshold

    def cosines(questions) -> np.ndarray:
        rows = [[h.similarity for h in searcher.search(q.text, max(POOLS)).hits] for q in questions]
        return np.array([(r + [0.0] * max(POOLS))[: max(POOLS)] for r in rows])

    asked, other = cosines(answerable), cosines(off_topic)
    print(f"{args.split}: {len(answerable)} answerable, {len(off_topic)} off-topic questions; threshold {threshold}")
    print("| confidence from | WrongAbstain | OffTopicAnswered |\n|---|---|---|")
    for n in POOLS:
        wrong = float(np.mean(asked[:, :n].max(axis=1) < threshold))
        answered = float(np.mean(other[:, :n].max(axis=1) >= threshold))
        print(f"| best of the first {n} | {wrong:.4f} | {answered:.4f} |")


if __name__ == "__main__":
    main()
