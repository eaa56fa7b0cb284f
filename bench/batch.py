"""Batch questions against one at a time, over HTTP, against a running server (`scripts/serve`).

    .venv/bin/python bench/batch.py [URL] [--rounds N]

Sends the 17 seed questions (../shared/eval/seed_dev.jsonl) as 17 sequential GET requests and
as one POST {"queries": [...]} call, alternating, N rounds; prints the medians and their ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import urllib.parse
import urllib.request
from pathlib import Path

SEED = Path(__file__).resolve().parent.parent.parent / "shared" / "eval" / "seed_dev.jsonl"


def timed(request: urllib.request.Request | str) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(request) as response:
        json.load(response)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url", nargs="?", default="http://127.0.0.1:8000")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    questions = [json.loads(line)["q"] for line in SEED.read_text().splitlines() if line.strip()]
    body = json.dumps({"queries": questions, "k": 5}).encode()
    one_by_one, batched = [], []
    timed(f"{args.url}/api/search?q=warm+up")
    for _ in range(args.rounds):
        one_by_one.append(sum(timed(f"{args.url}/api/search?" + urllib.parse.urlencode({"q": q})) for q in questions))
        post = urllib.request.Request(f"{args.url}/api/search", body, {"Content-Type": "application/json"})
        batched.append(timed(post))
    seq, bat = statistics.median(one_by_one) * 1000, statistics.median(batched) * 1000
    print(f"{len(questions)} questions, {args.rounds} rounds, medians:")
    print(f"  one request each: {seq:.0f} ms ({seq / len(questions):.1f} ms a question)")
    print(f"  one batch call:   {bat:.0f} ms ({bat / len(questions):.1f} ms a question)")
    print(f"  batch ÷ one each: {bat / seq:.2f}")


if __name__ == "__main__":
    main()
