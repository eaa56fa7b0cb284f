"""Rate limit (429 with Retry-After) and load shedding (503 at once, not an unbounded queue)."""

from __future__ import annotations

import threading
import time

import pytest

from qa.errors import ConfigError
from qa.index.build import build_index
from qa.retrieve.searcher import Searcher
from qa.web import create_app

from .conftest import FakeEmbedder, fake_settings
from .openapi_check import checking_client
from .test_http import assert_error


class GatedEmbedder(FakeEmbedder):
    """Encodes a question only once the gate opens, so a request can be held in progress."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.waiting = threading.Event()
        self.armed = False  # set once the index is built: only questions wait

    def encode(self, texts, batch_size=32, progress=None):
        if self.armed:
            self.waiting.set()
            assert self.gate.wait(10)
        return super().encode(texts, batch_size, progress)


def gated_app(tmp_path, **settings_overrides):
    embedder = GatedEmbedder()
    settings = fake_settings(tmp_path, max_inflight=1, **settings_overrides)
    build_index(settings, embedder)
    embedder.armed = True
    return create_app(settings, Searcher.open(settings, embedder)), embedder


@pytest.fixture
def gated(tmp_path):
    return gated_app(tmp_path, queue_timeout=0.2)


def hold_one(app, embedder) -> tuple[threading.Thread, dict]:
    """Start a search that stays in progress until the gate opens."""
    held: dict = {}
    worker = threading.Thread(target=lambda: held.update(r=app.test_client().get("/api/search?q=war&k=1")))
    worker.start()
    assert embedder.waiting.wait(10)
    return worker, held


def test_a_request_without_a_turn_within_the_timeout_is_refused(gated):
    app, embedder = gated
    worker, held = hold_one(app, embedder)
    client = checking_client(app)
    started = time.monotonic()
    refused = client.get("/api/search?q=clashes&k=1")
    assert 0.2 <= time.monotonic() - started < 5  # it waited its 0.2 s for a turn, no longer
    assert_error(refused, 503, "overloaded")
    assert refused.headers["Retry-After"] == "1"
    assert client.get("/healthz").status_code == 200  # health checks and pages without a question need no turn
    assert client.get("/").status_code == 200
    embedder.gate.set()
    worker.join(10)
    assert held["r"].status_code == 200
    assert client.get("/api/search?q=clashes&k=1").status_code == 200  # admitted again once it finished
    assert app.extensions["qa.admission"].active == 0


def test_no_rate_limit_by_default(fake_searcher):
    client = create_app(fake_searcher.settings, fake_searcher).test_client()
    assert all(client.get("/api/search?q=war&k=1").status_code == 200 for _ in range(30))


def test_rate_limit_answers_429_with_retry_after_per_client(fake_searcher):
    settings = fake_searcher.settings.replace(rate_limit="3/minute")
    client = checking_client(create_app(settings, fake_searcher))
    me = {"REMOTE_ADDR": "10.0.0.1"}
    assert [client.get("/api/search?q=war&k=1", environ_base=me).status_code for _ in range(3)] == [200] * 3
    limited = client.get("/api/search?q=war&k=1", environ_base=me)
    assert_error(limited, 429, "too_many_requests")
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    assert "3 per 1 minute" in limited.get_json()["error"]["message"]
    assert limited.headers["Content-Security-Policy"]  # security headers on a 429 too
    other = client.get("/api/search?q=war&k=1", environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert other.status_code == 200  # another client has its own allowance
    assert client.get("/healthz", environ_base=me).status_code == 200  # health is not limited


def test_a_waiting_request_gets_its_turn_when_one_finishes(tmp_path):
    app, embedder = gated_app(tmp_path, queue_timeout=10)
    worker, held = hold_one(app, embedder)
    second: dict = {}
    waiter = threading.Thread(target=lambda: second.update(r=app.test_client().get("/api/search?q=clashes&k=1")))
    waiter.start()
    time.sleep(0.2)
    assert "r" not in second  # still waiting for its turn
    embedder.gate.set()
    worker.join(10)
    waiter.join(10)
    assert held["r"].status_code == 200 and second["r"].status_code == 200


def test_a_client_over_its_rate_limit_gets_429_without_waiting_for_a_turn(tmp_path):
    app, embedder = gated_app(tmp_path, queue_timeout=5, rate_limit="1/minute")
    worker, _held = hold_one(app, embedder)
    started = time.monotonic()
    response = app.test_client().get("/api/search?q=clashes&k=1")
    assert response.status_code == 429 and time.monotonic() - started < 1
    embedder.gate.set()
    worker.join(10)


@pytest.mark.parametrize("limit", ["abc", "5 per fortnight", "10/minute;x"])
def test_a_malformed_rate_limit_is_a_config_error_at_start(fake_searcher, limit):
    with pytest.raises(ConfigError, match="QA_RATE_LIMIT"):
        create_app(fake_searcher.settings.replace(rate_limit=limit), fake_searcher)
