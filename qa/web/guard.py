"""Keeping the service answering under load: a per-client rate limit and load shedding.

- Rate limit (off unless `QA_RATE_LIMIT` is set): flask-limiter, keyed by client address,
  answering 429 `too_many_requests` with `Retry-After`.
- Load shedding: at most `QA_MAX_INFLIGHT` requests are admitted at once (searches wait for the
  one model); one more is answered at once with 503 `overloaded` and `Retry-After: 1` rather
  than queued without bound.
"""

from __future__ import annotations

import threading

from flask import Flask, Response, request

from ..config import Settings
from ..errors import Overloaded

UNGUARDED = {"qa.healthz", "qa.static", "qa.openapi"}  # cheap, and what monitors and clients poll


class Admission:
    """Counts requests in progress; refuses one more than `limit`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.active = 0
        self._lock = threading.Lock()

    def enter(self) -> None:
        with self._lock:
            if self.active >= self.limit:
                raise Overloaded(f"the service is busy ({self.limit} requests in progress): retry in a second")
            self.active += 1

    def leave(self) -> None:
        with self._lock:
            self.active -= 1


def init_guard(app: Flask, settings: Settings) -> None:
    admission = Admission(settings.max_inflight)
    app.extensions["qa.admission"] = admission

    @app.before_request
    def admit() -> None:
        if request.endpoint not in UNGUARDED:
            admission.enter()
            request.environ["qa.admitted"] = True

    @app.teardown_request
    def release(_: BaseException | None) -> None:
        if request.environ.pop("qa.admitted", False):
            admission.leave()

    @app.after_request
    def retry_later(response: Response) -> Response:
        if response.status_code == 503 and "Retry-After" not in response.headers:
            response.headers["Retry-After"] = "1"
        return response

    if settings.rate_limit:
        from flask_limiter import Limiter
        from flask_limiter.util import get_remote_address

        Limiter(
            get_remote_address,
            app=app,
            default_limits=[settings.rate_limit],
            default_limits_exempt_when=lambda: request.endpoint in UNGUARDED,
            headers_enabled=True,
            storage_uri="memory://",
        )
