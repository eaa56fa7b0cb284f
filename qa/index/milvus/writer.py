"""Building into Milvus: the segment store's plan and encoding, written to the engine document by document.

A build lists the corpus against the documents committed to the engine (`EnginePrevious`, so
`qa.index.plan` decides what is new, changed or removed exactly as for the segment store), reuses
the stored vectors of what changed (nothing stored is encoded again), then writes the new and
changed documents in groups: a group's old rows are deleted by document id, its passages and
sentences upserted, and each document's metadata row written last, which commits it. A killed
build leaves whole documents committed; the next one encodes only the rest. Removed documents are
deleted by id and leave tombstones (410 Gone for their ids and their passages' ids); the manifest
and the version (which changes whenever the contents do) are written last.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...config import Settings
from ...encode.cache import EmbeddingCache
from ...encode.embedder import Embedder
from ...errors import CorpusError
from ...ingest.documents import Document
from ...ingest.reader_process import FileLimits
from .. import provenance, storage
from ..encoding import Progress, encode_segment, query_encoder
from ..lexical import Tokens
from ..manifest import FORMAT_VERSION, Manifest, build_settings
from ..plan import Plan, document_digest, make_plan
from ..previous import NoPrevious, Previous, Unreadable
from ..segments import Segment
from . import schema, state, terms
from .engine import Engine, quoted
from .previous import EnginePrevious

log = logging.getLogger(__name__)

GROUP_CHARS = 400_000  # documents are encoded and committed in groups of about this much text
BATCH_ROWS = 512  # rows per upsert


def build_milvus(
    settings: Settings,
    embedder: Embedder,
    documents: Iterable[Document | dict] | None = None,
    progress: Progress | None = None,
    full: bool = False,
    replace: bool = False,
    strict: bool = False,
) -> Path:
    """`qa.index.build.build_index` for `settings.backend == "milvus"`. Returns the index folder."""
    started = time.perf_counter()
    engine = Engine(settings)
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    with storage.build_lock(settings.index_dir):
        schema.create(engine, embedder.dimension)
        before = EnginePrevious(engine, settings.index_dir)
        provenance.check_same_corpus(before.recorded, settings, documents is not None, replace)
        again = before.served and (full or not before.compatible(embedder.name, settings))
        retiring = _all_passages(engine) if again else {}
        if again:  # everything is encoded again: the old rows go (the tombstones stay)
            schema.drop(engine, ("passages", "sentences", "documents", "terms"))
        schema.create(engine, embedder.dimension)
        reused = NoPrevious() if again else before
        plan = make_plan(settings, documents, reused, reused, strict)
        delta = terms.begin(engine, fresh=again)  # BM25's counts kept as rows change (None: counted again at the end)
        job = _Write(settings, embedder, engine, progress, delta)
        committed = {} if again else before.committed
        known = plan.old.vectors if before.committed and not again else _segment_vectors(settings, embedder)
        written = job.run(plan, committed, EmbeddingCache(known))
        gone = [i for i in before.committed if i not in plan.catalog]
        if job.delta:
            job.delta.forget(engine, gone)
        _delete(engine, gone)
        _tombstones(engine, before, plan, gone, {**retiring, **plan.old.passage_ids}, written)
        manifest = job.manifest(before, plan, written, documents is not None, started)
        terms.finish(engine, job.delta)  # BM25's N, average lengths and df, so that no replica counts them
        state.write_manifest(engine, manifest)
        for part in ("passages", "sentences", "documents", "state", "terms"):  # sealed and indexed: searched without a scan
            engine.call("flush", engine.name(part))
        log.info("built %d documents into Milvus at %s (%s)", manifest.documents, engine.describe(), manifest.index_version)
    return settings.index_dir


@dataclass
class Written:
    """What a build wrote: its new passages' ids, the first group encoded, the texts it encoded."""

    passage_ids: set[str]
    first: Segment | None
    encoded: int
    reused: int


@dataclass
class _Write:
    settings: Settings
    embedder: Embedder
    engine: Engine
    progress: Progress | None
    delta: terms.Delta | None = None  # the BM25 counts' changes (None: they are counted again at the end)

    def run(self, plan: Plan, committed: dict[str, state.Committed], cache: EmbeddingCache) -> Written:
        """Encode and commit the new and changed documents, group by group; move the rest."""
        position = {doc_id: n for n, doc_id in enumerate(plan.catalog)}
        out = Written(set(), None, 0, 0)
        done = 0
        for group in _groups(plan.new):
            if self.delta:  # their stored rows leave the counts (those of committed documents: counted)
                self.delta.forget(self.engine, [d.id for d in group if d.id in committed])
            _delete(self.engine, [d.id for d in group])  # their old versions, or a killed build's rows
            segment = encode_segment(self.settings, self.embedder, group, cache, None)
            out.first = out.first or segment
            self._write(segment, position, plan.listing.files)
            out.passage_ids.update(p.id for p in segment.passages)
            done += len(group)
            if self.progress:
                self.progress("documents", done, len(plan.new))
        new = {d.id for d in plan.new}
        moved = [state.position_row(c, position[i]) for i, c in committed.items() if i in position and i not in new
                 and c.position != position[i]]  # fmt: skip
        self._upsert("documents", moved)
        out.encoded, out.reused = cache.encoded, cache.reused
        return out

    def _write(self, segment: Segment, position: dict[str, int], files: dict[str, str]) -> None:
        """A group's rows, then its documents' commits."""
        docs = {d.id: d for d in segment.documents}
        rows = list(_passage_rows(segment, docs))
        _check_keys(self.engine, "passages", rows, "id")
        sentences = list(_sentence_rows(segment))
        _check_keys(self.engine, "sentences", sentences, "doc")  # (distinct spans: a repeated key is a clash)
        if self.delta:
            self.delta.add("passages", rows)
            self.delta.add("sentences", sentences)
        self._upsert("passages", rows)
        self._upsert("sentences", sentences)
        commits = []
        for doc in segment.documents:
            text, meta = state.commit_rows(doc, position[doc.id], document_digest(doc), files.get(doc.id, ""))
            self._upsert("documents", text)
            commits.append(meta)
        self._upsert("documents", commits)

    def _upsert(self, part: str, rows: list[dict]) -> None:
        for at in range(0, len(rows), BATCH_ROWS):
            self.engine.call("upsert", self.engine.name(part), rows[at : at + BATCH_ROWS])

    def manifest(self, before: EnginePrevious, plan: Plan, written: Written, in_memory: bool, started: float) -> Manifest:
        passages, sentences = self.engine.count("passages", 'id != ""'), self.engine.count("sentences", "row >= 0")
        if not passages:
            raise CorpusError("the documents contain no prose to index")
        kept = before.manifest.query_encoder
        if written.first is None and kept:
            encoder = kept
        else:
            encoder = query_encoder(self.settings, self.embedder, written.first or _empty(plan))
        digests = {i: (e.digest if e is not None else "") for i, e in plan.catalog.items()}
        digests |= {d.id: document_digest(d) for d in plan.new}
        return Manifest(
            format_version=FORMAT_VERSION,
            model=self.embedder.name,
            dimension=self.embedder.dimension,
            documents=len(plan.catalog),
            passages=passages,
            sentences=sentences,
            settings=build_settings(self.settings),
            corpus_dir=provenance.source_of(self.settings, in_memory),
            corpus_files=plan.listing.hashes,
            skipped=plan.listing.skipped,
            file_limits=FileLimits.of(self.settings).record(),
            index_version=content_version(self.embedder.name, self.settings, digests),
            built_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            build_seconds=round(time.perf_counter() - started, 2),
            encoded_texts=written.encoded,
            reused_vectors=written.reused,
            precision=getattr(self.embedder, "precision", "fp32"),
            query_encoder=encoder,
            segments=(),
            removed_documents={},  # tombstones are rows of their own (`state`)
            retired_passages={},
        )


def content_version(model: str, settings: Settings, digests: dict[str, str]) -> str:
    """Names the served content: the same documents (in order), model and settings give the same version."""
    h = hashlib.sha256(f"milvus\0{FORMAT_VERSION}\0{model}\0{json.dumps(build_settings(settings))}".encode())
    for doc_id, digest in digests.items():
        h.update(f"{doc_id}\0{digest}\n".encode())
    return h.hexdigest()[:12]


def _empty(plan: Plan) -> Segment:
    """No new documents: the question encoders are checked on none (`choice.ensure` keeps its record)."""
    return Segment([], [], [], np.zeros((0, 1), np.float32), np.zeros((0, 1), np.float32), Tokens.of([]), Tokens.of([]))


def _groups(docs: list[Document]) -> Iterator[list[Document]]:
    group: list[Document] = []
    size = 0
    for doc in docs:
        group.append(doc)
        size += len(doc.text)
        if size >= GROUP_CHARS:
            yield group
            group, size = [], 0
    if group:
        yield group


def _tokens(tokens: object, row: int) -> list[str]:
    vocab, ids, offsets = tokens.vocab, tokens.ids, tokens.offsets  # type: ignore[attr-defined]
    return [vocab[i] for i in ids[offsets[row] : offsets[row + 1]]]


def _passage_rows(segment: Segment, docs: dict[str, Document]) -> Iterator[dict]:
    sentence_lengths = [len(_tokens(segment.sentence_tokens, r)) for r in range(len(segment.sentence_vectors))]
    for row, (p, mine) in enumerate(zip(segment.passages, segment.sentence_rows, strict=True)):
        doc = docs[p.doc_id]
        terms = _tokens(segment.passage_tokens, row)
        yield {
            "row": schema.row_key(p.id), "id": p.id, "doc": p.doc_id, "start": p.start, "end": p.end, "length": len(terms),
            "text": p.text,
            "sentences": json.dumps([[s, e, sentence_lengths[r]] for (s, e), r in zip(p.sentences, mine, strict=True)]),
            "title": doc.title, "source": doc.source, "source_url": doc.source_url, "day": doc.date[:10],
            "terms": " ".join(terms), "vector": segment.vectors[row].tolist(),
        }  # fmt: skip


def _sentence_rows(segment: Segment) -> Iterator[dict]:
    seen: set[int] = set()
    for p, mine in zip(segment.passages, segment.sentence_rows, strict=True):
        for (s, e), r in zip(p.sentences, mine, strict=True):
            if r in seen:
                continue
            seen.add(r)
            terms = _tokens(segment.sentence_tokens, r)
            key = schema.sentence_row(p.doc_id, p.start + s, p.start + e)
            yield {"row": key, "doc": p.doc_id, "length": len(terms), "terms": " ".join(terms),
                   "vector": segment.sentence_vectors[r].tolist()}  # fmt: skip


def _check_keys(engine: Engine, part: str, rows: list[dict], owner: str) -> None:
    """Fail loudly when two rows hash to one key (about 1 in 2^63 a pair): in these rows, or
    against a row stored already with another `owner` (a passage's id; a sentence's document)."""
    owners = {r["row"]: r[owner] for r in rows}
    clash = len(owners) < len(rows)
    for at in range(0, len(rows), 2048):
        some = [r["row"] for r in rows[at : at + 2048]]
        clash = clash or any(owners[r["row"]] != r[owner] for r in engine.by_ids(part, some, ["row", owner]))
    if clash:
        raise CorpusError(f"two {part} hash to the same row key: rename one of their documents")


def _delete(engine: Engine, doc_ids: list[str]) -> None:
    """Every row of these documents: their commit first, then their passages and sentences."""
    for at in range(0, len(doc_ids), 256):
        expr = f"doc in [{', '.join(map(quoted, doc_ids[at : at + 256]))}]"
        for part in ("documents", "passages", "sentences"):
            engine.call("delete", engine.name(part), filter=expr)


def _all_passages(engine: Engine) -> dict[str, str]:
    return {r["id"]: r["doc"] for r in engine.each("passages", ["id", "doc"])}


def _tombstones(
    engine: Engine, before: EnginePrevious, plan: Plan, gone: list[str], leaving: dict[str, str], written: Written
) -> None:
    """Removed documents and retired passages get tombstones; those served again lose theirs."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    state.bury(engine, state.REMOVED, dict.fromkeys(gone, now))
    state.unbury(engine, state.REMOVED, [d.id for d in plan.new])
    state.bury(engine, state.RETIRED, {pid: doc for pid, doc in leaving.items() if pid not in written.passage_ids})
    state.unbury(engine, state.RETIRED, written.passage_ids)


def _segment_vectors(settings: Settings, embedder: Embedder) -> dict[str, np.ndarray]:
    """The vectors of a segment build of the same model and settings in the index folder, by
    embedded text: an index moved to Milvus (or a dataset `qa eval` cached) is not encoded again."""
    served = Previous.read(settings.index_dir)
    if not served.compatible(embedder.name, settings):
        return {}
    try:
        return served.old_rows(served.catalog, with_vectors=True, with_tokens=False).vectors  # Milvus keeps no token vectors
    except Unreadable as e:
        log.warning("the segment build in %s cannot lend its vectors (%s)", settings.index_dir, e)
        return {}
