"""How Milvus Lite (milvus-lite 3.2, a pure-Python engine) answers as a collection grows: a
TEXT_MATCH count, a BM25 search and a dense search over N synthetic rows (15 random words of a
20,000-word vocabulary, 384-d random vectors), before and after a flush (sealed, indexed segments).

Run: python bench/milvus_lite_scale.py [N]  (default 30,000; writes to a temporary folder).
Why it matters: qa's Milvus backend counts document frequencies from the rows' tokens on open
rather than with TEXT_MATCH, and flushes after each build (see docs/how-it-works.md)."""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from pymilvus import DataType, Function, FunctionType, MilvusClient


def timed(label: str, run) -> None:
    started = time.perf_counter()
    run()
    print(f"{label}: {time.perf_counter() - started:.3f} s", flush=True)


def main(n: int) -> None:
    folder = Path(tempfile.mkdtemp())
    client = MilvusClient(str(folder / "scale.db"))
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
    schema.add_field("terms", DataType.VARCHAR, max_length=65535, enable_analyzer=True, enable_match=True,
                     analyzer_params={"tokenizer": "standard"})  # fmt: skip
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=384)
    schema.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["terms"],
                                 output_field_names=["sparse"]))  # fmt: skip
    index = client.prepare_index_params()
    index.add_index("vector", index_type="AUTOINDEX", metric_type="IP")
    index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25", params={"bm25_k1": 0.9, "bm25_b": 0.4})
    client.create_collection("p", schema=schema, index_params=index)
    vocabulary, rng = [f"w{i}" for i in range(20_000)], np.random.default_rng(0)
    random.seed(0)

    def insert() -> None:
        for at in range(0, n, 1000):
            ids = range(at, min(at + 1000, n))
            terms = [" ".join(random.choices(vocabulary, k=15)) for _ in ids]
            vectors = rng.standard_normal((len(ids), 384)).astype(np.float32)
            rows = zip(ids, terms, vectors, strict=True)
            client.insert("p", [{"id": f"r{i}", "terms": t, "vector": v.tolist()} for i, t, v in rows])

    def queries(when: str) -> None:
        timed(f"{when} TEXT_MATCH count", lambda: client.query("p", filter="TEXT_MATCH(terms, 'w1')", output_fields=["count(*)"]))
        for _ in range(2):
            timed(f"{when} BM25 search, 400", lambda: client.search("p", data=["w1 w5 w9"], anns_field="sparse", limit=400,
                                                                     search_params={"metric_type": "BM25"}))  # fmt: skip
            timed(f"{when} dense search, 400", lambda: client.search("p", data=[rng.standard_normal(384).tolist()],
                                                                      anns_field="vector", limit=400))  # fmt: skip

    timed(f"insert {n} rows", insert)
    queries("growing")
    timed("flush", lambda: client.flush("p"))
    client.release_collection("p")
    timed("load", lambda: client.load_collection("p"))
    queries("sealed")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30_000)
