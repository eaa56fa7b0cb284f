"""Building the passage index: passage and sentence vectors, BM25 postings, the texts they cite.

Passage vectors are unit length, so FAISS inner product is cosine similarity. Each distinct
sentence is embedded too, so the answering sentence of a hit is found without encoding
anything at query time. Two BM25 indexes (passages, sentences) sit beside the vectors.

On disk an index is a set of immutable segments (`segments`), a manifest, and a catalog
(`catalog`) that lists, in corpus order, each document's segment and rows. Loading
(`loading`) puts the rows together in catalog order, so an index built in steps is identical
to one built in one go.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, TypeVar

import numpy as np

from ..ingest import cleaning
from ..encode import choice as encoder_choice, onnx as onnx_encoder
from . import lexical, provenance, segments, storage
from . import catalog as catalog_file
from ..ingest.cleaning import normalize_for_embedding
from ..config import Settings
from ..ingest.documents import (
    META_SUFFIX, Document, check_unique_ids, corpus_files, display_path, documents_from, file_hashes, read_file,
    skipped_files,
)  # fmt: skip
from ..encode.embedder import Embedder
from ..errors import CorpusError, QAError
from .lexical import Tokens
from ..ingest.passages import Passage, passages_of
from ..encode.cache import EmbeddingCache
from .load import BM25_B, BM25_K1, FORMAT_VERSION
from ..encode.onnx import ENCODERS
from .provenance import IN_MEMORY
from .segments import Segment, Span

log = logging.getLogger(__name__)

MAX_SEGMENTS = 8  # more are merged (see _merge_plan)
BUILD_SETTINGS = ("passage_target_chars", "passage_max_chars", "passage_overlap_sentences", "embed_title", "build_precision")
Progress = Callable[[str, int, int], None]
T = TypeVar("T")


def build_settings(settings: Settings) -> dict:
    """What decides the passages and their vectors besides the model (recorded in the manifest)."""
    return {name: getattr(settings, name) for name in BUILD_SETTINGS} | {
        "cleaning_rules": cleaning.RULES_VERSION,
        "bm25": {"k1": BM25_K1, "b": BM25_B, "stemmer": lexical.STEMMER, "stopwords": lexical.STOPWORDS},
    }


def embedding_text(passage: Passage, title: str, with_title: bool) -> str:
    text = normalize_for_embedding(passage.text)
    return f"{normalize_for_embedding(title)}. {text}" if with_title and title else text


def build_index(
    settings: Settings,
    embedder: Embedder,
    documents: Iterable[Document | dict] | None = None,
    progress: Progress | None = None,
    full: bool = False,
    replace: bool = False,
    strict: bool = False,
) -> Path:
    """Build from `documents` (or the configured corpus folder) into `settings.index_dir`.

    Only new or changed documents are read, split and encoded: the others stay in the segments
    of the build being served (see `segments`). `full=True` encodes everything again into one
    segment. An index built from another corpus folder is refused unless `replace`
    (`provenance`). A file that cannot be read is skipped and listed in the manifest's `skipped`
    (its last readable version, if any, is still served), unless `strict`, where it fails the
    build. Returns the build folder (the served one, unchanged, when nothing changed)."""
    started = time.perf_counter()
    with storage.build_lock(settings.index_dir):  # from reading the served build to switching CURRENT
        before = Previous.read(settings.index_dir)
        provenance.check_same_corpus(before.manifest if before else None, settings, documents is not None, replace)
        if before is not None and not full and before.compatible(embedder.name, settings):
            try:
                return _build(settings, embedder, documents, progress, started, before, same=True, strict=strict)
            except Unreadable as e:
                log.warning("the served build cannot be reused (%s): encoding everything again", e)
        return _build(settings, embedder, documents, progress, started, before, same=False, strict=strict)


class Unreadable(Exception):
    """A segment of the served build cannot be read (missing, damaged): nothing of it is reused."""


def _build(
    settings: Settings,
    embedder: Embedder,
    documents: Iterable[Document | dict] | None,
    progress: Progress | None,
    started: float,
    before: Previous | None,
    same: bool,
    strict: bool = False,
) -> Path:
    """A build that keeps the served build's segments (`same`) or encodes everything."""
    kept = before.catalog if same else {}  # type: ignore[union-attr]
    skipped_before = before.manifest.get("skipped", {}) if same else {}  # type: ignore[union-attr]
    listing, hashes, files, skipped = _listing(settings, documents, kept, before.files if same else {}, skipped_before, strict)  # type: ignore[union-attr]
    new_docs = [d for d in listing if isinstance(d, Document)]
    staying = {d for d in listing if isinstance(d, str)}
    leaving = {i: e for i, e in before.history().items() if i not in staying} if before else {}
    old = _old_rows(before, leaving, with_vectors=same) if before else OldRows()
    cache = EmbeddingCache(old.vectors)
    fresh = _segment(settings, embedder, new_docs, cache, progress)
    catalog: dict[str, dict | None] = {d if isinstance(d, str) else d.id: kept.get(d) if isinstance(d, str) else None for d in listing}  # fmt: skip
    segment_rows = {s["name"]: s for s in before.segments} if same else {}  # type: ignore[union-attr]
    keep, merge = _merge_plan(segment_rows, [e for e in catalog.values() if e is not None], adding=bool(new_docs))
    sentences = _distinct_sentences(fresh.passages[:200])[0]
    probe = sentences[:: max(len(sentences) // 64, 1)]  # question-length texts of this corpus
    encoder = encoder_choice.ensure(settings.index_dir / ENCODERS, embedder, probe, max(settings.torch_threads, 0))
    unchanged = same and not new_docs and not merge and list(catalog) == list(kept) and hashes == before.files  # type: ignore[union-attr]
    source = provenance.source_of(settings, documents is not None)
    if unchanged and [before.manifest.get(k) for k in ("query_encoder", "corpus_dir", "skipped")] == [encoder, source, skipped]:  # type: ignore[union-attr]
        return before.folder  # type: ignore[union-attr]
    pieces = [(fresh, span) for span in fresh.spans()]
    for name in merge:
        segment = _read_old(before, segments.files(before.folder, name), lambda: segments.read(before.folder, name))  # type: ignore[union-attr]
        pieces += [(segment, Span.of(e)) for e in catalog.values() if e is not None and e["segment"] == name]
    new_name = f"seg-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    written = segments.assemble(pieces) if pieces else None
    for doc, span in zip(written.documents, written.spans()) if written else ():
        was = catalog[doc.id]
        digest, file = (was["digest"], was["file"]) if was else (document_digest(doc), files[doc.id])
        catalog[doc.id] = _entry(new_name, digest, file, doc.source, span)
    segment_list = [s for name, s in segment_rows.items() if name in keep]
    if written is not None:
        segment_list.append({"name": new_name, "documents": len(written.documents),
                             "passages": len(written.passages), "sentences": len(written.sentence_vectors)})  # fmt: skip
    passages = sum(e["passages"][1] - e["passages"][0] for e in catalog.values())
    if not passages:
        raise CorpusError("the documents contain no prose to index")
    sentences = sum(e["sentences"][1] - e["sentences"][0] for e in catalog.values())
    manifest = {
        "format_version": FORMAT_VERSION,
        "model": embedder.name,
        "dimension": embedder.dimension,
        "documents": len(catalog),
        "passages": passages,
        "sentences": sentences,
        "settings": build_settings(settings),
        "corpus_dir": source,
        "corpus_files": hashes,
        "skipped": skipped,
        "index_version": _content_version(embedder.name, settings, catalog),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "build_seconds": round(time.perf_counter() - started, 2),
        "encoded_texts": cache.encoded,
        "reused_vectors": passages + sentences - cache.encoded,
        "precision": getattr(embedder, "precision", "fp32"),  # what this build's new vectors were encoded in
        "query_encoder": encoder,
        "segments": segment_list,
        "removed_documents": _removed_documents(before, set(catalog)),
        "retired_passages": _retired_passages(before, old.passage_ids, {p.id for p in fresh.passages}),
        "checksums": {f: before.checksums[f] for name in keep for f in segments.files(before.folder, name)} if before else {},
    }

    def write(folder: Path) -> dict:
        catalog_file.write(folder / catalog_file.FILE, catalog)  # type: ignore[arg-type]
        for name in keep:
            segments.link(before.folder, folder, name)  # type: ignore[union-attr]
        if written is not None:
            segments.write(folder, new_name, written, graph=len(written.passages) >= settings.ann_min_passages)
        return manifest

    return storage.write_build(settings.index_dir, write, locked=True)


def _read_old(before: Previous, files: list[str], read: Callable[[], T]) -> T:
    """Read from these files of the served build, checking their checksums first."""
    try:
        storage.verify_checksums(before.folder, before.manifest, files)
        return read()
    except (QAError, OSError, ValueError, KeyError, TypeError, IndexError) as e:
        raise Unreadable(f"{', '.join(files)}: {e}") from None


def _removed_documents(before: Previous | None, current: set[str]) -> dict[str, str]:
    """Ids that were indexed once and are not now, with when they went (for 410 Gone). The
    history is kept across rebuilds of any kind (a new model, --full)."""
    if before is None:
        return {}
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    gone = {**{i: now for i in set(before.history()) - current}, **before.manifest.get("removed_documents", {})}
    return {doc_id: when for doc_id, when in sorted(gone.items()) if doc_id not in current}


def _retired_passages(before: Previous | None, leaving: dict[str, str], current: set[str]) -> dict[str, str]:
    """Passage ids that were served once and are not now, with their document (so an old citation
    can be told apart from an unknown one). `leaving`: the passages of documents that changed or
    went in this build; those of unchanged documents keep their ids."""
    if before is None:
        return {}
    retired = {**before.manifest.get("retired_passages", {}), **leaving}
    return {pid: doc for pid, doc in sorted(retired.items()) if pid not in current}


@dataclass
class Previous:
    """What a build needs to know of the build being served: its manifest, not its data."""

    folder: Path
    manifest: dict

    @classmethod
    def read(cls, index_dir: Path) -> "Previous | None":
        try:
            folder = storage.current_build(index_dir)
            return cls(folder, storage.read_manifest(folder))
        except QAError:
            return None

    @property
    def format(self) -> object:
        return self.manifest.get("format_version")

    def compatible(self, model: str, settings: Settings) -> bool:
        """Its segments can be kept: same format, model, passage settings and cleaning rules."""
        m = self.manifest
        return (self.format, m.get("model"), m.get("settings")) == (FORMAT_VERSION, model, build_settings(settings))

    @functools.cached_property
    def catalog(self) -> dict[str, dict]:
        """Its catalog (document id -> entry); `Unreadable` when its file is missing or damaged."""
        if self.format != FORMAT_VERSION:
            return {}
        return _read_old(self, [catalog_file.FILE], lambda: catalog_file.read(self.folder / catalog_file.FILE).entries())

    def history(self) -> dict[str, dict]:
        """Its catalog for the record of what leaves (empty when it cannot be read)."""
        try:
            return self.catalog
        except Unreadable as e:
            log.warning("the served build's catalog cannot be read (%s): its history is not carried", e)
            return {}

    @property
    def segments(self) -> list[dict]:
        return self.manifest.get("segments", []) if self.format == FORMAT_VERSION else []

    @property
    def files(self) -> dict[str, str]:
        return self.manifest.get("corpus_files", {})

    @property
    def checksums(self) -> dict[str, str]:
        return self.manifest.get("checksums", {})


@dataclass
class OldRows:
    """The passages of documents that leave the index (changed or removed): their ids, for
    `retired_passages`, and their vectors by embedded text, to reuse what did not change."""

    passage_ids: dict[str, str] = field(default_factory=dict)  # passage id -> document id
    vectors: dict[str, np.ndarray] = field(default_factory=dict)


def _old_rows(before: Previous, dropped: dict[str, dict], with_vectors: bool) -> OldRows:
    out = OldRows()
    with_title = before.manifest.get("settings", {}).get("embed_title", True)
    by_segment: dict[str, list[dict]] = {}
    for entry in dropped.values():
        by_segment.setdefault(entry["segment"], []).append(entry)
    for name, entries in by_segment.items():
        spans = [Span.of(e) for e in entries]
        try:
            docs, passages, vectors, sentence_vectors = _read_old(
                before, segments.files(before.folder, name), lambda: segments.read_some(before.folder, name, spans)
            )
        except Unreadable:
            if with_vectors:
                raise
            continue  # a full build goes on; only these passages' history is lost
        for doc, ps, pv, sv in zip(docs, passages, vectors, sentence_vectors):
            out.passage_ids.update((p.id, doc.id) for p in ps)
            if not with_vectors:
                continue
            out.vectors.update(zip(_distinct_sentences(ps)[0], sv))
            out.vectors.update(zip((embedding_text(p, doc.title, with_title) for p in ps), pv))
    return out


def _listing(
    settings: Settings,
    documents: Iterable[Document | dict] | None,
    kept: dict[str, dict],
    files_before: dict[str, str],
    skipped_before: dict[str, str],
    strict: bool,
) -> tuple[list[Document | str], dict[str, str], dict[str, str], dict[str, str]]:
    """The documents to index, in corpus order: a `Document` to split and encode, or the id of an
    unchanged one that stays where it is. Files whose hash (and sidecar's) did not change are
    not even read. Also returns the corpus's file hashes (recorded in the manifest), the file
    of each document to index, and the files skipped, with why."""
    if documents is not None:
        docs = documents_from(documents)
        listing = [d.id if kept.get(d.id, {}).get("digest") == document_digest(d) else d for d in docs]
        return listing, {IN_MEMORY: documents_digest(docs)}, {d.id: "" for d in docs}, {}
    hashes = file_hashes(settings.corpus_dir)
    skipped = skipped_files(settings.corpus_dir)
    by_file: dict[str, list[str]] = {}
    for doc_id, entry in kept.items():
        by_file.setdefault(entry["file"], []).append(doc_id)
    listing: list[Document | str] = []
    found: list[tuple[str, str]] = []
    files: dict[str, str] = {}  # the file each document to index came from
    for path in corpus_files(settings.corpus_dir):
        rel = path.relative_to(settings.corpus_dir).as_posix()
        source = display_path(path, Path.cwd())
        ids = by_file.get(rel, [])
        unchanged = all(hashes.get(n) == files_before.get(n) for n in (rel, rel + META_SUFFIX)) and all(
            kept[i]["source"] == source for i in ids
        )
        if unchanged and rel in files_before:
            listing += ids
            found += [(i, source) for i in ids]
            if rel in skipped_before:
                skipped[rel] = skipped_before[rel]
            continue
        try:
            docs = list(read_file(path, settings.corpus_dir, source))
        except CorpusError as e:
            if strict:
                raise
            skipped[rel] = _reason(e.message, source) + (" (its last readable version is still served)" if ids else "")
            listing += ids
            found += [(i, source) for i in ids]
            continue
        for doc in docs:
            same = kept.get(doc.id, {}).get("digest") == document_digest(doc)
            listing.append(doc.id if same else doc)
            found.append((doc.id, source))
            files[doc.id] = rel
    if not listing:
        why = "".join(f"\n  {name}: {reason}" for name, reason in sorted(skipped.items()))
        raise CorpusError(f"no readable documents (.txt, .md, .html, .jsonl) in {settings.corpus_dir}" + (f"; skipped:{why}" if why else ""))
    check_unique_ids(found)
    return listing, hashes, files, dict(sorted(skipped.items()))


def _reason(message: str, source: str) -> str:
    """A read error's message without the file's name it starts with ("line 2: ..." for a record)."""
    rest = message.removeprefix(source)
    line = re.match(r":(\d+): ", rest)
    if line:
        return f"line {line[1]}: {rest[line.end():]}"
    return f"its {META_SUFFIX} sidecar: {rest[len(META_SUFFIX) + 2:]}" if rest.startswith(META_SUFFIX) else rest.removeprefix(": ")


def _segment(
    settings: Settings, embedder: Embedder, docs: list[Document], cache: EmbeddingCache, progress: Progress | None
) -> Segment:
    """Split, encode and tokenise these documents (vectors in `cache` are not encoded again)."""
    passages = passages_of(
        docs, settings.passage_target_chars, settings.passage_max_chars, settings.passage_overlap_sentences
    )
    titles = {d.id: d.title for d in docs}
    texts = [embedding_text(p, titles[p.doc_id], settings.embed_title) for p in passages]
    sentence_texts, sentence_rows = _distinct_sentences(passages)

    def report(stage: str) -> Callable[[int, int], None] | None:
        return (lambda done, total: progress(stage, done, total)) if progress else None

    return Segment(
        documents=docs,
        passages=passages,
        sentence_rows=sentence_rows,
        vectors=cache.encode(embedder, texts, settings.batch_size, report("passages")),
        sentence_vectors=cache.encode(embedder, sentence_texts, settings.batch_size, report("sentences")),
        passage_tokens=Tokens.of([f"{titles[p.doc_id]}. {p.text}" for p in passages]),
        sentence_tokens=Tokens.of(sentence_texts),
    )


def _merge_plan(segment_rows: dict[str, dict], entries: list[dict], adding: bool) -> tuple[list[str], list[str]]:
    """Which kept segments stay as they are and which are merged into the new one: those with
    fewer than half their documents still live, then the smallest while there are more than
    MAX_SEGMENTS (so the merged ones grow geometrically and each row is copied only a few times)."""
    live: dict[str, int] = {}
    for entry in entries:
        live[entry["segment"]] = live.get(entry["segment"], 0) + 1
    keep = sorted((n for n in segment_rows if live.get(n)), key=lambda n: segment_rows[n]["passages"])
    merge = [n for n in keep if live[n] * 2 < segment_rows[n]["documents"]]
    keep = [n for n in keep if n not in merge]
    while keep and len(keep) + (adding or bool(merge)) > MAX_SEGMENTS:  # the new segment counts too
        merge.append(keep.pop(0))
    return keep, merge


def _entry(segment: str, digest: str, file: str, source: str, span: Span) -> dict:
    return {"segment": segment, "digest": digest, "file": file, "source": source, "row": span.row,
            "passages": list(span.passages), "sentences": list(span.sentences)}  # fmt: skip


def document_digest(doc: Document) -> str:
    """What decides whether a document changed: its text, title and metadata."""
    return hashlib.sha256(json.dumps(doc.to_dict(), sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def documents_digest(docs: list[Document]) -> str:
    """A fingerprint of documents given in memory, recorded where a corpus's file hashes go."""
    return hashlib.sha256("\n".join(map(document_digest, docs)).encode()).hexdigest()


def stale_reason(settings: Settings, documents: list[Document] | None = None) -> str | None:
    """Why the index must be rebuilt for this corpus (or these documents) and settings, or None."""
    try:
        manifest = storage.read_manifest(storage.current_build(settings.index_dir))
    except QAError as e:  # missing or unreadable: either way, build it (the advice is for humans)
        return re.sub(r"[:;] (re)?build (it )?with `qa build[^`]*`$", "", e.message)
    checks = [
        (manifest.get("format_version") == FORMAT_VERSION, "index format changed"),
        (manifest.get("model") == settings.model, "model changed"),
        (manifest.get("settings") == build_settings(settings), "passage settings changed"),
        (manifest.get("corpus_files") == _sources(settings, documents), "corpus changed"),
        (manifest.get("query_encoder", {}).get("recipe", onnx_encoder.RECIPE) == onnx_encoder.RECIPE,
         "the ONNX question encoders are of an older recipe"),
    ]
    return next((why for ok, why in checks if not ok), None)


def _sources(settings: Settings, documents: list[Document] | None) -> dict[str, str]:
    if documents is None:
        return file_hashes(settings.corpus_dir)
    return {IN_MEMORY: documents_digest(documents)}


def _distinct_sentences(passages: list[Passage]) -> tuple[list[str], list[list[int]]]:
    """Each sentence once (overlapping passages share sentences), and each passage's rows."""
    row_of: dict[tuple[str, int, int], int] = {}
    texts: list[str] = []
    rows = []
    for p in passages:
        mine = []
        for s, e in p.sentences:
            key = (p.doc_id, p.start + s, p.start + e)
            if key not in row_of:
                row_of[key] = len(texts)
                texts.append(normalize_for_embedding(p.text[s:e]) or p.text[s:e])
            mine.append(row_of[key])
        rows.append(mine)
    return texts, rows


def _content_version(model: str, settings: Settings, catalog: dict[str, dict]) -> str:
    """Names the served content: the same documents, model and settings give the same version."""
    h = hashlib.sha256(f"{FORMAT_VERSION}\0{model}\0{json.dumps(build_settings(settings))}".encode())
    for doc_id, entry in catalog.items():
        h.update(f"{doc_id}\0{entry['digest']}\n".encode())
    return h.hexdigest()[:12]
