"""A Milvus replica is stateless: opening (and so every reload) reads the state rows only, never a
row per passage or per document, and a question reads the rows of its candidates by key."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.errors import ConfigError, CorpusError
from qa.index.build import build_index
from qa.index.milvus import schema, terms
from qa.index.milvus.engine import Engine
from qa.index.milvus.reader import MilvusIndex
from qa.retrieve.searcher import Searcher

from .conftest import FakeEmbedder, fake_settings

WORDS = ["river", "valley", "bridge", "harbour", "mountain", "treaty", "border", "village", "market", "railway"]


def documents(n: int) -> list[dict]:
    """n documents of a few sentences each, with words shared across them in varying amounts."""
    out = []
    for d in range(n):
        sentences = [f"The {WORDS[(d + k) % len(WORDS)]} near town {d} was rebuilt in year {1900 + d + k}." for k in range(4)]
        out.append({"id": f"doc-{d:04d}", "title": f"Town {d}", "text": " ".join(sentences), "source": ""})
    return out


class Counted(Engine):
    """An engine that counts the calls made through it and the rows they return."""

    calls = 0
    rows = 0

    def call(self, method, *args, **kwargs):
        out = super().call(method, *args, **kwargs)
        type(self).calls += 1
        type(self).rows += len(out) if isinstance(out, list) else 0
        return out

    def each(self, part, fields, filter="", batch=4096):
        type(self).calls += 1
        for row in super().each(part, fields, filter, batch):
            type(self).rows += 1
            yield row


def opened(root: Path, n: int) -> tuple[int, int, int]:
    """(passages built, engine calls, rows read) when a replica opens a build of n documents."""
    settings = fake_settings(root, backend="milvus")
    build_index(settings, FakeEmbedder(), documents=documents(n))
    Counted.calls = Counted.rows = 0
    index = MilvusIndex.open(Counted(settings))
    return index.passage_count, Counted.calls, Counted.rows


def test_opening_reads_the_same_few_rows_whatever_the_number_of_passages(tmp_path):
    small, large = opened(tmp_path / "small", 10), opened(tmp_path / "large", 100)
    assert large[0] >= 10 * small[0] > 0  # ten times the passages
    assert (large[1], large[2]) == (small[1], small[2])  # the same calls, the same rows read
    assert small[2] <= 4  # the version, the manifest, the stats: a handful of state rows


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Searcher:
    settings = fake_settings(tmp_path_factory.mktemp("stateless"), backend="milvus")
    build_index(settings, FakeEmbedder(), documents=documents(30))
    return Searcher.open(settings, FakeEmbedder())


def test_rows_are_the_keys_of_passage_ids_and_documents_come_by_id(built):
    index = built.index
    hit = built.search("bridge near town 7", 1).hits[0]
    row = index.row_of(hit.passage.id)
    assert row == schema.row_key(hit.passage.id) and index.passage(row) == hit.passage
    assert index.row_of("not-a-passage") is None
    assert "doc-0007" in index.documents and "doc-9999" not in index.documents
    assert index.documents["doc-0007"].title == "Town 7" and len(index.documents) == 30
    assert sorted(index.documents) == [f"doc-{d:04d}" for d in range(30)]


def test_document_frequencies_are_kept_in_the_engine(built):
    """`bridge` is in 4 of every 10 documents' sentences; each document is one passage here."""
    index = built.index
    words = index.words("bridge harbour zebra")
    df = index.passage_frequency(words)
    assert list(df) == [12, 12, 0]
    assert index.stats.passages == index.passage_count == 30


def test_a_replica_never_scores_every_row(built):
    with pytest.raises(ConfigError, match="candidates only"):
        built.index.vectors_of(None)


def counts(engine: Engine) -> tuple[dict, object]:
    """Every word's stored counts and the stats, as the engine holds them."""
    words = {r["id"]: (r["passages"], r["sentences"]) for r in engine.each("terms", ["id", "passages", "sentences"])}
    return words, terms.read_stats(engine)


def test_counts_kept_as_documents_change_equal_counting_them_again(tmp_path, monkeypatch):
    settings = fake_settings(tmp_path, backend="milvus")
    docs = documents(30)
    with monkeypatch.context() as m:  # a first build counts as it writes
        m.setattr(terms, "recount", lambda engine: pytest.fail("counted again, not kept"))
        build_index(settings, FakeEmbedder(), documents=docs)
    changed = [dict(d, text=d["text"] + " A harbour ferry to the railway market.") for d in docs[:3]]
    with monkeypatch.context() as m:
        m.setattr(terms, "recount", lambda engine: pytest.fail("counted again, not kept"))
        build_index(settings, FakeEmbedder(), documents=changed + docs[3:25] + documents(33)[30:])  # changed, removed, added
    engine = Engine(settings)
    kept = counts(engine)
    assert kept[1].passages == 28 and not engine.by_ids("state", [terms.PENDING], ["value"])
    terms.recount(engine)
    assert counts(engine) == kept


def test_a_build_after_a_killed_one_counts_everything_again(tmp_path, monkeypatch):
    settings = fake_settings(tmp_path, backend="milvus")
    build_index(settings, FakeEmbedder(), documents=documents(10))
    engine = Engine(settings)
    terms.begin(engine, fresh=False)  # as a build killed after it began: its rows may be uncounted
    seen = []
    monkeypatch.setattr(terms, "recount", lambda e, real=terms.recount: seen.append(1) or real(e))
    build_index(settings, FakeEmbedder(), documents=documents(12))
    assert seen and counts(engine)[1].passages == 12


def test_a_full_build_counts_from_zero_as_it_writes(tmp_path, monkeypatch):
    settings = fake_settings(tmp_path, backend="milvus")
    build_index(settings, FakeEmbedder(), documents=documents(12))
    with monkeypatch.context() as m:
        m.setattr(terms, "recount", lambda engine: pytest.fail("counted again, not kept"))
        build_index(settings, FakeEmbedder(), documents=documents(8), full=True)
    engine = Engine(settings)
    kept = counts(engine)
    assert kept[1].passages == 8
    terms.recount(engine)
    assert counts(engine) == kept


def test_two_passage_ids_with_one_row_key_fail_the_build_loudly(tmp_path, monkeypatch):
    monkeypatch.setattr(schema, "row_key", lambda text: 7)  # every id hashes alike
    with pytest.raises(CorpusError, match="same row key"):
        build_index(fake_settings(tmp_path, backend="milvus"), FakeEmbedder(), documents=documents(3))
