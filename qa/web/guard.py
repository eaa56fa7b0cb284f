"""Keeping the service answering under load: a per-client rate limit and load shedding.

- Rate limit (off unless `QA_RATE_LIMIT` is set): flask-limiter, keyed by client address,
  answering 429 `too_many_requests` with `Retry-After`. It is checked first, so a client over
  its limit never takes a turn.
- Load shedding: at most `QA_MAX_INFLIGHT` requests that use the model (searches and result
  pages) are answered at once; others wait for a turn for at most `QA_QUEUE_TIMEOUT` seconds,
  then get 503 `overloaded` with `Retry-After: 1`. So the wait is bounded, and refusing costs
  little CPU even when clients retry at once (an immediate refusal let retry storms starve the
  searches: see bench/results/).
"""

from __future__ import annotations

import threading

from flask import Flask, Response, request

from ..config import Settings
from ..errors import ConfigError, Overloaded

UNLIMITED = {"qa.healthz", "qa.static", "qa.favicon", "qa.openapi", "qa.reload", "qa.rebuild",
             "qa.put_document", "qa.delete_document", "qa.change_status", "qa.status"}  # cheap, or for monitors and operators (who have the token)


def uses_the_model() -> bool:
    return request.endpoint in ("qa.search_get", "qa.search_post") or (
        request.endpoint == "qa.page" and bool(request.args.get("q", "").strip())
    )


class Admission:
    """At most `limit` requests in progress; others wait up to `wait_seconds` for a turn."""

    def __init__(self, limit: int, wait_seconds: float) -> None:
        self.limit = limit
        self.wait_seconds = wait_seconds
        self.active = 0
        self._slots = threading.Semaphore(limit)
        self._count = threading.Lock()

    def enter(self) -> None:
        if not self._slots.acquire(timeout=self.wait_seconds):
            raise Overloaded(
                f"the service is busy: no turn within {self.wait_seconds:g} s ({self.limit} requests in progress); "
                "retry in a second"
            )
        with self._count:
            self.active += 1

    def leave(self) -> None:
        with self._count:
            self.active -= 1
        self._slots.release()


def init_guard(app: Flask, settings: Settings) -> None:
    """Rate limit first (when set), then admission; register before any other before_request."""
    if settings.rate_limit:
        init_rate_limit(app, settings.rate_limit)
    admission = Admission(settings.max_inflight, settings.queue_timeout)
    app.extensions["qa.admission"] = admission

    @app.before_request
    def admit() -> None:
        if uses_the_model():
            admission.enter()
            request.environ["qa.admitted"] = True

    @app.teardown_request
    def release(_: BaseException | None) -> None:
        if request.environ.pop("qa.admitted", False):
            admission.leave()

    @app.after_request
    def retry_later(response: Response) -> Response:
        if response.status_code == 503 and request.environ.get("qa.overloaded"):
            response.headers["Retry-After"] = "1"
        return response


def init_rate_limit(app: Flask, limit: str) -> None:
    from flask_limiter import Limiter
    from flask_limiter.util import get_remote_address
    from limits import parse_many

    try:
        parse_many(limit)
    except ValueError as e:
        raise ConfigError(f"QA_RATE_LIMIT={limit!r} is not a rate limit like '60/minute;1000/hour' ({e})") from None
    Limiter(
        get_remote_address,
        app=app,
        default_limits=[limit],
        default_limits_exempt_when=lambda: request.endpoint in UNLIMITED,
        headers_enabled=True,
        storage_uri="memory://",
    )
