"""Load test: ramp concurrency against `qa serve` on the default corpus with wrk, then soak.

    .venv/bin/python bench/load.py [--threads 64] [--max-inflight 2] [--queue-timeout 0.5] [--torch-threads 1]
                                   [--levels 1,2,4,8,16,32,64,128] [--seconds 8] [--soak 300] [--json FILE]
    .venv/bin/python bench/load.py --starve 2 [--batch-seconds 60] [--probes 60] [--json FILE]

The defaults are the service's defaults, chosen from this benchmark (see README, "Load").

Starts `qa serve` on a free loopback port with the given waitress threads and admission limit,
drives `GET /api/search` with wrk (Debian package `wrk`; 1 thread, keep-alive connections)
rotating over the seed questions, and prints one markdown row per concurrency level:
throughput, latency p50/p90/p99 of every answer, and the answers by status (200, 429, 503,
other, socket errors). Then it holds a moderate load for --soak seconds and samples the server's
RSS every 10 s. Only 127.0.0.1 is contacted; every stage is bounded in time.

With --starve N (issue 15, "a batch costs as much as one question"), it runs instead N
clients that each POST `{"queries": [32 questions of 1,000 characters], "k": 50}` in a closed
loop (the next batch as soon as an answer, 503 included, comes back), while a probe asks one
short question (`GET /api/search`, k=5) every --batch-seconds/--probes seconds; it reports the
probes' success rate and latency, and the batches' answers by status.

    .venv/bin/python bench/load.py --batch-soak ROUNDS [--batch-clients 4] [--batch-round-seconds 30]
                                   [--batch-size 32] [--batch-chars 1000] [--batch-k 50] [--json FILE]

The batch soak (issue 15, item 6) instead starts the server, then for ROUNDS rounds has
--batch-clients clients each POST `{"queries": [--batch-size questions of --batch-chars
characters], "k": --batch-k}` back to back (every question a different window of corpus text),
and prints the server's RSS (VmRSS) after each round and after --batch-idle seconds of idle.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT.parent / "shared" / "eval" / "seed_dev.jsonl"
LUA = """
local paths = {%s}
local n = 0
statuses = {}
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n %% #paths) + 1])
end
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
local threads = {}
setup = function(thread) table.insert(threads, thread) end
done = function(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for status, count in pairs(t:get("statuses")) do total[status] = (total[status] or 0) + count end
  end
  local parts = {}
  for status, count in pairs(total) do table.insert(parts, string.format('"%%d": %%d', status, count)) end
  io.write("STATUSES {" .. table.concat(parts, ", ") .. "}\\n")
  io.write(string.format("LATENCY %%.3f %%.3f %%.3f\\n", latency:percentile(50) / 1000,
    latency:percentile(90) / 1000, latency:percentile(99) / 1000))
  io.write(string.format("ERRORS %%d %%d %%d %%d\\n", summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_server(args: argparse.Namespace) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "QA_THREADS": str(args.threads),
        "QA_MAX_INFLIGHT": str(args.max_inflight),
        "QA_QUEUE_TIMEOUT": str(args.queue_timeout),
        "QA_TORCH_THREADS": str(args.torch_threads),
        "QA_PORT": str(port),
    }
    server = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "qa"), "serve"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/healthz", timeout=2).read()
            return server, url
        except OSError:
            time.sleep(0.5)
    server.kill()
    sys.exit("the server did not start within 300 s")


def run_wrk(url: str, script: str, connections: int, seconds: int) -> dict:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", script, url],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    ).stdout
    statuses = {int(k): v for k, v in json.loads(re.search(r"STATUSES (\{.*\})", out).group(1)).items()}
    p50, p90, p99 = map(float, re.search(r"LATENCY (\S+) (\S+) (\S+)", out).group(1, 2, 3))
    socket_errors = sum(map(int, re.search(r"ERRORS (\d+) (\d+) (\d+) (\d+)", out).group(1, 2, 3, 4)))
    answered = sum(statuses.values())
    return {
        "connections": connections,
        "seconds": seconds,
        "rps": round(answered / seconds, 1),
        "ok_rps": round(statuses.get(200, 0) / seconds, 1),
        "p50_ms": p50,
        "p90_ms": p90,
        "p99_ms": p99,
        "200": statuses.get(200, 0),
        "429": statuses.get(429, 0),
        "503": statuses.get(503, 0),
        "other": answered - sum(statuses.get(s, 0) for s in (200, 429, 503)),
        "socket_errors": socket_errors,
    }


def long_questions(questions: list[str], count: int = 32, chars: int = 1000) -> list[str]:
    """`count` distinct questions of exactly `chars` characters, made of the seed questions."""
    out = []
    for i in range(count):
        text = " ".join(questions[(i + j) % len(questions)] for j in range(40))
        out.append(text[: chars - 1].rstrip() + "?")
    return out


def timed(request: urllib.request.Request | str) -> tuple[int, float]:
    """(HTTP status, seconds) of one request; the body is read whole."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as e:
        e.read()
        status = e.code
    except OSError:
        status = 0
    return status, time.monotonic() - started


def batch_client(url: str, body: bytes, until: float, log: list) -> None:
    while time.monotonic() < until:
        request = urllib.request.Request(url + "/api/search", data=body, headers={"Content-Type": "application/json"})
        log.append(timed(request))


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))] * 1000, 1) if values else 0.0


def run_batch_starvation(args: argparse.Namespace, questions: list[str]) -> dict:
    """N batch clients in a closed loop, one single-question probe spaced over the run."""
    import threading

    body = json.dumps({"queries": long_questions(questions), "k": 50}).encode()
    server, url = start_server(args)
    try:
        timed(url + "/api/search?" + urllib.parse.urlencode({"q": questions[0], "k": 5}))  # warm up
        warm = timed(urllib.request.Request(url + "/api/search", data=body, headers={"Content-Type": "application/json"}))
        until = time.monotonic() + args.batch_seconds
        logs: list[list] = [[] for _ in range(args.starve)]
        clients = [threading.Thread(target=batch_client, args=(url, body, until, log)) for log in logs]
        for client in clients:
            client.start()
        time.sleep(1)  # the batches are under way
        probes = []
        spacing = (args.batch_seconds - 2) / args.probes
        for i in range(args.probes):
            next_at = time.monotonic() + spacing
            q = questions[i % len(questions)]
            probes.append(timed(url + "/api/search?" + urllib.parse.urlencode({"q": q, "k": 5})))
            time.sleep(max(0.0, next_at - time.monotonic()))
        for client in clients:
            client.join(120)
    finally:
        server.terminate()
        server.wait(60)
    batches = [entry for log in logs for entry in log]
    ok = [s for status, s in probes if status == 200]
    return {
        "batch_clients": args.starve,
        "seconds": args.batch_seconds,
        "threads": args.threads,
        "max_inflight": args.max_inflight,
        "queue_timeout": args.queue_timeout,
        "batch_alone_ms": round(warm[1] * 1000, 1),
        "probes": len(probes),
        "probes_200": len(ok),
        "probe_success_rate": round(len(ok) / len(probes), 3),
        "probe_statuses": {str(c): [s for s, _ in probes].count(c) for c in sorted({s for s, _ in probes})},
        "probe_p50_ms": percentile([s for _, s in probes], 0.5),
        "probe_p90_ms": percentile([s for _, s in probes], 0.9),
        "probe_max_ms": percentile([s for _, s in probes], 1.0),
        "probe_200_p50_ms": percentile(ok, 0.5),
        "batches": len(batches),
        "batch_statuses": {str(c): [s for s, _ in batches].count(c) for c in sorted({s for s, _ in batches})},
        "batch_200_p50_ms": percentile([s for status, s in batches if status == 200], 0.5),
    }


def print_batch_starvation(result: dict) -> None:
    print(
        f"{result['batch_clients']} batch clients (32 questions x 1,000 characters, k=50, closed loop) for "
        f"{result['seconds']} s; threads={result['threads']} max_inflight={result['max_inflight']} "
        f"queue_timeout={result['queue_timeout']}; one batch alone: {result['batch_alone_ms']} ms\n"
    )
    print(
        "| single-question probes | 200 | success | statuses | p50 ms |"
        " p90 ms | max ms | batches | batch statuses | batch 200 p50 ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {result['probes']} | {result['probes_200']} | {result['probe_success_rate']:.0%} | {result['probe_statuses']} | "
        f"{result['probe_p50_ms']} | {result['probe_p90_ms']} | {result['probe_max_ms']} | {result['batches']} | "
        f"{result['batch_statuses']} | {result['batch_200_p50_ms']} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=64)
    parser.add_argument("--max-inflight", type=int, default=2)
    parser.add_argument("--queue-timeout", type=float, default=0.5)
    parser.add_argument("--torch-threads", type=int, default=1)
    parser.add_argument("--levels", default="1,2,4,8,16,32,64,128")
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--soak", type=int, default=300, help="seconds of steady load afterwards (0: none)")
    parser.add_argument("--soak-connections", type=int, default=4)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--starve", type=int, default=0, metavar="CLIENTS", help="run the batch-starvation scenario instead")
    parser.add_argument("--batch-seconds", type=int, default=60)
    parser.add_argument("--probes", type=int, default=60)
    add_batch_soak_arguments(parser)
    args = parser.parse_args()
    if args.batch_soak:
        return batch_soak_main(args)

    questions = [json.loads(line)["q"] for line in SEED.read_text().splitlines() if line.strip()]
    if args.starve:
        result = run_batch_starvation(args, questions)
        print_batch_starvation(result)
        if args.json:
            args.json.write_text(json.dumps(result, indent=1) + "\n")
        return
    paths = ", ".join(json.dumps("/api/search?" + urllib.parse.urlencode({"q": q, "k": 5})) for q in questions)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(LUA % paths)
    server, url = start_server(args)
    try:
        run_wrk(url, f.name, 1, 3)  # warm up
        print(
            f"threads={args.threads} max_inflight={args.max_inflight} queue_timeout={args.queue_timeout} "
            f"torch_threads={args.torch_threads}, "
            f"{args.seconds} s a level, GET /api/search k=5\n"
        )
        print("| connections | answers/s | 200/s | p50 ms | p90 ms | p99 ms | 200 | 429 | 503 | other | socket errors | RSS MB |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        rows = []
        for level in [int(x) for x in args.levels.split(",")]:
            row = {**run_wrk(url, f.name, level, args.seconds), "rss_mb": round(rss_mb(server.pid), 1)}
            rows.append(row)
            print(
                "| "
                + " | ".join(
                    str(row[k])
                    for k in [
                        "connections",
                        "rps",
                        "ok_rps",
                        "p50_ms",
                        "p90_ms",
                        "p99_ms",
                        "200",
                        "429",
                        "503",
                        "other",
                        "socket_errors",
                        "rss_mb",
                    ]
                )
                + " |",
                flush=True,
            )
        soak = []
        if args.soak:
            started = time.monotonic()
            while time.monotonic() - started < args.soak:
                result = run_wrk(url, f.name, args.soak_connections, 10)
                soak.append({"t": round(time.monotonic() - started), "rss_mb": round(rss_mb(server.pid), 1), **result})
            rss = [s["rss_mb"] for s in soak]
            print(
                f"\nsoak: {args.soak_connections} connections for {args.soak} s: RSS {rss[0]} MB after 10 s, "
                f"{rss[-1]} MB at the end, max {max(rss)} MB; {sum(s['200'] for s in soak)} answers, "
                f"{sum(s['other'] + s['socket_errors'] + s['503'] for s in soak)} failures"
            )
        if args.json:
            args.json.write_text(
                json.dumps(
                    {
                        "threads": args.threads,
                        "max_inflight": args.max_inflight,
                        "queue_timeout": args.queue_timeout,
                        "torch_threads": args.torch_threads,
                        "levels": rows,
                        "soak": soak,
                    },
                    indent=1,
                )
                + "\n"
            )
    finally:
        server.terminate()
        server.wait(60)
        os.unlink(f.name)


def add_batch_soak_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch-soak", type=int, default=0, metavar="ROUNDS", help="run the batch soak instead")
    parser.add_argument("--batch-clients", type=int, default=4, help="clients of the batch soak")
    parser.add_argument("--batch-round-seconds", type=float, default=30)
    parser.add_argument("--batch-size", type=int, default=32, help="questions per batch request")
    parser.add_argument("--batch-chars", type=int, default=1000, help="characters per question")
    parser.add_argument("--batch-k", type=int, default=50)
    parser.add_argument("--batch-idle", type=float, default=10, help="seconds idle before the last RSS sample")
    parser.add_argument("--batch-seed", type=int, default=15)


class BatchClient(threading.Thread):
    """Sends batches of fresh long questions back to back until `stop`; counts answers by status."""

    def __init__(self, url: str, args: argparse.Namespace, words: list[str], seed: int, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.host, self.port = urllib.parse.urlsplit(url).netloc.split(":")
        self.args, self.words, self.rng, self.stop = args, words, random.Random(seed), stop
        self.statuses: dict[int, int] = {}
        self.seconds: list[float] = []  # of each 200 answer

    def question(self) -> str:
        start = self.rng.randrange(max(len(self.words) - self.args.batch_chars // 2, 1))  # words of 2+ characters: enough
        text = " ".join(self.words[start : start + self.args.batch_chars // 2])
        return text[: self.args.batch_chars].rsplit(" ", 1)[0]

    def run(self) -> None:
        connection = http.client.HTTPConnection(self.host, int(self.port), timeout=120)
        while not self.stop.is_set():
            body = json.dumps({"queries": [self.question() for _ in range(self.args.batch_size)], "k": self.args.batch_k})
            started = time.perf_counter()
            try:
                connection.request("POST", "/api/search", body, {"Content-Type": "application/json"})
                response = connection.getresponse()
                response.read()
                status = response.status
            except OSError:
                connection.close()
                status = 0  # socket error
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if status == 200:
                self.seconds.append(time.perf_counter() - started)
        connection.close()


def batch_round(url: str, args: argparse.Namespace, words: list[str], number: int) -> dict:
    """One round of every client sending batches for --batch-round-seconds; their answers by status."""
    stop = threading.Event()
    clients = [BatchClient(url, args, words, args.batch_seed * 1000 + number * 100 + c, stop) for c in range(args.batch_clients)]
    for client in clients:
        client.start()
    time.sleep(args.batch_round_seconds)
    stop.set()
    for client in clients:
        client.join(180)
    statuses: dict[int, int] = {}
    for client in clients:
        for status, count in client.statuses.items():
            statuses[status] = statuses.get(status, 0) + count
    seconds = [s for client in clients for s in client.seconds]
    return {
        "200": statuses.get(200, 0),
        "other": sum(statuses.values()) - statuses.get(200, 0),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "p50_ms": round(statistics.median(seconds) * 1000, 1) if seconds else None,
    }


def batch_soak_main(args: argparse.Namespace) -> None:
    words = " ".join(p.read_text() for p in sorted((ROOT / "corpus").glob("*.txt"))).split()
    server, url = start_server(args)
    try:
        urllib.request.urlopen(url + "/api/search?q=warm+up", timeout=60).read()
        tier = json.load(urllib.request.urlopen(url + "/healthz", timeout=60))["question_encoder"]["tier"]
        trace = [{"round": 0, "t": 0.0, "rss_mb": round(rss_mb(server.pid), 1)}]
        print(
            f"batch soak: {args.batch_clients} clients, batches of {args.batch_size} × {args.batch_chars}-character "
            f"questions, k={args.batch_k}, {args.batch_soak} rounds of {args.batch_round_seconds:g} s; encoder {tier}, "
            f"threads={args.threads} max_inflight={args.max_inflight} queue_timeout={args.queue_timeout} "
            f"MALLOC_ARENA_MAX={os.environ.get('MALLOC_ARENA_MAX', 'unset')}\n"
        )
        print("| round | RSS MB | batches 200 | other answers | p50 s a batch |\n|---|---|---|---|---|")
        print(f"| start | {trace[0]['rss_mb']} | | | |", flush=True)
        started = time.monotonic()
        for number in range(1, args.batch_soak + 1):
            row = batch_round(url, args, words, number)
            trace.append(
                {"round": number, "t": round(time.monotonic() - started, 1), "rss_mb": round(rss_mb(server.pid), 1), **row}
            )
            p50 = f"{row['p50_ms'] / 1000:.2f}" if row["p50_ms"] else "-"
            print(f"| {number} | {trace[-1]['rss_mb']} | {row['200']} | {row['statuses']} | {p50} |", flush=True)
        time.sleep(args.batch_idle)
        trace.append({"round": "idle", "t": round(time.monotonic() - started, 1), "rss_mb": round(rss_mb(server.pid), 1)})
        print(f"| idle {args.batch_idle:g} s | {trace[-1]['rss_mb']} | | | |")
        if args.json:
            settings = {
                k: getattr(args, k)
                for k in vars(args)
                if k.startswith("batch_") or k in ("threads", "max_inflight", "queue_timeout", "torch_threads")
            }
            args.json.write_text(
                json.dumps(
                    {**settings, "encoder": tier, "malloc_arena_max": os.environ.get("MALLOC_ARENA_MAX"), "trace": trace},
                    indent=1,
                )
                + "\n"
            )
    finally:
        server.terminate()
        server.wait(60)


if __name__ == "__main__":
    main()
