"""The web layer: an app factory and a blueprint that any Flask app can mount."""

from __future__ import annotations

from types import ModuleType
from urllib.parse import urlsplit, urlunsplit

from flask import Flask, Response, request
from flask.json.provider import DefaultJSONProvider

from ..config import Settings
from ..errors import ConfigError
from ..retrieve.live import LiveSearcher
from ..retrieve.searcher import Searcher
from .access import configure_logging, init_access
from .blueprint import qa_blueprint
from .errors import init_errors
from .guard import init_guard
from .memory import keep_heaps_small
from .outcome import REQUEST_ID_HEADER

__all__ = ["create_app", "qa_blueprint"]

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
# A browser's own PDF viewer draws a served PDF in a page of its making, which the page's policy
# would break (Chrome: crbug.com/271452, the viewer's inline styles refused): a PDF gets only this.
PDF_CSP = "frame-ancestors 'none'"


class UnicodeJSON(DefaultJSONProvider):
    """JSON with non-ASCII text as itself, not as \\u escapes."""

    ensure_ascii = False


def create_app(settings: Settings | None = None, searcher: Searcher | LiveSearcher | None = None) -> Flask:
    """Build the Flask app serving `searcher` (opened from `settings` when not given)."""
    settings = settings or Settings.load()
    configure_logging(settings.log_format)
    keep_heaps_small()  # many request threads: big buffers must not stay in their malloc arenas
    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json = UnicodeJSON(app)
    live = searcher if isinstance(searcher, LiveSearcher) else LiveSearcher(searcher or Searcher.open(settings))
    app.extensions["qa.live"] = live  # qa.web.server reloads it on SIGHUP
    app.register_blueprint(qa_blueprint(live))
    init_access(app)  # first: its clock starts before the guard's checks, its line is written last
    init_errors(app)
    init_guard(app, settings)
    if settings.collects_metrics:
        metrics_module().init_metrics(app, live, serve_route=settings.metrics)  # GET /metrics only with QA_METRICS=1
    if settings.cors_origin_list:
        from flask_cors import CORS

        api_paths = {
            "origins": settings.cors_origin_list,
            "methods": ["GET", "POST"],
            "max_age": 3600,
            "expose_headers": [REQUEST_ID_HEADER],  # so that a page's script can quote it in a report
        }
        CORS(app, resources={r"/api/.*": api_paths, r"/openapi\.json": api_paths, r"/healthz": api_paths})

    if settings.proxy_hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Flask's middleware idiom (`app.wsgi_app = ProxyFix(app.wsgi_app)`), said so that the type
        # checker sees an instance attribute shadowing the method, which is what it is
        vars(app)["wsgi_app"] = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops, x_proto=settings.proxy_hops)

    @app.after_request
    def security_headers(response: Response) -> Response:
        if response.mimetype == "application/pdf":
            response.headers.setdefault("Content-Security-Policy", PDF_CSP)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if "Location" in response.headers:
            response.headers["Location"] = relative_location(response.headers["Location"], request.host)
        return response

    return app


def metrics_module() -> ModuleType:
    """`qa.web.metrics`, or a clear error when prometheus-client (the `metrics` extra) is missing."""
    try:
        from . import metrics
    except ModuleNotFoundError as e:
        if e.name != "prometheus_client":
            raise
        raise ConfigError("QA_METRICS and QA_METRICS_PORT need prometheus-client: pip install 'qa[metrics]'") from None
    return metrics


def relative_location(location: str, host: str) -> str:
    """A redirect to this server as a path: the router's redirects (merged slashes, a missing
    trailing slash) name the request's Host header, which the client chose."""
    parts = urlsplit(location)
    if parts.netloc and parts.netloc.lower() != host.lower():
        return location  # elsewhere: not one of ours
    return urlunsplit(("", "", "/" + parts.path.lstrip("/"), parts.query, parts.fragment))  # never //host
