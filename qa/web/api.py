"""The JSON API: search (one question or a batch), documents, health, and its OpenAPI description.
Request bodies are parsed into the typed models of `models`; their errors are the API's 4xx."""

from __future__ import annotations

import json
import time
from pathlib import Path

from flask import Blueprint, Response, jsonify, request, url_for

from ..errors import BadRequest, UnsupportedMediaType
from ..index.provenance import IN_MEMORY
from ..ingest.documents import display_path
from ..retrieve.live import LiveSearcher
from ..retrieve.searcher import Searcher
from . import models, responses
from .memory import give_back
from .openapi import openapi_document
from .outcome import note_results


def add_routes(bp: Blueprint, live: LiveSearcher) -> None:
    @bp.get("/api/search")
    def search_get() -> Response:
        searcher = live.searcher
        asked = models.search_args(request.args, searcher.settings)
        result = searcher.search(asked.q, asked.k, asked.where())
        note_results([result])
        return jsonify(result.to_dict())

    @bp.post("/api/search")
    def search_post() -> Response:
        searcher = live.searcher
        asked = models.search_request(json_body(searcher.settings.max_json_depth), searcher.settings)
        if isinstance(asked, models.SearchRequest):
            result = searcher.search(asked.q, asked.k, asked.where())
            note_results([result])
            return jsonify(result.to_dict())
        response = jsonify(search_batch(searcher, asked))
        response.call_on_close(give_back)  # a batch's buffers are freed in this thread's arena: hand them back
        return response

    @bp.get("/api/documents/<doc_id:doc_id>")
    def document(doc_id: str) -> Response:
        return jsonify(live.searcher.document(doc_id).to_dict())

    @bp.get("/api/passages/<passage_id>")
    def passage(passage_id: str) -> Response:
        """Check a citation by passage id: 200 with the passage, or 410 moved/gone, or 404."""
        return jsonify(responses.CitedPassage.of(*live.searcher.passage(passage_id)).body())

    @bp.get("/healthz")
    def healthz() -> Response:
        searcher = live.searcher
        manifest = searcher.index.manifest
        in_memory = manifest.corpus_dir == IN_MEMORY
        reachable = searcher.index.reachable() if searcher.index.candidates_only else True
        health = responses.Health(
            status="ok" if reachable else "unavailable",
            documents=manifest.documents,
            passages=manifest.passages,
            model=manifest.model,
            index_version=manifest.index_version,
            corpus=IN_MEMORY if in_memory else display_path(searcher.settings.corpus_dir, Path.cwd()),
            question_encoder=responses.QuestionEncoder(**searcher.encoder_info()),
            backend=searcher.settings.backend,
            reachable=reachable,
        )
        return jsonify(health.body())

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


def search_batch(searcher: Searcher, batch: models.BatchRequest) -> dict:
    """`{"responses": [...], "took_ms": ...}`: one search result per question, in order."""
    started = time.perf_counter()
    results = searcher.search_many(batch.queries, batch.k, batch.where())
    note_results(results)
    took = (time.perf_counter() - started) * 1000
    return {"responses": [r.to_dict() for r in results], "took_ms": round(took, 2)}
