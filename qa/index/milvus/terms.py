"""BM25's collection statistics kept in the engine, so that no replica counts them.

BM25 needs, besides a row's own tokens, the number of texts (N), their average length and each
query word's document frequency (df). The writer keeps these in the engine: `Stats` (passages and
distinct sentences, and the sums of their lengths) in a row of the state collection, and each
word's df among passages and among sentences in the `{prefix}_terms` collection. A replica reads
the stats on open (one row) and a question's words' df by key (a recent few kept), so its memory
and open time do not grow with the passages.

The writer keeps them incrementally (`Delta`): the stored rows of each document it deletes or
replaces are subtracted, the rows it writes added, and the changed words' counts updated at the
end of the build, so a write costs what it touches (a first or full build counts from zero as it
writes). A build marks the counts pending while it runs; one that finds the mark of a build
killed before it (whose rows were written but never counted) counts everything again from the
stored tokens (`recount`).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from ..records import Recent
from .engine import Engine, quoted
from .schema import DUMMY, term_key

STATS = "stats"  # the state row holding `Stats`
PENDING = "stats:pending"  # the state row a build holds while it changes rows: the counts may lag them
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
    _store(engine, STATS, json.dumps(asdict(stats)))
    return stats


def _store(engine: Engine, key: str, value: str) -> None:
    engine.call("upsert", engine.name("state"), [{"id": key, "doc": key, "chunk": 0, "value": value, "vector": DUMMY}])


def begin(engine: Engine, fresh: bool) -> Delta | None:
    """Mark the counts pending for a build; the `Delta` to keep them with, or None when they must
    be counted again at the end (a build was killed: its rows may be uncounted). `fresh`: the
    rows were all dropped (the counts start from zero)."""
    killed = bool(engine.by_ids("state", [PENDING], ["value"]))
    stats = read_stats(engine)
    _store(engine, PENDING, "1")
    if killed or (stats is None and not fresh and engine.count("passages", "row >= 0")):
        return None
    return Delta(Stats() if fresh or stats is None else stats)


def finish(engine: Engine, delta: Delta | None) -> Stats:
    """Apply a build's changes to the counts (None: count everything again), then clear the mark."""
    stats = recount(engine) if delta is None else delta.apply(engine)
    engine.call("delete", engine.name("state"), ids=[PENDING])
    return stats


class Delta:
    """What a build changed in the counts: rows written (+1) and rows deleted (-1), per part."""

    def __init__(self, base: Stats) -> None:
        self.base = base  # the counts before the build
        self.df: dict[str, Counter[str]] = {"passages": Counter(), "sentences": Counter()}
        self.totals = {"passages": [0, 0], "sentences": [0, 0]}

    def add(self, part: str, rows: list[dict], sign: int = 1) -> None:
        df, totals = self.df[part], self.totals[part]
        for row in rows:
            for word in set(row["terms"].split()):
                df[word] += sign
            totals[0] += sign
            totals[1] += sign * int(row["length"])

    def forget(self, engine: Engine, doc_ids: list[str]) -> None:
        """Subtract the stored rows of these documents (before they are deleted)."""

        for at in range(0, len(doc_ids), 256):
            expr = f"doc in [{', '.join(map(quoted, doc_ids[at : at + 256]))}]"
            for part in ("passages", "sentences"):
                self.add(part, list(engine.each(part, ["terms", "length"], filter=expr)), -1)

    def apply(self, engine: Engine) -> Stats:
        """The changed words' counts updated in the engine (a word no row holds any more deleted)."""
        words = sorted(w for part in self.df.values() for w, n in part.items() if n)
        keys = {term_key(w): w for w in dict.fromkeys(words)}
        now = {keys[r["id"]]: (int(r["passages"]), int(r["sentences"])) for r in engine.by_ids("terms", list(keys),
               ["id", "passages", "sentences"])}  # fmt: skip
        rows, gone = [], []
        for key, w in keys.items():
            held = now.get(w, (0, 0))
            p, s = held[0] + self.df["passages"][w], held[1] + self.df["sentences"][w]
            if p or s:
                rows.append({"id": key, "passages": p, "sentences": s, "vector": DUMMY})
            else:
                gone.append(key)
        for at in range(0, len(rows), BATCH):
            engine.call("upsert", engine.name("terms"), rows[at : at + BATCH])
        for at in range(0, len(gone), BATCH):
            engine.call("delete", engine.name("terms"), ids=gone[at : at + BATCH])
        before, dp, ds = self.base, self.totals["passages"], self.totals["sentences"]
        stats = Stats(
            before.passages + dp[0], before.passage_tokens + dp[1], before.sentences + ds[0], before.sentence_tokens + ds[1]
        )
        _store(engine, STATS, json.dumps(asdict(stats)))
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
