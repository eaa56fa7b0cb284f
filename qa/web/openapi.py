"""The OpenAPI 3.1 description of the JSON API, with the limits of the running settings."""

from __future__ import annotations

from typing import Any

from ..config import Settings
from ..search import CONTROLS

VERSION = "1.0.0"
ERROR_CODES = [
    "invalid_query", "invalid_k", "bad_request", "not_found", "document_not_found", "method_not_allowed",
    "payload_too_large", "unsupported_media_type", "too_many_requests", "http_error", "internal_error",
    "config_error", "corpus_error", "index_missing", "index_mismatch", "model_unavailable", "overloaded",
    "unauthorized",
]  # fmt: skip


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def json_body(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def errors(*statuses: int) -> dict:
    return {str(status): {"$ref": f"#/components/responses/Error{status}"} for status in statuses}


def schemas(settings: Settings) -> dict[str, Any]:
    question = {"type": "string", "minLength": 1, "maxLength": settings.max_query_chars,
                "pattern": f"^[^{CONTROLS}]*[^\\s{CONTROLS}][^{CONTROLS}]*$",
                "description": "The question: not blank, no control characters but tab and line breaks."}  # fmt: skip
    k = {"type": "integer", "minimum": 1, "maximum": settings.max_k, "default": settings.default_k,
         "description": "How many passages to return."}  # fmt: skip
    offset = {"type": "integer", "minimum": 0}
    return {
        "Question": question,
        "K": k,
        "SearchRequest": {
            "type": "object",
            "required": ["q"],
            "properties": {"q": ref("Question"), "k": ref("K")},
        },
        "BatchRequest": {
            "type": "object",
            "required": ["queries"],
            "properties": {
                "queries": {"type": "array", "items": ref("Question"), "minItems": 1, "maxItems": settings.max_batch},
                "k": ref("K"),
            },
        },
        "DocumentRef": {
            "type": "object",
            "required": ["id", "title", "source"],
            "properties": {"id": {"type": "string"}, "title": {"type": "string"},
                           "source": {"type": "string", "description": "Path of the source file; empty for documents given in memory."}},  # fmt: skip
            "additionalProperties": False,
        },
        "Hit": {
            "type": "object",
            "required": ["rank", "score", "similarity", "passage_id", "text", "document", "start", "end", "highlight"],
            "properties": {
                "rank": {"type": "integer", "minimum": 1},
                "score": {"type": "number", "description": "Fused ranking score; comparable within one question only."},
                "similarity": {"type": "number", "minimum": -1, "maximum": 1,
                               "description": "Best cosine of the question and the passage or one of its sentences."},  # fmt: skip
                "passage_id": {"type": "string", "pattern": "^[0-9a-f]{16}$"},
                "text": {"type": "string", "description": "The passage, verbatim: the document's text[start:end] "
                         "(offsets count Unicode code points, as Python does)."},
                "document": ref("DocumentRef"),
                "start": offset,
                "end": offset,
                "highlight": {
                    "type": "object",
                    "description": "The answering sentence, as offsets into `text`.",
                    "required": ["start", "end"],
                    "properties": {"start": offset, "end": offset},
                    "additionalProperties": False,
                },
            },
            "additionalProperties": False,
        },
        "SearchResult": {
            "type": "object",
            "required": ["query", "results", "abstained", "confidence", "took_ms"],
            "properties": {
                "query": {"type": "string"},
                "results": {"type": "array", "items": ref("Hit")},
                "abstained": {"type": "boolean", "description": "True when no passage answers with confidence."},
                "confidence": {"type": "number", "description": "The top hit's similarity."},
                "took_ms": {"type": "number", "minimum": 0},
            },
            "additionalProperties": False,
        },
        "BatchResult": {
            "type": "object",
            "required": ["responses", "took_ms"],
            "properties": {"responses": {"type": "array", "items": ref("SearchResult")},
                           "took_ms": {"type": "number", "minimum": 0}},  # fmt: skip
            "additionalProperties": False,
        },
        "Document": {
            "type": "object",
            "required": ["id", "title", "source", "text"],
            "properties": {"id": {"type": "string"}, "title": {"type": "string"}, "source": {"type": "string"},
                           "text": {"type": "string", "description": "The text that passage offsets index."}},  # fmt: skip
            "additionalProperties": False,
        },
        "Health": {
            "type": "object",
            "required": ["status", "documents", "passages", "model", "index_version"],
            "properties": {"status": {"const": "ok"}, "documents": {"type": "integer", "minimum": 0},
                           "passages": {"type": "integer", "minimum": 0}, "model": {"type": "string"},
                           "index_version": {"type": "string"}},  # fmt: skip
            "additionalProperties": False,
        },
        "Reloaded": {
            "type": "object",
            "required": ["status", "previous_version", "index_version"],
            "properties": {"status": {"const": "reloaded"}, "previous_version": {"type": "string"},
                           "index_version": {"type": "string"}},  # fmt: skip
            "additionalProperties": False,
        },
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {"code": {"type": "string", "enum": ERROR_CODES}, "message": {"type": "string", "minLength": 1}},
                    "additionalProperties": False,
                }
            },
            "additionalProperties": False,
        },
    }


ERROR_TEXT = {
    400: "Invalid question, k or body.",
    401: "The admin token is missing or wrong.",
    404: "No such document or route.",
    405: "Method not allowed.",
    413: "Request body too large.",
    415: "The body is not sent as application/json.",
    429: "Too many requests from this client (when a rate limit is set); see Retry-After.",
    500: "An unexpected failure (logged on the server).",
    503: "Overloaded (retry after Retry-After), or the index or model is not available.",
}


def openapi_document(settings: Settings, server: str = "") -> dict[str, Any]:
    """The whole document; `server` is the URL prefix the API is mounted under ("" at the root)."""
    search_params = [
        {"name": "q", "in": "query", "required": True, "schema": ref("Question")},
        {"name": "k", "in": "query", "required": False, "schema": ref("K")},
    ]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "qa: cited passages from your documents",
            "version": VERSION,
            "summary": "Extractive question answering: verbatim, checkable quotes, never generated text.",
            "description": "Every returned text is a verbatim slice of a source document: "
            "`document.text[start:end] == text`. Errors are `{\"error\": {\"code\", \"message\"}}`.",
        },
        "servers": [{"url": server or "/"}],
        "paths": {
            "/api/search": {
                "get": {
                    "operationId": "search",
                    "summary": "The best passages for one question",
                    "parameters": search_params,
                    "responses": {"200": json_body(ref("SearchResult"), "Ranked, cited passages."), **errors(400, 429, 500, 503)},
                },
                "post": {
                    "operationId": "searchPost",
                    "summary": "One question, or a batch of questions answered in one call",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"oneOf": [ref("SearchRequest"), ref("BatchRequest")]}}},
                    },
                    "responses": {
                        "200": json_body({"oneOf": [ref("SearchResult"), ref("BatchResult")]},
                                         "A search result, or for `queries` a batch result in the same order."),  # fmt: skip
                        **errors(400, 413, 415, 429, 500, 503),
                    },
                },
            },
            "/api/documents/{doc_id}": {
                "get": {
                    "operationId": "getDocument",
                    "summary": "A whole document, the text citations point into",
                    "parameters": [{"name": "doc_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "responses": {"200": json_body(ref("Document"), "The document."), **errors(404, 429, 500, 503)},
                }
            },
            "/admin/reload": {
                "post": {
                    "operationId": "reload",
                    "summary": "Serve the index now on disk (after `qa build`); a damaged one is refused and the old one kept",
                    "description": "Off (404) unless the server has QA_ADMIN_TOKEN; then it needs that bearer token.",
                    "security": [{"adminToken": []}],
                    "responses": {"200": json_body(ref("Reloaded"), "The index now served."), **errors(401, 404, 500, 503)},
                }
            },
            "/healthz": {
                "get": {
                    "operationId": "health",
                    "summary": "Liveness and what is being served",
                    "responses": {"200": json_body(ref("Health"), "The served index."), **errors(500)},
                }
            },
        },
        "components": {
            "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas(settings),
            "responses": {
                f"Error{status}": json_body(ref("Error"), text) for status, text in ERROR_TEXT.items()
            },
        },
    }
