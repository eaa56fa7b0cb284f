"""Changing the corpus folder: adding and removing document files, and the documents written over HTTP."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from ..durable import fsync_path
from ..errors import Conflict, CorpusError, DocumentNotFound, StorageError
from .documents import META_SUFFIX, SUFFIXES, file_hashes, jsonl_lines


def add_files(paths: list[Path], corpus_dir: Path) -> list[str]:
    """Copy document files into the corpus folder (replacing files of the same name)."""
    for path in paths:
        if not path.is_file():
            raise CorpusError(f"{path}: no such file")
        if path.suffix.lower() not in SUFFIXES:
            raise CorpusError(f"{path}: not a document ({', '.join(sorted(SUFFIXES))})")
        if path.name == HTTP_DOCUMENTS:
            raise CorpusError(f"{path.name} holds the documents added over HTTP: give the file another name")
    corpus_dir.mkdir(parents=True, exist_ok=True)
    added = []
    for path in paths:
        shutil.copyfile(path, corpus_dir / path.name)
        sidecar = path.with_name(path.name + META_SUFFIX)
        if sidecar.is_file():
            shutil.copyfile(sidecar, corpus_dir / sidecar.name)
        else:  # a replaced file's old metadata must not stick to the new text
            (corpus_dir / sidecar.name).unlink(missing_ok=True)
        added.append(path.name)
    return added


def remove_files(doc_ids: list[str], corpus_dir: Path) -> list[str]:
    """Delete the files of these documents (a document of a file, not a .jsonl record)."""
    files = _file_document_ids(corpus_dir)
    for doc_id in doc_ids:
        if doc_id not in files:
            raise DocumentNotFound(
                f"no document file {doc_id!r} in {corpus_dir} (a .jsonl record is removed by editing its file)"
            )
    for doc_id in doc_ids:
        _unlink_document_file(corpus_dir, doc_id)
    return doc_ids


HTTP_DOCUMENTS = "http-documents.jsonl"  # documents added over HTTP, one JSON record a line, ids kept exactly
EDIT_LOCK = ".qa-edit.lock"  # held while a server changes the corpus folder (hidden: never a document)
MAX_ID_CHARS = 200


def put_document(corpus_dir: Path, record: dict, indexed_ids: Collection[str] = ()) -> bool:
    """Add or replace a document given over HTTP (kept in the corpus folder's HTTP_DOCUMENTS file,
    written atomically and fsynced before this returns). True when it replaced one.

    An id that belongs to a file or to a record of another .jsonl file (`indexed_ids` are the
    ids served now) is a Conflict: that document is changed in its file."""
    doc_id = record["id"]
    existing = _http_records(corpus_dir)
    mine = any(r["id"] == doc_id for r in existing)  # (`in`, not a set: a remote index's ids are looked up, never listed)
    if not mine and (doc_id in indexed_ids or doc_id in _file_document_ids(corpus_dir)):
        raise Conflict(f"document {doc_id!r} comes from a file in the corpus folder: change that file instead")
    records = [r for r in existing if r["id"] != doc_id]
    _write_http_records(corpus_dir, [*records, record])
    return len(records) < len(existing)


def delete_document(corpus_dir: Path, doc_id: str) -> None:
    """Remove a document: its record if it came over HTTP, else its file."""
    records = _http_records(corpus_dir)
    if any(r["id"] == doc_id for r in records):
        _write_http_records(corpus_dir, [r for r in records if r["id"] != doc_id])
    elif doc_id in _file_document_ids(corpus_dir):
        _unlink_document_file(corpus_dir, doc_id)
    else:
        raise DocumentNotFound(f"no document with id {doc_id!r}")


def _file_document_ids(corpus_dir: Path) -> set[str]:
    """Ids of the documents that are files of their own (not .jsonl records, not sidecars)."""
    if not corpus_dir.is_dir():
        return set()
    return {n for n in file_hashes(corpus_dir) if not n.endswith((".jsonl", META_SUFFIX))}


def _unlink_document_file(corpus_dir: Path, doc_id: str) -> None:
    (corpus_dir / doc_id).unlink()
    (corpus_dir / (doc_id + META_SUFFIX)).unlink(missing_ok=True)
    fsync_path(corpus_dir)


@contextmanager
def editing(corpus_dir: Path) -> Iterator[None]:
    """One change of the corpus folder at a time, across processes: every server of a corpus
    takes this lock around its read, write and indexing of a change (fcntl.flock on EDIT_LOCK)."""
    with _lock_file(corpus_dir) as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _lock_file(corpus_dir: Path) -> TextIO:
    try:
        corpus_dir.mkdir(parents=True, exist_ok=True)
        return open(corpus_dir / EDIT_LOCK, "a")
    except OSError as e:
        raise StorageError(f"cannot change the corpus folder {corpus_dir} ({e.strerror or e})") from None


def _http_records(corpus_dir: Path) -> list[dict]:
    path = corpus_dir / HTTP_DOCUMENTS
    if not path.exists():
        return []
    return [json.loads(line) for line in jsonl_lines(path.read_text(encoding="utf-8")) if line.strip()]


def _write_http_records(corpus_dir: Path, records: list[dict]) -> None:
    """Written to a temporary file of this writer's own, fsynced, renamed over the old one; a
    failure (a full disk) removes the temporary file and changes nothing."""
    corpus_dir.mkdir(parents=True, exist_ok=True)
    path = corpus_dir / HTTP_DOCUMENTS
    if not records:
        path.unlink(missing_ok=True)
        fsync_path(corpus_dir)
        return
    tmp = corpus_dir / f".{HTTP_DOCUMENTS}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_path(corpus_dir)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise StorageError(
            f"cannot write {HTTP_DOCUMENTS} in the corpus folder ({e.strerror or e}); nothing was changed"
        ) from None


def backup(corpus_dir: Path, doc_id: str) -> dict[Path, bytes | None]:
    """The files a change of `doc_id` may touch, as they are now (None: absent), for `restore`."""
    paths = [corpus_dir / HTTP_DOCUMENTS]
    if doc_id in _file_document_ids(corpus_dir):
        paths += [corpus_dir / doc_id, corpus_dir / (doc_id + META_SUFFIX)]
    return {p: p.read_bytes() if p.is_file() else None for p in paths}


def fingerprint(saved: dict[Path, bytes | None]) -> dict[Path, str | None]:
    """The sha256 of each file `backup` saved, as it is now (None: absent)."""
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None for p in saved}


def restore(corpus_dir: Path, saved: dict[Path, bytes | None]) -> None:
    """Put the files back as `backup` found them (after a change whose indexing failed)."""
    for path, data in saved.items():
        if data is None:
            path.unlink(missing_ok=True)
        else:
            path.write_bytes(data)
    fsync_path(corpus_dir)
