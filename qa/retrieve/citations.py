"""Looking up a citation: a document or a passage by id, still served, or why it is not."""

from __future__ import annotations

from ..errors import DocumentGone, DocumentNotFound, PassageGone, PassageMoved, PassageNotFound
from ..index.backend import IndexBackend
from ..ingest.documents import Document
from ..ingest.passages import Passage


def document(index: IndexBackend, doc_id: str) -> Document:
    """A served document; DocumentGone when it was removed, DocumentNotFound when never served."""
    if doc_id in index.documents:
        return index.documents[doc_id]
    removed = index.removed_document(doc_id)
    if removed:
        raise DocumentGone(f"document {doc_id!r} was removed from these documents ({removed})")
    raise DocumentNotFound(f"no document with id {doc_id!r}")


def passage(index: IndexBackend, passage_id: str) -> tuple[Passage, Document]:
    """A passage by its id, for checking an old citation: it is still served, or it says why not."""
    row = index.row_of(passage_id)
    if row is not None:
        found = index.passage(row)
        return found, index.documents[found.doc_id]
    doc_id = index.retired_passage(passage_id)
    if doc_id is None:
        raise PassageNotFound(f"no passage with id {passage_id!r}")
    if doc_id in index.documents:
        raise PassageMoved(f"passage {passage_id!r} is no longer served: document {doc_id!r} has changed since")
    raise PassageGone(f"passage {passage_id!r} is no longer served: document {doc_id!r} was removed")
