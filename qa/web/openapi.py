"""The OpenAPI 3.1 description of the JSON API: the paths from `openapi.json` beside this file
(they carry the descriptions and examples), the body schemas generated from the typed models
(`models`, `responses`), and the limits of the running settings filled into those schemas."""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, models_json_schema

from ..config import Settings
from . import models, responses

REQUESTS = (models.SearchRequest, models.BatchRequest, models.AdminDocument)
RESPONSES = (
    responses.SearchResult,
    responses.BatchResult,
    responses.Document,
    responses.CitedPassage,
    responses.Health,
    responses.Reloaded,
    responses.Error,
    responses.DocumentChange,
    responses.ChangeAccepted,
    responses.ChangeState,
    responses.CorpusStatus,
)
REF_TEMPLATE = "#/components/schemas/{model}"
REQUEST_ID = "X-Request-Id"


class Schemas(GenerateJsonSchema):
    """JSON Schema 2020-12 (what OpenAPI 3.1 uses), without a title on every field."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


@lru_cache(maxsize=1)
def _template() -> dict[str, Any]:
    return json.loads((Path(__file__).with_name("openapi.json")).read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def component_schemas() -> dict[str, Any]:
    """The schema of every request and response body, and of the types they share, by name."""
    validation: JsonSchemaMode = "validation"
    serialization: JsonSchemaMode = "serialization"
    models_in = [(model, validation) for model in REQUESTS] + [(model, serialization) for model in RESPONSES]
    _, top = models_json_schema(models_in, ref_template=REF_TEMPLATE, schema_generator=Schemas)
    document_id = TypeAdapter(models.DocumentId).json_schema(ref_template=REF_TEMPLATE, schema_generator=Schemas)
    return top["$defs"] | {"DocumentId": document_id}  # a path parameter's


def openapi_document(settings: Settings, server: str = "") -> dict[str, Any]:
    """The whole document; `server` is the URL prefix the API is mounted under ("" at the root)."""
    document = copy.deepcopy(_template())
    document["servers"] = [{"url": server or "/"}]
    schemas = document["components"]["schemas"] = copy.deepcopy(component_schemas())
    schemas["Question"]["maxLength"] = settings.max_query_chars
    schemas["K"].update(maximum=settings.max_k, default=settings.default_k)
    schemas["BatchRequest"]["properties"]["queries"]["maxItems"] = settings.max_batch
    with_request_id_header(document)
    return document


def with_request_id_header(document: dict[str, Any]) -> None:
    """Every response (each operation's own, and the shared error responses) has X-Request-Id."""
    own = [r for path in document["paths"].values() for op in path.values() for r in op["responses"].values()]
    for response in own + list(document["components"]["responses"].values()):
        if "$ref" not in response:
            response.setdefault("headers", {})[REQUEST_ID] = {"$ref": "#/components/headers/RequestId"}
