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
from contextlib import nullcontext
from pathlib import Path

from ..errors import QAError
from ..index import storage
from ..index.load import Index, load_index
from .changes import Changes
from .question_encoder import QuestionEncoder
from .searcher import Searcher

log = logging.getLogger(__name__)


class LiveSearcher:
    """The searcher a server answers from, and the question encoder every index it serves shares."""

    def __init__(self, searcher: Searcher[Index]) -> None:
        self.searcher = searcher
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
        """Whether CURRENT names another build than the one served (another process built one)."""
        served = self.searcher.index.folder
        try:
            return served is not None and storage.current_build(served.parent).name != served.name
        except QAError:  # no complete build named: keep serving this one
            return False

    def reload(self) -> tuple[str, str]:
        """Open the index at CURRENT and serve it; returns (previous version, new version)."""
        with self.changing:
            return self._swap()

    def _swap(self) -> tuple[str, str]:
        old = self.searcher
        index = load_index(Path(old.settings.index_dir), model=old.settings.model)  # checksums verified
        self.searcher = Searcher(index, self.encoder, old.settings)
        self.swaps += 1  # under `changing`: one swap at a time
        log.info("serving index %s (was %s)", index.version, old.index.version)
        return old.index.version, index.version
