"""The OpenAPI 3.1 description of the JSON API (`openapi.json` beside this file), completed with
the limits of the running settings and the URL prefix the API is mounted under."""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..config import Settings
from ..retrieve.queries import CONTROLS


@lru_cache(maxsize=1)
def _template() -> dict[str, Any]:
    return json.loads((Path(__file__).with_name("openapi.json")).read_text(encoding="utf-8"))


def openapi_document(settings: Settings, server: str = "") -> dict[str, Any]:
    """The whole document; `server` is the URL prefix the API is mounted under ("" at the root)."""
    document = copy.deepcopy(_template())
    document["servers"] = [{"url": server or "/"}]
    schemas = document["components"]["schemas"]
    schemas["Question"]["maxLength"] = settings.max_query_chars
    schemas["Question"]["pattern"] = f"^[^{CONTROLS}]*[^\\s{CONTROLS}][^{CONTROLS}]*$"
    schemas["K"].update(maximum=settings.max_k, default=settings.default_k)
    schemas["BatchRequest"]["properties"]["queries"]["maxItems"] = settings.max_batch
    return document
