"""What watching a server costs: HTTP latency of `qa serve` with the access log off, as shipped
(text access log, metrics off), and as a fleet runs it (QA_METRICS=1, QA_LOG_FORMAT=json).

    python bench/observability.py [--rounds 5] [--work DIR]

On a copy of the default corpus, built once into --work (/tmp/qa-observability by default), the
three servers run side by side (logs to /dev/null) and are asked in turn, one request at a time
over loopback: the seed questions (../shared/eval/seed_dev.jsonl) --rounds times at
/api/search, and as many GET /healthz (a cheap route, where a fixed cost shows most). Prints
and writes p50/p90 per server and route, and each p50 over the log-off server's; the fleet
server is scraped at the end, and its request counter is compared with the requests sent.
Then the same three setups in this process, through Flask's test client (GET /healthz, 50
requests × --rounds each, interleaved): no socket and no model, so the difference in
microseconds is the hooks' own cost. Writes bench/results/observability-<cpu>.json and .md.
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from qa.encode import cpu  # noqa: E402

SEED = ROOT.parent / "shared" / "eval" / "seed_dev.jsonl"
OWN = ["How long did the war last?", "Which drones did Azerbaijan use?", "Who brokered the ceasefire?"]
# `qa serve` from this checkout; "log off" silences the access logger before the CLI runs
SERVE = "import logging, sys; {quiet}from qa.cli import main; main(['serve', '--port', sys.argv[1]])"
SERVERS = {
    "log off, metrics off": ({}, "logging.getLogger('qa.web.access').setLevel(logging.WARNING); "),
    "text log, metrics off (default)": ({}, ""),
    "JSON log, metrics on": ({"QA_METRICS": "1", "QA_LOG_FORMAT": "json"}, ""),
}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port: int, path: str) -> float:
    began = time.perf_counter()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=60) as r:
        r.read()
    return (time.perf_counter() - began) * 1000


def start(port: int, env: dict, quiet: str) -> subprocess.Popen:
    command = [sys.executable, "-c", SERVE.format(quiet=quiet), str(port)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while True:
        try:
            get(port, "/healthz")
            return server
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server on {port} did not answer") from None
            time.sleep(0.1)


def summary(timings: list[float]) -> dict[str, float]:
    return {"p50_ms": round(statistics.median(timings), 3), "p90_ms": round(statistics.quantiles(timings, n=10)[-1], 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--work", type=Path, default=Path("/tmp/qa-observability"))
    args = parser.parse_args()
    questions = OWN + ([json.loads(line)["q"] for line in SEED.read_text().splitlines() if line.strip()] if SEED.exists() else [])
    corpus, index = args.work / "corpus", args.work / "index"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")} | {
        "QA_CORPUS_DIR": str(corpus),
        "QA_INDEX_DIR": str(index),
        "PYTHONPATH": str(ROOT),
    }
    if not (index / "CURRENT").exists():
        shutil.copytree(ROOT / "corpus", corpus, dirs_exist_ok=True)
        subprocess.run([sys.executable, "-m", "qa", "build"], env=env, check=True)
    ports = {name: free_port() for name in SERVERS}
    servers = {name: start(ports[name], env | extra, quiet) for name, (extra, quiet) in SERVERS.items()}
    timings: dict[str, dict[str, list[float]]] = {name: {"search": [], "healthz": []} for name in SERVERS}
    try:
        for _ in range(args.rounds):
            for q in questions:
                path = "/api/search?" + urllib.parse.urlencode({"q": q, "k": 5})
                for name in SERVERS:  # in turn: the machine's load falls on each alike
                    timings[name]["search"].append(get(ports[name], path))
                    timings[name]["healthz"].append(get(ports[name], "/healthz"))
        with urllib.request.urlopen(f"http://127.0.0.1:{ports['JSON log, metrics on']}/metrics", timeout=60) as r:
            exposition = r.read().decode()
    finally:
        for server in servers.values():
            server.send_signal(signal.SIGTERM)
            server.wait(60)
    hooks = in_process(corpus, index, args.rounds)
    report(args, timings, len(questions), hooks)
    counted = sum(float(v) for v in re.findall(r"^qa_http_requests_total\{[^}]*\} (\S+)$", exposition, re.M))
    sent = 1 + 2 * len(questions) * args.rounds  # the start's probe, then the rounds (the scrape counts once answered)
    print(f"the metrics counted {counted:g} requests of the {sent} sent")


def in_process(corpus: Path, index: Path, rounds: int) -> dict[str, dict[str, float]]:
    """Microseconds per GET /healthz through Flask's test client, for the same three setups: no
    socket and no model, so the difference is the hooks' own cost (log lines to /dev/null)."""
    import logging

    from qa.config import Settings
    from qa.retrieve.searcher import Searcher
    from qa.web import create_app
    from qa.web.access import TEXT_FORMAT, JSONFormatter

    sink = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115 (open for the run)
    logging.getLogger().handlers = [sink]
    logging.getLogger().setLevel(logging.INFO)
    settings = Settings.load(env={}, corpus_dir=corpus, index_dir=index)
    searcher = Searcher.open(settings)
    setups = {
        name: (create_app(settings.replace(**{k[3:].lower(): v for k, v in extra.items()}), searcher).test_client(), bool(quiet))
        for name, (extra, quiet) in SERVERS.items()
    }
    access = logging.getLogger("qa.web.access")
    micros: dict[str, list[float]] = {name: [] for name in SERVERS}
    for _ in range(rounds):
        for name, (client, quiet) in setups.items():
            access.setLevel(logging.WARNING if quiet else logging.NOTSET)
            sink.setFormatter(JSONFormatter() if "JSON" in name else logging.Formatter(TEXT_FORMAT))
            for _ in range(50):
                began = time.perf_counter()
                client.get("/healthz")
                micros[name].append((time.perf_counter() - began) * 1e6)
    base = statistics.median(micros[next(iter(SERVERS))])
    p50s = {name: statistics.median(t) for name, t in micros.items()}
    return {name: {"p50_us": round(p50, 1), "over_log_off_us": round(p50 - base, 1)} for name, p50 in p50s.items()}


def report(
    args: argparse.Namespace, timings: dict[str, dict[str, list[float]]], questions: int, hooks: dict[str, dict[str, float]]
) -> None:
    base = next(iter(SERVERS))
    rows = {name: {route: summary(t) for route, t in routes.items()} for name, routes in timings.items()}
    for routes in rows.values():
        for route, figures in routes.items():
            figures["p50_over_log_off"] = round(figures["p50_ms"] / rows[base][route]["p50_ms"], 3)
    machine = cpu.describe()
    result = {"cpu": machine, "rounds": args.rounds, "questions": questions, "servers": rows, "in_process_healthz": hooks}
    slug = re.sub(r"[^a-z0-9]+", "-", cpu.name().lower()).strip("-")
    out = ROOT / "bench" / "results" / f"observability-{slug}"
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"# What watching a server costs ({machine})",
        "",
        f"`python bench/observability.py --rounds {args.rounds}`: {questions} questions × {args.rounds} rounds per route,",
        "one request at a time over loopback, the three servers asked in turn; logs to /dev/null.",
        "",
        "| server | /api/search p50 | p90 | p50 ratio | /healthz p50 | p90 | p50 ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for server, routes in rows.items():
        s, h = routes["search"], routes["healthz"]
        lines.append(
            f"| {server} | {s['p50_ms']:.2f} ms | {s['p90_ms']:.2f} ms | {s['p50_over_log_off']:.3f} "
            f"| {h['p50_ms']:.2f} ms | {h['p90_ms']:.2f} ms | {h['p50_over_log_off']:.3f} |"
        )
    lines += [
        "",
        f"In process (Flask's test client, GET /healthz, {50 * args.rounds} requests each, interleaved): the hooks' own cost.",
        "",
        "| setup | p50 | over log off |",
        "|---|---|---|",
        *(f"| {name} | {h['p50_us']:.0f} µs | {h['over_log_off_us']:+.0f} µs |" for name, h in hooks.items()),
    ]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
