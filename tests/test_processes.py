"""Two `qa serve` processes on one corpus and index, as replicas or a multi-worker server would be:
no acknowledged write is lost, and each serves the other's changes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from qa.retrieve.searcher import Searcher

from .served import free_port

pytestmark = pytest.mark.slow  # the real model on the real corpus

TOKEN = "two-servers-token"


def call(port: int, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def start(port: int, corpus: Path, index: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env |= {"QA_ADMIN_TOKEN": TOKEN, "QA_QUEUE_TIMEOUT": "60"}
    command = [sys.executable, "-m", "qa", "serve", "--port", str(port), "--corpus", str(corpus), "--index", str(index)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while True:
        assert server.poll() is None, server.communicate()[0]
        try:
            call(port, "GET", "/healthz")
            return server
        except OSError:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)


def test_two_servers_lose_no_acknowledged_write_and_serve_each_others(real_settings, tmp_path):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(real_settings.corpus_dir, corpus)
    shutil.copytree(real_settings.index_dir, index)  # built (and ONNX-exported) once per session
    ports = [free_port(), free_port()]
    servers = [start(port, corpus, index) for port in ports]
    kept: dict[str, int] = {}
    removed: set[str] = set()
    lock = threading.Lock()

    def writer(port: int, name: str) -> None:
        for n in range(4):
            doc_id = f"dual-{name}-{n}"
            record = {"title": f"Note {doc_id}", "text": f"The zebra {doc_id} crossed the border near Tavush in 2026."}
            status, _ = call(port, "PUT", f"/admin/documents/{doc_id}", record)
            with lock:
                if status == 200:
                    kept[doc_id] = port
        status, _ = call(port, "DELETE", f"/admin/documents/dual-{name}-0")
        with lock:
            if status == 200:
                kept.pop(f"dual-{name}-0", None)
                removed.add(f"dual-{name}-0")

    try:
        threads = [threading.Thread(target=writer, args=(port, f"{p}w{w}")) for p, port in enumerate(ports) for w in range(2)]
        for thread in threads:
            thread.start()
        began = time.monotonic()
        for thread in threads:
            thread.join(600)
        print(f"16 changes through two servers in {time.monotonic() - began:.1f} s")
        assert len(kept) == 12 and len(removed) == 4  # every write was answered, and answered 200
        on_disk = {json.loads(line)["id"] for line in (corpus / "http-documents.jsonl").read_text().split("\n") if line}
        assert on_disk == set(kept)
        deadline = time.monotonic() + 30  # each server serves the last build, whoever wrote it, within a second or two
        for port in ports:
            while not (
                all(call(port, "GET", f"/api/documents/{d}")[0] == 200 for d in kept)
                and all(call(port, "GET", f"/api/documents/{d}")[0] == 410 for d in removed)
            ):
                assert time.monotonic() < deadline, f"port {port} does not serve the last build"
                time.sleep(0.2)
        assert not [p.name for p in corpus.iterdir() if p.name.endswith(".tmp")]
    finally:
        for server in servers:
            server.terminate()
            server.communicate(timeout=30)
    restarted = Searcher.open(real_settings.replace(corpus_dir=corpus, index_dir=index))
    assert set(kept) <= set(restarted.index.documents) and not removed & set(restarted.index.documents)
