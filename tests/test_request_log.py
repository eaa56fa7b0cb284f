"""One access log line per request, and the request id: taken from a sane `X-Request-Id` or
made, echoed on every answer (errors included) and in every JSON error body."""

from __future__ import annotations

import json
import logging
import re

import pytest
from flask import Flask

from qa.index.build import build_index
from qa.retrieve.searcher import Searcher
from qa.web import create_app
from qa.web.access import JSONFormatter, configure_logging

from .conftest import fake_settings
from .openapi_check import CheckingClient, checking_client
from .test_guard import gated_app, hold_one

ACCESS = "qa.web.access"
NEW_ID = re.compile(r"[0-9a-f]{32}")
FIELDS = {"method", "route", "path", "status", "duration_ms", "request_id", "client"}


@pytest.fixture
def app(fake_searcher: Searcher) -> Flask:
    return create_app(fake_searcher.settings.replace(log_format="json"), fake_searcher)


def warmed(client: CheckingClient) -> CheckingClient:
    """The checking client, its first JSON answer checked (it fetches /openapi.json then: one more request)."""
    client.get("/healthz")
    assert client.checker is not None
    return client


def access_lines(caplog: pytest.LogCaptureFixture) -> list[dict]:
    """The access log's records, each as the JSON line QA_LOG_FORMAT=json writes."""
    return [json.loads(JSONFormatter().format(r)) for r in caplog.records if r.name == ACCESS]


def test_every_request_is_one_json_line_with_the_id_of_its_header(app, caplog):
    client = warmed(checking_client(app))
    with caplog.at_level(logging.INFO, logger=ACCESS):
        caplog.clear()  # the warm-up's lines too, when an earlier app left the access log at INFO
        answers = [
            client.get("/api/search", query_string={"q": "How long did the war last?", "k": 2}),
            client.post("/api/search", json={"queries": ["war", "xqzj"], "k": 1}),
            client.get("/healthz"),
            client.get("/no/such/page"),
        ]
    lines = access_lines(caplog)
    assert len(lines) == len(answers)
    for line, answer in zip(lines, answers, strict=True):
        assert set(line) >= FIELDS and line["level"] == "INFO" and line["logger"] == ACCESS
        assert line["request_id"] == answer.headers["X-Request-Id"] and NEW_ID.fullmatch(line["request_id"])
        assert line["status"] == answer.status_code and line["duration_ms"] >= 0 and line["client"] == "127.0.0.1"
        assert line["time"].endswith("Z")
    assert len({line["request_id"] for line in lines}) == len(lines)  # a new id each
    search, batch, health, missing = lines
    assert (search["method"], search["route"], search["path"]) == ("GET", "qa.search_get", "/api/search")
    assert (search["questions"], search["abstained"], search["results"]) == (1, 0, 2)
    assert (batch["route"], batch["questions"], batch["abstained"], batch["results"]) == (
        "qa.search_post",
        2,
        1,
        2,
    )  # an abstention still shows its hits
    assert health["route"] == "qa.healthz" and "questions" not in health and "error" not in health
    assert (missing["route"], missing["status"], missing["error"]) == ("unmatched", 404, "not_found")


def test_the_path_is_logged_without_its_query(app, caplog):
    with caplog.at_level(logging.INFO, logger=ACCESS):
        app.test_client().get("/api/search", query_string={"q": "a private question"})
    (line,) = access_lines(caplog)
    assert line["path"] == "/api/search" and "private" not in json.dumps(line)


def test_a_text_line_cannot_be_split_by_the_path(fake_searcher, caplog):
    app = create_app(fake_searcher.settings, fake_searcher)
    with caplog.at_level(logging.INFO, logger=ACCESS):
        answer = app.test_client().get("/nope%0Afake%20line")
    (record,) = [r for r in caplog.records if r.name == ACCESS]
    text = record.getMessage()
    assert "\n" not in text and "/nope\\nfake line" in text and answer.headers["X-Request-Id"] in text


@pytest.mark.parametrize("given", ["abc-123", "Root=1-67891233-abcdef012345678912345678", "0" * 128, "a.b_c:d+e/f="])
def test_a_sane_incoming_id_is_echoed_logged_and_in_error_bodies(app, caplog, given):
    client = warmed(checking_client(app))
    with caplog.at_level(logging.INFO, logger=ACCESS):
        caplog.clear()  # the warm-up's lines too, when an earlier app left the access log at INFO
        ok = client.get("/healthz", headers={"X-Request-Id": given})
        missing = client.get("/api/documents/nope", headers={"X-Request-Id": given})
    assert ok.headers["X-Request-Id"] == missing.headers["X-Request-Id"] == given
    assert missing.status_code == 404 and missing.get_json()["error"]["request_id"] == given
    assert [line["request_id"] for line in access_lines(caplog)] == [given, given]


@pytest.mark.parametrize("given", ["", "0" * 129, "a b", "<script>", "id\u00e9", "a;b", '"quoted"'])
def test_an_insane_incoming_id_is_replaced(app, given):
    answer = checking_client(app).get("/api/documents/nope", headers={"X-Request-Id": given})
    made = answer.headers["X-Request-Id"]
    assert NEW_ID.fullmatch(made) and made != given
    assert answer.get_json()["error"]["request_id"] == made


def assert_carries_its_id(answer, status: int, code: str) -> None:
    assert answer.status_code == status and answer.is_json, answer.data[:200]
    error = answer.get_json()["error"]
    assert error["code"] == code and error["request_id"] == answer.headers["X-Request-Id"]
    assert NEW_ID.fullmatch(error["request_id"])


def test_every_kind_of_error_carries_the_id(tmp_path, fake_embedder):
    settings = fake_settings(tmp_path, rate_limit="8/minute", max_body_bytes=200)
    build_index(settings, fake_embedder)
    client = checking_client(create_app(settings, Searcher.open(settings, fake_embedder)))
    assert_carries_its_id(client.get("/api/search", query_string={"q": "war", "k": 0}), 400, "invalid_k")
    assert_carries_its_id(client.get("/no/such/page"), 404, "not_found")
    assert_carries_its_id(client.post("/healthz"), 405, "method_not_allowed")
    assert_carries_its_id(client.post("/api/search", json={"q": "war " * 100}), 413, "payload_too_large")
    assert_carries_its_id(client.post("/api/search", data="q=war"), 415, "unsupported_media_type")
    answers = [client.get("/api/search", query_string={"q": "war"}) for _ in range(8)]
    assert answers[0].status_code == 200 and answers[-1].status_code == 429  # the allowance runs out
    assert_carries_its_id(answers[-1], 429, "too_many_requests")


def test_an_overloaded_503_and_its_line_carry_the_id(tmp_path, caplog):
    app, embedder = gated_app(tmp_path, queue_timeout=0.05)
    worker, held = hold_one(app, embedder)
    try:
        with caplog.at_level(logging.INFO, logger=ACCESS):
            refused = app.test_client().get("/api/search?q=war", headers={"X-Request-Id": "retry-7"})
    finally:
        embedder.gate.set()
        worker.join()
    assert refused.status_code == 503 and refused.get_json()["error"]["request_id"] == "retry-7"
    assert refused.headers["X-Request-Id"] == "retry-7" and held["r"].status_code == 200
    (line,) = [line for line in access_lines(caplog) if line["request_id"] == "retry-7"]
    assert (line["status"], line["error"]) == (503, "overloaded")


def test_an_unexpected_500_carries_the_id(fake_searcher, monkeypatch):
    app = create_app(fake_searcher.settings, fake_searcher)

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(fake_searcher, "search_many", broken)
    assert_carries_its_id(checking_client(app).get("/api/search?q=war"), 500, "internal_error")


def test_html_pages_carry_the_id_too(app, caplog):
    client = app.test_client()
    with caplog.at_level(logging.INFO, logger=ACCESS):
        for path in ("/", "/documents/no-such-document", "/static/qa/style.css"):
            answer = client.get(path)
            answer.close()
            assert NEW_ID.fullmatch(answer.headers["X-Request-Id"]), path
    page, missing, static = access_lines(caplog)
    assert (missing["status"], missing["error"]) == (404, "document_not_found")  # an HTML error page's code
    assert (page["route"], static["route"]) == ("qa.page", "qa.static") and "error" not in page


def test_the_openapi_document_gives_every_response_the_header(app):
    spec = app.test_client().get("/openapi.json").get_json()
    responses = [r for path in spec["paths"].values() for op in path.values() for r in op["responses"].values()]
    responses += list(spec["components"]["responses"].values())
    own = [r for r in responses if "$ref" not in r]
    assert len(own) > 20 and all(r["headers"]["X-Request-Id"] == {"$ref": "#/components/headers/RequestId"} for r in own)
    assert "request_id" in spec["components"]["schemas"]["ErrorDetail"]["required"]


def test_the_app_factory_writes_json_lines_when_asked(monkeypatch, fake_searcher):
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])  # as in a fresh process: nothing configured yet
    monkeypatch.setattr(root, "level", root.level)
    create_app(fake_searcher.settings.replace(log_format="json"), fake_searcher)
    (handler,) = root.handlers
    assert isinstance(handler.formatter, JSONFormatter) and root.level == logging.INFO
    record = logging.LogRecord("qa.x", logging.WARNING, __file__, 1, "held %s", ("up",), None)
    line = json.loads(handler.format(record))
    assert (line["level"], line["logger"], line["message"]) == ("WARNING", "qa.x", "held up")


def test_text_is_the_default_and_configure_leaves_existing_text_handlers(monkeypatch):
    root = logging.getLogger()
    handler = logging.StreamHandler()
    monkeypatch.setattr(root, "handlers", [handler])
    configure_logging("text")
    assert root.handlers == [handler] and not isinstance(handler.formatter, JSONFormatter)


def test_a_json_line_carries_the_exception(caplog):
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("qa.test").exception("failed")
    (record,) = [r for r in caplog.records if r.name == "qa.test"]
    line = json.loads(JSONFormatter().format(record))
    assert line["message"] == "failed" and "ValueError: boom" in line["exception"] and "\n" not in JSONFormatter().format(record)


def test_browsers_of_allowed_origins_may_read_the_id(fake_searcher):
    app = create_app(fake_searcher.settings.replace(cors_origins="https://tools.example"), fake_searcher)
    answer = app.test_client().get("/api/search?q=war", headers={"Origin": "https://tools.example"})
    assert answer.headers["Access-Control-Allow-Origin"] == "https://tools.example"
    assert "X-Request-Id" in answer.headers["Access-Control-Expose-Headers"]
