"""The searcher being served, swapped whole when the index on disk is reloaded.

A request takes `live.searcher` once and uses that object throughout, so it is answered wholly
from the index it started with; a reload builds a complete new `Searcher` (sharing the loaded
model) before it replaces the reference. A reload that fails (missing, damaged or mismatched
index) raises and leaves the served searcher as it was.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from .index import load_index
from .search import Searcher

log = logging.getLogger(__name__)


class LiveSearcher:
    def __init__(self, searcher: Searcher) -> None:
        self.searcher = searcher
        self._reloading = threading.Lock()

    def reload(self) -> tuple[str, str]:
        """Open the index at CURRENT and serve it; returns (previous version, new version)."""
        with self._reloading:
            old = self.searcher
            index = load_index(Path(old.settings.index_dir), model=old.settings.model)  # checksums verified
            self.searcher = old.with_index(index)
            log.info("serving index %s (was %s)", index.version, old.index.version)
            return old.index.version, index.version
