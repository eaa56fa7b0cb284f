"""What the answer span (qa/retrieve/spans.py) adds to a search: its time per hit and per question.

    .venv/bin/python bench/answer_spans.py [--index .eval-cache/dev-v1.1] [--questions 500] [-k 5]

Asks the first N questions of SQuAD's tune split (the eval index `qa eval squad` builds), then
times `answer_span` again on each returned hit (question, kind, passage, highlight), as
`Searcher._hit` calls it. Prints the median and 90th percentile per hit and per question (k hits,
typed questions only: the others skip it), and how many questions and hits got a span.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from qa.config import Settings
from qa.eval import measure
from qa.eval.datasets import load_dataset
from qa.retrieve import answers, spans
from qa.retrieve.searcher import Searcher

REPEATS = 20  # timings per hit; the median is kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=Path(".eval-cache/dev-v1.1"))
    parser.add_argument("--questions", type=int, default=500)
    parser.add_argument("-k", type=int, default=5)
    args = parser.parse_args()
    questions = measure.questions_of(load_dataset("squad"), "tune")[0][: args.questions]
    searcher = Searcher.open(Settings.load(index_dir=args.index))
    per_hit, per_question, with_span, hits_with_span = [], [], 0, 0
    for question in questions:
        kind = answers.asks_for(question.text)
        if not kind:
            continue
        hits = searcher.search(question.text, args.k).hits
        took = [_time(question.text, kind, hit.passage.text, hit.highlight) for hit in hits]
        per_hit += took
        per_question.append(sum(took))
        with_span += bool(hits) and hits[0].answer is not None
        hits_with_span += sum(hit.answer is not None for hit in hits)
    print(f"{len(per_question)} typed questions of {len(questions)}, k={args.k}")
    print("| per hit µs median | p90 | per question µs median | p90 | top hit with a span | hits with a span |")
    print("|---|---|---|---|---|---|")
    print(
        f"| {statistics.median(per_hit):.0f} | {_p90(per_hit):.0f} | {statistics.median(per_question):.0f} | "
        f"{_p90(per_question):.0f} | {with_span / len(per_question):.3f} | {hits_with_span / len(per_hit):.3f} |"
    )


def _time(question: str, kind: str, text: str, highlight: tuple[int, int]) -> float:
    runs = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        spans.answer_span(question, kind, text, highlight)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs) * 1e6


def _p90(values: list[float]) -> float:
    return sorted(values)[int(0.9 * (len(values) - 1))]


if __name__ == "__main__":
    main()
