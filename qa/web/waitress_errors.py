"""Waitress's own answers: to requests it refuses before the app sees them (a malformed request
line or header 400, a body over its limit 413, headers over its limit 431, a Transfer-Encoding
other than chunked 501). Like every answer of the app, they are JSON `{"error": {"code",
"message", "request_id"}}` with the security headers and `X-Request-Id`, instead of waitress's
plain text. The id is a new one: the request's own headers may be what was refused."""

from __future__ import annotations

import json

from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.task import ErrorTask

from . import SECURITY_HEADERS
from .errors import HTTP_CODES
from .outcome import REQUEST_ID_HEADER, new_request_id

MAX_DETAIL = 120  # waitress's reason may quote the offending line: keep the answer small

MESSAGES = {
    400: "the request is not valid HTTP ({detail})",
    413: "the request body is too large (over {body_limit} bytes)",
    431: "the request line and headers are too large (over {header_limit} bytes)",
    501: "this Transfer-Encoding is not supported; send a body with Content-Length or chunked",
    500: "the server failed to answer; the error was logged",
}


def error_body(status: int, detail: str, adj: Adjustments, request_id: str) -> bytes:
    """The JSON body of waitress's answer `status`; `detail` is waitress's reason."""
    detail = detail if len(detail) <= MAX_DETAIL else detail[:MAX_DETAIL] + "…"
    code = HTTP_CODES.get(status, "internal_error" if status == 500 else "http_error")
    limits = {"body_limit": adj.max_request_body_size - 1, "header_limit": adj.max_request_header_size}  # see server.serve
    message = MESSAGES.get(status, "{detail}").format(detail=detail, **limits)
    error = {"code": code, "message": message, "request_id": request_id}
    return json.dumps({"error": error}, ensure_ascii=False, separators=(",", ":")).encode()


class JSONErrorTask(ErrorTask):
    """waitress's ErrorTask, answering JSON with the security headers (then closing, as waitress does)."""

    def execute(self) -> None:
        error = self.request.error
        request_id = new_request_id()
        body = error_body(error.code, str(error.body), self.channel.server.adj, request_id)
        self.status = f"{error.code} {error.reason}"
        headers = [("Content-Type", "application/json"), (REQUEST_ID_HEADER, request_id), *SECURITY_HEADERS.items()]
        self.response_headers.extend(headers)
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class QAChannel(HTTPChannel):
    """A waitress connection whose refusals are JSONErrorTask's."""

    error_task_class = JSONErrorTask
