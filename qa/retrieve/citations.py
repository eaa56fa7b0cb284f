"""Looking up a citation: a document or a passage by id, still served, or why it is not; and
the original PDF or DOCX file a document was read from, for readers to check it in."""

from __future__ import annotations

from pathlib import Path

from ..errors import DocumentGone, DocumentNotFound, OriginalNotFound, PassageGone, PassageMoved, PassageNotFound
from ..index.backend import IndexBackend
from ..ingest.documents import BINARY_SUFFIXES, Document
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


def original_file(index: IndexBackend, corpus_dir: Path, doc_id: str) -> Path:
    """The PDF or DOCX file a served document was read from: a regular file inside `corpus_dir`,
    reached without a symlink. DocumentNotFound or DocumentGone as `document`; OriginalNotFound
    for a document given in memory or of another format, and for a file that is gone, or that
    is now a symlink (which may point anywhere) or under one."""
    document(index, doc_id)
    name = index.corpus_file(doc_id)
    if Path(name).suffix.lower() not in BINARY_SUFFIXES:  # the others' text is the original
        raise OriginalNotFound(f"document {doc_id!r} has no original file to open: only PDF and DOCX files are served")
    folder = corpus_dir.resolve()
    path = folder / name
    if path.resolve() != path or not path.is_file():  # resolving changes a path through a symlink or ".."
        raise OriginalNotFound(f"the original file of document {doc_id!r} is no longer in the corpus folder")
    return path
