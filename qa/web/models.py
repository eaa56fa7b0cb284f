"""The JSON API's request bodies, as typed models: what a client may send, checked once, and the
source of the request schemas in the OpenAPI document (`openapi`; responses: `responses`).

The checks reuse the core's (`queries.check_query` and `check_k`, `filters.filter_date`), so the
API, the CLI and the library refuse the same things in the same words; those raise the right
`QAError` as they are. What pydantic refuses itself (a wrong type, a missing field) becomes the
`QAError` of the field it concerns (`field_errors`) with a message for people (`request_error`).
Validation takes the running settings as context: `parse(Model, data, settings)`."""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic.json_schema import JsonDict
from pydantic_core import ErrorDetails
from typing_extensions import TypeAliasType
from werkzeug.datastructures import MultiDict

from ..config import Settings
from ..errors import BadRequest, DocumentTooLarge, InvalidFilter, InvalidK, InvalidQuery, QAError
from ..ingest import corpus_folder
from ..ingest.documents import iso_date
from ..retrieve import filters
from ..retrieve.queries import CONTROL_CHARACTERS, CONTROLS, check_k, check_query
from .links import has_resolved_segments

Model = TypeVar("Model", bound="RequestModel")

# The schema's limits that depend on the settings (maxLength, maximum, maxItems) are filled in by
# `openapi`; the checks themselves are the core's.
Question = TypeAliasType(
    "Question",
    Annotated[
        str,
        Field(
            description="The question: not blank, no control characters but tab and line breaks.",
            json_schema_extra={"minLength": 1, "pattern": f"^[^{CONTROLS}]*[^\\s{CONTROLS}][^{CONTROLS}]*$"},
        ),
    ],
)
DocumentId = TypeAliasType(
    "DocumentId",
    Annotated[
        str,
        Field(
            description="A document id: no control characters, and no empty, '.' or '..' segments between '/'s, "
            "since clients resolve such paths (`check_document_id`).",
            json_schema_extra={
                "minLength": 1,
                "maxLength": corpus_folder.MAX_ID_CHARS,
                "pattern": f"^(?!(?:[\\s\\S]*/)?\\.{{0,2}}(?:/|$))[^{CONTROLS}]*$",
            },
        ),
    ],
)
K = TypeAliasType("K", Annotated[int, Field(description="How many passages to return.", json_schema_extra={"minimum": 1})])
INTEGER = re.compile(r"[+-]?\d{1,9}")
ISO_DATE = "ISO date, inclusive; documents without a date are left out."
PROBLEMS = {
    "missing": "is missing",
    "string_type": "must be a string",
    "list_type": "must be a list",
    "model_type": "must be an object",
    "dict_type": "must be an object",
    "int_type": "must be an integer",
}


def date_or_date_time(schema: JsonDict) -> None:
    schema.pop("default")  # absent or "": no date
    schema["anyOf"] = [{"format": "date"}, {"format": "date-time"}, {"const": ""}]


def settings_of(info: ValidationInfo) -> Settings:
    context = info.context or {}
    return context["settings"]


class RequestModel(BaseModel):
    """What a client sends: JSON types as they are (no "3" for 3), unknown fields ignored."""

    model_config = ConfigDict(strict=True, frozen=True, extra="ignore")
    example: ClassVar[str] = "{...}"  # the shape, for error messages
    field_errors: ClassVar[dict[str, type[QAError]]] = {}  # the error a field's problem raises


class Filter(RequestModel):
    """Which documents to answer from; applied before ranking. A null field sets no condition."""

    example: ClassVar[str] = '{"doc_ids": [...], "source": "...", "from": "2020-01-01"}'
    doc_ids: list[str] | None = None
    source: str | None = Field(None, description="Prefix of the document's source path or source URL.")
    date_from: str | None = Field(None, alias="from", description=ISO_DATE, json_schema_extra={"format": "date"})
    date_to: str | None = Field(None, alias="to", description=ISO_DATE, json_schema_extra={"format": "date"})

    @field_validator("date_from", "date_to")
    @classmethod
    def _iso_date(cls, value: str | None, info: ValidationInfo) -> str:
        return filters.filter_date(value, "from" if info.field_name == "date_from" else "to")

    def to_filter(self) -> filters.Filter:
        return filters.Filter(tuple(self.doc_ids or ()), self.source or "", self.date_from or "", self.date_to or "")


class Options(RequestModel):
    """What one question and a batch share: k and the filter."""

    field_errors: ClassVar[dict[str, type[QAError]]] = {"k": InvalidK, "filter": InvalidFilter}
    k: K | None = Field(None, description="How many passages; null or absent: the default.")
    filter: Filter | None = Field(None, description="null or absent: no filter.")

    @field_validator("k", mode="before")
    @classmethod
    def _k(cls, k: object, info: ValidationInfo) -> object:
        return None if k is None else check_k(k, settings_of(info))

    def where(self) -> filters.Filter | None:
        return None if self.filter is None else self.filter.to_filter()


class SearchRequest(Options):
    """One question."""

    model_config = ConfigDict(json_schema_extra={"not": {"required": ["queries"]}})
    example: ClassVar[str] = '{"q": "...", "k": 5} or {"queries": [...], "k": 5}'
    field_errors: ClassVar[dict[str, type[QAError]]] = {**Options.field_errors, "q": InvalidQuery}
    q: Question

    @field_validator("q", mode="before")
    @classmethod
    def _q(cls, q: object, info: ValidationInfo) -> str:
        return check_query(q, settings_of(info))


class BatchRequest(Options):
    """Several questions; give either `q` or `queries`, not both."""

    model_config = ConfigDict(json_schema_extra={"not": {"required": ["q"]}})
    example: ClassVar[str] = SearchRequest.example
    queries: list[Question] = Field(json_schema_extra={"minItems": 1})

    @field_validator("queries", mode="before")
    @classmethod
    def _queries(cls, queries: object, info: ValidationInfo) -> list[str]:
        settings = settings_of(info)
        if not isinstance(queries, list) or not 1 <= len(queries) <= settings.max_batch:
            raise BadRequest(f'"queries" must be a list of 1 to {settings.max_batch} questions')
        checked = []
        for i, query in enumerate(queries):
            try:
                checked.append(check_query(query, settings))
            except InvalidQuery as e:
                raise InvalidQuery(f"queries[{i}]: {e.message}") from None
        return checked


class AdminDocument(RequestModel):
    """A document to add or replace (PUT /admin/documents/{doc_id})."""

    example: ClassVar[str] = '{"title": "...", "text": "...", "source_url": "..."}'
    text: str = Field(
        description="The document's text: what citations will point into.", json_schema_extra={"minLength": 1, "pattern": r"\S"}
    )
    title: str = Field("", json_schema_extra={"pattern": f"^[^{CONTROLS}]*$"})
    source_url: str = ""
    date: str = Field(
        "",
        description="An ISO 8601 date (2020-09-28) or date-time (2020-09-28T14:05:00Z; seconds and offset may be left "
        "out); the date is kept. Empty: no date. Anything else, such as text after the date or an hour of 25, is 400.",
        json_schema_extra=date_or_date_time,
    )

    @field_validator("text")
    @classmethod
    def _text(cls, text: str, info: ValidationInfo) -> str:
        if not text.strip():
            raise BadRequest(f'"text" is blank: send a JSON object like {cls.example}')
        limit = settings_of(info).max_document_bytes
        if len(text.encode("utf-8", "surrogatepass")) > limit:
            raise DocumentTooLarge(
                f"the document's text is over {limit} bytes (QA_MAX_DOCUMENT_BYTES); add a large file with `qa add`"
            )
        return text

    @field_validator("title")
    @classmethod
    def _title(cls, title: str) -> str:
        if CONTROL_CHARACTERS.search(title):
            raise BadRequest('"title" contains control characters (such as NUL or ESC) or a lone surrogate')
        return title

    @field_validator("date")
    @classmethod
    def _date(cls, date: str) -> str:
        try:
            return iso_date(date) if date else ""
        except ValueError:
            raise BadRequest(
                '"date" must be an ISO 8601 date like 2020-09-28, or a date-time like 2020-09-28T14:05:00Z'
            ) from None

    def record(self, doc_id: str) -> dict[str, str]:
        """The corpus folder's record of this document under `doc_id`."""
        record = {"id": doc_id, "title": self.title, "text": self.text}
        return record | ({"date": self.date} if self.date else {}) | ({"source_url": self.source_url} if self.source_url else {})


def check_document_id(doc_id: str) -> str:
    """A document id given in a URL, or BadRequest: 1 to 200 characters, no controls, and no
    segments that clients resolve away."""
    if not 1 <= len(doc_id) <= corpus_folder.MAX_ID_CHARS or CONTROL_CHARACTERS.search(doc_id):
        raise BadRequest(f"a document id has 1 to {corpus_folder.MAX_ID_CHARS} characters and no control characters")
    if has_resolved_segments(doc_id):
        raise BadRequest(f"a document id has no empty, '.' or '..' segments between slashes, which URLs lose: {doc_id!r}")
    return doc_id


def parse(model: type[Model], data: object, settings: Settings) -> Model:
    """`data` as a `model`, or the QAError a client should see."""
    try:
        return model.model_validate(data, context={"settings": settings})
    except ValidationError as e:
        raise request_error(model, e.errors(include_url=False)[0]) from None


def request_error(model: type[RequestModel], error: ErrorDetails) -> QAError:
    """pydantic's first complaint about a body, as the error of the field it concerns."""
    loc = error["loc"]
    if not loc:
        return BadRequest(f"the body must be a JSON object like {model.example}")
    problem = PROBLEMS.get(error["type"], error["msg"][:1].lower() + error["msg"][1:])
    if error["type"] == "model_type" and len(loc) == 1:
        problem += f" like {nested_model(model, str(loc[0])).example}"
    where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)[1:]  # filter.doc_ids[1]
    return model.field_errors.get(str(loc[0]), BadRequest)(f'"{where}" {problem}')


def nested_model(model: type[RequestModel], name: str) -> type[RequestModel]:
    """The model of the field `name` (Filter for `filter: Filter | None`); RequestModel if none."""
    field = model.model_fields.get(name)
    kinds = getattr(field.annotation, "__args__", (field.annotation,)) if field is not None else ()
    return next((kind for kind in kinds if isinstance(kind, type) and issubclass(kind, RequestModel)), RequestModel)


def search_request(body: object, settings: Settings) -> SearchRequest | BatchRequest:
    """A POST /api/search body: one question (`q`) or a batch (`queries`)."""
    if isinstance(body, dict) and "queries" in body:
        if "q" in body:
            raise BadRequest('give either "q" (one question) or "queries" (a list), not both')
        return parse(BatchRequest, body, settings)
    return parse(SearchRequest, body, settings)


def search_args(args: MultiDict[str, str], settings: Settings) -> SearchRequest:
    """GET /api/search's query string: q, k, and doc (repeated), source, from, to."""
    where: dict[str, Any] = {"doc_ids": args.getlist("doc") or None, "source": args.get("source")}
    where |= {"from": args.get("from"), "to": args.get("to")}
    return parse(SearchRequest, {"q": args.get("q", ""), "k": parse_k(args.get("k")), "filter": where}, settings)


def parse_k(raw: str | None) -> int | None:
    """k from a query string: absent means the default; anything else but an integer is an error."""
    if raw is None:
        return None
    if not INTEGER.fullmatch(raw.strip()):
        raise InvalidK(f"k must be an integer, not {raw!r}")
    return int(raw)
