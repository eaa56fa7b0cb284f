"""What a request costs, in units that admission and the rate limit both count.

A question costs one unit per started `QA_COST_CHARS` characters (a short question: 1; one of
1,000 characters: 10 at the default 100), since encoding it takes time in proportion to its
length; a batch costs the sum over its questions. A request that uses no model costs 1.

A request is *heavy* when it costs more than one question of the longest length allowed
(`QA_MAX_QUERY_CHARS`): in practice, a batch. Heavy requests are admitted apart (see
`admission`), so that they cannot take every turn from single questions.
"""

from __future__ import annotations

import math

from flask import request

from ..config import Settings
from .api import json_body


def question_cost(question: object, settings: Settings) -> int:
    """Units of one question: one per started `cost_chars` characters, at least 1."""
    if not isinstance(question, str):
        return 1  # it will be refused (400) before it is encoded
    chars = min(len(question), settings.max_query_chars)
    return max(1, math.ceil(chars / settings.cost_chars))


def light_cost(settings: Settings) -> int:
    """The most a light request costs: one question of the longest length allowed."""
    return question_cost("x" * settings.max_query_chars, settings)


def body_cost(body: object, settings: Settings) -> int:
    """Units of a POST /api/search body; 1 for one that will be refused (400) before any encoding."""
    if not isinstance(body, dict):
        return 1
    queries = body.get("queries")
    if "queries" not in body or not isinstance(queries, list) or not 1 <= len(queries) <= settings.max_batch:
        return question_cost(body.get("q"), settings) if "queries" not in body else 1
    return sum(question_cost(q, settings) for q in queries)


def request_cost(settings: Settings) -> int:
    """Units of the current request (worked out once, then remembered on the request)."""
    if "qa.cost" not in request.environ:
        request.environ["qa.cost"] = _cost(settings)
    return request.environ["qa.cost"]


def _cost(settings: Settings) -> int:
    if request.endpoint in ("qa.search_get", "qa.page"):
        question = request.args.get("q", "")
        return question_cost(question, settings) if question.strip() else 1
    if request.endpoint == "qa.search_post":
        try:
            body = json_body(settings.max_json_depth)
        except Exception:  # too large, not JSON...: the view answers the error, at no model cost
            return 1
        return body_cost(body, settings)
    return 1
