"""Routes: the JSON API, the search page and the document view, in one mountable blueprint."""

from __future__ import annotations

import re

from flask import Blueprint, Response, jsonify, render_template, request

from ..errors import BadRequest, InvalidK, QAError
from ..search import Searcher
from .errors import qa_error

INTEGER = re.compile(r"[+-]?\d{1,9}")


def qa_blueprint(searcher: Searcher) -> Blueprint:
    """All routes, serving `searcher`. Mount it with `app.register_blueprint(bp, url_prefix=...)`."""
    bp = Blueprint("qa", __name__, template_folder="templates", static_folder="static", static_url_path="/static/qa")
    bp.register_error_handler(QAError, qa_error)

    @bp.get("/api/search")
    def search_get() -> Response:
        k = parse_k(request.args.get("k"))
        return jsonify(searcher.search(request.args.get("q", ""), k).to_dict())

    @bp.post("/api/search")
    def search_post() -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise BadRequest('the body must be a JSON object like {"q": "...", "k": 5}')
        return jsonify(searcher.search(body.get("q", ""), body.get("k")).to_dict())

    @bp.get("/api/documents/<path:doc_id>")
    def document(doc_id: str) -> Response:
        return jsonify(searcher.document(doc_id).to_dict())

    @bp.get("/healthz")
    def healthz() -> Response:
        manifest = searcher.index.manifest
        return jsonify(
            status="ok",
            documents=manifest["documents"],
            passages=manifest["passages"],
            model=manifest["model"],
            index_version=manifest["index_version"],
        )

    @bp.get("/")
    def page() -> tuple[str, int]:
        q = request.args.get("q", "")
        result, error = None, None
        if q.strip():
            try:
                result = searcher.search(q, parse_k(request.args.get("k"))).to_dict()
            except QAError as e:
                error = e.message
        return render_template("qa/search.html", q=q, result=result, error=error), 400 if error else 200

    @bp.get("/documents/<path:doc_id>")
    def document_page(doc_id: str) -> str:
        doc = searcher.document(doc_id)
        start = parse_offset(request.args.get("start"), len(doc.text))
        end = parse_offset(request.args.get("end"), len(doc.text))
        if start is None or end is None or end < start:
            start = end = 0
        return render_template("qa/document.html", doc=doc, start=start, end=end)

    return bp


def parse_k(raw: str | None) -> int | None:
    """k from a query string: absent means the default; anything but an integer is an error."""
    if raw is None or raw == "":
        return None
    if not INTEGER.fullmatch(raw.strip()):
        raise InvalidK(f"k must be an integer, not {raw!r}")
    return int(raw)


def parse_offset(raw: str | None, limit: int) -> int | None:
    if raw is None or not raw.isdigit() or int(raw) > limit:
        return None
    return int(raw)
