"""Keeping the service answering under load: a per-client rate limit and load shedding, both
weighed by what a request costs (`cost`: a short question is 1 unit, a batch the sum over its
questions), so that no single request starves the rest.

- Rate limit (off unless `QA_RATE_LIMIT` is set): flask-limiter, keyed by client address, one
  allowance across all routes, counting cost units and answering 429 `too_many_requests` with
  `Retry-After`. It is checked first, so a client over its limit never takes a turn. A request
  costing more than the smallest allowance is charged that allowance (so a full batch is not
  refused for ever).
- Load shedding (`admission`): at most `QA_MAX_INFLIGHT` requests that use the model (searches
  and result pages) are answered at once, heavy ones (batches) weighed against
  `QA_MAX_HEAVY_COST` and never in the last free turn; others wait for a turn for at most
  `QA_QUEUE_TIMEOUT` seconds, then get 503 `overloaded` with `Retry-After: 1`. So the wait is
  bounded, and refusing costs little CPU even when clients retry at once (an immediate refusal
  let retry storms starve the searches: see bench/results/).
"""

from __future__ import annotations

from flask import Flask, Response, request

from ..config import Settings
from ..errors import ConfigError
from .admission import Admission
from .cost import light_cost, request_cost

UNLIMITED = {
    "qa.healthz",
    "qa.static",
    "qa.favicon",
    "qa.openapi",
    "qa.reload",
    "qa.rebuild",
    "qa.put_document",
    "qa.delete_document",
    "qa.change_status",
    "qa.status",
    "metrics",
}  # cheap, or for monitors and operators (who have the token)


def uses_the_model() -> bool:
    return request.endpoint in ("qa.search_get", "qa.search_post") or (
        request.endpoint == "qa.page" and bool(request.args.get("q", "").strip())
    )


def init_guard(app: Flask, settings: Settings) -> None:
    """Rate limit first (when set), then admission; register before any other before_request
    (but the access log's, which only starts its clock)."""
    if settings.rate_limit:
        init_rate_limit(app, settings)
    admission = Admission(settings.max_inflight, settings.queue_timeout, settings.max_heavy_cost)
    app.extensions["qa.admission"] = admission
    light = light_cost(settings)

    @app.before_request
    def admit() -> None:
        if uses_the_model():
            cost = request_cost(settings)
            request.environ["qa.admitted"] = admission.enter(cost, heavy=cost > light)  # the heavy units held

    @app.teardown_request
    def release(_: BaseException | None) -> None:
        units = request.environ.pop("qa.admitted", None)
        if units is not None:
            admission.leave(units)

    @app.after_request
    def retry_later(response: Response) -> Response:
        if response.status_code == 503 and request.environ.get("qa.overloaded"):
            response.headers["Retry-After"] = "1"
        return response


def init_rate_limit(app: Flask, settings: Settings) -> None:
    from flask_limiter import Limiter
    from flask_limiter.util import get_remote_address
    from limits import parse_many

    limit = settings.rate_limit
    try:
        smallest = min(item.amount for item in parse_many(limit))
    except ValueError as e:
        raise ConfigError(f"QA_RATE_LIMIT={limit!r} is not a rate limit like '60/minute;1000/hour' ({e})") from None
    Limiter(
        get_remote_address,
        app=app,
        application_limits=[limit],  # one allowance for all routes (default limits count each route apart)
        application_limits_cost=lambda: min(request_cost(settings), smallest),
        application_limits_exempt_when=lambda: request.endpoint in UNLIMITED,
        headers_enabled=True,
        storage_uri="memory://",
    )
