"""A large admin PUT while searches go on: how long the PUT takes to answer, how long until the
document is searchable, and how the searches asked meanwhile fare.

    .venv/bin/python bench/admin_put.py [--sizes 102400,262144] [--code DIR] [--json FILE]

Starts `qa serve` (the code in --code, default this checkout) on a copy of the default corpus
and index, with an admin token, on a free loopback port. For each size it starts one client
asking the seed questions back to back, then PUTs a document of that many bytes of real
English text (SQuAD v1.1 dev paragraphs, different for each size), and follows it until it is
searchable (a 202 is followed at its status URL). It reports the PUT's answer time, the time to
searchable, and the searches answered while the change was indexed: how many, p50/p99/max
latency, and how many were not 200. Every stage is bounded in time; only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.serving import free_port  # noqa: E402
from qa.encode import cpu  # noqa: E402

SEED = ROOT.parent / "shared" / "eval" / "seed_dev.jsonl"
SQUAD = ROOT.parent / "shared" / "eval" / "squad-v1.1-dev" / "dev-v1.1.json"
TOKEN = "bench-token"


def call(port: int, method: str, path: str, body: dict | None = None, timeout: float = 900) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def text_of(size: int, skip: int) -> str:
    """About `size` UTF-8 bytes of SQuAD paragraphs, starting at the `skip`-th article."""
    articles = json.loads(SQUAD.read_text())["data"][skip:]  # 48 articles, about 30 KB each
    out, total = [], 0
    for paragraph in (p["context"] for a in articles for p in a["paragraphs"]):
        if total + len(paragraph.encode()) + 2 > size:
            break
        out.append(paragraph)
        total += len(paragraph.encode()) + 2
    return "\n\n".join(out)


def searcher(port: int, questions: list[str], stop: threading.Event, log: list) -> None:
    n = 0
    while not stop.is_set():
        began = time.perf_counter()
        try:
            status, _ = call(
                port, "GET", "/api/search?" + urllib.parse.urlencode({"q": questions[n % len(questions)], "k": 5}), timeout=600
            )
        except OSError:
            status = -1
        log.append((began, time.perf_counter(), status))
        n += 1


def one_size(port: int, size: int, skip: int, questions: list[str]) -> dict:
    text = text_of(size, skip)
    stop, log = threading.Event(), []
    client = threading.Thread(target=searcher, args=(port, questions, stop, log))
    client.start()
    time.sleep(2)
    began = time.perf_counter()
    status, body = call(port, "PUT", f"/admin/documents/bench-{size}-{skip}", {"title": f"SQuAD {size}", "text": text})
    answered, put_status = time.perf_counter(), status
    while status == 202 or body.get("state") == "indexing":
        time.sleep(0.2)
        status, body = call(port, "GET", body["status_url"] if "status_url" in body else f"/admin/changes/{body['change']}")
        if time.perf_counter() - began > 900:
            break
    searchable = time.perf_counter()
    stop.set()
    client.join(600)
    during = [(end - start) * 1000 for start, end, s in log if start >= began and end <= searchable and s == 200]
    refused = [s for start, end, s in log if end >= began and start <= searchable and s != 200]
    return {
        "bytes": len(text.encode()),
        "put_status": put_status,
        "put_answered_s": round(answered - began, 2),
        "searchable_after_s": round(searchable - began, 2),
        "outcome": body.get("state", body.get("status")),
        "searches_during": len(during),
        "searches_not_200": len(refused),
        "search_p50_ms": round(statistics.median(during), 1) if during else None,
        "search_p99_ms": round(sorted(during)[int(len(during) * 0.99)], 1) if during else None,
        "search_max_ms": round(max(during), 1) if during else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="102400,262144")
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout whose qa package serves")
    parser.add_argument("--work", type=Path, default=Path("/tmp/qa-admin-put"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    shutil.copytree(ROOT / "corpus", args.work / "corpus")
    shutil.copytree(ROOT / "index", args.work / "index", ignore=shutil.ignore_patterns(".servers", ".lock"))
    questions = [json.loads(line)["q"] for line in SEED.read_text().splitlines() if line.strip()]
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")} | {
        "QA_CORPUS_DIR": str(args.work / "corpus"),
        "QA_INDEX_DIR": str(args.work / "index"),
        "QA_ADMIN_TOKEN": TOKEN,
        "QA_MAX_BODY_BYTES": str(4 << 20),
        "QA_MAX_DOCUMENT_BYTES": str(4 << 20),
        "PYTHONPATH": str(args.code),
    }
    with open(args.work / "serve.log", "w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "qa", "serve", "--port", str(port)],
            env=env,
            cwd=args.work,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            for _ in range(600):
                try:
                    call(port, "GET", "/api/search?q=warm&k=1", timeout=5)
                    break
                except OSError:
                    time.sleep(0.1)
            rows = [one_size(port, int(size), 8 * i, questions) for i, size in enumerate(args.sizes.split(","))]
        finally:
            server.terminate()
            server.wait(60)
    result = {
        "machine": cpu.describe(),
        "cores": os.cpu_count(),
        "code": str(args.code),
        "date": time.strftime("%Y-%m-%d"),
        "command": " ".join(sys.argv),
        "rows": rows,
    }
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
