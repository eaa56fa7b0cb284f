"""Changing the corpus folder (add and remove document files) and comparing it with the index."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from . import storage
from .documents import SUFFIXES, file_hashes
from .errors import CorpusError, DocumentNotFound, QAError


@dataclass(frozen=True)
class Status:
    index: dict | None  # the served build's manifest, None when there is no readable index
    added: list[str]  # corpus files that the index does not have
    changed: list[str]
    removed: list[str]  # in the index, no longer in the corpus folder
    problem: str = ""  # why the index could not be read


def add_files(paths: list[Path], corpus_dir: Path) -> list[str]:
    """Copy document files into the corpus folder (replacing files of the same name)."""
    for path in paths:
        if not path.is_file():
            raise CorpusError(f"{path}: no such file")
        if path.suffix.lower() not in SUFFIXES:
            raise CorpusError(f"{path}: not a document ({', '.join(sorted(SUFFIXES))})")
    corpus_dir.mkdir(parents=True, exist_ok=True)
    added = []
    for path in paths:
        shutil.copyfile(path, corpus_dir / path.name)
        added.append(path.name)
    return added


def remove_files(doc_ids: list[str], corpus_dir: Path) -> list[str]:
    """Delete the files of these documents (a document of a file, not a .jsonl record)."""
    files = set(file_hashes(corpus_dir))
    for doc_id in doc_ids:
        if doc_id not in files:
            raise DocumentNotFound(f"no document file {doc_id!r} in {corpus_dir} (a .jsonl record is removed by editing its file)")
    for doc_id in doc_ids:
        (corpus_dir / doc_id).unlink()
    return doc_ids


def status(corpus_dir: Path, index_dir: Path) -> Status:
    corpus = file_hashes(corpus_dir) if corpus_dir.is_dir() else {}
    try:
        manifest = storage.read_manifest(storage.current_build(index_dir))
    except QAError as e:
        return Status(None, sorted(corpus), [], [], problem=e.message)
    indexed = manifest.get("corpus_files", {})
    return Status(
        manifest,
        added=sorted(set(corpus) - set(indexed)),
        changed=sorted(name for name in set(corpus) & set(indexed) if corpus[name] != indexed[name]),
        removed=sorted(set(indexed) - set(corpus)),
    )
