"""Which corpus an index was built from: used when no corpus is named, and never silently replaced.

A build records its corpus folder in the manifest, relative to the index folder (so that a
project moved or copied whole keeps its pairing), or IN_MEMORY for documents given in memory. A command that names no corpus folder (no `--corpus`, no QA_CORPUS_DIR) works on the
folder its index records; building another corpus into an index that records a folder needs
`replace=True` (`--replace`), since it would swap every document the index serves.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Mapping

from . import storage
from .config import Settings
from .errors import CorpusConflict, QAError

log = logging.getLogger(__name__)

IN_MEMORY = "<documents given in memory>"


def source_of(settings: Settings, in_memory: bool) -> str:
    """What a build from these settings records as its corpus."""
    if in_memory:
        return IN_MEMORY
    return Path(os.path.relpath(settings.corpus_dir.resolve(), settings.index_dir.resolve())).as_posix()


def recorded_folder(manifest: Mapping | None, index_dir: Path) -> Path | None:
    """The corpus folder a manifest records (None: documents given in memory, or not recorded)."""
    recorded = (manifest or {}).get("corpus_dir", IN_MEMORY)
    return None if recorded == IN_MEMORY else (index_dir.resolve() / recorded).resolve()


def served_manifest(index_dir: Path) -> dict | None:
    try:
        return storage.read_manifest(storage.current_build(index_dir))
    except QAError:
        return None


def with_recorded_corpus(settings: Settings, manifest: Mapping | None = None) -> Settings:
    """`settings` with the corpus folder its index was built from, unless one was named."""
    if "corpus_dir" in settings.given:
        return settings
    manifest = served_manifest(settings.index_dir) if manifest is None else manifest
    recorded = recorded_folder(manifest, settings.index_dir)
    if recorded is None or recorded == settings.corpus_dir.resolve():
        return settings
    log.info("using the corpus folder the index %s was built from: %s", settings.index_dir, recorded)
    return settings.replace(corpus_dir=Path(recorded))


def check_same_corpus(manifest: Mapping | None, settings: Settings, in_memory: bool, replace: bool) -> None:
    """Refuse to build another corpus into an index built from a folder, unless `replace`."""
    recorded = recorded_folder(manifest, settings.index_dir)
    new = None if in_memory else settings.corpus_dir.resolve()
    if replace or recorded is None or recorded == new:
        return
    raise CorpusConflict(
        f"the index in {settings.index_dir} was built from {recorded}, not {'documents given in memory' if in_memory else new}: "
        "building would replace every document it serves. Give --replace to do that, or another --index"
    )
