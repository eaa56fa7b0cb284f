"""Serving speed on this CPU, per question-encoder tier, beside a plain sentence-transformers +
FAISS + Flask server (bench/plain_server.py), in one run.

    .venv/bin/python bench/serving.py [--rounds 5] [--starts 3] [--work DIR]

On a copy of the default corpus, built once into --work (/tmp/qa-serving by default):
- for each of QA_QUERY_ENCODER=auto, int8, int8-u8, fp32, torch: `qa ask` wall time from a
  cold process (median of --starts), `qa serve`'s time from start to its first answer with the
  index already built (median of --starts), and the milliseconds per question the tier's check
  measured on this CPU;
- HTTP latency of `qa serve` (auto) and of the plain server, asked in turn, one request at a
  time, the seed questions --rounds times: p50 and p90 each, and their ratio.
Writes bench/results/serving-<cpu>.json and .md; the CPU is named in both.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from qa.encode import cpu  # noqa: E402
from qa.index.load import load_index  # noqa: E402

QA = str(ROOT / ".venv" / "bin" / "qa")
SEED = ROOT.parent / "shared" / "eval" / "seed_dev.jsonl"
TIERS = ("auto", "int8", "int8-u8", "fp32", "torch")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ask(port: int, question: str) -> float:
    began = time.perf_counter()
    with urllib.request.urlopen(
        f"http://127.0.0.1:{port}/api/search?" + urllib.parse.urlencode({"q": question, "k": 5}), timeout=60
    ) as r:
        json.load(r)
    return (time.perf_counter() - began) * 1000


def start(command: list[str], port: int, env: dict, question: str) -> tuple[subprocess.Popen, float]:
    """Start a server; return it and the seconds to its first answer."""
    began = time.perf_counter()
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            ask(port, question)
            return server, time.perf_counter() - began
        except OSError:
            if server.poll() is not None or time.perf_counter() - began > 300:
                raise RuntimeError(f"{command[0]} did not answer") from None
            time.sleep(0.01)


def stop(server: subprocess.Popen) -> None:
    server.send_signal(signal.SIGTERM)
    server.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--starts", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path("/tmp/qa-serving"))
    args = parser.parse_args()
    questions = [json.loads(line)["q"] for line in SEED.read_text().splitlines() if line.strip()]
    corpus, index = args.work / "corpus", args.work / "index"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")} | {
        "QA_CORPUS_DIR": str(corpus),
        "QA_INDEX_DIR": str(index),
    }
    if not (index / "CURRENT").exists():
        shutil.copytree(ROOT / "corpus", corpus, dirs_exist_ok=True)
        subprocess.run([QA, "build"], env=env, check=True)
    built = load_index(index)
    checks = built.manifest.query_encoder.get("checks", {})
    tiers = {}
    for tier in TIERS:
        tier_env = env | {"QA_QUERY_ENCODER": tier}
        asks = []
        for _ in range(args.starts):
            began = time.perf_counter()
            subprocess.run([QA, "ask", questions[0], "-k", "5"], env=tier_env, check=True, capture_output=True)
            asks.append(time.perf_counter() - began)
        firsts, answered = [], []
        for n in range(args.starts):
            port = free_port()
            server, first = start([QA, "serve", "--port", str(port)], port, tier_env, questions[0])
            firsts.append(first)
            if n == args.starts - 1:  # one client, one request at a time
                answered = [ask(port, q) for q in questions * 2]
            stop(server)
        tiers[tier] = {
            "qa_ask_cold_s": round(statistics.median(asks), 2),
            "serve_first_answer_s": round(statistics.median(firsts), 2),
            "check_ms_per_question": checks.get(tier, {}).get("ms"),
            "http_p50_ms": round(statistics.median(answered), 2),
            "answers_per_s_1_client": round(1000 * len(answered) / sum(answered), 1),
        }
        print(tier, tiers[tier], flush=True)
    passages = args.work / "passages.jsonl"
    passages.write_text(
        "".join(json.dumps({"id": p.id, "text": p.text}) + "\n" for p in (built.passages[i] for i in range(len(built.passages))))
    )
    qa_port, peer_port = free_port(), free_port()
    qa_server, _ = start([QA, "serve", "--port", str(qa_port)], qa_port, env, questions[0])
    peer, _ = start(
        [sys.executable, str(ROOT / "bench" / "plain_server.py"), str(passages), str(peer_port)], peer_port, env, questions[0]
    )
    try:
        tier = json.load(urllib.request.urlopen(f"http://127.0.0.1:{qa_port}/healthz"))["question_encoder"]["tier"]
        timings: dict[str, list[float]] = {"qa": [], "plain": []}
        for _ in range(args.rounds):
            for q in questions:
                timings["qa"].append(ask(qa_port, q))
                timings["plain"].append(ask(peer_port, q))
    finally:
        stop(qa_server)
        stop(peer)
    http: dict[str, Any] = {
        name: {"p50_ms": round(statistics.median(t), 2), "p90_ms": round(statistics.quantiles(t, n=10)[-1], 2)}
        for name, t in timings.items()
    }
    http["qa_over_plain_p50"] = round(http["qa"]["p50_ms"] / http["plain"]["p50_ms"], 3)
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "cpu": cpu.describe(),
        "cores": os.cpu_count(),
        "command": "bench/serving.py " + " ".join(sys.argv[1:]),
        "auto_tier": tier,
        "tiers": tiers,
        "http": http,
        "requests_each": len(timings["qa"]),
    }
    slug = re.sub(r"[^a-z0-9]+", "-", cpu.name().lower()).strip("-")
    (ROOT / "bench" / "results" / f"serving-{slug}.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"Measured {result['date']} on {result['cpu']}, {result['cores']} cores: `{result['command']}`",
        "",
        "| QA_QUERY_ENCODER | check ms/question | HTTP p50 ms | answers/s, 1 client |"
        " `qa ask` cold s | `qa serve` restart to first answer s |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {t} | {v['check_ms_per_question'] or ('(the tier it chose)' if t == 'auto' else 'no check')} |"
        f" {v['http_p50_ms']} | {v['answers_per_s_1_client']} | {v['qa_ask_cold_s']} | {v['serve_first_answer_s']} |"
        for t, v in tiers.items()
    ]
    lines += [
        "",
        f"HTTP, one request at a time, {len(timings['qa'])} each, asked in turn (qa with `auto` = {tier}):",
        "",
        "| server | p50 ms | p90 ms |",
        "|---|---|---|",
        f"| qa serve | {http['qa']['p50_ms']} | {http['qa']['p90_ms']} |",
        f"| plain sentence-transformers + FAISS + Flask | {http['plain']['p50_ms']} | {http['plain']['p90_ms']} |",
        "",
        f"qa's p50 is {http['qa_over_plain_p50']} × the plain server's.",
    ]
    (ROOT / "bench" / "results" / f"serving-{slug}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
