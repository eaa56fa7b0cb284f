"""GET /metrics (Prometheus text format): off unless asked for; requests counted by route and
status, latency, questions and abstentions, backend errors, reloads, and what is served."""

from __future__ import annotations

import shutil
import sys
import urllib.request
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

import qa.web
from qa.config import Settings
from qa.errors import BackendUnavailable, ConfigError
from qa.index.build import build_index
from qa.retrieve.live import LiveSearcher
from qa.retrieve.searcher import Searcher
from qa.web import create_app

from .conftest import CORPUS, FakeEmbedder, fake_settings
from .openapi_check import checking_client
from .served import free_port
from .test_guard import gated_app, hold_one
from .test_http import assert_error

TOKEN = "metrics-test-token"
UNKNOWN = "xqzj"  # no passage near it, for the fake embedder: abstains for confidence
GERMAN = "Wie lange dauerte der Krieg zwischen den beiden Ländern?"  # abstains for its language
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples_of(text: str) -> Samples:
    """Every sample of an exposition, by (name, labels); the text must parse as Prometheus's format."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(client: FlaskClient) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain", response.data[:200]
    assert "version=" in response.headers["Content-Type"]  # Prometheus's text format, versioned
    return samples_of(response.get_data(as_text=True))


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def served(tmp_path: Path) -> tuple[Settings, FakeEmbedder, LiveSearcher, Flask]:
    """Metrics on and admin on, over a copy of the corpus (so that a test may add a document)."""
    shutil.copytree(CORPUS, tmp_path / "corpus")
    settings = fake_settings(tmp_path, corpus=tmp_path / "corpus", metrics=True, admin_token=TOKEN)
    embedder = FakeEmbedder()
    build_index(settings, embedder)
    live = LiveSearcher(Searcher.open(settings, embedder))
    return settings, embedder, live, create_app(settings, live)


def test_metrics_are_off_by_default_and_a_404_like_any_unknown_path(fake_searcher):
    client = checking_client(create_app(fake_searcher.settings, fake_searcher))
    assert_error(client.get("/metrics"), 404, "not_found")
    assert "qa.metrics" not in client.application.extensions  # nothing is counted either


def test_a_metrics_port_alone_counts_but_keeps_metrics_off_the_api(fake_searcher):
    settings = fake_searcher.settings.replace(metrics_port=free_port())
    app = create_app(settings, fake_searcher)
    assert_error(checking_client(app).get("/metrics"), 404, "not_found")
    assert "qa.metrics" in app.extensions


def test_the_metrics_port_serves_the_same_registry(fake_searcher):
    from qa.web.server import serve_metrics

    port = free_port()
    app = create_app(fake_searcher.settings.replace(metrics_port=port), fake_searcher)
    app.test_client().get("/api/search?q=war&k=1")
    stop = serve_metrics(app, "127.0.0.1", port)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            samples = samples_of(response.read().decode())
    finally:
        stop()
    assert value(samples, "qa_http_requests_total", route="qa.search_get", status="200") == 1


def test_a_metrics_port_must_be_a_port(tmp_path):
    with pytest.raises(ConfigError, match="metrics_port"):
        fake_settings(tmp_path, metrics_port=70000)


def test_counters_move_by_exactly_the_requests_made(served):
    client = served[3].test_client()  # not the checking client: its one fetch of /openapi.json would count
    before = scrape(client)
    for _ in range(3):
        assert client.get("/api/search", query_string={"q": "How long did the war last?", "k": 2}).status_code == 200
    assert client.post("/api/search", json={"queries": ["war", "ceasefire"], "k": 1}).status_code == 200
    assert client.get("/healthz").status_code == 200
    assert client.get("/no/such/page").status_code == 404
    assert client.get("/api/search", query_string={"q": "war", "k": 0}).status_code == 400
    after = scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("qa_http_requests_total", route="qa.search_get", status="200") == 3
    assert moved("qa_http_requests_total", route="qa.search_get", status="400") == 1
    assert moved("qa_http_requests_total", route="qa.search_post", status="200") == 1
    assert moved("qa_http_requests_total", route="qa.healthz", status="200") == 1
    assert moved("qa_http_requests_total", route="unmatched", status="404") == 1
    assert moved("qa_http_requests_total", route="metrics", status="200") == 1  # the first scrape, counted once answered
    assert moved("qa_http_request_duration_seconds_count", route="qa.search_get") == 4
    assert moved("qa_http_request_duration_seconds_bucket", route="qa.search_get", le="+Inf") == 4
    assert moved("qa_questions_total") == 3 + 2  # a batch counts each question; the 400 answered none
    requests = sum(v for (name, _), v in after.items() if name == "qa_http_requests_total")
    assert requests == 3 + 1 + 1 + 1 + 1 + 1  # the requests above and the first scrape: nothing else
    labels = {v for (_, pairs) in after for _, v in pairs}
    assert "/no/such/page" not in labels and "/api/search" not in labels  # routes, never paths


def test_what_is_served_is_read_at_each_scrape(served):
    _, _, live, app = served
    samples = scrape(app.test_client())
    manifest = live.searcher.index.manifest
    assert value(samples, "qa_documents") == manifest.documents > 0
    assert value(samples, "qa_passages") == manifest.passages > 0
    tier = live.searcher.encoder_info()["tier"]
    assert value(samples, "qa_encoder_info", tier=tier, model=manifest.model) == 1
    assert value(samples, "qa_requests_in_progress") == 0
    assert value(samples, "qa_reloads_total") == 0


def test_abstentions_are_counted_by_reason(served):
    _, _, _, app = served
    client = checking_client(app)
    before = scrape(client)
    assert (
        client.get("/api/search", query_string={"q": "war", "doc": "no-such-document"}).get_json()["abstain_reason"] == "filter"
    )
    assert client.get("/api/search", query_string={"q": UNKNOWN}).get_json()["abstain_reason"] == "confidence"
    batch = client.post("/api/search", json={"queries": [UNKNOWN, "How long did the war last?", GERMAN]}).get_json()
    assert [r["abstain_reason"] for r in batch["responses"]] == ["confidence", "", "language"]
    assert client.get("/", query_string={"q": UNKNOWN}).status_code == 200  # the page's searches count too
    after = scrape(client)
    counted = {
        reason: value(after, "qa_questions_abstained_total", reason=reason) for reason in ("confidence", "filter", "language")
    }
    assert counted == {"confidence": 3, "filter": 1, "language": 1}
    assert value(after, "qa_questions_total") == 1 + 1 + 3 + 1
    assert ("qa_questions_abstained_total", frozenset({("reason", "language")})) in before  # a series from the start, at 0


def test_a_503_backend_unavailable_counts_as_a_backend_error(served, monkeypatch):
    _, _, live, app = served

    def engine_down(*args, **kwargs):
        raise BackendUnavailable("the index engine did not answer")

    monkeypatch.setattr(live.searcher, "search_many", engine_down)
    client = checking_client(app)
    response = client.get("/api/search", query_string={"q": "war"})
    assert_error(response, 503, "backend_unavailable")
    assert response.headers["Retry-After"] == "5"
    assert client.get("/", query_string={"q": "war"}).status_code == 503  # the page shows it, and it is counted
    assert client.get("/api/search", query_string={"q": "war", "k": 0}).status_code == 400  # not a backend error
    samples = scrape(client)
    assert value(samples, "qa_backend_errors_total") == 2
    assert value(samples, "qa_http_requests_total", route="qa.search_get", status="503") == 1
    assert value(samples, "qa_http_requests_total", route="qa.page", status="503") == 1


def test_other_503s_are_not_backend_errors(tmp_path):
    app, embedder = gated_app(tmp_path, queue_timeout=0.05, metrics=True)
    worker, _ = hold_one(app, embedder)
    try:
        assert_error(app.test_client().get("/api/search?q=war"), 503, "overloaded")
        samples = scrape(app.test_client())  # a scrape takes no turn: it is answered while the only one is held
        assert value(samples, "qa_requests_in_progress") == 1
    finally:
        embedder.gate.set()
        worker.join()
    assert value(samples, "qa_backend_errors_total") == 0
    assert value(samples, "qa_http_requests_total", route="qa.search_get", status="503") == 1


def test_scrapes_are_not_rate_limited(tmp_path, fake_embedder):
    settings = fake_settings(tmp_path, metrics=True, rate_limit="2/minute")
    build_index(settings, fake_embedder)
    client = create_app(settings, Searcher.open(settings, fake_embedder)).test_client()
    for _ in range(5):
        scrape(client)
    assert client.get("/api/search?q=war").status_code == 200
    assert client.get("/api/search?q=war").status_code == 200
    assert client.get("/api/search?q=war").status_code == 429  # the allowance is the searches'


def test_reloads_are_counted_and_the_gauges_follow_them(served):
    settings, embedder, live, app = served
    client = checking_client(app)
    documents = value(scrape(client), "qa_documents")
    (settings.corpus_dir / "zebra.txt").write_text("Zebra news\nA zebra crossing was painted on the Armenian border.\n")
    build_index(settings, embedder)
    assert client.post("/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    samples = scrape(client)
    assert value(samples, "qa_reloads_total") == 1 and live.swaps == 1
    assert value(samples, "qa_documents") == documents + 1
    assert client.post("/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert value(scrape(client), "qa_reloads_total") == 2


def test_two_apps_in_one_process_count_apart(fake_searcher):
    first = create_app(fake_searcher.settings.replace(metrics=True), fake_searcher).test_client()
    second = create_app(fake_searcher.settings.replace(metrics=True), fake_searcher).test_client()
    first.get("/healthz")
    assert value(scrape(first), "qa_http_requests_total", route="qa.healthz", status="200") == 1
    assert value(scrape(second), "qa_http_requests_total", route="qa.healthz", status="200") == 0


def test_metrics_without_prometheus_client_is_one_clear_error(fake_searcher, monkeypatch):
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "qa.web.metrics", raising=False)
    monkeypatch.delattr(qa.web, "metrics", raising=False)
    with pytest.raises(ConfigError, match=r"qa\[metrics\]"):
        create_app(fake_searcher.settings.replace(metrics=True), fake_searcher)
    create_app(fake_searcher.settings, fake_searcher)  # metrics off: not needed
