"""Which corpus an index was built from: used when no corpus is named, never silently replaced,
and compared with the corpus folder (`qa status`).

A build records its corpus folder in the manifest, relative to the index folder (so that a
project moved or copied whole keeps its pairing), or IN_MEMORY for documents given in memory.
A command that names no corpus folder (no `--corpus`, no QA_CORPUS_DIR) works on the folder
its index records; building another corpus into an index that records a folder needs
`replace=True` (`--replace`), since it would swap every document the index serves.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..config import Settings
from ..errors import CorpusConflict, QAError
from ..ingest.documents import META_SUFFIX, file_hashes
from . import storage
from .manifest import IN_MEMORY, Manifest

__all__ = ["IN_MEMORY", "Status", "check_same_corpus", "recorded_folder", "served_manifest", "source_of", "status"]

log = logging.getLogger(__name__)


def source_of(settings: Settings, in_memory: bool) -> str:
    """What a build from these settings records as its corpus."""
    if in_memory:
        return IN_MEMORY
    return Path(os.path.relpath(settings.corpus_dir.resolve(), settings.index_dir.resolve())).as_posix()


def recorded_folder(manifest: Manifest | None, index_dir: Path) -> Path | None:
    """The corpus folder a manifest records (None: documents given in memory, or not recorded)."""
    recorded = manifest.corpus_dir if manifest is not None else IN_MEMORY
    return None if recorded == IN_MEMORY else (index_dir.resolve() / recorded).resolve()


def served_manifest(index_dir: Path) -> Manifest | None:
    try:
        return storage.read_manifest(storage.current_build(index_dir))
    except QAError:
        return None


def _served(settings: Settings) -> Manifest | None:
    """The served build's manifest on the settings' backend."""
    from .opening import served_manifest as on_backend

    return on_backend(settings)


def with_recorded_corpus(settings: Settings, manifest: Manifest | None = None) -> Settings:
    """`settings` with the corpus folder its index was built from, unless one was named."""
    if "corpus_dir" in settings.given:
        return settings
    manifest = _served(settings) if manifest is None else manifest
    recorded = recorded_folder(manifest, settings.index_dir)
    if recorded is None or recorded == settings.corpus_dir.resolve():
        return settings
    log.info("using the corpus folder the index %s was built from: %s", settings.index_dir, recorded)
    return settings.replace(corpus_dir=Path(recorded))


def check_same_corpus(manifest: Manifest | None, settings: Settings, in_memory: bool, replace: bool) -> None:
    """Refuse to build another corpus into an index built from a folder, unless `replace`."""
    recorded = recorded_folder(manifest, settings.index_dir)
    new = None if in_memory else settings.corpus_dir.resolve()
    if replace or recorded is None or recorded == new:
        return
    raise CorpusConflict(
        f"the index in {settings.index_dir} was built from {recorded}, not {'documents given in memory' if in_memory else new}: "
        "building would replace every document it serves. Give --replace to do that, or another --index"
    )


@dataclass(frozen=True)
class Status:
    index: Manifest | None  # the served build's manifest, None when there is no readable index
    added: list[str]  # corpus files that the index does not have
    changed: list[str]
    removed: list[str]  # in the index, no longer in the corpus folder
    problem: str = ""  # why the index could not be read
    build: str = ""  # the build on disk (CURRENT)


def status(corpus_dir: Path, index_dir: Path, settings: Settings | None = None) -> Status:
    """How the corpus folder differs from the served index (on the backend of `settings`, when given)."""
    corpus = file_hashes(corpus_dir) if corpus_dir.is_dir() else {}
    if settings is not None and settings.backend != "segments":
        found = _served(settings)
        if found is None:
            return Status(None, sorted(corpus), [], [], problem=f"no index in {settings.backend} at {settings.engine_uri}")
        build: str = settings.backend
        manifest = found
    else:
        try:
            folder = storage.current_build(index_dir)
            build, manifest = folder.name, storage.read_manifest(folder)
        except QAError as e:
            return Status(None, sorted(corpus), [], [], problem=e.message)
    indexed = manifest.corpus_files
    return Status(
        manifest,
        build=build,
        added=_labels(set(corpus) - set(indexed)),
        changed=_labels(name for name in set(corpus) & set(indexed) if corpus[name] != indexed[name]),
        removed=_labels(set(indexed) - set(corpus)),
    )


def _labels(names: Iterable[str]) -> list[str]:
    """File names as `qa status` shows them: a sidecar as its document's metadata."""
    return sorted(f"{n.removesuffix(META_SUFFIX)} (metadata)" if n.endswith(META_SUFFIX) else n for n in names)
