"""Hostile and malformed requests: each gets a clear JSON 4xx (or a normal answer), never a 500."""

from __future__ import annotations

import json

import pytest

from .conftest import REPO
from .test_http import assert_error

pytestmark = pytest.mark.slow  # the real model on the real corpus


@pytest.mark.parametrize(
    "question",
    [
        "Азербайджан и Армения 🕊️ война?",
        "מתי הסתיימה המלחמה?",
        "متى انتهت الحرب؟",
        "war\u202e?ecnefed",
        "war\ttime",
        "war\u0085time",
    ],
)
def test_emoji_and_right_to_left_questions_are_answered(client, question):
    response = client.get("/api/search", query_string={"q": question, "k": 2})
    assert response.status_code == 200
    assert response.get_json()["query"] == question.strip() and len(response.get_json()["results"]) == 2


def test_invalid_utf8_in_the_query_string_is_answered_not_a_500(client):
    response = client.get("/api/search?q=Lavrov%FF%FE+interview&k=1")  # werkzeug keeps bad escapes as text
    assert response.status_code == 200
    assert response.get_json()["query"] == "Lavrov%FF%FE interview"


@pytest.mark.parametrize(
    "data, content_type, status, code",
    [
        (b'{"q": "war\xff"}', "application/json", 400, "bad_request"),
        (b'{"q": "war"', "application/json", 400, "bad_request"),
        (b"", "application/json", 400, "bad_request"),
        (b"null", "application/json", 400, "bad_request"),
        (b'{"q": "war"}', "text/plain", 415, "unsupported_media_type"),
        (b'{"q": "war"}', None, 415, "unsupported_media_type"),
        (b"q=war", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        (b'{"q": "war", "k": NaN}', "application/json", 400, "invalid_k"),
        (b'{"q": "war", "k": 1e400}', "application/json", 400, "invalid_k"),
        (b'{"q": "war", "k": -1}', "application/json", 400, "invalid_k"),
        (b'{"q": "war", "k": [5]}', "application/json", 400, "invalid_k"),
        (b'{"q": ["war"]}', "application/json", 400, "invalid_query"),
        (b'{"q": {"$ne": ""}}', "application/json", 400, "invalid_query"),
        (b'{"q": "\\ud800 war"}', "application/json", 400, "invalid_query"),
    ],
)
def test_malformed_bodies(client, data, content_type, status, code):
    headers = {"Content-Type": content_type} if content_type else {}
    assert_error(client.post("/api/search", data=data, headers=headers), status, code)


@pytest.mark.parametrize("depth", [9, 100, 100_000])
def test_deeply_nested_json_is_refused(client, depth):
    body = '{"q": "war", "x": ' + "[" * depth + "]" * depth + "}"
    response = client.post("/api/search", data=body, content_type="application/json")
    assert_error(response, 400, "bad_request")
    assert "nested deeper than 8" in response.get_json()["error"]["message"]


def test_nesting_within_the_limit_is_accepted(client):
    body = {"q": "war", "k": 1, "extra": [[[[[[["deep but allowed"]]]]]]]}
    assert client.post("/api/search", data=json.dumps(body), content_type="application/json").status_code == 200


def test_a_5_mb_body_is_a_413(client):
    assert_error(
        client.post("/api/search", data=b"[" + b" " * (5 << 20) + b"]", content_type="application/json"), 413, "payload_too_large"
    )


@pytest.mark.parametrize(
    "doc_id",
    [
        "../../etc/passwd",
        "%2e%2e%2fetc%2fpasswd",
        "..%2F..%2Fetc%2Fpasswd",
        "%00",
        "corpus/001_4cb7d0521dd44a67.txt",
        "001_4cb7d0521dd44a67.txt/..",
        "C:%5Cwindows%5Cwin.ini",
        "x" * 5000,
    ],
)
def test_unknown_and_path_like_document_ids(client, doc_id):
    response = client.get(f"/api/documents/{doc_id}")
    assert response.status_code == 404 and response.get_json()["error"]["code"] in {"document_not_found", "not_found"}
    assert str(REPO) not in response.get_data(as_text=True)  # nothing read from or said about the disk
    assert client.get(f"/documents/{doc_id}").status_code == 404


def test_errors_carry_no_stack_trace_or_path(client):
    for response in [
        client.get("/api/search?q="),
        client.post("/api/search", data=b"{", content_type="application/json"),
        client.get("/api/documents/nope"),
    ]:
        text = response.get_data(as_text=True)
        assert "Traceback" not in text and str(REPO) not in text and ".py" not in text


@pytest.mark.parametrize("path", ["/", "/api/search?q=war", "/api/documents/nope", "/nope", "/openapi.json", "/healthz"])
def test_security_headers_on_every_response(client, path):
    response = client.get(path)
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Frame-Options"] == "DENY"
