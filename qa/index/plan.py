"""What a build keeps, reuses and encodes.

The corpus is listed in order: a document whose file (and sidecar) did not change keeps its
rows in the served build's segments and is not even read; a new or changed one is read, to be
split and encoded (with the vectors of the texts it shares with its old version reused). The
served build's segments are kept as they are, or merged into the new one when few of their
documents are still live (`merge_plan`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..config import Settings
from ..errors import CorpusError
from ..ingest.documents import (
    BINARY_SUFFIXES,
    META_SUFFIX,
    SUFFIXES,
    Document,
    check_unique_ids,
    corpus_files,
    display_path,
    documents_from,
    file_hashes,
    read_file,
    skipped_files,
)
from ..ingest.reader_process import FileLimits, ReaderProcess
from .catalog import Entry
from .manifest import IN_MEMORY, Manifest, SegmentRecord
from .previous import OldRows, Previous

MAX_SEGMENTS = 8  # more are merged (see merge_plan)


@dataclass(frozen=True)
class Listing:
    """The documents to index, in corpus order: a `Document` to split and encode, or the id of
    an unchanged one that stays where it is; the corpus's file hashes (for the manifest), the
    file of each document to index, and the files skipped, with why."""

    documents: list[Document | str]
    hashes: dict[str, str]
    files: dict[str, str]
    skipped: dict[str, str]


@dataclass(frozen=True)
class Plan:
    """A build's plan: `catalog` lists every document in corpus order with its kept entry, or
    None when it is encoded (`new`, the only list that holds documents: the build takes them
    out as it encodes them, see `batched`); `keep` and `merge` name the served build's segments
    that are linked as they are or copied into the new one; `old` has what leaves."""

    listing: Listing
    catalog: dict[str, Entry | None]
    new: list[Document]
    old: OldRows
    keep: list[str]
    merge: list[str]
    segments: dict[str, SegmentRecord]  # the reused build's segments

    def unchanged(self, reused: Previous) -> bool:
        """Whether the build would hold exactly what `reused` (the served build) holds."""
        return (
            reused.served
            and not self.new
            and not self.merge
            and list(self.catalog) == list(reused.catalog)
            and self.listing.hashes == reused.manifest.corpus_files
        )


def make_plan(
    settings: Settings, documents: Iterable[Document | dict] | None, before: Previous, reused: Previous, strict: bool
) -> Plan:
    """Plan a build over the served build `before`, reusing `reused`: `before` itself, or
    `NoPrevious()` when nothing of it can be kept (another model or settings, `--full`)."""
    kept = reused.catalog
    listing = list_documents(settings, documents, kept, reused.manifest, strict)
    new = [d for d in listing.documents if isinstance(d, Document)]
    staying = {d for d in listing.documents if isinstance(d, str)}
    leaving = {i: e for i, e in before.history().items() if i not in staying}
    old = before.old_rows(leaving, with_vectors=reused.served)
    catalog = {
        d.id if isinstance(d, Document) else d: None if isinstance(d, Document) else kept.get(d) for d in listing.documents
    }
    records = reused.segments
    keep, merge = merge_plan(records, [e for e in catalog.values() if e is not None], adding=bool(new))
    ids: list[Document | str] = [d.id if isinstance(d, Document) else d for d in listing.documents]
    listed = Listing(ids, listing.hashes, listing.files, listing.skipped)  # the documents to encode: in `new` only
    return Plan(listed, catalog, new, old, keep, merge, records)


def list_documents(
    settings: Settings, documents: Iterable[Document | dict] | None, kept: dict[str, Entry], reused: Manifest, strict: bool
) -> Listing:
    """The documents to index (see `Listing`): those given, or the corpus folder's. Files whose
    hash (and sidecar's) did not change since `reused` was built are not even read, but for a
    skipped one when the per-file limits changed. PDF and DOCX files are read in one process
    for the whole listing, within the settings' limits (`FileLimits`)."""
    if documents is not None:
        docs = documents_from(documents)
        listing = [d.id if _digest_of(kept, d.id) == document_digest(d) else d for d in docs]
        return Listing(listing, {IN_MEMORY: documents_digest(docs)}, {d.id: "" for d in docs}, {})
    out = Listing([], file_hashes(settings.corpus_dir), {}, skipped_files(settings.corpus_dir))
    by_file: dict[str, list[str]] = {}
    for doc_id, entry in kept.items():
        by_file.setdefault(entry.file, []).append(doc_id)
    found: list[tuple[str, str]] = []
    with ReaderProcess(FileLimits.of(settings)) as reader:  # one process reads every PDF and DOCX of the build
        for path in corpus_files(settings.corpus_dir):
            found += _list_file(settings.corpus_dir, path, kept, by_file, reader, reused, strict, out)
    if not out.documents:
        why = "".join(f"\n  {name}: {reason}" for name, reason in sorted(out.skipped.items()))
        where = f"no readable documents ({', '.join(sorted(SUFFIXES))}) in {settings.corpus_dir}"
        raise CorpusError(where + (f"; skipped:{why}" if why else ""))
    check_unique_ids(found)
    return Listing(out.documents, out.hashes, out.files, dict(sorted(out.skipped.items())))


def _list_file(
    corpus_dir: Path,
    path: Path,
    kept: dict[str, Entry],
    by_file: dict[str, list[str]],
    reader: ReaderProcess,
    reused: Manifest,
    strict: bool,
    out: Listing,
) -> list[tuple[str, str]]:
    """Add one corpus file's documents to `out`; returns their ids and the file as shown."""
    rel = path.relative_to(corpus_dir).as_posix()
    source = display_path(path, Path.cwd())
    ids = by_file.get(rel, [])
    before = reused.corpus_files
    unchanged = all(out.hashes.get(n) == before.get(n) for n in (rel, rel + META_SUFFIX))
    # a PDF or DOCX is read again when the limits move: one it was over, or is now over, is read as a full build would
    retry = path.suffix.lower() in BINARY_SUFFIXES and reused.file_limits != reader.limits.record()
    if unchanged and not retry and rel in before and all(kept[i].source == source for i in ids):
        out.documents.extend(ids)
        if rel in reused.skipped:
            out.skipped[rel] = reused.skipped[rel]
        return [(i, source) for i in ids]
    try:
        docs = list(read_file(path, corpus_dir, source, reader))
    except CorpusError as e:
        if strict:
            raise
        out.skipped[rel] = _reason(e.message, source) + (" (its last readable version is still served)" if ids else "")
        out.documents.extend(ids)
        return [(i, source) for i in ids]
    for doc in docs:
        out.documents.append(doc.id if _digest_of(kept, doc.id) == document_digest(doc) else doc)
        out.files[doc.id] = rel
    return [(doc.id, source) for doc in docs]


def _digest_of(kept: dict[str, Entry], doc_id: str) -> str | None:
    entry = kept.get(doc_id)
    return entry.digest if entry is not None else None


def _reason(message: str, source: str) -> str:
    """A read error's message without the file's name it starts with ("line 2: ..." for a record)."""
    rest = message.removeprefix(source)
    line = re.match(r":(\d+): ", rest)
    if line:
        return f"line {line[1]}: {rest[line.end() :]}"
    if rest.startswith(META_SUFFIX):
        return f"its {META_SUFFIX} sidecar: {rest[len(META_SUFFIX) + 2 :]}"
    return rest.removeprefix(": ")


def merge_plan(records: dict[str, SegmentRecord], entries: list[Entry], adding: bool) -> tuple[list[str], list[str]]:
    """Which kept segments stay as they are and which are merged into the new one: those with
    fewer than half their documents still live, then the smallest while there are more than
    MAX_SEGMENTS (so the merged ones grow geometrically and each row is copied only a few times)."""
    live: dict[str, int] = {}
    for entry in entries:
        live[entry.segment] = live.get(entry.segment, 0) + 1
    keep = sorted((n for n in records if live.get(n)), key=lambda n: records[n].passages)
    merge = [n for n in keep if live[n] * 2 < records[n].documents]
    keep = [n for n in keep if n not in merge]
    while keep and len(keep) + (adding or bool(merge)) > MAX_SEGMENTS:  # the new segment counts too
        merge.append(keep.pop(0))
    return keep, merge


def document_digest(doc: Document) -> str:
    """What decides whether a document changed: its text, title and metadata."""
    return hashlib.sha256(json.dumps(doc.to_dict(), sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def documents_digest(docs: list[Document]) -> str:
    """A fingerprint of documents given in memory, recorded where a corpus's file hashes go."""
    return hashlib.sha256("\n".join(map(document_digest, docs)).encode()).hexdigest()


def corpus_sources(settings: Settings, documents: list[Document] | None) -> dict[str, str]:
    """What a manifest's `corpus_files` would be for this corpus folder (or these documents)."""
    if documents is None:
        return file_hashes(settings.corpus_dir)
    return {IN_MEMORY: documents_digest(documents)}
