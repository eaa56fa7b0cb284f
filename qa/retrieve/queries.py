"""Checking a question and k before anything is loaded or searched (the CLI, the API, the library)."""

from __future__ import annotations

import re

from ..config import Settings
from ..errors import InvalidK, InvalidQuery

# Refused in a question (and in a document id or title given over HTTP): the C0 and C1 control
# characters and DEL, but for tab and the line breaks (\n, \r, and NEL, U+0085, which JSONL and
# str.splitlines treat as one); and lone surrogates. Bidi controls (U+202A-U+202E, U+2066-U+2069)
# are allowed: the pages isolate what they echo (qa.web.display).
CONTROLS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f"
CONTROL_CHARACTERS = re.compile(f"[{CONTROLS}\ud800-\udfff]")


def check_query(query: object, settings: Settings) -> str:
    """The question, stripped; InvalidQuery when it is missing, empty, too long or has controls."""
    if not isinstance(query, str) or not query.strip():
        raise InvalidQuery("the question is missing or empty")
    if len(query) > settings.max_query_chars:
        raise InvalidQuery(f"the question is longer than {settings.max_query_chars} characters")
    if CONTROL_CHARACTERS.search(query):
        raise InvalidQuery("the question contains control characters (such as NUL, ESC or U+009B) or a lone surrogate")
    return query.strip()


def check_k(k: object, settings: Settings) -> int:
    """k as an int (default `settings.default_k`); InvalidK unless 1 <= k <= settings.max_k."""
    if k is None:
        return settings.default_k
    if isinstance(k, float) and k.is_integer():  # JSON does not tell 4 from 4.0
        k = int(k)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= settings.max_k:
        raise InvalidK(f"k must be an integer from 1 to {settings.max_k}")
    return k
