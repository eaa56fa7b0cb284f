"""What the answer span (qa/retrieve/spans.py) adds to a search: its time per hit and per question.

    .venv/bin/python bench/answer_spans.py [--index .eval-cache/dev-v1.1] [--questions 500] [-k 5] [--split tune]

Asks the first N questions of a SQuAD split (tune unless --split test) (the eval index `qa eval squad` builds), then
times `answer_span` again on each returned hit (question, kind, passage, highlight), as
`Searcher._hit` calls it. Prints the median and 90th percentile per hit and per question (k hits,
typed questions only: the others skip it), and by kind asked: how many top hits got a span and
how many of those are exact (`measure.span_matches`, SQuAD-normalised).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from pathlib import Path

from qa.config import Settings
from qa.eval import measure
from qa.eval.datasets import load_dataset
from qa.retrieve import answers, spans
from qa.retrieve.searcher import Searcher

REPEATS = 20  # timings per hit; the median is kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=measure.SQUAD_INDEX)
    parser.add_argument("--questions", type=int, default=500)
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--split", choices=("tune", "test"), default="tune")
    args = parser.parse_args()
    questions = measure.questions_of(load_dataset("squad"), args.split)[0][: args.questions]
    searcher = Searcher.open(Settings.load(index_dir=args.index))
    per_hit: list[float] = []
    per_question: list[float] = []
    asked, spanned, exact = Counter[str](), Counter[str](), Counter[str]()
    for question in questions:
        kind = answers.asks_for(question.text)
        if not kind:
            continue
        hits = searcher.search(question.text, args.k).hits
        took = [_time(question.text, kind, hit.passage.text, hit.highlight) for hit in hits]
        per_hit += took
        per_question.append(sum(took))
        asked[kind] += 1
        spanned[kind] += bool(hits) and hits[0].answer is not None
        exact[kind] += bool(hits) and measure.span_matches(hits[0], question.answers)
    print(f"{len(per_question)} typed questions of {len(questions)}, k={args.k}")
    print("| per hit µs median | p90 | per question µs median | p90 |\n|---|---|---|---|")
    hit, question = (statistics.median(per_hit), _p90(per_hit)), (statistics.median(per_question), _p90(per_question))
    print(f"| {hit[0]:.0f} | {hit[1]:.0f} | {question[0]:.0f} | {question[1]:.0f} |")
    print("\n| kind | questions | top hit with a span | exact among spans |\n|---|---|---|---|")
    for kind in sorted(asked):
        share = spanned[kind] / asked[kind]
        print(f"| {kind} | {asked[kind]} | {share:.3f} | {exact[kind] / spanned[kind] if spanned[kind] else 0:.3f} |")


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
