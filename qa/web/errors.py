"""The one place that turns errors into HTTP responses: JSON `{"error": {"code", "message",
"request_id"}}` (the id also in the `X-Request-Id` header: see `access`)."""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from ..errors import BackendUnavailable, Overloaded, QAError, TooManyRequests
from .outcome import note_error, request_id

log = logging.getLogger(__name__)

HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
    431: "headers_too_large",  # waitress's own refusals (waitress_errors)
    501: "not_implemented",
}


def json_error(code: str, message: str, status: int) -> tuple[Response, int]:
    note_error(code)
    return jsonify({"error": {"code": code, "message": message, "request_id": request_id()}}), status


def qa_error(e: QAError) -> tuple[Response, int]:
    if isinstance(e, Overloaded):
        log.debug("%s", e.message)  # expected under overload: one line per refusal would flood the log
        request.environ["qa.overloaded"] = True
    elif e.status >= 500:
        log.error("%s: %s", e.code, e.message)
    response, status = json_error(e.code, e.message, e.status)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="qa admin"'
    if isinstance(e, TooManyRequests | BackendUnavailable):
        response.headers["Retry-After"] = str(e.retry_after)
    return response, status


def http_error(e: HTTPException) -> tuple[Response, int]:
    status = e.code or 500
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    message = {
        404: "no such page or endpoint",
        405: "method not allowed here",
        413: "the request body is too large" + (f" (over {limit} bytes)" if limit else ""),
        429: f"too many requests from this address (limit: {e.description}, in cost units: a short question is 1, "
        "a batch the sum over its questions); retry after the time in Retry-After",
    }.get(status, e.description or e.name)
    return json_error(HTTP_CODES.get(status, "http_error"), message, status)


def unexpected_error(e: Exception) -> tuple[Response, int]:
    log.exception("unhandled error")
    return json_error("internal_error", "the server failed to answer; the error was logged", 500)


def init_errors(app: Flask) -> None:
    app.register_error_handler(QAError, qa_error)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, unexpected_error)
