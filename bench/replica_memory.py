"""What a qa replica on the Milvus backend holds per passage: the row table it reads on open.

    .venv/bin/python bench/replica_memory.py [--passages 200000]

`MilvusIndex` reads every passage's id, document, span, token count and sentence spans from the
engine when it opens (and again on each reload), as `RowTable.read` and the id-to-row map. This
feeds `RowTable.read` rows shaped as the engine returns them (16-hex ids, 3.25 sentences a
passage as in bench/results/scale-1m.json) from a stand-in engine, and measures with tracemalloc
the memory held after (steady) and at most during the read (peak), per passage, and the read's own
time (without tracemalloc); docs/scale-out.md multiplies them by 100M. No Milvus is needed: only
the replica's own work is measured, not the engine's or the network's.
"""

from __future__ import annotations

import argparse
import json
import time
import tracemalloc
from collections.abc import Iterator

from qa.index.milvus.reader import RowTable

SENTENCES = (3, 3, 3, 4)  # 3.25 a passage on average
PER_DOCUMENT = 20  # passages a document


class Engine:
    """Stands in for `qa.index.milvus.engine.Engine.each`: the passages' rows, as Milvus returns them."""

    def __init__(self, passages: int) -> None:
        self.passages = passages

    def each(self, part: str, fields: list[str], filter: str = "", batch: int = 4096) -> Iterator[dict]:
        for n in range(self.passages):
            count = SENTENCES[n % len(SENTENCES)]
            spans = [[i * 150, i * 150 + 140, 30] for i in range(count)]
            start = (n % PER_DOCUMENT) * 600
            yield {"id": f"{n:016x}", "doc": f"doc-{n // PER_DOCUMENT:09d}.txt", "start": start,
                   "end": start + 680, "length": 74, "sentences": json.dumps(spans)}  # fmt: skip


class Documents:
    """The committed documents' positions, as `reader.Documents` gives them."""

    def __init__(self, passages: int) -> None:
        self.ids = {f"doc-{d:09d}.txt": d for d in range(passages // PER_DOCUMENT + 1)}

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self.ids

    def position(self, doc_id: str) -> int:
        return self.ids[doc_id]


def measure(passages: int) -> dict[str, float]:
    engine, documents = Engine(passages), Documents(passages)
    began = time.perf_counter()
    RowTable.read(engine, documents)  # type: ignore[arg-type]
    seconds = time.perf_counter() - began  # this process's own work; the engine's and the network's come on top
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    rows = RowTable.read(engine, documents)  # type: ignore[arg-type]
    row_of = {pid: n for n, pid in enumerate(rows.ids)}  # as MilvusIndex.__init__ builds it
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(row_of) == passages
    return {
        "passages": passages,
        "steady_bytes": (held - base) / passages,
        "peak_bytes": (peak - base) / passages,
        "read_us": seconds / passages * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, default=200_000)
    result = measure(parser.parse_args().passages)
    at_100m = {"steady_gb": result["steady_bytes"] / 10, "peak_gb": result["peak_bytes"] / 10, "read_s": result["read_us"] * 100}
    print(json.dumps(result | {"at_100m": at_100m}))


if __name__ == "__main__":
    main()
