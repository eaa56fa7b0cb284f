"""An open index reads records and large indexes' vectors from disk when asked: the tables and
row readers give exactly what the segment files hold."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from qa.index.build import build_index
from qa.index.load import load_index
from qa.index.records import Lines
from qa.index.row_files import DiskRows, RowFile
from qa.index.storage import current_build
from qa.ingest.passages import passage_id

from .conftest import CORPUS, FakeEmbedder, fake_settings


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tables")
    settings = fake_settings(tmp)
    build_index(settings, FakeEmbedder())
    return load_index(settings.index_dir), current_build(settings.index_dir)


def test_passages_are_the_records_of_the_segment_file(index):
    loaded, build = index
    (path,) = build.glob("seg-*.passages.jsonl")
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(loaded.passages) == len(records) > 100
    for row in (0, 57, len(records) - 1):
        p = loaded.passages[row]
        assert (p.id, p.doc_id, p.start, p.end, p.text) == tuple(
            records[row][k] for k in ("id", "doc_id", "start", "end", "text")
        )
        assert p.id == passage_id(p.doc_id, p.start, p.text)
        assert loaded.passages.doc_id(row) == p.doc_id and tuple(loaded.passages.spans[row]) == (p.start, p.end)
    assert [p.id for p in loaded.passages[:3]] == [r["id"] for r in records[:3]]


def test_a_passage_is_found_by_its_id_and_nothing_else_is(index):
    passages = index[0].passages
    for row, p in enumerate(passages):
        assert passages.row_of(p.id) == row
    some = passages[5].id
    for other in ("", some[:-1], some + "0", some.upper(), "é" * 16, "0" * 16, "f" * 40):
        assert passages.row_of(other) is None


def test_documents_in_corpus_order_decoded_when_asked(index):
    documents = index[0].documents
    assert list(documents) == sorted(documents) and len(documents) == 5  # the corpus files' order
    first = next(iter(documents))
    assert documents[first].id == first and documents[first].text and first in documents
    assert "no-such-document" not in documents
    with pytest.raises(KeyError):
        documents["no-such-document"]
    p = index[0].passages[10]
    assert documents[p.doc_id].text[p.start : p.end] == p.text  # the citation invariant, through the tables


def test_lines_refuse_offsets_that_do_not_match_the_file(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n')
    assert Lines(path, np.array([0, 9, 18]))[1] == {"a": 2}
    with pytest.raises(ValueError):
        Lines(path, np.array([0, 9, 17]))


def test_disk_rows_read_rows_of_several_files_in_any_order(tmp_path):
    rng = np.random.default_rng(3)
    parts = [rng.standard_normal((n, 8)).astype(np.float32) for n in (5, 1, 9)]
    for n, part in enumerate(parts):
        np.save(tmp_path / f"{n}.npy", part)
    whole = np.concatenate(parts)
    served = np.array([14, 0, 3, 4, 5, 6, 7, 13, 1])  # served row i is row served[i] of the files end to end
    rows = DiskRows([RowFile(tmp_path / f"{n}.npy") for n in range(3)], served)
    assert rows.shape == (9, 8) and len(rows) == 9
    for wanted in ([0], [8, 0, 3], [2, 2, 7], list(range(9)), []):
        assert np.array_equal(rows[np.array(wanted, dtype=np.int64)], whole[served[wanted]].reshape(-1, 8))
    assert np.array_equal(np.asarray(rows), whole[served])
    q = rng.standard_normal(8).astype(np.float32)
    assert np.allclose(rows @ q, whole[served] @ q)


def test_a_large_index_reads_its_vectors_from_disk_and_they_are_the_same(tmp_path):
    shutil.copytree(CORPUS, tmp_path / "corpus")
    small = fake_settings(tmp_path, corpus=tmp_path / "corpus")
    build_index(small, FakeEmbedder())
    large = small.replace(ann_min_passages=50, index_dir=tmp_path / "large")
    build_index(large, FakeEmbedder())
    (tmp_path / "corpus" / "zebra.txt").write_text("Zebra news\nA zebra crossing was painted.\n")
    build_index(large, FakeEmbedder())  # a second segment, small: its rows are scored exactly
    build_index(small, FakeEmbedder())
    a, b = load_index(small.index_dir), load_index(large.index_dir)
    assert isinstance(b.vectors, DiskRows) and isinstance(b.sentence_vectors, DiskRows)
    assert isinstance(a.vectors, np.ndarray)
    assert np.array_equal(np.asarray(b.vectors), a.vectors)
    assert np.array_equal(np.asarray(b.sentence_vectors), a.sentence_vectors)
    assert a.passages == b.passages and a.sentence_rows == b.sentence_rows
    assert len(b.nearest.exact_rows) == 1 and np.array_equal(b.nearest._exact, a.vectors[b.nearest.exact_rows])
