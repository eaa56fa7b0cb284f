"""One log line per request, and its id on every answer.

- Every response, errors included, carries `X-Request-Id`: the one the client or a proxy sent
  when it is sane (`outcome.SANE_REQUEST_ID`), else a new one; JSON error bodies carry it too
  (`error.request_id`, see `errors`).
- Every request is logged once, at INFO, by the `qa.web.access` logger: method, route (the
  Flask endpoint), path (never the query string: questions are the users'), status, duration,
  request id, client address, and for searches the questions, abstentions and results.
- The library configures no logging; the app factory does (`configure_logging`): a stderr
  handler when the root logger has none, and with `QA_LOG_FORMAT=json` one JSON object per line
  for every record (`JSONFormatter`), the request's fields as top-level keys.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Any

from flask import Flask, Response, request

from .outcome import REQUEST_ID_HEADER, answered, error_code, note_start, request_id, route, seconds_taken

log = logging.getLogger(__name__)

TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"


def init_access(app: Flask) -> None:
    """Register first: the clock starts before the guard, and the line is written after every other hook."""
    app.before_request(note_start)

    @app.after_request
    def log_request(response: Response) -> Response:
        response.headers[REQUEST_ID_HEADER] = request_id()
        if log.isEnabledFor(logging.INFO):
            fields = request_fields(response.status_code)
            log.info(
                '%s "%s %s" %d %.1f ms id=%s',
                fields["client"],
                fields["method"],
                printable(fields["path"]),
                fields["status"],
                fields["duration_ms"],
                fields["request_id"],
                extra={"request": fields},
            )
        return response


def request_fields(status: int) -> dict[str, Any]:
    """The access log's fields for this request, answered with `status`."""
    fields: dict[str, Any] = {
        "method": request.method,
        "route": route(),
        "path": request.path,
        "status": status,
        "duration_ms": round(seconds_taken() * 1000, 2),
        "request_id": request_id(),
        "client": request.remote_addr or "",
    }
    if code := error_code():
        fields["error"] = code
    if searches := answered():
        fields.update(questions=searches.questions, abstained=len(searches.abstained), results=searches.results)
    return fields


def printable(text: str) -> str:
    """`text` with control characters escaped: a path cannot break a text log line in two."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


class JSONFormatter(logging.Formatter):
    """A log record as one JSON object: time (UTC), level, logger, message, and a request's fields."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, timezone.utc)
        line: dict[str, Any] = {
            "time": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(getattr(record, "request", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(log_format: str) -> None:
    """What the app factory sets up: a stderr handler at INFO when the root logger has none, and
    with `json` the JSON formatter on the root logger's handlers."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.INFO, format=TEXT_FORMAT)
    if log_format == "json":
        for handler in root.handlers:
            handler.setFormatter(JSONFormatter())
