"""The searcher being served, swapped whole when the index on disk is reloaded.

A request takes `live.searcher` once and uses that object throughout, so it is answered wholly
from the index it started with; a reload builds a complete new `Searcher` before it replaces the
reference. The question encoder and its lock belong here, not to any one searcher: every index
served in turn is searched with the same loaded model, under the same lock. A reload that fails
(missing, damaged or mismatched index) raises and leaves the served searcher as it was.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import nullcontext
from typing import Any

from ..errors import QAError
from ..index import storage
from ..index.opening import open_index, served_version
from .changes import Changes
from .question_encoder import QuestionEncoder
from .searcher import Searcher

log = logging.getLogger(__name__)


class LiveSearcher:
    """The searcher a server answers from, and the question encoder every index it serves shares."""

    def __init__(self, searcher: Searcher[Any]) -> None:
        self.searcher = searcher
        self._looked = time.monotonic()  # when a remote index's version was last compared
        self.encoder: QuestionEncoder = searcher.encoder  # the model and its lock, for every index served
        self.changing = threading.RLock()  # one rebuild or reload at a time
        self.changes = Changes(self)  # corpus changes made through this server, indexed in the background
        self.swaps = 0  # indexes served in turn after the first (reloads and rebuilds): what metrics count

    def rebuild(self) -> tuple[str, str]:
        """Build from the corpus folder (encoding only what changed) and serve the result.

        Searches go on meanwhile, answered from the served index: the build has an encoder and a
        stemmer of its own. Only where passages and questions share one torch model do searches
        wait for the build. Returns (previous version, new version)."""
        from ..index.build import build_index

        with self.changing:
            settings = self.searcher.settings
            encoder = self.encoder.passage_encoder(settings)
            with self.encoder.lock if encoder is self.encoder.embedder else nullcontext():
                build_index(settings, encoder)
            return self._swap()

    def behind(self) -> bool:
        """Whether CURRENT names another build than the one served (another process built one).
        A remote index (no folder here) is due a look at its version every `reload_interval`
        seconds: `reload(only_if_changed=True)` then compares, off the caller's thread."""
        if self.searcher.index.candidates_only and self.searcher.index.folder is None:
            due = time.monotonic() - self._looked >= self.searcher.settings.reload_interval
            if due:
                self._looked = time.monotonic()
            return due
        served = self.searcher.index.folder
        try:
            return served is not None and storage.current_build(served.parent).name != served.name
        except QAError:  # no complete build named: keep serving this one
            return False

    def reload(self, only_if_changed: bool = False) -> tuple[str, str]:
        """Open the index at CURRENT (or in the engine) and serve it; returns (previous version,
        new version). `only_if_changed`: keep the served index when the backend's version is its."""
        with self.changing:
            served = self.searcher.index.version
            if only_if_changed and self.searcher.index.folder is None and served_version(self.searcher.settings) == served:
                return served, served
            return self._swap()

    def _swap(self) -> tuple[str, str]:
        old = self.searcher
        index = open_index(old.settings, model=old.settings.model)  # checksums verified
        self.searcher = Searcher(index, self.encoder, old.settings)
        self.swaps += 1  # under `changing`: one swap at a time
        log.info("serving index %s (was %s)", index.version, old.index.version)
        return old.index.version, index.version
