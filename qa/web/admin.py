"""Endpoints that change what is served. Off (404) unless `QA_ADMIN_TOKEN` is set; then each
call must carry `Authorization: Bearer <token>`, compared in constant time.

A document change is written to the corpus folder (fsynced) and indexed before the call
returns, so an acknowledged change survives a restart and is already searchable."""

from __future__ import annotations

import dataclasses
import hmac

from flask import Blueprint, Response, jsonify, request

from .. import corpus
from ..errors import BadRequest, NotFound, Unauthorized
from ..documents import iso_date
from ..live import LiveSearcher
from ..queries import CONTROL_CHARACTERS
from .api import json_body
from .links import has_resolved_segments


def add_routes(bp: Blueprint, live: LiveSearcher) -> None:
    @bp.post("/admin/reload")
    def reload() -> Response:
        """Serve the index now at CURRENT (after `qa build`); a damaged one is refused, the old one kept."""
        authorize(live)
        previous, current = live.reload()
        return jsonify(status="reloaded", previous_version=previous, index_version=current)

    @bp.post("/admin/rebuild")
    def rebuild() -> Response:
        """Index what changed in the corpus folder and serve it."""
        authorize(live)
        previous, current = live.rebuild()
        return jsonify(status="rebuilt", previous_version=previous, index_version=current)

    @bp.put("/admin/documents/<doc_id:doc_id>")
    def put_document(doc_id: str) -> Response:
        authorize(live)
        record = document_record(doc_id, json_body(live.searcher.settings.max_json_depth))
        folder = live.searcher.settings.corpus_dir
        # two writers, in this process or another server's, must not interleave their changes
        with live.changing, corpus.editing(folder):
            saved = corpus.backup(folder, doc_id)
            replaced = corpus.put_document(folder, record, live.searcher.index.documents)
            current = rebuild_or_restore(live, saved)
        return jsonify(status="replaced" if replaced else "added", id=doc_id, index_version=current)

    @bp.delete("/admin/documents/<doc_id:doc_id>")
    def delete_document(doc_id: str) -> Response:
        authorize(live)
        folder = live.searcher.settings.corpus_dir
        with live.changing, corpus.editing(folder):
            saved = corpus.backup(folder, doc_id)
            corpus.delete_document(folder, doc_id)
            current = rebuild_or_restore(live, saved)
        return jsonify(status="removed", id=doc_id, index_version=current)

    @bp.get("/admin/status")
    def status() -> Response:
        authorize(live)
        settings = live.searcher.settings
        state = dataclasses.asdict(corpus.status(settings.corpus_dir, settings.index_dir))
        if state["index"]:  # the history lists only grow; the summary is what an operator reads
            state["index"] = {k: v for k, v in state["index"].items() if k not in ("removed_documents", "retired_passages")}
        return jsonify({**state, "served_version": live.searcher.index.version})


def rebuild_or_restore(live: LiveSearcher, saved: dict) -> str:
    """Index the change just written; if that fails, put the corpus files back and re-raise."""
    try:
        return live.rebuild()[1]
    except BaseException:
        corpus.restore(live.searcher.settings.corpus_dir, saved)
        raise


def document_record(doc_id: str, body: object) -> dict:
    if not 1 <= len(doc_id) <= corpus.MAX_ID_CHARS or CONTROL_CHARACTERS.search(doc_id):
        raise BadRequest(f"a document id has 1 to {corpus.MAX_ID_CHARS} characters and no control characters")
    if has_resolved_segments(doc_id):
        raise BadRequest(f"a document id has no empty, '.' or '..' segments between slashes, which URLs lose: {doc_id!r}")
    if not isinstance(body, dict) or not isinstance(body.get("text"), str) or not body["text"].strip():
        raise BadRequest('the body must be a JSON object like {"title": "...", "text": "...", "source_url": "..."}')
    for field in ("title", "source_url", "date"):
        if not isinstance(body.get(field, ""), str):
            raise BadRequest(f'"{field}" must be a string')
    if CONTROL_CHARACTERS.search(body.get("title", "")):
        raise BadRequest('"title" contains control characters (such as NUL or ESC) or a lone surrogate')
    record = {"id": doc_id, "title": body.get("title", ""), "text": body["text"]}
    if body.get("date"):
        try:
            record["date"] = iso_date(body["date"])
        except ValueError:
            raise BadRequest('"date" must be an ISO 8601 date like 2020-09-28, or a date-time like 2020-09-28T14:05:00Z') from None
    return record | ({"source_url": body["source_url"]} if body.get("source_url") else {})


def authorize(live: LiveSearcher) -> None:
    token = live.searcher.settings.admin_token
    if not token:
        raise NotFound("no such page or endpoint")  # the admin endpoints are off
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(credential.strip().encode(), token.encode()):
        raise Unauthorized("this endpoint needs the admin token: Authorization: Bearer <QA_ADMIN_TOKEN>")
