"""Issue 15: a batch is weighed by its cost, for admission and for the rate limit, so that
batches cannot starve single questions. No timing: threads, events and the admission's state."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from qa.errors import Overloaded
from qa.index.build import build_index
from qa.retrieve.searcher import Searcher
from qa.web import create_app
from qa.web.admission import Admission
from qa.web.cost import body_cost, light_cost, question_cost

from .conftest import fake_settings
from .openapi_check import checking_client
from .test_guard import GatedEmbedder
from .test_http import assert_error

LONG = ("Which towns did the drones strike during the war in the autumn of 2020? " * 14)[:999].strip() + "?"
BATCH = {"queries": [LONG] * 4, "k": 3}  # 4 questions of 1,000 characters: 40 units, heavy


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.005)


def in_thread(call: Callable[[], object]) -> tuple[threading.Thread, dict]:
    out: dict = {}
    thread = threading.Thread(target=lambda: out.update(r=call()), daemon=True)
    thread.start()
    return thread, out


def test_cost_grows_with_the_questions_and_their_length(fake_searcher):
    settings = fake_searcher.settings  # 100 characters a unit, questions of up to 1,000
    assert question_cost("When did the war start?", settings) == 1
    assert question_cost("x" * 100, settings) == 1 and question_cost("x" * 101, settings) == 2
    assert question_cost(LONG, settings) == 10 == light_cost(settings)
    assert body_cost({"q": LONG}, settings) == 10
    assert body_cost(BATCH, settings) == 40
    assert body_cost({"queries": ["war?"] * 32}, settings) == 32
    for refused in ([], {"queries": "war"}, {"queries": []}, {"queries": ["war?"] * 33}):  # 400 before encoding
        assert body_cost(refused, settings) == 1


def test_a_heavy_request_never_takes_the_last_free_turn():
    admission = Admission(2, wait_seconds=0, heavy_units=100)
    admission.enter(1)  # a single question in progress
    with pytest.raises(Overloaded, match="kept for single questions"):
        admission.enter(20, heavy=True)
    assert admission.enter(1) == 0  # the last turn goes to another single question
    assert admission.active == 2 and admission.heavy_cost == 0


def test_heavy_requests_take_their_units_and_one_costing_more_than_all_takes_all():
    admission = Admission(4, wait_seconds=0, heavy_units=100)
    assert admission.enter(60, heavy=True) == 60
    with pytest.raises(Overloaded):
        admission.enter(50, heavy=True)  # 110 units > 100
    assert admission.enter(40, heavy=True) == 40
    admission.leave(60)
    admission.leave(40)
    assert admission.enter(500, heavy=True) == 100  # alone, it is admitted: it takes every unit
    assert admission.heavy_cost == 100
    assert Admission(1, wait_seconds=0, heavy_units=100).enter(20, heavy=True) == 20  # one turn: nothing to keep


def test_a_single_question_passes_a_waiting_batch_and_batches_go_in_order():
    admission = Admission(4, wait_seconds=10, heavy_units=100)
    held = admission.enter(60, heavy=True)
    big, big_out = in_thread(lambda: admission.enter(100, heavy=True))
    wait_until(lambda: len(admission._heavy_queue) == 1)
    small, small_out = in_thread(lambda: admission.enter(30, heavy=True))  # fits in the units, but comes second

    def both_waiting() -> bool:
        with admission._changed:  # a waiter appends itself and checks in one critical section
            return len(admission._heavy_queue) == 2

    wait_until(both_waiting)
    assert admission.enter(1) == 0  # a single question is admitted at once, past both
    assert admission.heavy_cost == 60 and admission.active == 2
    admission.leave(held)
    big.join(10)
    assert big_out["r"] == 100 and "r" not in small_out  # the older, bigger batch went first
    admission.leave(100)
    small.join(10)
    assert small_out["r"] == 30


def test_a_single_question_gets_a_turn_while_batches_want_every_turn(tmp_path):
    embedder = GatedEmbedder()
    settings = fake_settings(tmp_path, max_inflight=2, queue_timeout=0.2)
    build_index(settings, embedder)
    embedder.armed = True
    app = create_app(settings, Searcher.open(settings, embedder))
    admission = app.extensions["qa.admission"]
    try:
        first, first_out = in_thread(lambda: app.test_client().post("/api/search", json=BATCH))
        assert embedder.waiting.wait(10)  # the first batch has a turn and is being encoded
        second, second_out = in_thread(lambda: app.test_client().post("/api/search", json=BATCH))
        second.join(10)
        assert "r" in second_out, "the second batch took the last turn"
        assert_error(second_out["r"], 503, "overloaded")
        assert second_out["r"].headers["Retry-After"] == "1"
        single, single_out = in_thread(lambda: app.test_client().get("/api/search?q=clashes&k=1"))
        wait_until(lambda: admission.active == 2)  # the single question has the turn kept for it
    finally:
        embedder.gate.set()
    first.join(10)
    single.join(10)
    assert first_out["r"].status_code == 200 and single_out["r"].status_code == 200
    assert admission.active == 0 and admission.heavy_cost == 0


def test_a_batch_spends_its_cost_from_the_rate_limit(fake_searcher):
    settings = fake_searcher.settings.replace(rate_limit="10/minute")
    client = checking_client(create_app(settings, fake_searcher))
    me = {"REMOTE_ADDR": "10.0.0.1"}
    batch = {"queries": ["When did the war start?"] * 4 + [LONG[:250]], "k": 1}  # 4 + 3 units
    answered = client.post("/api/search", json=batch, environ_base=me)
    assert answered.status_code == 200 and answered.headers["X-RateLimit-Remaining"] == "3"
    assert [client.get("/api/search?q=war&k=1", environ_base=me).status_code for _ in range(3)] == [200] * 3
    limited = client.get("/api/search?q=war&k=1", environ_base=me)
    assert_error(limited, 429, "too_many_requests")
    assert "cost units" in limited.get_json()["error"]["message"]
    assert client.get("/api/search?q=war&k=1", environ_base={"REMOTE_ADDR": "10.0.0.2"}).status_code == 200


def test_a_batch_costing_more_than_the_allowance_spends_all_of_it_but_is_answered(fake_searcher):
    settings = fake_searcher.settings.replace(rate_limit="5/minute;100/hour")
    client = checking_client(create_app(settings, fake_searcher))
    assert client.post("/api/search", json=BATCH).status_code == 200  # 40 units, charged 5
    assert_error(client.get("/api/search?q=war&k=1"), 429, "too_many_requests")


def test_a_refused_body_costs_one_unit_and_keeps_its_error(fake_searcher):
    settings = fake_searcher.settings.replace(rate_limit="3/minute", max_body_bytes=1000)
    client = checking_client(create_app(settings, fake_searcher))
    assert_error(client.post("/api/search", json={"queries": [LONG, LONG]}), 413, "payload_too_large")
    assert_error(client.post("/api/search", data="{", content_type="application/json"), 400, "bad_request")
    assert client.get("/api/search?q=war&k=1").status_code == 200  # 1 + 1 + 1
    assert_error(client.get("/api/search?q=war&k=1"), 429, "too_many_requests")
