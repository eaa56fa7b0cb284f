"""The benchmark harness: this project against the tools a user would otherwise pick, in one run.

    scripts/bench            (installs the bench extra, txtai, then runs this)
    .venv/bin/python bench/run.py [--datasets default,squad] [--questions 500] [--repeat 3] [--work DIR] [--rebuild]
                                  [--scale 30,315]

For each dataset and system (see bench/systems.py) it builds the index once (kept in --work,
/tmp/qa-bench by default; --rebuild builds again), then answers the questions --repeat rounds
in a fresh process. For this project it also starts `qa serve` on the same index and measures
over HTTP: the time from process start to the first answered request (median of 3 starts),
sequential latency, and throughput with 4 concurrent clients. Writes
bench/results/harness.json and bench/results/harness.md (the table the README shows), with
ratios against each peer computed within this one run.

Then the whole service at about 100k and 1M passages (--scale: copies of SQuAD dev, with
synthetic vectors; see bench/scale.py), each index built once and kept in --work. The 1M build
takes 10 to 15 minutes and a peak of about 2 GB of memory (bench/results/build-memory-amd-epyc.md);
--scale 30 skips it, --scale "" skips both.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
RESULTS = ROOT / "bench" / "results"
PEERS = ("plain", "bm25s", "txtai")


def run_system(system: str, dataset: str, work: Path, phase: str, questions: int, repeat: int) -> dict:
    command = [
        PYTHON,
        str(ROOT / "bench" / "systems.py"),
        system,
        dataset,
        "--work",
        str(work),
        "--phase",
        phase,
        "--questions",
        str(questions),
        "--repeat",
        str(repeat),
    ]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        return {"system": system, "dataset": dataset, "error": done.stderr.strip().splitlines()[-1:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ask(port: int, question: str) -> None:
    url = f"http://127.0.0.1:{port}/api/search?" + urllib.parse.urlencode({"q": question, "k": 5})
    with urllib.request.urlopen(url, timeout=30) as response:
        json.load(response)


def http(work: Path, questions: list[str]) -> dict:
    """`qa serve` on the index `systems.py qa` built: first answer, sequential and concurrent."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    serve = [
        str(ROOT / ".venv" / "bin" / "qa"),
        "serve",
        "--corpus",
        str(work / "qa" / "corpus"),
        "--index",
        str(work / "qa" / "index"),
    ]
    starts, port, server = [], 0, None
    for _ in range(3):
        port = free_port()
        started = time.perf_counter()
        server = subprocess.Popen([*serve, "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while True:
            try:
                ask(port, questions[0])
                break
            except OSError:
                if server.poll() is not None or time.perf_counter() - started > 120:
                    raise RuntimeError("qa serve did not answer") from None
                time.sleep(0.01)
        starts.append(time.perf_counter() - started)
        if len(starts) < 3:
            server.send_signal(signal.SIGTERM)
            server.wait(30)
    assert server is not None
    try:
        latencies = []
        for q in questions:
            began = time.perf_counter()
            ask(port, q)
            latencies.append((time.perf_counter() - began) * 1000)
        latencies.sort()
        answered, stop = [0], time.monotonic() + 8

        def client(offset: int) -> None:
            i = offset
            while time.monotonic() < stop:
                ask(port, questions[i % len(questions)])
                answered[0] += 1
                i += 1

        threads = [threading.Thread(target=client, args=(n * 7,)) for n in range(4)]
        began = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        throughput = answered[0] / (time.perf_counter() - began)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    return {
        "first_answer_s": round(statistics.median(starts), 2),
        "first_answer_runs_s": [round(s, 2) for s in starts],
        "http_p50_ms": round(latencies[len(latencies) // 2], 2),
        "http_p99_ms": round(latencies[int(len(latencies) * 0.99)], 2),
        "http_qps_4_clients": round(throughput, 1),
    }


def questions_of(dataset: str, limit: int) -> list[str]:
    sys.path.insert(0, str(ROOT / "bench"))
    from systems import dataset as load

    return [q for q, _ in load(dataset, limit)[1]]


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def table(rows: list[dict]) -> str:
    out = [
        "| dataset | system | passages | build s (of which the one-time ONNX export) | passages/s |"
        " R@1 | R@5 | p50 ms | p99 ms | answers/s (1 thread) | open + first answer s | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "error" in r:
            out.append(f"| {r['dataset']} | {r['system']} | error: {' '.join(r['error'])} |")
            continue
        b, q = r.get("build", {}), r.get("query", {})
        export = f" (export {b['of_which_encoder_export_s']})" if b.get("of_which_encoder_export_s") else ""
        out.append(
            f"| {r['dataset']} | {r['system']} | {b.get('passages', '')} |"
            f" {b.get('build_s', '')}{export} | {b.get('passages_per_s', '')} "
            f"| {q.get('R@1', '')} | {q.get('R@5', '')} | {q.get('p50_ms', '')} | {q.get('p99_ms', '')} | {q.get('qps', '')} "
            f"| {q.get('open_and_first_answer_s', '')} | {max(b.get('peak_rss_mb', 0), q.get('peak_rss_mb', 0))} |"
        )
    return "\n".join(out)


def ratios(rows: list[dict]) -> str:
    out = [
        "| dataset | peer | p50 latency, ours ÷ peer | answers/s, ours ÷ peer |"
        " R@5, ours − peer | build passages/s, ours ÷ peer |",
        "|---|---|---|---|---|---|",
    ]
    by = {(r["dataset"], r["system"]): r for r in rows if "error" not in r}
    for (dataset, system), peer in by.items():
        ours = by.get((dataset, "qa"))
        if system not in PEERS or ours is None:
            continue
        oq, pq, ob, pb = ours["query"], peer["query"], ours["build"], peer["build"]
        out.append(
            f"| {dataset} | {system} | {oq['p50_ms'] / pq['p50_ms']:.2f} | {oq['qps'] / pq['qps']:.2f} "
            f"| {oq['R@5'] - pq['R@5']:+.3f} | {ob['passages_per_s'] / pb['passages_per_s']:.2f} |"
        )
    return "\n".join(out)


def scale(work: Path, copies: int) -> dict:
    """bench/scale.py on SQuAD dev × copies (its source: the SQuAD index this harness built)."""
    print(f"serving SQuAD x{copies} ...", file=sys.stderr, flush=True)
    out = work / f"scale-{copies}.json"
    command = [
        PYTHON,
        str(ROOT / "bench" / "scale.py"),
        "--copies",
        str(copies),
        "--dir",
        str(work / f"scale-{copies}"),
        "--source",
        str(work / "squad" / "qa" / "index"),
        "--json",
        str(out),
    ]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        return {"copies": copies, "error": done.stderr.strip().splitlines()[-1:]}
    return json.loads(out.read_text())


def scale_table(rows: list[dict]) -> str:
    out = [
        "| passages | sentences | open s | first answer after start s |"
        " in-process p50 / p99 ms | HTTP p50 / p99 ms | server RSS MB (anon + file) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "error" in r:
            out.append(f"| SQuAD x{r['copies']} | error: {' '.join(r['error'])} |")
            continue
        out.append(
            f"| {r['passages']:,} | {r['sentences']:,} | {r['load_s']} |"
            f" {r['first_answer_s']} | {r['in_process_p50_ms']} / {r['in_process_p99_ms']} "
            f"| {r['http_p50_ms']} / {r['http_p99_ms']} |"
            f" {r['server_rss_mb']} ({r['server_rss_anon_mb']} + {r['server_rss_file_mb']}) |"
        )
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", default="default,squad")
    parser.add_argument("--systems", default="qa,qa-torch,plain,bm25s,txtai")
    parser.add_argument("--questions", type=int, default=500, help="questions per dataset (SQuAD test split)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path("/tmp/qa-bench"))
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--scale", default="30,315", help="copies of SQuAD dev for bench/scale.py (30: ~100k passages)")
    args = parser.parse_args()
    rows, http_rows = [], {}
    for dataset in args.datasets.split(","):
        work = args.work / dataset
        for system in args.systems.split(","):
            built = work / f"{system.removesuffix('-torch')}.build.json"  # qa-torch asks the index qa built
            if (args.rebuild and system != "qa-torch") or not built.exists():
                print(f"building {system} on {dataset} ...", file=sys.stderr, flush=True)
                work.mkdir(parents=True, exist_ok=True)
                built.write_text(json.dumps(run_system(system.removesuffix("-torch"), dataset, work, "build", args.questions, 1)))
            build = json.loads(built.read_text())
            if "error" in build:
                rows.append(build)
                continue
            print(f"asking {system} on {dataset} ...", file=sys.stderr, flush=True)
            query = run_system(system, dataset, work, "query", args.questions, args.repeat)
            rows.append(
                {
                    "dataset": dataset,
                    "system": system,
                    "build": build,
                    "query": query,
                    **({"error": query["error"]} if "error" in query else {}),
                }
            )
        if "qa" in args.systems.split(","):
            print(f"serving {dataset} over HTTP ...", file=sys.stderr, flush=True)
            http_rows[dataset] = http(work, questions_of(dataset, args.questions))
    scale_rows = [scale(args.work, int(c)) for c in args.scale.split(",") if c.strip()]
    when = time.strftime("%Y-%m-%d")
    result = {
        "date": when,
        "machine": machine(),
        "command": "bench/run.py " + " ".join(sys.argv[1:]),
        "rows": rows,
        "http": http_rows,
        "scale": scale_rows,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "harness.json").write_text(json.dumps(result, indent=2) + "\n")
    http_table = [
        "| dataset | first answer after start, s (median of 3) | HTTP p50 ms | HTTP p99 ms | answers/s, 4 clients |",
        "|---|---|---|---|---|",
    ]
    for dataset, h in http_rows.items():
        http_table.append(
            f"| {dataset} | {h['first_answer_s']} | {h['http_p50_ms']} | {h['http_p99_ms']} | {h['http_qps_4_clients']} |"
        )
    md = (
        f"Run {when} on {result['machine']}. Command: `{result['command']}`. Latency per question in-process "
        f"(question encoding included), p50 and p99 each the median of {args.repeat} rounds; R@k: the gold document "
        f"among the documents of the top k passages.\n\n{table(rows)}\n\n**Ratios (this run)**\n\n{ratios(rows)}\n\n"
        f"**This project over HTTP** (`qa serve`, loopback)\n\n"
        + "\n".join(http_table)
        + "\n"
        + (
            "\n**The whole service at scale** (bench/scale.py: SQuAD dev copies, synthetic vectors)"
            f"\n\n{scale_table(scale_rows)}\n"
            if scale_rows
            else ""
        )
    )
    (RESULTS / "harness.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
