"""Corpus changes made through a server (admin PUT and DELETE): each is written to the corpus
folder and fsynced at once, then indexed in the background by one thread per server, which
folds the changes that wait into one build. Searches are answered from the served index all the
while, and the new build is swapped in when it is ready.

A caller waits for its change to be searchable for at most a bound (`Change.wait`); after that
the change is still on disk and still being indexed, and `Changes.get` says how it went. When
indexing fails, the changes of that build are undone, newest first, as long as nothing was
written after them (otherwise they stay in the folder for the next build to index).
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import QAError
from ..ingest import corpus_folder as corpus

if TYPE_CHECKING:
    from .live import LiveSearcher

log = logging.getLogger(__name__)

REMEMBERED = 1000  # the most recent changes whose outcome a server can tell


@dataclass
class Change:
    id: str
    doc_id: str
    status: str  # added, replaced or removed
    saved: dict[Path, bytes | None]  # the files before the change (`corpus.backup`)
    written: dict[Path, str | None]  # their fingerprints right after it
    state: str = "indexing"  # then indexed or failed
    index_version: str = ""
    error: BaseException | None = None
    undone: bool = False
    _done: threading.Event = field(default_factory=threading.Event, repr=False)

    def wait(self, seconds: float) -> bool:
        """Whether the change was indexed, or failed, within `seconds`."""
        return self._done.wait(seconds)

    def as_json(self) -> dict:
        out: dict[str, object] = {"change": self.id, "id": self.doc_id, "status": self.status, "state": self.state}
        if self.index_version:
            out["index_version"] = self.index_version
        if self.error is not None:
            code = self.error.code if isinstance(self.error, QAError) else "internal_error"
            out["error"] = {"code": code, "message": str(self.error) if isinstance(self.error, QAError) else "indexing failed"}
            out["undone"] = self.undone
        return out

    def finish(self, state: str, version: str = "", error: BaseException | None = None) -> None:
        """Record how indexing went (indexed or failed) and wake whoever waits."""
        self.state, self.index_version, self.error = state, version, error
        self._done.set()


class Changes:
    """The changes one server accepted, and the thread that indexes them."""

    def __init__(self, live: LiveSearcher) -> None:
        self._live = live
        self._waiting: list[Change] = []
        self._recent: dict[str, Change] = {}
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def submit(self, doc_id: str, status: str, saved: dict[Path, bytes | None]) -> Change:
        """Queue a change just written (call it under `corpus.editing`, before another writer
        can touch the files)."""
        change = Change(uuid.uuid4().hex[:12], doc_id, status, saved, corpus.fingerprint(saved))
        with self._cond:
            self._waiting.append(change)
            self._recent[change.id] = change
            while len(self._recent) > REMEMBERED:
                del self._recent[next(iter(self._recent))]
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="qa-indexer", daemon=True)
                self._thread.start()
            self._cond.notify()
        return change

    def get(self, change_id: str) -> Change | None:
        with self._cond:
            return self._recent.get(change_id)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._waiting:
                    self._cond.wait()
                batch, self._waiting = self._waiting, []
            try:
                version = self._live.rebuild()[1]
            except BaseException as e:  # reported to the callers; the thread goes on
                if not isinstance(e, QAError):
                    log.exception("indexing %d change(s) failed", len(batch))
                self._undo(batch)
                for change in batch:
                    change.finish("failed", error=e)
            else:
                for change in batch:
                    change.finish("indexed", version)

    def _undo(self, batch: list[Change]) -> None:
        folder = self._live.searcher.settings.corpus_dir
        with corpus.editing(folder):
            for change in reversed(batch):
                if corpus.fingerprint(change.saved) != change.written:
                    break  # written over since: it stays, for the next build
                corpus.restore(folder, change.saved)
                change.undone = True
