"""One error hierarchy. Each class carries the HTTP status and the stable code the web layer sends."""

from __future__ import annotations


class QAError(Exception):
    """Base of every error the library raises on purpose."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(QAError):
    status = 500
    code = "config_error"


class CorpusError(QAError):
    """The corpus folder or one of its documents cannot be read."""

    status = 500
    code = "corpus_error"


class CorpusConflict(QAError):
    """Another corpus would be built into an index that records its own (see `provenance`)."""

    status = 409
    code = "corpus_conflict"


class StorageError(QAError):
    """The index or the corpus folder could not be written (disk full, permissions); the served
    index is unchanged. HTTP 507 Insufficient Storage."""

    status = 507
    code = "storage_error"


class ModelError(QAError):
    """The embedding model cannot be loaded (offline, not installed, bad path)."""

    status = 503
    code = "model_unavailable"


class EncodersUnavailable(ModelError):
    """The workers that encode a build (a Ray cluster) cannot be reached or failed; nothing was written."""

    code = "encoders_unavailable"


class IndexMissingError(QAError):
    status = 503
    code = "index_missing"


class IndexMismatchError(QAError):
    """The index on disk was built with another model, format or is incomplete."""

    status = 503
    code = "index_mismatch"


class BadRequest(QAError):
    status = 400
    code = "bad_request"


class InvalidQuery(BadRequest):
    code = "invalid_query"


class InvalidK(BadRequest):
    code = "invalid_k"


class InvalidFilter(BadRequest):
    code = "invalid_filter"


class UnsupportedMediaType(BadRequest):
    status = 415
    code = "unsupported_media_type"


class Conflict(QAError):
    status = 409
    code = "conflict"


class DocumentGone(QAError):
    """The document was in the index once and has been removed."""

    status = 410
    code = "document_gone"


class PassageGone(QAError):
    """The passage was served once; its document changed (`passage_moved`) or went (`passage_gone`)."""

    status = 410
    code = "passage_gone"


class PassageMoved(PassageGone):
    code = "passage_moved"


class DocumentTooLarge(QAError):
    """A document over `max_document_bytes`."""

    status = 413
    code = "payload_too_large"


class Unauthorized(QAError):
    status = 401
    code = "unauthorized"


class NotFound(QAError):
    status = 404
    code = "not_found"


class DocumentNotFound(NotFound):
    code = "document_not_found"


class PassageNotFound(NotFound):
    code = "passage_not_found"


class OriginalNotFound(NotFound):
    """A served document whose original file is not given out: only PDF and DOCX files, as
    regular files inside the corpus folder (no symlink on the way), are."""

    code = "original_not_found"


class Overloaded(QAError):
    """More requests at once than the service admits; retry shortly."""

    status = 503
    code = "overloaded"


class TooManyRequests(QAError):
    """A client over one of its limits; it may try again after `retry_after` seconds."""

    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BackendUnavailable(QAError):
    """The index backend (a remote engine such as Milvus) cannot be reached or failed to answer;
    the request may be retried after `retry_after` seconds. Nothing was changed."""

    status = 503
    code = "backend_unavailable"

    def __init__(self, message: str, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after
