"""Which backend serves an index, chosen by `settings.backend`: the one factory that `Searcher.open`,
the live searcher's reloads, `qa status` and the build reports use.

`segments` opens the build folder at CURRENT (`load.load_index`); `milvus` opens the collections
in the Milvus engine the settings name (`milvus.reader.MilvusIndex`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..config import Settings
from ..errors import QAError
from . import storage
from .load import Index, load_index
from .manifest import Manifest

if TYPE_CHECKING:
    from .milvus.reader import MilvusIndex


def open_index(settings: Settings, model: str | None = None) -> Index | MilvusIndex:
    """The served index of these settings, checked against `model` (None: any)."""
    if settings.backend == "milvus":
        from .milvus.engine import Engine
        from .milvus.reader import MilvusIndex

        return MilvusIndex.open(Engine(settings), model)
    return load_index(Path(settings.index_dir), model=model)


def served_manifest(settings: Settings) -> Manifest | None:
    """The manifest of the served build (None: none, or it cannot be read)."""
    try:
        if settings.backend == "milvus":
            from .milvus import state
            from .milvus.engine import Engine

            engine = Engine(settings)
            return state.read_manifest(engine) if engine.exists() else None
        return storage.read_manifest(storage.current_build(settings.index_dir))
    except QAError:
        return None


def served_version(settings: Settings) -> str:
    """The version the backend serves now, asked cheaply ("" for none); raises when it cannot be asked."""
    if settings.backend == "milvus":
        from .milvus import state
        from .milvus.engine import Engine

        return state.version(Engine(settings))
    return storage.read_manifest(storage.current_build(settings.index_dir)).index_version
