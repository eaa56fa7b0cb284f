"""What one request was and how it ended, noted in its WSGI environ as it is answered: its id,
when it started, the searches it answered and the error code it got. The access log (`access`)
and the metrics (`metrics`) read these notes once the response is ready; nothing here logs or
counts."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from flask import request

from ..retrieve.results import SearchResult

REQUEST_ID_HEADER = "X-Request-Id"
# An incoming id is kept when it is short and plain (a UUID, a hex or base64 token, a load
# balancer's "Root=1-5e..."): it goes into headers and log lines as it came. Else a new one.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:+/=-]{1,128}")


def new_request_id() -> str:
    return uuid.uuid4().hex


def request_id() -> str:
    """This request's id: the client's (or proxy's) `X-Request-Id` when it is sane, else a new one."""
    noted = request.environ.get("qa.request_id")
    if noted is None:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        noted = request.environ["qa.request_id"] = given if SANE_REQUEST_ID.fullmatch(given) else new_request_id()
    return noted


def note_start() -> None:
    request.environ.setdefault("qa.started", time.perf_counter())


def seconds_taken() -> float:
    return time.perf_counter() - request.environ.get("qa.started", time.perf_counter())


def note_results(results: Sequence[SearchResult]) -> None:
    """The searches this request answered (one, or a batch's)."""
    request.environ["qa.results"] = results


def note_error(code: str) -> None:
    """The error code this request was answered with (`{"error": {"code": ...}}`, or an HTML page's)."""
    request.environ["qa.error_code"] = code


@dataclass(frozen=True)
class Answered:
    """What a search request answered: questions, how many abstained and why, results given."""

    questions: int
    abstained: tuple[str, ...]  # the reason of each abstention (results.ABSTAIN_REASONS)
    results: int


def answered() -> Answered | None:
    """The searches noted for this request, summed; None when it answered none."""
    results: Sequence[SearchResult] | None = request.environ.get("qa.results")
    if results is None:
        return None
    reasons = tuple(r.abstain_reason for r in results if r.abstained)
    return Answered(len(results), reasons, sum(len(r.hits) for r in results))


def error_code() -> str:
    return request.environ.get("qa.error_code", "")


def route() -> str:
    """The Flask endpoint that answered ("unmatched" for a path no route has): a bounded set,
    unlike paths, so it can label metrics."""
    return request.endpoint or "unmatched"
