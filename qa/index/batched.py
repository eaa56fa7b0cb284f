"""A build's new segment, encoded and written a batch of documents at a time.

The documents a build encodes are split into batches of about `BATCH_CHARS` characters of
text; each batch is split, encoded and tokenised (`encode_segment`) and appended to the segment
(`SegmentWriter`), then dropped, so the passages, texts and vectors in memory are one batch's,
whatever the corpus's size. The live rows of the served segments the build merges follow, one
segment at a time. The segment is the one a build in one go would write: the same rows in the
same order.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..config import Settings
from ..encode.cache import EmbeddingCache
from ..encode.embedder import Embedder
from ..ingest.documents import Document
from ..ingest.passages import Passage
from . import segments
from .catalog import Span
from .encoding import PROBE_PASSAGES, Progress, encode_segment
from .plan import Plan, document_digest
from .previous import Previous
from .segment_writer import SegmentWriter, span_of
from .segments import Segment

BATCH_CHARS = 16 << 20  # characters of document text encoded at a time (about 25k passages)


@dataclass
class Written:
    """What was written of the new segment: each document with its rows, the counts, the ids of
    its passages, and the first new passages (`probe`: their sentences check the question encoders)."""

    ids: list[str] = field(default_factory=list)  # each document's, in the segment's order
    sources: list[str] = field(default_factory=list)
    digests: list[str] = field(default_factory=list)  # "" for a merged (kept) document
    spans: list[np.ndarray] = field(default_factory=list)  # a batch's (see `SegmentWriter.add`)
    passages: int = 0
    sentences: int = 0
    passage_ids: set[str] = field(default_factory=set)
    probe: list[Passage] = field(default_factory=list)

    def placed(self) -> Iterator[tuple[str, str, str, Span]]:
        """Each document's id, source, digest ("" when merged) and rows."""
        rows = (span_of(row) for part in self.spans for row in part)
        return zip(self.ids, self.sources, self.digests, rows, strict=True)


def batches(docs: list[Document], chars: int | None = None) -> list[list[Document]]:
    """The documents in order, cut into runs of about `chars` (`BATCH_CHARS`) characters (at least one each)."""
    chars = chars or BATCH_CHARS
    out: list[list[Document]] = []
    size = chars
    for doc in docs:
        if size >= chars:
            out.append([])
            size = 0
        out[-1].append(doc)
        size += len(doc.text)
    return out


def write_new_segment(
    folder: Path,
    name: str,
    settings: Settings,
    embedder: Embedder,
    plan: Plan,
    reused: Previous,
    cache: EmbeddingCache,
    progress: Progress | None,
) -> Written | None:
    """Encode `plan.new` into segment `name` of `folder`, then add the live rows of the segments
    merged into it; None (nothing written) when there are neither. The documents are taken out
    of `plan.new` as they are encoded, so that each batch's are freed once written."""
    if not plan.new and not plan.merge:
        return None
    runs, total = batches(plan.new), len(plan.new)
    plan.new.clear()
    writer = SegmentWriter(folder / name, embedder.dimension)
    out = Written()
    try:
        for part, new in _parts(settings, embedder, plan, reused, cache, progress, runs, total):
            if new and not out.probe:
                out.probe = part.passages[:PROBE_PASSAGES]
            out.spans.append(writer.add(part))
            out.ids += (d.id for d in part.documents)
            out.sources += (d.source for d in part.documents)
            out.digests += (document_digest(d) if new else "" for d in part.documents)
            out.passage_ids.update(p.id for p in part.passages)
            del part  # before the next batch is made
        out.passages, out.sentences = writer.passages, writer.sentences
    except BaseException:
        writer.abandon()
        raise
    writer.close(graph=writer.passages >= settings.ann_min_passages)
    return out


def _parts(
    settings: Settings,
    embedder: Embedder,
    plan: Plan,
    reused: Previous,
    cache: EmbeddingCache,
    progress: Progress | None,
    runs: list[list[Document]],
    total: int,
) -> Iterator[tuple[Segment, bool]]:
    """The new segment's rows a part at a time (with whether they are new documents): the new
    documents' batches (`runs`, emptied as they go), then each merged segment's live rows."""
    done, single = 0, len(runs) == 1
    while runs:
        docs = runs.pop(0)
        report = progress if single else _share(progress, done, len(docs), total)
        done += len(docs)
        yield encode_segment(settings, embedder, docs, cache, report), True
        cache.forget_encoded()  # a batch's vectors are written: memory stays one batch's
        give_back_memory()
    for name in plan.merge:
        merged = reused.read_segment(name)
        pieces = [(merged, e.span) for e in plan.catalog.values() if e is not None and e.segment == name]
        if pieces:
            yield segments.assemble(pieces), False


def _share(progress: Progress | None, done: int, size: int, total: int) -> Progress | None:
    """One "documents" bar over all batches: a batch's passages are its first 30 %, its sentences the rest."""
    if progress is None:
        return None

    def report(stage: str, n: int, of: int) -> None:
        part = n / of if of else 1.0
        share = 0.3 * part if stage == "passages" else 0.3 + 0.7 * part
        progress("documents", done + int(size * share), total)

    return report


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc
        return None


def give_back_memory() -> None:
    """Hand a written batch's freed memory back to the system. glibc's malloc keeps freed blocks
    for reuse, and what a batch leaves behind (a row's ids, spans, tokens) pins the pages around
    them, so without this the resident size creeps up batch after batch. Elsewhere: nothing."""
    libc = _libc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)
