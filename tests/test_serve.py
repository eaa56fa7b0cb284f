"""`qa serve` as a real process: builds a missing index, then answers over HTTP with waitress."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
from click.testing import CliRunner

from qa.cli import main
from qa.config import Settings
from qa.index.build import build_index

from .conftest import CORPUS, real_embedder_for
from .served import free_port, wait_until_up

pytestmark = pytest.mark.slow  # the real model on the real corpus


def get(url: str) -> tuple[dict, dict]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response), dict(response.headers)


def test_serve_builds_a_missing_index_then_answers(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / "004_ac4458f6c11ac45b.txt", corpus)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env["QA_QUERY_ENCODER"] = "torch"  # slow enough (~1 s a batch) to be caught in progress by SIGTERM
    env["QA_QUEUE_TIMEOUT"] = "30"  # the second batch waits for its turn (one batch at a time) rather than 503
    metrics_port = free_port()
    env |= {"QA_METRICS_PORT": str(metrics_port), "QA_LOG_FORMAT": "json"}  # as a fleet runs it
    command = [
        sys.executable,
        "-m",
        "qa",
        "serve",
        "--port",
        str(port),
        "--corpus",
        str(corpus),
        "--index",
        str(tmp_path / "index"),
    ]
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        health, headers = wait_until_up(server, lambda: get(f"http://127.0.0.1:{port}/healthz"), 180)
        assert health["documents"] == 1 and health["passages"] > 0
        assert headers["Server"] == "qa"  # waitress, not advertising versions
        answer, _ = get(f"http://127.0.0.1:{port}/api/search?q=How+many+Azerbaijani+servicemen+were+killed%3F&k=3")
        assert any("servicemen killed" in hit["text"] for hit in answer["results"])
        status = CliRunner().invoke(main, ["status", "--index", str(tmp_path / "index")], env={"QA_QUERY_ENCODER": ""})
        (first,) = [line for line in status.output.splitlines() if "on disk: build-" in line]
        served = f"served at http://127.0.0.1:{port}: {first.split()[2].rstrip(',')}"
        assert served in status.output and "(older" not in status.output
        assert f"corpus folder: {corpus}" in status.output  # the index's own, though none was named
        shutil.copy(CORPUS / "002_97eb6d87a007548f.txt", corpus)  # a new build by another process: served
        settings = Settings.load(env={}, corpus_dir=corpus, index_dir=tmp_path / "index")
        build_index(settings, real_embedder_for(settings))
        deadline = time.monotonic() + 30
        while get(f"http://127.0.0.1:{port}/healthz")[0]["documents"] != 2:
            assert time.monotonic() < deadline, "the server did not pick up the new build"
            time.sleep(0.2)
        server.send_signal(signal.SIGHUP)  # reloads (the same build) at once
        while "qa_reloads_total 2.0" not in scrape(metrics_port):  # the new build, then SIGHUP's
            assert time.monotonic() < deadline, "the reloads were not counted"
            time.sleep(0.2)
        assert "qa_documents 2.0" in scrape(metrics_port)
        connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=60) for _ in range(2)]
        for connection in connections:  # accepted by the server before the signal
            connection.request("GET", "/healthz")
            assert connection.getresponse().read()
        answers: list[dict] = []
        in_flight = [threading.Thread(target=lambda c=c: answers.append(post_big_batch(c))) for c in connections]
        for thread in in_flight:
            thread.start()
        time.sleep(1.0)  # both sent and read: one is being answered, the other waits (~1 s each)
        server.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        for thread in in_flight:
            thread.join(60)
        assert [len(a["responses"]) for a in answers] == [32, 32]  # SIGTERM let both finish
        late = [a for a in answers if a["received_at"] > signalled]
        assert late and all(a["connection"] == "close" for a in late)  # in progress at SIGTERM: answered, then closed
        server.wait(30)
        with pytest.raises(OSError):  # and then nothing more is accepted
            get(f"http://127.0.0.1:{port}/healthz")
        with pytest.raises(OSError):
            scrape(metrics_port)
    finally:
        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=30)[0]
    assert server.returncode == 0, output
    assert f"building the index in {tmp_path / 'index'} (no index in" in output and "build it with" not in output
    assert "questions encoded by torch: chosen by QA_QUERY_ENCODER=torch" in output
    assert f"serving {corpus} on http://127.0.0.1:{port}" in output
    assert "a new build on disk: serving index" in output and "SIGHUP: serving index" in output
    assert "finishing the requests in progress" in output and output.rstrip().endswith("stopped")
    assert f"metrics on http://127.0.0.1:{metrics_port}/metrics" in output
    logged = [json.loads(line) for line in output.splitlines() if line.startswith('{"time"')]
    searched = [line for line in logged if line.get("route") == "qa.search_get"]
    assert len(searched) == 1 and searched[0]["status"] == 200 and searched[0]["path"] == "/api/search"
    assert any(line["logger"] == "qa.web.server" and "SIGHUP" in line["message"] for line in logged)  # every record


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        return response.read().decode()


def post_big_batch(connection: http.client.HTTPConnection) -> dict:
    question = "What did the foreign ministers say about the ceasefire agreements and the border clashes? " * 10
    body = json.dumps({"queries": [question[:990] + str(i) for i in range(32)], "k": 50})
    connection.request("POST", "/api/search", body, {"Content-Type": "application/json"})
    response = connection.getresponse()
    answer = json.load(response)
    return {**answer, "received_at": time.monotonic(), "connection": response.getheader("Connection")}
