"""Building the passage index: passage and sentence vectors, BM25 postings, the texts they cite.

Passage vectors are unit length, so FAISS inner product is cosine similarity. Each distinct
sentence is embedded too, so the answering sentence of a hit is found without encoding
anything at query time. Two BM25 indexes (passages, sentences) sit beside the vectors.

On disk an index is a set of immutable segments (`segments`), a manifest (`manifest`), and a
catalog (`catalog`) that lists, in corpus order, each document's segment and rows. Loading
(`load`) puts the rows together in catalog order, so an index built in steps is identical to
one built in one go.

A build goes plan -> encode -> write: `plan` says what is kept, reused and encoded against the
served build (`served`; `NoPrevious` when there is none), `encoding` makes the new segment,
and `storage` writes the build folder and switches CURRENT atomically.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..config import Settings
from ..encode import onnx
from ..encode.cache import EmbeddingCache
from ..encode.embedder import Embedder
from ..errors import CorpusError, IndexMissingError, QAError
from ..ingest.documents import Document
from ..ingest.reader_process import FileLimits
from . import catalog as catalog_file
from . import provenance, storage
from .batched import Written, write_new_segment
from .catalog import Entry
from .encoding import Progress, probed_query_encoder
from .manifest import FORMAT_VERSION, Manifest, SegmentRecord, build_settings, mismatch
from .plan import MAX_SEGMENTS, Plan, corpus_sources, make_plan
from .previous import NoPrevious, Previous, Unreadable

__all__ = ["MAX_SEGMENTS", "Progress", "build_index", "stale_reason"]

log = logging.getLogger(__name__)


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
    if settings.backend == "milvus":
        from .milvus.writer import build_milvus

        return build_milvus(settings, embedder, documents, progress, full, replace, strict)
    started = time.perf_counter()
    with storage.build_lock(settings.index_dir):  # from reading the served build to switching CURRENT
        before = Previous.read(settings.index_dir)
        provenance.check_same_corpus(before.recorded, settings, documents is not None, replace)
        job = _Job(settings, embedder, documents, progress, started, strict)
        if not full and before.compatible(embedder.name, settings):
            try:
                return job.run(before, reused=before)
            except Unreadable as e:
                log.warning("the served build cannot be reused (%s): encoding everything again", e)
        return job.run(before, reused=NoPrevious())


@dataclass(frozen=True)
class _Job:
    """One build's inputs; `run` plans, encodes and writes it."""

    settings: Settings
    embedder: Embedder
    documents: Iterable[Document | dict] | None
    progress: Progress | None
    started: float
    strict: bool

    def run(self, before: Previous, reused: Previous) -> Path:
        """A build over the served build `before` that keeps what it can of `reused` (`before`,
        or `NoPrevious()` to encode everything). Returns the served folder if nothing changed."""
        plan = make_plan(self.settings, self.documents, before, reused, self.strict)
        cache = EmbeddingCache(plan.old.vectors, plan.old.tokens)
        source = provenance.source_of(self.settings, self.documents is not None)
        if not plan.new:
            encoder = probed_query_encoder(self.settings, self.embedder, [])
            m = reused.manifest
            same = (m.query_encoder, m.corpus_dir, m.skipped, m.file_limits)
            if plan.unchanged(reused) and same == (encoder, source, plan.listing.skipped, FileLimits.of(self.settings).record()):
                storage.clear_leftovers(self.settings.index_dir, served=reused.folder.name)  # a killed build's, if any
                return reused.folder
        name = f"seg-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"

        def write(folder: Path) -> Manifest:  # the new segment is encoded and written a batch at a time
            reused.link(folder, plan.keep)
            written = write_new_segment(folder, name, self.settings, self.embedder, plan, reused, cache, self.progress)
            probe = written.probe if written is not None else []
            encoder = probed_query_encoder(self.settings, self.embedder, probe)
            catalog = _catalog(plan, name, written)
            catalog_file.write(folder / catalog_file.FILE, catalog)
            fresh = written.passage_ids if written is not None else set()
            manifest = self.manifest(before, plan, catalog, fresh, cache, encoder=encoder, source=source)
            return dataclasses.replace(
                manifest, segments=_segment_list(plan, name, written), checksums=reused.checksums_of(plan.keep)
            )

        return storage.write_build(self.settings.index_dir, write, locked=True)

    def manifest(
        self,
        before: Previous,
        plan: Plan,
        catalog: dict[str, Entry],
        fresh: set[str],
        cache: EmbeddingCache,
        *,
        encoder: dict,
        source: str,
    ) -> Manifest:
        """The new build's manifest, but for its segments and checksums (`fresh`: the new segment's passage ids)."""
        passages = sum(e.passages for e in catalog.values())
        if not passages:
            raise CorpusError("the documents contain no prose to index")
        sentences = sum(e.sentences for e in catalog.values())
        return Manifest(
            format_version=FORMAT_VERSION,
            model=self.embedder.name,
            dimension=self.embedder.dimension,
            documents=len(catalog),
            passages=passages,
            sentences=sentences,
            settings=build_settings(self.settings),
            corpus_dir=source,
            corpus_files=plan.listing.hashes,
            skipped=plan.listing.skipped,
            file_limits=FileLimits.of(self.settings).record(),
            index_version=_content_version(self.embedder.name, self.settings, catalog),
            built_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            build_seconds=round(time.perf_counter() - self.started, 2),
            encoded_texts=cache.encoded,
            reused_vectors=passages + sentences - cache.encoded,
            precision=getattr(self.embedder, "precision", "fp32"),  # what this build's new vectors were encoded in
            query_encoder=encoder,
            segments=(),
            removed_documents=before.removed_documents(set(catalog)),
            retired_passages=before.retired_passages(plan.old.passage_ids, fresh),
        )


def _catalog(plan: Plan, name: str, written: Written | None) -> dict[str, Entry]:
    """Every document's entry, in corpus order: kept where it was, or in the new segment `name`."""
    catalog = dict(plan.catalog)
    for doc_id, source, digest, span in written.placed() if written is not None else ():
        was = catalog[doc_id]
        digest, file = (was.digest, was.file) if was is not None else (digest, plan.listing.files[doc_id])
        catalog[doc_id] = Entry(name, digest, file, source, span)
    return {doc_id: entry for doc_id, entry in catalog.items() if entry is not None}


def _segment_list(plan: Plan, name: str, written: Written | None) -> tuple[SegmentRecord, ...]:
    kept = [record for n, record in plan.segments.items() if n in plan.keep]
    if written is None:
        return tuple(kept)
    made = SegmentRecord(name, len(written.ids), written.passages, written.sentences)
    return (*kept, made)


def _content_version(model: str, settings: Settings, catalog: dict[str, Entry]) -> str:
    """Names the served content: the same documents, model and settings give the same version."""
    h = hashlib.sha256(f"{FORMAT_VERSION}\0{model}\0{json.dumps(build_settings(settings))}".encode())
    for doc_id, entry in catalog.items():
        h.update(f"{doc_id}\0{entry.digest}\n".encode())
    return h.hexdigest()[:12]


def stale_reason(settings: Settings, documents: list[Document] | None = None) -> str | None:
    """Why the index must be rebuilt for this corpus (or these documents) and settings, or None."""
    try:
        manifest = _served_manifest(settings)
    except QAError as e:  # missing or unreadable: either way, build it (the advice is for humans)
        return re.sub(r"[:;] (re)?build (it )?with `qa build[^`]*`$", "", e.message)
    wrong = mismatch(manifest, settings.model, settings)
    if wrong is not None:
        return wrong.reason
    if manifest.corpus_files != corpus_sources(settings, documents):
        return "corpus changed"
    if manifest.query_encoder.get("recipe", onnx.RECIPE) != onnx.RECIPE:
        return "the ONNX question encoders are of an older recipe"
    return None


def _served_manifest(settings: Settings) -> Manifest:
    """The served build's manifest on the settings' backend; IndexMissingError when there is none."""
    if settings.backend == "segments":
        return storage.read_manifest(storage.current_build(settings.index_dir))
    from .opening import served_manifest

    manifest = served_manifest(settings)
    if manifest is None:
        raise IndexMissingError(f"no index in {settings.backend} at {settings.engine_uri}")
    return manifest
