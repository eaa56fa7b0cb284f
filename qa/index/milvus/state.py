"""What the engine records besides the rows: the manifest, the version, the committed documents
and the tombstones.

The manifest (the same record a segment build writes to manifest.json, without the tombstones)
is stored in chunks of the state collection, the version in a row of its own (what replicas poll).
A document is committed when its metadata row (chunk 0 of the documents collection) is written,
after its passages, sentences and text: a killed build leaves the rest uncommitted, and the next
build encodes only those. Tombstones are rows `removed:<doc id>` and `retired:<passage id>`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from ...errors import IndexMismatchError
from ...ingest.documents import Document
from ..manifest import Manifest
from .engine import Engine, quoted
from .schema import DUMMY, TEXT_CHUNK_BYTES, chunks

VERSION, MANIFEST, REMOVED, RETIRED = "version", "manifest", "removed:", "retired:"


@dataclass(frozen=True)
class Committed:
    """A committed document: its metadata (text left out), place in corpus order, digest and file."""

    doc: Document  # with text ""
    position: int
    digest: str
    file: str
    chunks: int  # how many text chunks hold its text


def record(key: str, value: str, chunk: int = 0, doc: str = "") -> dict:
    return {"id": key, "doc": doc or key, "chunk": chunk, "value": value, "vector": DUMMY}


def version(engine: Engine) -> str:
    """The version of what the engine serves ("" when nothing was built)."""
    rows = engine.by_ids("state", [VERSION], ["value"])
    return str(rows[0]["value"]) if rows else ""


def read_manifest(engine: Engine) -> Manifest | None:
    """The manifest of the last complete build (None: none yet)."""
    rows = sorted(engine.each("state", ["chunk", "value"], filter=f"doc == {quoted(MANIFEST)}"), key=lambda r: r["chunk"])
    if not rows:
        return None
    try:
        return Manifest.from_json(json.loads("".join(r["value"] for r in rows)))
    except ValueError as e:
        raise IndexMismatchError(f"the manifest in Milvus at {engine.describe()} cannot be read ({e})") from None


def write_manifest(engine: Engine, manifest: Manifest) -> None:
    """Store the manifest, then the version (the version is what replicas watch: it goes last)."""
    pieces = chunks(json.dumps(manifest.to_json(), ensure_ascii=False), TEXT_CHUNK_BYTES)
    engine.call("upsert", engine.name("state"), [record(f"{MANIFEST}#{n}", p, n, MANIFEST) for n, p in enumerate(pieces)])
    engine.call("delete", engine.name("state"), filter=f"doc == {quoted(MANIFEST)} and chunk >= {len(pieces)}")
    engine.call("upsert", engine.name("state"), [record(VERSION, manifest.index_version)])


def committed(engine: Engine) -> dict[str, Committed]:
    """The committed documents by id, in corpus order."""
    found = [_committed(row["value"]) for row in engine.each("documents", ["value"], filter="chunk == 0")]
    return {c.doc.id: c for c in sorted(found, key=lambda c: c.position)}


def commits(engine: Engine, doc_ids: list[str]) -> dict[str, Committed]:
    """The commits of those of these documents that are committed, by id (their metadata rows by key)."""
    rows = engine.by_ids("documents", [f"{d}#0" for d in doc_ids], ["doc", "value"])
    return {str(r["doc"]): _committed(r["value"]) for r in rows}


def _committed(value: str) -> Committed:
    meta = json.loads(value)
    position, digest, file, n = meta.pop("_position"), meta.pop("_digest"), meta.pop("_file"), meta.pop("_chunks")
    return Committed(Document(**meta, text=""), position, digest, file, n)


def commit_rows(doc: Document, position: int, digest: str, file: str) -> tuple[list[dict], dict]:
    """A document's text chunks (chunk 1...) and its metadata row (chunk 0: its commit)."""
    pieces = chunks(doc.text)
    text = [record(f"{doc.id}#{n}", piece, n, doc.id) for n, piece in enumerate(pieces, 1)]
    meta = {k: v for k, v in doc.to_dict().items() if k != "text"}
    meta |= {"_position": position, "_digest": digest, "_file": file, "_chunks": len(pieces)}
    return text, record(f"{doc.id}#0", json.dumps(meta, ensure_ascii=False), 0, doc.id)


def position_row(c: Committed, position: int) -> dict:
    """A committed document's metadata row at another place in corpus order."""
    meta = {k: v for k, v in c.doc.to_dict().items() if k != "text"}
    meta |= {"_position": position, "_digest": c.digest, "_file": c.file, "_chunks": c.chunks}
    return record(f"{c.doc.id}#0", json.dumps(meta, ensure_ascii=False), 0, c.doc.id)


def document_text(engine: Engine, doc_id: str, n: int) -> str:
    rows = engine.by_ids("documents", [f"{doc_id}#{k}" for k in range(1, n + 1)], ["chunk", "value"])
    return "".join(r["value"] for r in sorted(rows, key=lambda r: r["chunk"]))


def tombstone(engine: Engine, kind: str, key: str) -> str | None:
    """A tombstone's value (when a document went; a passage's document), or None."""
    rows = engine.by_ids("state", [kind + key], ["value"])
    return str(rows[0]["value"]) if rows else None


def bury(engine: Engine, kind: str, values: dict[str, str]) -> None:
    rows = [record(kind + key, value, 0, kind) for key, value in values.items()]
    for at in range(0, len(rows), 1000):
        engine.call("upsert", engine.name("state"), rows[at : at + 1000])


def unbury(engine: Engine, kind: str, keys: Iterable[str]) -> None:
    ids = [kind + key for key in keys]
    for at in range(0, len(ids), 1000):
        engine.call("delete", engine.name("state"), ids=ids[at : at + 1000])
