"""BM25's collection statistics kept in the engine, so that no replica counts them.

BM25 needs, besides a row's own tokens, the number of texts (N), their average length and each
query word's document frequency (df). The writer keeps these in the engine: `Stats` (passages and
distinct sentences, and the sums of their lengths) in a row of the state collection, and each
word's df among passages and among sentences in the `{prefix}_terms` collection. A replica reads
the stats on open (one row) and a question's words' df by key (a recent few kept), so its memory
and open time do not grow with the passages.

The writer counts them again from the stored tokens at the end of every build (`recount`): exact
whatever a killed build left, but a pass over every row in the writer (once per build, never per
replica). Keeping them incrementally (subtract a document's old rows, add its new ones) is the
next step; see NOTES-stateless.md.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from ..records import Recent
from .engine import Engine
from .schema import DUMMY, term_key

STATS = "stats"  # the state row holding `Stats`
BATCH = 1000
KEPT_WORDS = 65_536


@dataclass(frozen=True)
class Stats:
    """How many passages and distinct sentences are served, and their BM25 tokens in all."""

    passages: int = 0
    passage_tokens: int = 0
    sentences: int = 0
    sentence_tokens: int = 0

    @property
    def passage_average(self) -> float:
        return self.passage_tokens / self.passages if self.passages else 0.0

    @property
    def sentence_average(self) -> float:
        return self.sentence_tokens / self.sentences if self.sentences else 0.0


def read_stats(engine: Engine) -> Stats | None:
    """The stats the last build recorded (None: built by a qa that kept none)."""
    rows = engine.by_ids("state", [STATS], ["value"])
    return Stats(**json.loads(rows[0]["value"])) if rows else None


def recount(engine: Engine) -> Stats:
    """Count N, lengths and every word's df from the stored rows; store them (stale words deleted)."""
    df: dict[str, Counter[str]] = {}
    totals: list[int] = []
    for part in ("passages", "sentences"):
        counts: Counter[str] = Counter()
        n = tokens = 0
        for row in engine.each(part, ["length", "terms"]):
            counts.update(set(row["terms"].split()))
            n, tokens = n + 1, tokens + int(row["length"])
        df[part], totals = counts, [*totals, n, tokens]
    words = sorted(set(df["passages"]) | set(df["sentences"]))
    rows = [{"id": term_key(w), "passages": df["passages"][w], "sentences": df["sentences"][w], "vector": DUMMY} for w in words]
    for at in range(0, len(rows), BATCH):
        engine.call("upsert", engine.name("terms"), rows[at : at + BATCH])
    kept = {r["id"] for r in rows}
    stale = [r["id"] for r in engine.each("terms", ["id"]) if r["id"] not in kept]
    for at in range(0, len(stale), BATCH):
        engine.call("delete", engine.name("terms"), ids=stale[at : at + BATCH])
    stats = Stats(*totals)
    engine.call("upsert", engine.name("state"), [{"id": STATS, "doc": STATS, "chunk": 0, "value": json.dumps(asdict(stats)),
                                                  "vector": DUMMY}])  # fmt: skip
    return stats


class Frequencies:
    """Words' document frequencies read from the engine by key, a recent `KEPT_WORDS` remembered
    (one `Frequencies` per opened version, so a reload forgets them)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._known: Recent[str, tuple[int, int]] = Recent(KEPT_WORDS)
        self._lock = threading.Lock()

    def of(self, words: Sequence[str], part: str) -> np.ndarray:
        """How many passages (`part` "passages") or sentences hold each word."""
        column = 0 if part == "passages" else 1
        return np.array([self._counts(words)[w][column] for w in words], dtype=np.int64)

    def _counts(self, words: Sequence[str]) -> dict[str, tuple[int, int]]:
        with self._lock:
            known = {w: self._known.get(w) for w in dict.fromkeys(words)}
        missing = {term_key(w): w for w, c in known.items() if c is None}
        if missing:
            found = {w: (0, 0) for w in missing.values()}
            for row in self.engine.by_ids("terms", list(missing), ["id", "passages", "sentences"]):
                found[missing[row["id"]]] = (int(row["passages"]), int(row["sentences"]))
            with self._lock:
                for w, c in found.items():
                    self._known.put(w, c)
            known |= found
        return known  # type: ignore[return-value]
