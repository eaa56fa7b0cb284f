"""The JSON API: search (one question or a batch), documents, health, and its OpenAPI description."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from flask import Blueprint, Response, jsonify, request, url_for

from ..errors import BadRequest, InvalidK, InvalidQuery, UnsupportedMediaType
from ..index.provenance import IN_MEMORY
from ..ingest.documents import display_path
from ..retrieve.filters import Filter, InvalidFilter
from ..retrieve.live import LiveSearcher
from ..retrieve.searcher import Searcher
from .memory import give_back
from .openapi import openapi_document

INTEGER = re.compile(r"[+-]?\d{1,9}")


def add_routes(bp: Blueprint, live: LiveSearcher) -> None:
    @bp.get("/api/search")
    def search_get() -> Response:
        k = parse_k(request.args.get("k"))
        args = request.args
        where = Filter.of(args.getlist("doc"), args.get("source"), args.get("from"), args.get("to"))
        return jsonify(live.searcher.search(args.get("q", ""), k, where).to_dict())

    @bp.post("/api/search")
    def search_post() -> Response:
        searcher = live.searcher
        body = json_body(searcher.settings.max_json_depth)
        if not isinstance(body, dict):
            raise BadRequest('the body must be a JSON object like {"q": "...", "k": 5} or {"queries": [...], "k": 5}')
        where = filter_of(body.get("filter"))
        if "queries" not in body:
            return jsonify(searcher.search(body.get("q", ""), body.get("k"), where).to_dict())
        if "q" in body:
            raise BadRequest('give either "q" (one question) or "queries" (a list), not both')
        response = jsonify(search_batch(searcher, body["queries"], body.get("k"), where))
        response.call_on_close(give_back)  # a batch's buffers are freed in this thread's arena: hand them back
        return response

    @bp.get("/api/documents/<doc_id:doc_id>")
    def document(doc_id: str) -> Response:
        return jsonify(live.searcher.document(doc_id).to_dict())

    @bp.get("/api/passages/<passage_id>")
    def passage(passage_id: str) -> Response:
        """Check a citation by passage id: 200 with the passage, or 410 moved/gone, or 404."""
        passage, doc = live.searcher.passage(passage_id)
        return jsonify(passage_id=passage.id, text=passage.text, start=passage.start, end=passage.end, document=doc.ref())

    @bp.get("/healthz")
    def healthz() -> Response:
        searcher = live.searcher
        manifest = searcher.index.manifest
        return jsonify(
            status="ok",
            documents=manifest.documents,
            passages=manifest.passages,
            model=manifest.model,
            index_version=manifest.index_version,
            corpus=display_path(searcher.settings.corpus_dir, Path.cwd()) if manifest.corpus_dir != IN_MEMORY else IN_MEMORY,
            question_encoder=searcher.encoder_info(),
        )

    @bp.get("/openapi.json")
    def openapi() -> Response:
        return jsonify(openapi_document(live.searcher.settings, server=url_for("qa.page").rstrip("/")))


def json_body(max_depth: int) -> object:
    """The request's JSON body, or a clear 400/415: wrong type, bad UTF-8, too deep, not JSON.
    Parsed once per request: admission weighs it (`cost`) before the view reads it."""
    if "qa.json_body" not in request.environ:
        request.environ["qa.json_body"] = _parsed_body(max_depth)
    return request.environ["qa.json_body"]


def _parsed_body(max_depth: int) -> object:
    if not request.is_json:
        raise UnsupportedMediaType(f"send JSON with Content-Type: application/json, not {request.mimetype or 'nothing'!r}")
    raw = request.get_data(cache=True)  # MAX_CONTENT_LENGTH turns a larger body into a 413 here
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BadRequest(f"the body is not valid UTF-8 (byte {e.start})") from None
    too_deep = BadRequest(f"the JSON body is nested deeper than {max_depth} levels")
    try:
        body = json.loads(text)
    except RecursionError:
        raise too_deep from None
    except ValueError as e:
        raise BadRequest(f"the body is not valid JSON ({e})") from None
    if nesting_depth(body) > max_depth:
        raise too_deep
    return body


def nesting_depth(value: object) -> int:
    """How deep arrays and objects nest in a parsed JSON value (a scalar is 0), without recursion."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, depth = todo.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is not None:
            deepest = max(deepest, depth)
            todo.extend((child, depth + 1) for child in children)
    return deepest


def filter_of(raw: object) -> Filter | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise InvalidFilter('"filter" must be an object like {"doc_ids": [...], "source": "...", "from": "2020-01-01"}')
    return Filter.of(raw.get("doc_ids"), raw.get("source"), raw.get("from"), raw.get("to"))


def search_batch(searcher: Searcher, queries: object, k: object, where: Filter | None = None) -> dict:
    """`{"responses": [...], "took_ms": ...}`: one search result per question, in order."""
    limit = searcher.settings.max_batch
    if not isinstance(queries, list) or not 1 <= len(queries) <= limit:
        raise BadRequest(f'"queries" must be a list of 1 to {limit} questions')
    for i, query in enumerate(queries):
        try:
            searcher.check_query(query)
        except InvalidQuery as e:
            raise InvalidQuery(f"queries[{i}]: {e.message}") from None
    started = time.perf_counter()
    results = searcher.search_many(queries, k, where)  # type: ignore[arg-type]
    took = (time.perf_counter() - started) * 1000
    return {"responses": [r.to_dict() for r in results], "took_ms": round(took, 2)}


def parse_k(raw: str | None) -> int | None:
    """k from a query string: absent means the default; anything else but an integer is an error."""
    if raw is None:
        return None
    if not INTEGER.fullmatch(raw.strip()):
        raise InvalidK(f"k must be an integer, not {raw!r}")
    return int(raw)
