"""The arithmetic behind docs/scale-out.md: a deployment for 100M passages on Milvus and Ray.

    .venv/bin/python bench/scale_out.py                    # print the tables docs/scale-out.md shows
    .venv/bin/python bench/scale_out.py --measure index    # first measure the corpus shape of an index

Three kinds of input, kept apart so that the page can say which is which:
- MEASURED here, read from bench/results/ (scale-1m.json, ingest-amd-epyc.json, load-onnx.json,
  ann.json) and from scale-out-shape.json, which `--measure INDEX` writes from a built index
  (BM25 terms, text length and word pieces per passage);
- PUBLISHED by Milvus and sentence-transformers, with where;
- ASSUMED, where neither gives a figure: each is named on the page as an assumption.
Only arithmetic happens here; tests/test_scale_out.py checks that every table row printed is on
the page as printed.
"""

from __future__ import annotations

import argparse
import datetime
import glob
import json
import math
import platform
import statistics
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
SHAPE = RESULTS / "scale-out-shape.json"
GB = 1e9
DIM = 384
VECTOR = DIM * 4  # float32 bytes of one vector
PASSAGES = 100_000_000
RATE = 2_000  # questions a second
MAX_PIECES = 256  # all-MiniLM-L6-v2 truncates a text at 256 word pieces

PUBLISHED = {  # value, where published
    "v100_sentences_s": (14_200, "sentence-transformers' pretrained-models table: all-MiniLM-L6-v2 on a V100"),
    "milvus_qps": (10_248, "Milvus 2.2 benchmark: one 12-core query node, 1M SIFT-128, HNSW M=8, ef=64, top 1"),
    "milvus_cores": (12, "same"),
    "diskann_pq": (0.125, "Milvus DiskANN: PQCodeBudgetGBRatio default"),
    "diskann_cache": (0.10, "Milvus DiskANN: SearchCacheBudgetGBRatio default"),
    "diskann_degree": (56, "Milvus DiskANN: MaxDegree default"),
    "segment_mb": (1024, "Milvus dataCoord.segment.maxSize default"),
}
ASSUMED = {
    "sentence_pieces": 20,  # word pieces of a sentence in the V100 speed benchmark (not published)
    "metadata_bytes": 200,  # id, doc_id, title, source, date, start/end, sentence spans of a passage
    "filter_bytes": 64,  # doc_id, source and date kept in memory for filter expressions
    "sentence_key_bytes": 16,  # a sentence row's id and its passage's id
    "sparse_row_bytes": 8,  # a BM25 sparse row's (term, weight) pair; its posting is as much again
    "candidates": 400,  # dense and BM25 candidates per question, as the segment store asks
    "bm25_over_dense": 1.0,  # the engine's BM25 search costs as much CPU as its dense search
    "utilisation": 0.6,  # of a core, at the planned rate
    "big_segment_mb": 8192,
    "node_cores": 16,
    "replicas": 2,
    "qa_cores": 2,
    "encode_hours": 8,
}


def measured() -> dict[str, float]:
    """The figures measured here that the plan uses, from bench/results/."""
    scale = json.loads((RESULTS / "scale-1m.json").read_text())
    ingest = {row["encoder"]: row for row in json.loads((RESULTS / "ingest-amd-epyc.json").read_text())["rows"]}
    cores = json.loads((RESULTS / "ingest-amd-epyc.json").read_text())["cores"]
    load = json.loads((RESULTS / "load-onnx.json").read_text())["levels"]
    ann = next(r for r in json.loads((RESULTS / "ann.json").read_text()) if r["vectors"] == 1_000_000 and r["ef_search"] == 256)
    shape = json.loads(SHAPE.read_text())
    return {
        "sentences_per_passage": scale["sentences"] / scale["passages"],
        "in_process_p50_1m": scale["in_process_p50_ms"],
        "onnx_per_core": ingest["onnx-fp32"]["passages_per_s"] / cores,
        "torch_per_core": ingest["torch-fp32"]["passages_per_s"] / cores,
        "capacity_2_cores": max(level["ok_rps"] for level in load),
        "hnsw_ms_1m_ef256": ann["p50_ms"],
        **{k: float(v) for k, v in shape.items() if k not in ("date", "cpu", "command")},
    }


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def gb(n: float) -> str:
    return f"{n / GB:,.1f} GB"


def _hnsw(m: int) -> int:
    """Bytes a row of an HNSW graph over float32 vectors: the vector and 2M level-0 links of 4
    bytes (the upper levels add about 1/M as many links again)."""
    return VECTOR + m * 2 * 4


def memory(m: dict[str, float]) -> tuple[list[str], dict[str, float]]:
    """Bytes per row and in all, per copy of the data, for each layout considered."""
    s = PASSAGES * m["sentences_per_passage"]
    diskann_ram = VECTOR * (PUBLISHED["diskann_pq"][0] + PUBLISHED["diskann_cache"][0])
    diskann_disk = VECTOR + 4 * (PUBLISHED["diskann_degree"][0] + 1)
    sparse = m["bm25_terms"] * 2 * ASSUMED["sparse_row_bytes"]
    sentence_sparse = m["sentence_bm25_terms"] * 2 * ASSUMED["sparse_row_bytes"]
    text = m["text_chars"] + ASSUMED["metadata_bytes"]
    layouts = [  # (what, bytes per row, rows, where)
        ("passages: FLAT (raw float32 vectors)", VECTOR, PASSAGES, "RAM"),
        ("passages: HNSW M=16", _hnsw(16), PASSAGES, "RAM"),
        ("passages: HNSW M=32", _hnsw(32), PASSAGES, "RAM"),
        ("passages: HNSW_SQ (8-bit) M=16", DIM + 16 * 2 * 4, PASSAGES, "RAM"),
        ("passages: IVF_PQ m=48, 8 bits", 48 + 8, PASSAGES, "RAM"),
        ("passages: DISKANN, in memory", diskann_ram, PASSAGES, f"RAM, and {gb(diskann_disk * PASSAGES)} on NVMe"),
        ("passages: BM25 sparse rows and postings", sparse, PASSAGES, "RAM"),
        ("passages: text and metadata", text, PASSAGES, "NVMe (mmap)"),
        ("passages: BM25 tokens (`terms`)", m["term_chars"], PASSAGES, "NVMe (mmap)"),
        ("passages: filter fields", ASSUMED["filter_bytes"], PASSAGES, "RAM"),
        ("sentences: FLAT (raw float32 vectors)", VECTOR, s, "NVMe (mmap)"),
        ("sentences: FLAT, float16 vectors", DIM * 2, s, "NVMe (mmap)"),
        ("sentences: HNSW M=16", _hnsw(16), s, "RAM (not needed: no ANN search)"),
        ("sentences: id and passage id", ASSUMED["sentence_key_bytes"], s, "RAM"),
        ("sentences: BM25 sparse rows and postings", sentence_sparse, s, "RAM (not needed: never searched)"),
        ("sentences: BM25 tokens (`terms`)", m["sentence_term_chars"], s, "NVMe (mmap)"),
        ("documents: text", m["document_chars"], PASSAGES, "NVMe (mmap)"),
    ]
    rows = [(what, f"{b:,.0f}", f"{n:,.0f}", gb(b * n), where) for what, b, n, where in layouts]
    total = {what: b * n for what, b, n, _ in layouts}
    ram = sum(total[k] for k in ("passages: HNSW M=16", "passages: BM25 sparse rows and postings", "passages: filter fields"))
    ram += total["sentences: id and passage id"]
    on_disk = ("passages: text and metadata", "passages: BM25 tokens (`terms`)", "sentences: FLAT (raw float32 vectors)",
               "sentences: BM25 tokens (`terms`)", "documents: text")  # fmt: skip
    disk = sum(total[k] for k in on_disk)
    lines = table(("collection: layout", "bytes a row", "rows", "total", "where"), rows)
    row = VECTOR + text + m["term_chars"] + m["bm25_terms"] * ASSUMED["sparse_row_bytes"]
    return lines, {"ram": ram, "disk": disk, "row": row}


def engine(m: dict[str, float], row_bytes: float, ram: float) -> list[str]:
    """Query-node cores for RATE questions a second, by segment size (every sealed segment is
    searched), and the nodes and memory that follow for the larger segments."""
    per_segment = m["hnsw_ms_1m_ef256"] * ASSUMED["candidates"] / 256  # ef grows to the candidates asked
    rows, nodes_row = [], ()
    for mb in (PUBLISHED["segment_mb"][0], ASSUMED["big_segment_mb"]):
        per = mb * 2**20 / row_bytes
        segments = math.ceil(PASSAGES / per)
        dense = segments * per_segment * math.log(per) / math.log(1e6)  # HNSW search grows as log(rows)
        busy = dense * (1 + ASSUMED["bm25_over_dense"]) * RATE / 1000
        planned = busy / ASSUMED["utilisation"]
        nodes = math.ceil(planned / ASSUMED["node_cores"] / ASSUMED["replicas"]) * ASSUMED["replicas"]
        figures = (per, segments, dense, busy, planned)
        rows.append((f"{mb:,} MB", *(f"{x:,.0f}" for x in figures), f"{nodes}"))
        nodes_row = (f"{nodes}", f"{ASSUMED['replicas']}", gb(ASSUMED["replicas"] * ram / nodes))
    header = ("segment size", "rows a segment", "segments", "dense core-ms a question", "cores busy, dense + BM25")
    lines = table((*header, "cores at 60 %", "16-core query nodes"), rows)
    return [*lines, "", *table(("query nodes (8,192 MB segments)", "replicas", "RAM a node"), [nodes_row])]


def encoding(m: dict[str, float]) -> list[str]:
    """Core-hours (CPU) and GPU-hours to encode PASSAGES with their sentences, and what does it in
    ASSUMED['encode_hours']."""
    gpu = PUBLISHED["v100_sentences_s"][0] * ASSUMED["sentence_pieces"] / m["pieces_with_sentences"]
    hours = ASSUMED["encode_hours"]
    rows = []
    for what, rate, unit in (
        ("ONNX fp32 export, CPU (measured here)", m["onnx_per_core"], "core"),
        ("torch fp32, CPU (measured here)", m["torch_per_core"], "core"),
        ("torch, V100 GPU (published, length-scaled)", gpu, "GPU"),
    ):
        total = PASSAGES / rate / 3600
        rows.append((what, f"{rate:,.1f} a {unit}", f"{total:,.0f} {unit}-hours", f"{math.ceil(total / hours):,} {unit}s"))
    return table(("encoder", "passages/s (with their sentences)", f"for {PASSAGES:,} passages", f"to finish in {hours} h"), rows)


def replicas(m: dict[str, float]) -> list[str]:
    """qa replicas for RATE questions a second, between the two measured bounds on qa's own CPU."""
    low = ASSUMED["qa_cores"] * 1000 / m["capacity_2_cores"]
    high = m["in_process_p50_1m"]
    rows = []
    for what, ms in (("lower: 2 cores' capacity, default corpus", low), ("upper: 1M passages in-process p50", high)):
        busy = ms * RATE / 1000
        n = math.ceil(busy / ASSUMED["utilisation"] / ASSUMED["qa_cores"])
        rows.append((what, f"{ms:.2f}", f"{busy:,.1f}", f"{n}"))
    lines = table(("bound on qa's CPU a question", "core-ms", "cores busy at 2,000/s", "2-core replicas at 60 %"), rows)
    return [*lines, "", *replica_open()]


def replica_open() -> list[str]:
    """A stateless replica opening the index at each measured size (bench/replica_memory.py)."""
    runs = json.loads((RESULTS / "replica-memory-amd-epyc.json").read_text())["runs"]
    kb = lambda n: f"{n / 1024:.0f} KB"  # noqa: E731
    rows = [
        ("open: Python memory held (peak)", *(f"{kb(r['open_held_bytes'])} ({kb(r['open_peak_bytes'])})" for r in runs)),
        ("open: RSS growth", *(f"{r['open_rss_growth_kb'] / 1024:.1f} MB" for r in runs)),
        ("open: wall time", *(f"{r['open_s'] * 1000:.0f} ms" for r in runs)),
        ("open: engine calls, rows read", *(f"{r['open_calls']}, {r['open_rows']}" for r in runs)),
        ("a question: rows fetched by key", *(f"{r['question_rows']:,}" for r in runs)),
        ("writer: full recount of the BM25 counts (Milvus Lite)", *(f"{r['recount_s']:.0f} s" for r in runs)),
    ]
    return table(("replica, Milvus backend", *(f"{r['passages']:,} passages" for r in runs)), rows)


def plan() -> list[str]:
    m = measured()
    s = PASSAGES * m["sentences_per_passage"]
    shape = table(
        ("quantity", "value"),
        [
            ("sentences a passage (scale-1m.json)", f"{m['sentences_per_passage']:.4f}"),
            ("sentences", f"{s:,.0f}"),
            ("BM25 terms a passage (measured)", f"{m['bm25_terms']:.1f}"),
            ("passage text, characters (measured)", f"{m['text_chars']:.0f}"),
            ("word pieces a passage with its sentences (measured)", f"{m['pieces_with_sentences']:.1f}"),
        ],
    )
    mem, sizes = memory(m)
    copy = [("in RAM", gb(sizes["ram"])), ("on NVMe, memory-mapped", gb(sizes["disk"]))]
    per_replica = table(("per copy of the data", "size"), copy)
    parts = [shape, mem, per_replica, engine(m, sizes["row"], sizes["ram"]), encoding(m), replicas(m)]
    return [line for part in parts for line in [*part, ""]]


def measure(index: Path) -> dict[str, object]:
    """The corpus shape of the build an index serves, per passage: BM25 terms, text characters,
    word pieces (title-prefixed passage plus its sentences, at most MAX_PIECES each), qa's BM25
    tokens joined by spaces (what the Milvus backend stores as `terms`) and document text; and
    per distinct sentence, its BM25 terms and joined tokens."""
    from tokenizers import Tokenizer

    from qa.index.lexical import tokenize

    build = index / (index / "CURRENT").read_text().strip()
    tokenizer = Tokenizer.from_file(sorted(glob.glob(str(index / "encoders" / "*" / "tokenizer.json")))[-1])
    tokenizer.no_padding()
    tokenizer.no_truncation()

    def pieces(text: str) -> int:
        return min(len(tokenizer.encode(text).ids), MAX_PIECES)

    def joined(texts: list[str]) -> list[int]:
        return [len(" ".join(tokens)) for tokens in tokenize(texts)]

    chars, counts, passage_tokens, sentence_tokens, document_chars = [], [], [], [], 0
    postings = {"passage": 0, "sentence": 0}
    for passages in sorted(build.glob("seg-*.passages.jsonl")):
        name = passages.name.removesuffix(".passages.jsonl")
        documents = {d["id"]: d for d in map(json.loads, (build / f"{name}.documents.jsonl").open())}
        document_chars += sum(len(d["text"]) for d in documents.values())
        distinct: dict[tuple[str, int, int], str] = {}
        for p in map(json.loads, passages.open()):
            title = documents[p["doc_id"]].get("title", "")
            chars.append(len(p["text"]))
            spans = [p["text"][a:b] for a, b in p["sentences"]]
            counts.append(pieces(f"{title}\n{p['text']}") + sum(map(pieces, spans)))
            passage_tokens += joined([f"{title}\n{p['text']}"])
            distinct |= {(p["doc_id"], p["start"] + a, p["start"] + b): p["text"][a:b] for a, b in p["sentences"]}
        sentence_tokens += joined(list(distinct.values()))
        for part in postings:
            postings[part] += len(np.load(build / f"{name}.{part}-postings.npy"))
    n = len(chars)
    return {
        "date": datetime.date.today().isoformat(),
        "cpu": _cpu(),
        "command": f"bench/scale_out.py --measure {index}",
        "passages": n,
        "distinct_sentences": len(sentence_tokens),
        "bm25_terms": round(postings["passage"] / n, 2),
        "text_chars": round(statistics.mean(chars), 1),
        "pieces_with_sentences": round(statistics.mean(counts), 1),
        "term_chars": round(statistics.mean(passage_tokens), 1),
        "document_chars": round(document_chars / n, 1),
        "sentence_bm25_terms": round(postings["sentence"] / len(sentence_tokens), 2),
        "sentence_term_chars": round(statistics.mean(sentence_tokens), 1),
    }


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--measure", type=Path, help="an index folder: measure its corpus shape into " + SHAPE.name)
    args = parser.parse_args()
    if args.measure:
        SHAPE.write_text(json.dumps(measure(args.measure), indent=1) + "\n")
    print("\n".join(plan()))


if __name__ == "__main__":
    main()
