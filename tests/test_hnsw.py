"""Large indexes: HNSW graphs in large segments, candidates instead of every passage, and the
choice made by size (the threshold is a setting, so small sizes test it)."""

from __future__ import annotations

import shutil

import numpy as np

from qa.index import segments
from qa.index.build import build_index
from qa.index.hnsw import Nearest, build_hnsw
from qa.index.load import load_index
from qa.retrieve.searcher import Searcher

from .conftest import CORPUS, FakeEmbedder, fake_settings

QUESTIONS = ["How long did the war last?", "Harop loitering munition", "Lavrov interview Trud", "Minsk Group co-chair"]


def test_hnsw_finds_what_an_exact_search_finds():
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((3000, 64)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    served = np.arange(3000)
    served[:100] = -1  # rows no longer served are never returned
    nearest = Nearest(vectors, [(build_hnsw(vectors), served)], np.zeros(0, np.int64))
    recall = []
    for q in vectors[100:150] + 0.1 * rng.standard_normal((50, 64)).astype(np.float32):
        exact = np.argsort(-(vectors[100:] @ q))[:10] + 100
        found = nearest.search(q, 10, ef_search=128)
        assert len(found) == 10 and (found >= 100).all()
        recall.append(len(set(found) & set(exact)) / 10)
    assert np.mean(recall) >= 0.95


def test_by_size_a_large_segment_gets_a_graph_and_search_ranks_candidates(tmp_path):
    shutil.copytree(CORPUS, tmp_path / "corpus")
    small = fake_settings(tmp_path, corpus=tmp_path / "corpus")
    build_index(small, FakeEmbedder())
    build = load_index(small.index_dir)
    assert not any(p.name.endswith(segments.GRAPH) for p in (small.index_dir).glob("build-*/*"))
    large = small.replace(ann_min_passages=50, index_dir=tmp_path / "large")  # 192 passages count as large
    build_index(large, FakeEmbedder())
    (_graph,) = large.index_dir.glob(f"build-*/*.{segments.GRAPH}")
    index = load_index(large.index_dir)
    assert [len(rows) for _, rows in index.nearest.graphs] == [len(build.passages)] and not len(index.nearest.exact_rows)
    exact = Searcher(load_index(small.index_dir), FakeEmbedder(), small)
    candidates = Searcher(index, FakeEmbedder(), large)
    for question in QUESTIONS:
        a, b = exact.search(question, 5), candidates.search(question, 5)
        assert a.hits[0].passage.id == b.hits[0].passage.id
        assert len({h.passage.id for h in a.hits} & {h.passage.id for h in b.hits}) >= 4
        assert b.hits[0].highlight == a.hits[0].highlight  # the same answering sentence is marked
        start, end = b.hits[0].highlight
        assert 0 <= start < end <= len(b.hits[0].passage.text) and b.hits[0].passage.text[start:end].strip()


def test_candidates_come_from_graph_segments_and_small_ones_and_skip_removed_documents(tmp_path):
    shutil.copytree(CORPUS, tmp_path / "corpus")
    settings = fake_settings(tmp_path, corpus=tmp_path / "corpus", ann_min_passages=50)
    build_index(settings, FakeEmbedder())
    (settings.corpus_dir / "zebra.txt").write_text("Zebra news\nA zebra crossing was painted on the Armenian border.\n")
    (settings.corpus_dir / "003_d560007ba48ee34c.txt").unlink()  # its rows stay in the graph, unserved
    build_index(settings, FakeEmbedder())
    index = load_index(settings.index_dir)
    assert len(index.nearest.graphs) == 1 and len(index.nearest.exact_rows) == 1  # the zebra's one passage
    searcher = Searcher(index, FakeEmbedder(), settings)
    assert searcher.search("zebra crossing painted", 1).hits[0].document.id == "zebra.txt"
    for question in QUESTIONS:
        assert all(h.document.id != "003_d560007ba48ee34c.txt" for h in searcher.search(question, 10).hits)


def test_rows_no_longer_served_do_not_crowd_out_live_ones():
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((2000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    served = np.full(2000, -1)
    served[1900:] = np.arange(100)  # only 100 rows live
    found = Nearest(vectors, [(build_hnsw(vectors), served)], np.zeros(0, np.int64)).search(vectors[5], 10, 16)
    assert len(found) == 10 and (found >= 0).all()


def test_a_filtered_search_in_a_large_index_ranks_the_allowed_passages_as_an_exact_one_does(tmp_path):
    from qa.retrieve.filters import Filter

    shutil.copytree(CORPUS, tmp_path / "corpus")
    small = fake_settings(tmp_path, corpus=tmp_path / "corpus")
    large = small.replace(ann_min_passages=50, index_dir=tmp_path / "large")
    build_index(small, FakeEmbedder())
    build_index(large, FakeEmbedder())
    exact, candidates = Searcher.open(small, FakeEmbedder()), Searcher.open(large, FakeEmbedder())
    lavrov = "003_d560007ba48ee34c.txt"
    source = exact.index.documents[lavrov].source
    for only in (
        Filter(doc_ids=(lavrov, "no-such-document")),
        Filter(source=source[: source.rindex("/") + 3]),
        Filter(date_from="2020-08-01"),
    ):
        for question in QUESTIONS:
            a, b = exact.search(question, 5, only), candidates.search(question, 5, only)
            assert [h.passage.id for h in a.hits] == [h.passage.id for h in b.hits] and b.hits
            assert all(only.allows(h.document) for h in b.hits)
    assert candidates.search(QUESTIONS[0], 5, Filter(doc_ids=("no-such-document",))).hits == []
