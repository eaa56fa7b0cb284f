"""Would a coverage gate make answer spans more precise? For each question whose top hit has an
answer span, the share of the question's words (weighed by idf, as BM25 stems them) that the
highlighted sentence holds, and whether the span is SQuAD's exact answer.

    .venv/bin/python bench/span_gate.py [--split tune|test] [--index .eval-cache/dev-v1.1]

Prints precision by coverage band, then, for each threshold, the spans kept and their precision
when name and place spans need at least that coverage (dates and numbers always kept).
Results: docs/evaluation.md, "Answer spans".
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np

from qa.eval import measure
from qa.retrieve import answers, rerank

BANDS = (0.0, 0.3, 0.5, 0.7, 0.9, 1.01)
THRESHOLDS = (0.0, 0.5, 0.6, 0.7)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=("tune", "test"), default="tune")
    parser.add_argument("--index", type=Path, default=measure.SQUAD_INDEX)
    args = parser.parse_args()
    searcher, questions, _ = measure.squad_split(args.split, args.index)
    spans = []
    for q in questions:
        hits = searcher.search(q.text, 3).hits
        if not hits or hits[0].answer is None:
            continue
        top = hits[0]
        coverage = float(rerank.coverages(searcher.index, q.text, [top.passage.text[slice(*top.highlight)]])[0])
        spans.append((answers.asks_for(q.text), coverage, measure.span_matches(top, q.answers)))
    print(f"{args.split}: {len(spans)} top hits with a span")
    for low, high in itertools.pairwise(BANDS):
        band = [exact for _, coverage, exact in spans if low <= coverage < high]
        if band:
            print(f"coverage {low:.1f}-{min(high, 1):.1f}: {len(band)} spans, precision {np.mean(band):.3f}")
    for threshold in THRESHOLDS:
        kept = [exact for kind, coverage, exact in spans if kind in (answers.DATE, answers.NUMBER) or coverage >= threshold]
        print(f"name and place spans need coverage >= {threshold}: {len(kept)} kept, {sum(kept)} exact, "
              f"precision {np.mean(kept):.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
