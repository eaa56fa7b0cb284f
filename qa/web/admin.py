"""Endpoints that change what is served. Off (404) unless `QA_ADMIN_TOKEN` is set; then each
call must carry `Authorization: Bearer <token>`, compared in constant time."""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, jsonify, request

from ..errors import NotFound, Unauthorized
from ..live import LiveSearcher


def add_routes(bp: Blueprint, live: LiveSearcher) -> None:
    @bp.post("/admin/reload")
    def reload() -> Response:
        """Serve the index now at CURRENT (after `qa build`); a damaged one is refused, the old one kept."""
        authorize(live.searcher.settings.admin_token)
        previous, current = live.reload()
        return jsonify(status="reloaded", previous_version=previous, index_version=current)


def authorize(token: str) -> None:
    if not token:
        raise NotFound("no such page or endpoint")  # the admin endpoints are off
    given = request.headers.get("Authorization", "")
    scheme, _, credential = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(credential.strip().encode(), token.encode()):
        raise Unauthorized("this endpoint needs the admin token: Authorization: Bearer <QA_ADMIN_TOKEN>")
