"""One mountable blueprint: the JSON API, the OpenAPI document, the search page and document view."""

from __future__ import annotations

from flask import Blueprint

from ..errors import QAError
from ..search import Searcher
from . import api, pages
from .errors import qa_error


def qa_blueprint(searcher: Searcher) -> Blueprint:
    """All routes, serving `searcher`. Mount it with `app.register_blueprint(bp, url_prefix=...)`."""
    bp = Blueprint("qa", __name__, template_folder="templates", static_folder="static", static_url_path="/static/qa")
    bp.register_error_handler(QAError, qa_error)
    api.add_routes(bp, searcher)
    pages.add_routes(bp, searcher)
    return bp
