"""Raw HTTP against a real waitress server (`qa.web.server.serve`): the body limit, the requests
waitress refuses before the app sees them, and redirects, byte for byte."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from qa.web import SECURITY_HEADERS

from .served import real_server

LIMIT = 2000  # QA_MAX_BODY_BYTES of the server under test
HEADER_LIMIT = 262144  # waitress's max_request_header_size (its default)


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with real_server(tmp_path_factory.mktemp("wire"), LIMIT) as port:
        yield port


def exchange(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send `request` as is; (status, headers with lower-case names, body) of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(request)
        raw = b""
        while chunk := s.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


def post_search(body: bytes, extra: bytes = b"") -> bytes:
    head = b"POST /api/search HTTP/1.1\r\nHost: qa.test\r\nConnection: close\r\nContent-Type: application/json\r\n"
    return head + b"Content-Length: %d\r\n" % len(body) + extra + b"\r\n" + body


def json_body_of(size: int) -> bytes:
    """A search request of exactly `size` bytes (padded with JSON whitespace)."""
    body = b'{"q": "How long did the war last?", "k": 1}'
    return body + b" " * (size - len(body))


def assert_json_error(answer: tuple[int, dict[str, str], bytes], status: int, code: str) -> None:
    got, headers, body = answer
    assert got == status, body
    assert headers["content-type"] == "application/json"
    assert {name: headers.get(name.lower()) for name in SECURITY_HEADERS} == SECURITY_HEADERS
    assert headers["server"] == "qa" and int(headers["content-length"]) == len(body)
    error = json.loads(body)["error"]
    assert set(json.loads(body)) == {"error"} and error["code"] == code and error["message"]
    assert set(error) == {"code", "message", "request_id"} and error["request_id"] == headers["x-request-id"]


def test_a_body_of_exactly_the_limit_is_answered(port):
    status, _headers, body = exchange(port, post_search(json_body_of(LIMIT)))
    assert status == 200 and json.loads(body)["query"] == "How long did the war last?"


def test_one_byte_over_the_limit_is_a_json_413(port):
    answer = exchange(port, post_search(json_body_of(LIMIT + 1)))
    assert_json_error(answer, 413, "payload_too_large")
    assert f"over {LIMIT} bytes" in json.loads(answer[2])["error"]["message"]


@pytest.mark.parametrize(
    "request_bytes, status, code",
    [
        (b"GARBAGE\r\n\r\n", 400, "bad_request"),
        (b"G@T / HTTP/1.1\r\nHost: qa.test\r\n\r\n", 400, "bad_request"),
        (b"GET / HTTP/1.1\r\nHost: qa.test\r\nBad Header Line\r\n\r\n", 400, "bad_request"),
        (b"GET / HTTP/1.1\r\nHost: qa.test\r\nX-Pad: " + b"a" * HEADER_LIMIT, 431, "headers_too_large"),
        (b"POST /api/search HTTP/1.1\r\nHost: qa.test\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "not_implemented"),
        (post_search(b"", b"Content-Length: 1\r\n"), 400, "bad_request"),  # two lengths
        (post_search(b"{" * (LIMIT + 1)), 413, "payload_too_large"),
        (
            b"POST /api/search HTTP/1.1\r\nHost: qa.test\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"%x\r\n" % (2 * LIMIT)
            + b" " * (2 * LIMIT)
            + b"\r\n0\r\n\r\n",
            413,
            "payload_too_large",
        ),
        (b"POST /api/search HTTP/1.1\r\nHost: qa.test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, "bad_request"),
    ],
    ids=[
        "request-line",
        "method",
        "header-line",
        "header-size",
        "transfer-encoding",
        "content-length",
        "body-size",
        "chunked-body-size",
        "chunk-size",
    ],
)
def test_what_waitress_refuses_is_json_with_the_security_headers(port, request_bytes, status, code):
    assert_json_error(exchange(port, request_bytes), status, code)


@pytest.mark.parametrize("host", ["evil.example", "EVIL.example:8080", "evil.example/x", ""])
@pytest.mark.parametrize(
    "path, status, location",
    [
        ("/api//documents/x", 308, "/api/documents/x"),  # the router merges slashes
        ("/api//search?q=war&k=1", 308, "/api/search?q=war&k=1"),
        ("/favicon.ico", 301, "/static/qa/favicon.svg"),
    ],
)
def test_redirects_are_relative_whatever_the_host_header_says(port, host, path, status, location):
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
    got, headers, _ = exchange(port, request)
    assert (got, headers["location"]) == (status, location)
