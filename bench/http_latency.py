"""Sequential /api/search latency against a running server (start it with `scripts/serve`).

    .venv/bin/python bench/http_latency.py [URL] [--rounds N]

Asks the seed questions (../shared/eval/seed_dev.jsonl) plus a few of our own, N rounds,
one request at a time over loopback, and prints the median and 90th percentile wall time.
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
OWN = ["How long did the war last?", "Which drones did Azerbaijan use?", "Who brokered the ceasefire?"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", default="http://127.0.0.1:8000")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    questions = OWN + ([json.loads(line)["q"] for line in SEED.read_text().splitlines()] if SEED.exists() else [])
    timings, server = [], []
    for _ in range(args.rounds):
        for q in questions:
            started = time.perf_counter()
            with urllib.request.urlopen(f"{args.url}/api/search?" + urllib.parse.urlencode({"q": q})) as response:
                body = json.load(response)
            timings.append((time.perf_counter() - started) * 1000)
            server.append(body["took_ms"])
    q90 = statistics.quantiles(timings, n=10)[-1]
    print(
        f"{len(timings)} requests: HTTP p50 {statistics.median(timings):.1f} ms, p90 {q90:.1f} ms; "
        f"in-process (took_ms) p50 {statistics.median(server):.1f} ms"
    )


if __name__ == "__main__":
    main()
