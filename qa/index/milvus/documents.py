"""The committed documents of a Milvus build, read lazily by id: a replica holds a recent few,
never a table of every document.

A document's metadata row (chunk 0 of the documents collection) is its commit (`state`); it is
fetched by primary key when a document is asked for, and its text (chunks 1...) when the text is
wanted. `len` is the manifest's count; iteration pages through the metadata rows.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable, Iterator, Mapping

from ...ingest.documents import Document
from ..records import Recent
from . import state
from .engine import Engine

KEPT = 4096  # documents' metadata remembered (a few hundred bytes each)
KEPT_TEXTS = 32  # documents' texts remembered


class Documents(Mapping[str, Document]):
    """The committed documents by id (iterated in the engine's order, not corpus order)."""

    def __init__(self, engine: Engine, count: int) -> None:
        self.engine, self.count = engine, count
        self._meta: Recent[str, state.Committed | None] = Recent(KEPT)
        self._texts: Recent[str, Document] = Recent(KEPT_TEXTS)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[str]:
        for row in self.engine.each("documents", ["doc"], filter="chunk == 0"):
            yield str(row["doc"])

    def __contains__(self, doc_id: object) -> bool:
        return isinstance(doc_id, str) and self.committed(doc_id) is not None

    def __getitem__(self, doc_id: str) -> Document:
        found = self._texts.get(doc_id)
        if found is None:
            c = self.committed(doc_id)
            if c is None:
                raise KeyError(doc_id)
            found = self._texts.put(doc_id, dataclasses.replace(c.doc, text=state.document_text(self.engine, doc_id, c.chunks)))
        return found

    def committed(self, doc_id: str) -> state.Committed | None:
        """A document's commit (its metadata), or None when it is not committed."""
        return self.committed_many([doc_id]).get(doc_id)

    def committed_many(self, doc_ids: Iterable[str]) -> dict[str, state.Committed]:
        """The commits of those of these documents that are committed (one request for the unknown)."""
        with self._lock:
            known = {d: self._meta.get(d) for d in dict.fromkeys(doc_ids)}
            missing = [d for d in known if known[d] is None and d not in self._meta]
        if missing:
            found = state.commits(self.engine, missing)
            with self._lock:
                for d in missing:
                    known[d] = self._meta.put(d, found.get(d))
        return {d: c for d, c in known.items() if c is not None}
