"""Extractive question answering with citations: every answer is a verbatim, checkable quote.

import qa
qa.build_index_from("corpus/", index_dir="index/")
searcher = qa.open_index("index/")
for hit in searcher.search("How long did the war last?", k=3).hits:
    print(hit.score, hit.document.title, hit.passage.text[slice(*hit.highlight)])
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import Settings
from .errors import QAError

if TYPE_CHECKING:
    from .ingest.documents import Document
    from .ingest.passages import Passage
    from .retrieve.searcher import Hit, Searcher, SearchResult

_LAZY = {"Document": "documents", "Passage": "passages", "Hit": "search", "Searcher": "search", "SearchResult": "search"}


def __getattr__(name: str) -> Any:
    """The search classes are imported when first used, so that `qa --help` and a command's
    input checks do not wait for numpy, FAISS and BM25 to load."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Document",
    "Hit",
    "Passage",
    "QAError",
    "SearchResult",
    "Searcher",
    "Settings",
    "build_index_from",
    "open_index",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())


def open_index(index_dir: str | Path | None = None, **settings: Any) -> Searcher:
    """Open a built index for searching (loads the model named in the settings)."""
    from .retrieve.searcher import Searcher

    return Searcher.open(Settings.load(index_dir=index_dir, **settings))


def build_index_from(
    source: str | Path | Iterable[Document | dict], index_dir: str | Path | None = None, **settings: Any
) -> Path:
    """Build an index from a corpus folder, or from documents in memory (dicts with id, title, text)."""
    from .encode.embedder import passage_encoder
    from .index.build import build_index

    if isinstance(source, (str, Path)):
        config = Settings.load(corpus_dir=source, index_dir=index_dir, **settings)
        documents = None
    else:
        config = Settings.load(index_dir=index_dir, **settings)
        documents = source
    return build_index(config, passage_encoder(config), documents)
