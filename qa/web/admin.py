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
from ..filters import Filter, InvalidFilter
from ..live import LiveSearcher
from ..search import CONTROL_CHARACTERS
from .api import json_body


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

    @bp.put("/admin/documents/<path:doc_id>")
    def put_document(doc_id: str) -> Response:
        authorize(live)
        record = document_record(doc_id, json_body(live.searcher.settings.max_json_depth))
        with live.changing:  # two writers must not interleave their read-modify-write of the corpus
            replaced = corpus.put_document(live.searcher.settings.corpus_dir, record)
            _, current = live.rebuild()
        return jsonify(status="replaced" if replaced else "added", id=doc_id, index_version=current)

    @bp.delete("/admin/documents/<path:doc_id>")
    def delete_document(doc_id: str) -> Response:
        authorize(live)
        with live.changing:
            corpus.delete_document(live.searcher.settings.corpus_dir, doc_id)
            _, current = live.rebuild()
        return jsonify(status="removed", id=doc_id, index_version=current)

    @bp.get("/admin/status")
    def status() -> Response:
        authorize(live)
        settings = live.searcher.settings
        state = corpus.status(settings.corpus_dir, settings.index_dir)
        return jsonify({**dataclasses.asdict(state), "served_version": live.searcher.index.version})


def document_record(doc_id: str, body: object) -> dict:
    if not 1 <= len(doc_id) <= corpus.MAX_ID_CHARS or CONTROL_CHARACTERS.search(doc_id):
        raise BadRequest(f"a document id has 1 to {corpus.MAX_ID_CHARS} characters and no control characters")
    if not isinstance(body, dict) or not isinstance(body.get("text"), str) or not body["text"].strip():
        raise BadRequest('the body must be a JSON object like {"title": "...", "text": "...", "source_url": "..."}')
    for field in ("title", "source_url", "date"):
        if not isinstance(body.get(field, ""), str):
            raise BadRequest(f'"{field}" must be a string')
    record = {"id": doc_id, "title": body.get("title", ""), "text": body["text"]}
    if body.get("date"):
        try:
            record["date"] = Filter.of(date_from=body["date"]).date_from  # checked, ISO
        except InvalidFilter:
            raise BadRequest('"date" must be a date like 2020-09-28') from None
    return record | ({"source_url": body["source_url"]} if body.get("source_url") else {})


def authorize(live: LiveSearcher) -> None:
    token = live.searcher.settings.admin_token
    if not token:
        raise NotFound("no such page or endpoint")  # the admin endpoints are off
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(credential.strip().encode(), token.encode()):
        raise Unauthorized("this endpoint needs the admin token: Authorization: Bearer <QA_ADMIN_TOKEN>")
