"""One mountable blueprint: the JSON API, the OpenAPI document, the search page and document view."""

from __future__ import annotations

from flask import Blueprint
from flask.blueprints import BlueprintSetupState

from ..errors import QAError
from ..retrieve.live import LiveSearcher
from ..retrieve.searcher import Searcher
from . import admin, api, pages
from .errors import qa_error
from .links import DocumentIdConverter


def add_converters(state: BlueprintSetupState) -> None:
    """`<doc_id:...>` in routes (an app may have set its own first)."""
    state.app.url_map.converters.setdefault("doc_id", DocumentIdConverter)


def qa_blueprint(searcher: Searcher | LiveSearcher) -> Blueprint:
    """All routes, serving `searcher`. Mount it with `app.register_blueprint(bp, url_prefix=...)`.

    The blueprint is named "qa"; register it once per app."""
    live = searcher if isinstance(searcher, LiveSearcher) else LiveSearcher(searcher)
    bp = Blueprint("qa", __name__, template_folder="templates", static_folder="static", static_url_path="/static/qa")
    bp.record_once(add_converters)  # before the routes
    bp.register_error_handler(QAError, qa_error)
    api.add_routes(bp, live)
    pages.add_routes(bp, live)
    admin.add_routes(bp, live)
    return bp
