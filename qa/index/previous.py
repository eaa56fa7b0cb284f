"""The build being served, as the next build sees it: its manifest, catalog and segments, read
only as far as the next build keeps, reuses or records them.

`Previous.read` gives the served build, or `NoPrevious` (a null object: nothing to keep, reuse
or remember) when there is none. A segment or catalog that cannot be read (missing, damaged) is
`Unreadable`: the build then encodes everything again.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np

from ..config import Settings
from ..errors import QAError
from . import catalog as catalog_file
from . import segments, storage
from .catalog import Entry
from .encoding import distinct_sentences, embedding_text
from .manifest import FORMAT_VERSION, Manifest, SegmentRecord, mismatch
from .segments import Segment

log = logging.getLogger(__name__)

T = TypeVar("T")


class Unreadable(Exception):
    """A segment of the served build cannot be read (missing, damaged): nothing of it is reused."""


@dataclass
class OldRows:
    """The passages of documents that leave the index (changed or removed): their ids, for
    `retired_passages`, and their vectors by embedded text, to reuse what did not change."""

    passage_ids: dict[str, str] = field(default_factory=dict)  # passage id -> document id
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    tokens: dict[str, np.ndarray] = field(default_factory=dict)  # passages' int8 token vectors by embedded text


class Previous:
    """The build being served: its manifest is read, its data only as the next build needs it."""

    served = True  # (a null object says False)

    def __init__(self, folder: Path, manifest: Manifest) -> None:
        self.folder, self.manifest = folder, manifest

    @staticmethod
    def read(index_dir: Path) -> Previous:
        """The served build of `index_dir`, or `NoPrevious()` when there is none to read."""
        try:
            folder = storage.current_build(index_dir)
            return Previous(folder, storage.read_manifest(folder))
        except QAError:
            return NoPrevious()

    @property
    def recorded(self) -> Manifest | None:
        """Its manifest (None: no build), for `provenance`."""
        return self.manifest

    def compatible(self, model: str, settings: Settings) -> bool:
        """Its segments can be kept: same format, model, passage settings and cleaning rules."""
        return mismatch(self.manifest, model, settings) is None

    @functools.cached_property
    def catalog(self) -> dict[str, Entry]:
        """Its catalog (document id -> entry); `Unreadable` when its file is missing or damaged."""
        if self.manifest.format_version != FORMAT_VERSION:
            return {}
        return self.read_verified([catalog_file.FILE], lambda: catalog_file.read(self.folder / catalog_file.FILE).entries())

    def history(self) -> dict[str, Entry]:
        """Its catalog for the record of what leaves (empty when it cannot be read)."""
        try:
            return self.catalog
        except Unreadable as e:
            log.warning("the served build's catalog cannot be read (%s): its history is not carried", e)
            return {}

    @property
    def segments(self) -> dict[str, SegmentRecord]:
        return self.manifest.segment_records()

    def read_verified(self, files: list[str], read: Callable[[], T]) -> T:
        """Read from these files of the served build, checking their checksums first."""
        try:
            storage.verify_checksums(self.folder, self.manifest, files)
            return read()
        except (QAError, OSError, ValueError, KeyError, TypeError, IndexError) as e:
            raise Unreadable(f"{', '.join(files)}: {e}") from None

    def read_segment(self, name: str) -> Segment:
        """One of its segments, whole (for a merge)."""
        return self.read_verified(segments.files(self.folder, name), lambda: segments.read(self.folder, name))

    def link(self, folder: Path, names: list[str]) -> None:
        """Put these of its segments in a new build folder (hard links)."""
        for name in names:
            segments.link(self.folder, folder, name)

    def checksums_of(self, names: list[str]) -> dict[str, str]:
        """The recorded checksums of these segments' files (so a kept file is not hashed again)."""
        return {f: self.manifest.checksums[f] for name in names for f in segments.files(self.folder, name)}

    def old_rows(self, leaving: dict[str, Entry], with_vectors: bool, with_tokens: bool = True) -> OldRows:
        """The passage ids (and, `with_vectors`, the vectors, and `with_tokens` their passages'
        token vectors too) of the documents that leave. `Unreadable` only when vectors were asked
        for: without, only that history is lost."""
        out = OldRows()
        by_segment: dict[str, list[Entry]] = {}
        for entry in leaving.values():
            by_segment.setdefault(entry.segment, []).append(entry)
        for name, entries in by_segment.items():
            spans = [e.span for e in entries]
            try:
                docs, passages, vectors, sentence_vectors, passage_tokens = self.read_verified(
                    segments.files(self.folder, name),
                    functools.partial(segments.read_some, self.folder, name, spans, with_vectors and with_tokens),
                )
            except Unreadable:
                if with_vectors:
                    raise
                continue  # a full build goes on; only these passages' history is lost
            for doc, ps, pv, sv, pt in zip(docs, passages, vectors, sentence_vectors, passage_tokens, strict=True):
                out.passage_ids.update((p.id, doc.id) for p in ps)
                if with_vectors:
                    out.vectors.update(zip(distinct_sentences(ps)[0], sv, strict=False))
                    texts = [embedding_text(p, doc.title, self.manifest.embed_title) for p in ps]
                    out.vectors.update(zip(texts, pv, strict=False))
                    out.tokens.update(zip(texts, pt, strict=False))
        return out

    def removed_documents(self, current: set[str]) -> dict[str, str]:
        """Ids that were indexed once and are not now, with when they went (for 410 Gone). The
        history is kept across rebuilds of any kind (a new model, --full)."""
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        gone = {**{i: now for i in set(self.history()) - current}, **self.manifest.removed_documents}
        return {doc_id: when for doc_id, when in sorted(gone.items()) if doc_id not in current}

    def retired_passages(self, leaving: dict[str, str], current: set[str]) -> dict[str, str]:
        """Passage ids that were served once and are not now, with their document (so an old
        citation can be told apart from an unknown one). `leaving`: the passages of documents that
        changed or went in this build; those of unchanged documents keep their ids."""
        retired = {**self.manifest.retired_passages, **leaving}
        return {pid: doc for pid, doc in sorted(retired.items()) if pid not in current}


class NoPrevious(Previous):
    """No build is served: nothing to keep, reuse, link or remember."""

    served = False

    def __init__(self) -> None:
        super().__init__(Path(), Manifest.from_json({}))

    @property
    def recorded(self) -> Manifest | None:
        return None

    def compatible(self, model: str, settings: Settings) -> bool:
        return False

    @functools.cached_property
    def catalog(self) -> dict[str, Entry]:
        return {}

    @property
    def segments(self) -> dict[str, SegmentRecord]:
        return {}

    def checksums_of(self, names: list[str]) -> dict[str, str]:
        return {}

    def old_rows(self, leaving: dict[str, Entry], with_vectors: bool, with_tokens: bool = True) -> OldRows:
        return OldRows()

    def removed_documents(self, current: set[str]) -> dict[str, str]:
        return {}

    def retired_passages(self, leaving: dict[str, str], current: set[str]) -> dict[str, str]:
        return {}
