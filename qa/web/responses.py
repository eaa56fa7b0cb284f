"""The JSON API's response bodies, as typed models: the source of the response schemas in the
OpenAPI document (`openapi`). The small answers (health, admin, citations) are built as these
models; search results come from the core's `to_dict`, checked against these schemas by the
contract tests (a model per hit would cost every search a validation pass)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import JsonDict, JsonValue, SkipJsonSchema

from ..errors import QAError
from ..ingest.documents import Document as IngestDocument
from ..ingest.passages import Passage
from .errors import HTTP_CODES

Offset = Annotated[int, Field(ge=0)]
Version = Annotated[str, Field(description="An index build's version.")]
ChangeStatus = Literal["added", "replaced", "removed"]
SOURCE_URL = "Where the document was published, when known; else empty."
DATE = "Publication date (ISO), when known; else empty."


def error_codes() -> list[str]:
    """Every code an error response can carry: the error hierarchy's and the HTTP layer's."""
    classes, todo = set(), [QAError]
    while todo:
        cls = todo.pop()
        classes.add(cls)
        todo.extend(cls.__subclasses__())
    return sorted({cls.code for cls in classes} | set(HTTP_CODES.values()) | {"http_error"})


def _with_code_enum(schema: JsonDict) -> None:
    codes: list[JsonValue] = [*error_codes()]
    schema["enum"] = codes


def _without_default(schema: JsonDict) -> None:
    schema.pop("default", None)  # a field left out, not a null one


def absent(description: str | None = None, **constraints: Any) -> Any:
    """A field left out of the answer when it does not apply (`constraints`: pydantic's, e.g. ge=1)."""
    return Field(None, description=description, json_schema_extra=_without_default, **constraints)


class ResponseModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def body(self) -> dict[str, Any]:
        """The JSON body: the fields that were given (a field left out stays out)."""
        return self.model_dump(mode="json", exclude_unset=True)


class DocumentRef(ResponseModel):
    id: str
    title: str
    source: str = Field(description="Path of the source file; empty for documents given in memory.")
    source_url: str = Field(description=SOURCE_URL)
    date: str = Field(description=DATE)
    author: str = absent("The author, from a PDF's or DOCX's metadata; left out when unknown.")


class Document(DocumentRef):
    text: str = Field(description="The text that passage offsets index.")
    pages: list[Offset] = absent("PDF: where each page starts in `text` (page 1 at 0); left out for other documents.")
    sections: list[tuple[Offset, list[str]]] = absent(
        "DOCX: each section's start in `text` and its heading path; left out for other documents."
    )
    junk: list[tuple[Offset, Offset]] = absent(
        "Spans of `text` no passage takes (a PDF's running headers, footers and page numbers); left out when none."
    )


class Highlight(ResponseModel):
    """The answering sentence, as offsets into `text`."""

    start: Offset
    end: Offset


class Answer(ResponseModel):
    """The answer inside the answering sentence, as offsets into `text`."""

    start: Offset
    end: Offset


class Located(ResponseModel):
    """Where a passage is in its original file, for the formats that have pages or sections."""

    page: int = absent("PDF: the 1-based page the passage starts on; left out for other documents.", ge=1)
    page_end: int = absent("PDF: the last page the passage reaches, when it crosses a page break.", ge=2)
    section: list[str] = absent(
        'DOCX: the heading path of the passage\'s section, e.g. ["3 Results", "3.2 Costs"]; [] before the first heading.'
    )


class Hit(Located):
    rank: Annotated[int, Field(ge=1)]
    score: float = Field(description="Fused ranking score; comparable within one question only.")
    similarity: float = Field(ge=-1, le=1, description="Best cosine of the question and the passage or one of its sentences.")
    passage_id: str = Field(pattern="^[0-9a-f]{16}$")
    text: str = Field(
        description="The passage, verbatim: the document's text[start:end] (offsets count Unicode code points, as Python does)."
    )
    document: DocumentRef
    start: Offset
    end: Offset
    highlight: Highlight
    answer: Answer = absent(
        "The answer inside the highlight, as offsets into `text`: given only when the question asks for a date, a "
        "number, a name or a place and the highlighted sentence holds exactly one new candidate of that kind; left "
        "out otherwise. Hybrid ranking only."
    )


class SearchResult(ResponseModel):
    query: str
    results: list[Hit]
    abstained: bool = Field(description="True when no passage answers with confidence; the nearest passages are still listed.")
    abstain_reason: Literal["", "confidence", "language", "filter"] = Field(
        description="Why it abstained: the top hit's similarity is below the threshold (confidence), the question is "
        "confidently not in the model's language (language), or the filter allows no passage (filter). Empty when it "
        "did not abstain."
    )
    abstain_message: str = Field(description="The reason, in a sentence for people. Empty when it did not abstain.")
    confidence: float = Field(description="The top hit's similarity.")
    language: str = Field(
        pattern="^([a-z]{2})?$",
        description="The question's language, an ISO 639-1 code; empty when the detector is unsure, or the check is "
        "off (QA_MODEL_LANGUAGE=any).",
    )
    took_ms: float = Field(ge=0)


class BatchResult(ResponseModel):
    responses: list[SearchResult]
    took_ms: float = Field(ge=0)


class CitedPassage(Located):
    passage_id: str
    text: str
    start: Offset
    end: Offset
    document: DocumentRef

    @classmethod
    def of(cls, passage: Passage, doc: IngestDocument) -> CitedPassage:
        """A citation's check: the passage, its document and where it is in the original file."""
        return cls(
            passage_id=passage.id,
            text=passage.text,
            start=passage.start,
            end=passage.end,
            document=DocumentRef(**doc.ref()),
            **doc.location(passage.start, passage.end).to_dict(),
        )


class QuestionEncoder(ResponseModel):
    """What encodes questions on this server's CPU and why: an ONNX tier that passed its check
    against torch here, or torch (the slow path) with the reason."""

    tier: str = Field(examples=["onnx-int8", "onnx-int8-u8", "onnx-fp32", "torch"])
    why: str
    cpu: str = Field(description="The CPU, as qa names it.")


class Health(ResponseModel):
    status: Literal["ok", "unavailable"] = Field(description='"unavailable" when the index engine cannot be reached.')
    documents: Offset
    passages: Offset
    model: str
    index_version: Version
    corpus: str = Field(
        description="The corpus folder the served index was built from (relative to the project when inside it), "
        'or "<documents given in memory>".'
    )
    question_encoder: QuestionEncoder
    backend: Literal["segments", "milvus"] = Field(description="Where the index lives (QA_BACKEND).")
    reachable: bool = Field(description="Whether the index backend answers now (always true for segments).")


class Reloaded(ResponseModel):
    status: Literal["reloaded", "rebuilt"]
    previous_version: Version
    index_version: Version


class Failure(ResponseModel):
    """What went wrong, outside any one request: a change's background indexing."""

    code: str = Field(json_schema_extra=_with_code_enum)
    message: str = Field(min_length=1)


class ErrorDetail(Failure):
    request_id: str = Field(
        min_length=1, description="This request's id, as in the X-Request-Id header and the server's log line for it."
    )


class Error(ResponseModel):
    error: ErrorDetail


class DocumentChange(ResponseModel):
    status: ChangeStatus
    id: str
    index_version: Version


class ChangeAccepted(ResponseModel):
    status: Literal["accepted"]
    id: str
    change: str
    state: Literal["indexing"]
    status_url: str


class ChangeState(ResponseModel):
    change: str
    id: str
    status: ChangeStatus
    state: Literal["indexing", "indexed", "failed"]
    index_version: str | SkipJsonSchema[None] = absent()
    error: Failure | SkipJsonSchema[None] = absent()
    undone: bool | SkipJsonSchema[None] = absent(
        "Whether a failed change was taken out of the corpus folder again (false: it was written over since, and "
        "the next build indexes it)."
    )


class CorpusStatus(ResponseModel):
    index: dict[str, Any] | None = Field(description="The manifest of the build on disk.")
    added: list[str]
    changed: list[str]
    removed: list[str]
    problem: str
    served_version: Version
    build: str = Field(description="The name of the build on disk (CURRENT); served_version names the one this server serves.")
