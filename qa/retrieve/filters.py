"""Which documents a search may answer from: by id, by source and by publication date.

A filter is applied before ranking: only the allowed passages are scored against each other,
so a filtered search returns k results whenever k allowed passages exist."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InvalidFilter
from ..ingest.documents import Document, iso_date


@dataclass(frozen=True)
class Filter:
    doc_ids: tuple[str, ...] = ()
    source: str = ""  # a prefix of the document's source path or source URL
    date_from: str = ""  # ISO dates, inclusive; a document without a date fails any date bound
    date_to: str = ""

    @classmethod
    def of(cls, doc_ids: object = (), source: object = None, date_from: object = None, date_to: object = None) -> Filter:
        """A checked filter from Python values (None means no condition); the JSON API parses its
        requests with `qa.web.models.Filter`, which builds this."""
        doc_ids = () if doc_ids is None else doc_ids
        if not isinstance(doc_ids, (list, tuple)) or not all(isinstance(i, str) for i in doc_ids):
            raise InvalidFilter("doc_ids must be a list of document ids")
        if source is not None and not isinstance(source, str):
            raise InvalidFilter("source must be a string")
        return cls(tuple(doc_ids), source or "", filter_date(date_from, "from"), filter_date(date_to, "to"))

    def __bool__(self) -> bool:
        return bool(self.doc_ids or self.source or self.date_from or self.date_to)

    def allows(self, doc: Document) -> bool:
        if self.doc_ids and doc.id not in self.doc_ids:
            return False
        if self.source and not (doc.source.startswith(self.source) or doc.source_url.startswith(self.source)):
            return False
        if self.date_from or self.date_to:
            day = doc.date[:10]
            return bool(day) and (not self.date_from or day >= self.date_from) and (not self.date_to or day <= self.date_to)
        return True


def filter_date(value: object, name: str) -> str:
    """A date bound as an ISO date ("" for None); InvalidFilter for anything but an ISO date or date-time."""
    if value is None:
        return ""
    try:
        if isinstance(value, str):
            return iso_date(value)
    except ValueError:
        pass
    raise InvalidFilter(f"{name} must be an ISO 8601 date like 2020-09-27 (or a date-time like 2020-09-27T14:05:00Z)")
