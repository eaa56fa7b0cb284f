"""A build encodes and writes its new segment a batch of documents at a time: the segment, the
catalog and the answers are those of a build in one batch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa.index import batched, catalog, segment_writer
from qa.index.build import build_index
from qa.index.lexical import Postings, Tokens
from qa.index.load import load_index
from qa.index.segments import open_stored
from qa.index.storage import current_build, read_manifest
from qa.retrieve.searcher import Searcher

from .conftest import FakeEmbedder, fake_settings

QUESTIONS = ("How long did the war last?", "Who painted the ceiling?", "What is the capital city?", "rivers of Europe")


def built(tmp_path, name, chars, monkeypatch, **settings):
    """A build of the default corpus with batches of `chars` characters, and what it called the encoder with."""
    monkeypatch.setattr(batched, "BATCH_CHARS", chars)
    s = fake_settings(tmp_path / name, **settings)
    progress: list[tuple[str, int, int]] = []
    build_index(s, FakeEmbedder(), progress=lambda *a: progress.append(a))
    return s, progress


def segment_of(settings):
    build = current_build(settings.index_dir)
    (record,) = read_manifest(build).segments
    return open_stored(build, record.name)


@pytest.mark.parametrize("ann", [50_000, 1])  # exact search; HNSW graphs, whose vectors are read back in slices
def test_a_build_in_batches_equals_a_build_in_one(tmp_path, monkeypatch, ann):
    monkeypatch.setattr(segment_writer, "GRAPH_SLICE", 16)
    one, _ = built(tmp_path, "one", 1 << 30, monkeypatch, ann_min_passages=ann)
    many, progress = built(tmp_path, "many", 3000, monkeypatch, ann_min_passages=ann)
    assert {stage for stage, _, _ in progress} == {"documents"}  # several batches: one bar
    done = [n for _, n, _ in progress]
    assert done == sorted(done) and progress[-1][1:] == (5, 5)
    a, b = segment_of(one), segment_of(many)
    for part in ("documents", "passages"):
        assert np.array_equal(getattr(a, part).offsets, getattr(b, part).offsets)
        assert Path(f"{a.base}.{part}.jsonl").read_bytes() == Path(f"{b.base}.{part}.jsonl").read_bytes()
    for column in ("spans", "sentence_starts", "sentence_rows", "ids", "vectors", "sentence_vectors"):
        assert np.array_equal(getattr(a, column), getattr(b, column)), column
    for part in ("passage", "sentence"):
        ta, tb = a.tokens(part), b.tokens(part)
        assert ta.vocab == tb.vocab and np.array_equal(ta.ids, tb.ids) and np.array_equal(ta.offsets, tb.offsets)
    postings = [f"{p}-{k}.npy" for p in ("passage", "sentence") for k in ("postings", "postings-starts")]
    for file in ("vectors.npy", "sentences.npy", *postings):
        assert Path(f"{a.base}.{file}").read_bytes() == Path(f"{b.base}.{file}").read_bytes(), file
    assert (a.graph is None) == (b.graph is None) == (ann > 1)
    ca, cb = (catalog.read(current_build(s.index_dir) / catalog.FILE).entries() for s in (one, many))
    assert [(i, e.digest, e.file, e.span) for i, e in ca.items()] == [(i, e.digest, e.file, e.span) for i, e in cb.items()]
    la, lb = load_index(one.index_dir), load_index(many.index_dir)
    assert la.manifest.passages == lb.manifest.passages and la.manifest.sentences == lb.manifest.sentences
    fake = FakeEmbedder()
    sa, sb = Searcher.open(one, fake), Searcher.open(many, fake)
    for q in QUESTIONS:
        ra, rb = sa.search(q, 5), sb.search(q, 5)
        assert [(h.passage.id, h.highlight) for h in ra.hits] == [(h.passage.id, h.highlight) for h in rb.hits]
        assert [h.score for h in ra.hits] == pytest.approx([h.score for h in rb.hits], abs=1e-6)


def test_batches_cut_documents_in_order_by_their_text():
    class Doc:
        def __init__(self, n: int) -> None:
            self.text = "x" * n

    docs = [Doc(n) for n in (5, 5, 20, 1, 1, 30)]
    runs = batched.batches(docs, 10)  # type: ignore[arg-type]
    assert [d for run in runs for d in run] == docs
    assert [[len(d.text) for d in run] for run in runs] == [[5, 5], [20], [1, 1, 30]]
    assert batched.batches([], 10) == []


def test_tokens_written_in_parts_are_the_tokens_of_the_whole():
    texts = ["the cat sat", "a dog ran", "the dog sat on the cat", "", "cats and dogs"]
    whole = Tokens.of(texts)
    parts = Tokens.concat([Tokens.of(texts[:2]), Tokens.of(texts[2:4]), Tokens.of(texts[4:])])
    assert whole.vocab == parts.vocab and np.array_equal(whole.ids, parts.ids) and np.array_equal(whole.offsets, parts.offsets)


@pytest.mark.parametrize("at_a_time", [1, 3, 1 << 18])
def test_postings_counted_in_chunks_are_the_term_frequency_matrix(at_a_time):
    from scipy import sparse

    rng = np.random.default_rng(7)
    words = [f"w{i}" for i in range(40)]
    texts = [" ".join(rng.choice(words, size=rng.integers(0, 12))) for _ in range(50)]
    tokens = Tokens.of(texts, plain=True)
    rows = np.repeat(np.arange(len(tokens)), np.diff(tokens.offsets))
    tf = sparse.coo_matrix((np.ones(len(tokens.ids)), (rows, tokens.ids)), shape=(len(tokens), len(tokens.vocab))).tocsc()
    tf.sum_duplicates()
    postings = Postings.of(tokens, texts_at_a_time=at_a_time)
    assert np.array_equal(postings.starts, tf.indptr)
    assert np.array_equal(postings.entries[:, 0], tf.indices) and np.array_equal(postings.entries[:, 1], tf.data)
    assert np.array_equal(postings.lengths, np.diff(tokens.offsets))
