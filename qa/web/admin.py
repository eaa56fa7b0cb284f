"""Endpoints that change what is served. Off (404) unless `QA_ADMIN_TOKEN` is set; then each
call must carry `Authorization: Bearer <token>`, compared in constant time; a client address
that sends too many wrong tokens is refused for a while (`lockout`).

A document change is written to the corpus folder (fsynced) before the call returns, so an
acknowledged change survives a restart. It is then indexed in the background while searches go
on (`changes`): the call answers 200 once the change is searchable, or 202 with a status URL
when that takes longer than `QA_INDEX_WAIT` seconds."""

from __future__ import annotations

import dataclasses
import hmac

from flask import Blueprint, Response, jsonify, request, url_for

from ..errors import NotFound, Unauthorized
from ..index import provenance
from ..ingest import corpus_folder as corpus
from ..retrieve.changes import Change
from ..retrieve.live import LiveSearcher
from . import models, responses
from .api import json_body
from .lockout import FailedAuthentication


def add_routes(bp: Blueprint, live: LiveSearcher) -> None:
    failures = FailedAuthentication(live.searcher.settings.admin_failures)

    def authorize() -> None:
        check_token(live, failures)

    @bp.post("/admin/reload")
    def reload() -> Response:
        """Serve the index now at CURRENT (after `qa build`); a damaged one is refused, the old one kept."""
        authorize()
        previous, current = live.reload()
        return jsonify(responses.Reloaded(status="reloaded", previous_version=previous, index_version=current).body())

    @bp.post("/admin/rebuild")
    def rebuild() -> Response:
        """Index what changed in the corpus folder and serve it."""
        authorize()
        previous, current = live.rebuild()
        return jsonify(responses.Reloaded(status="rebuilt", previous_version=previous, index_version=current).body())

    @bp.put("/admin/documents/<doc_id:doc_id>")
    def put_document(doc_id: str) -> tuple[Response, int]:
        authorize()
        settings = live.searcher.settings
        models.check_document_id(doc_id)
        record = models.parse(models.AdminDocument, json_body(settings.max_json_depth), settings).record(doc_id)
        with corpus.editing(settings.corpus_dir):  # one writer at a time, in this server or another
            saved = corpus.backup(settings.corpus_dir, doc_id)
            replaced = corpus.put_document(settings.corpus_dir, record, live.searcher.index.documents)
            change = live.changes.submit(doc_id, "replaced" if replaced else "added", saved)
        return answer(change, settings.index_wait)

    @bp.delete("/admin/documents/<doc_id:doc_id>")
    def delete_document(doc_id: str) -> tuple[Response, int]:
        authorize()
        folder = live.searcher.settings.corpus_dir
        with corpus.editing(folder):
            saved = corpus.backup(folder, doc_id)
            corpus.delete_document(folder, doc_id)
            change = live.changes.submit(doc_id, "removed", saved)
        return answer(change, live.searcher.settings.index_wait)

    @bp.get("/admin/changes/<change_id>")
    def change_status(change_id: str) -> Response:
        """How a change this server accepted with 202 went: indexing, indexed or failed."""
        authorize()
        change = live.changes.get(change_id)
        if change is None:
            raise NotFound(f"no change {change_id!r} on this server (each server knows the last changes it accepted)")
        return jsonify(responses.ChangeState.model_validate(change.as_json()).body())

    @bp.get("/admin/status")
    def status() -> Response:
        authorize()
        settings = live.searcher.settings
        state = dataclasses.asdict(provenance.status(settings.corpus_dir, settings.index_dir, settings))
        if state["index"]:  # the history lists only grow; the summary is what an operator reads
            state["index"] = {k: v for k, v in state["index"].items() if k not in ("removed_documents", "retired_passages")}
        return jsonify(responses.CorpusStatus(**state, served_version=live.searcher.index.version).body())


def answer(change: Change, wait_seconds: float) -> tuple[Response, int]:
    """200 once the change is searchable; its error if indexing failed (and the change was
    undone); 202 with where to ask when indexing takes longer than `wait_seconds`."""
    if not change.wait(wait_seconds):
        where = url_for("qa.change_status", change_id=change.id)
        # "indexing" when the wait ran out (it may have finished since: the status URL tells)
        accepted = responses.ChangeAccepted(
            status="accepted", id=change.doc_id, change=change.id, state="indexing", status_url=where
        )
        response = jsonify(accepted.body())
        response.headers["Location"] = where
        return response, 202
    if change.error is not None:
        raise change.error
    done = responses.DocumentChange.model_validate(
        {"status": change.status, "id": change.doc_id, "index_version": change.index_version}
    )
    return jsonify(done.body()), 200


def check_token(live: LiveSearcher, failures: FailedAuthentication) -> None:
    """The admin token, or 404 (admin off), 429 (this address sent too many wrong ones) or 401."""
    token = live.searcher.settings.admin_token
    if not token:
        raise NotFound("no such page or endpoint")  # the admin endpoints are off
    client = request.remote_addr or ""
    failures.check(client)  # before the token is compared: no more guesses once over the limit
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(credential.strip().encode(), token.encode()):
        failures.failed(client)
        raise Unauthorized("this endpoint needs the admin token: Authorization: Bearer <QA_ADMIN_TOKEN>")
