"""The Milvus backend (Milvus Lite, in this process) against the segment store, with the fake embedder:
the same ranking, the same tokens, updates and tombstones, and a build that resumes after a kill."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from qa.config import Settings
from qa.errors import DocumentGone, PassageGone, PassageMoved, PassageNotFound
from qa.index.build import build_index
from qa.index.encoding import distinct_sentences
from qa.index.lexical import Tokens
from qa.index.milvus import writer
from qa.index.milvus.engine import Engine
from qa.retrieve.filters import Filter
from qa.retrieve.searcher import Searcher

from .conftest import CORPUS, FakeEmbedder, FakeTokenEmbedder, fake_settings

QUESTIONS = [
    "How long did the Second Nagorno-Karabakh War last?",
    "Who was the Russian co-chair of the OSCE Minsk Group?",
    "ceasefire agreement signed in Moscow",
    "What happened in September 2022?",
    "Казахстан и Армения",  # words the passages do not hold in this script: dense alone
]
FILTERS = [
    Filter(doc_ids=("002_97eb6d87a007548f.txt", "004_ac4458f6c11ac45b.txt")),
    Filter(date_from="2020-09-01"),
    Filter(source="corpus/00"),
    Filter(source="corpus/002_"),  # LIKE's own wildcard, taken literally
    Filter(source="corpus/0%"),
    Filter(doc_ids=("nope",)),
]


def open_both(root: Path, corpus: Path = CORPUS, **overrides) -> tuple[Searcher, Searcher]:
    """The corpus built into each backend; the segment store searched on its candidate path too."""
    embedder = FakeEmbedder()
    out = []
    for backend in ("segments", "milvus"):
        settings = fake_settings(root / backend, corpus, backend=backend, **overrides)
        build_index(settings, embedder)
        out.append(Searcher.open(settings, embedder))
    return out[0], out[1]


def ranked(searcher: Searcher, question: str, condition: Filter | None = None) -> list[tuple[str, float, tuple[int, int]]]:
    result = searcher.search(question, 8, condition)
    return [(h.passage.id, h.score, h.highlight) for h in result.hits]


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> tuple[Searcher, Searcher]:
    return open_both(tmp_path_factory.mktemp("both"))


@pytest.mark.parametrize("question", QUESTIONS)
def test_milvus_ranks_as_the_segment_store(both, question):
    segments, milvus = both
    for path in (segments, segments.with_settings(ann_min_passages=1)):  # exact and candidate paths alike
        want, got = ranked(path, question), ranked(milvus, question)
        assert [(i, h) for i, _, h in got] == [(i, h) for i, _, h in want]
        assert np.allclose([s for _, s, _ in got], [s for _, s, _ in want], atol=1e-5)


@pytest.mark.parametrize("condition", FILTERS, ids=lambda f: repr(f)[:40])
def test_filters_pushed_down_to_the_engine_give_the_segment_stores_results(both, condition):
    segments, milvus = both
    want = segments.search("war ceasefire", 8, condition)
    got = milvus.search("war ceasefire", 8, condition)
    assert [h.passage.id for h in got.hits] == [h.passage.id for h in want.hits]
    assert got.abstain_reason == want.abstain_reason
    assert all(condition.allows(h.document) for h in got.hits)


def test_records_and_counts_are_the_segment_stores(both):
    segments, milvus = both
    assert sorted(milvus.index.documents) == sorted(segments.index.documents)  # (in the engine's order)
    assert len(milvus.index.documents) == len(segments.index.documents)
    assert milvus.index.passage_count == segments.index.passage_count
    for doc_id, doc in segments.index.documents.items():
        assert milvus.index.documents[doc_id] == doc  # the text comes back verbatim, in chunks
    keys = set()
    for row in range(segments.index.passage_count):
        passage = segments.index.passage(row)
        key = milvus.index.row_of(passage.id)  # rows are keys: opaque int64, not 0..n-1
        assert key is not None and milvus.index.passage(key) == passage
        keys.add(key)
    assert len(keys) == segments.index.passage_count
    words = milvus.index.words("Armenia Azerbaijan war ceasefire agreement")
    assert list(milvus.index.passage_frequency(words)) == list(segments.index.passage_frequency(words))
    assert milvus.index.manifest.sentences == len(segments.index.sentence_vectors)


def test_the_engines_analyzer_gives_back_qas_tokens_for_every_passage_and_sentence(both, tmp_path):
    """`terms` are qa's tokens joined by spaces: the `standard` analyzer must split them back
    exactly (Armenian, Cyrillic and any other script of the corpus included)."""
    from milvus_lite.analyzer.standard import StandardAnalyzer

    segments, milvus = both
    analyzer = StandardAnalyzer()
    passages = list(segments.index.passages)
    titles = {p.doc_id: segments.index.documents[p.doc_id].title for p in passages}
    sentences = distinct_sentences(passages)[0]
    assert len(sentences) == milvus.index.manifest.sentences
    for texts in ([f"{titles[p.doc_id]}. {p.text}" for p in passages], sentences):
        tokens = Tokens.of(texts)  # as a build tokenises them (`encoding.encode_segment`)
        for row in range(len(tokens)):
            mine = [tokens.vocab[i] for i in tokens.ids[tokens.offsets[row] : tokens.offsets[row + 1]]]
            assert analyzer.tokenize(" ".join(mine)) == mine
    scripts = {w for w in Tokens.of([f"{titles[p.doc_id]}. {p.text}" for p in passages]).vocab if not w.isascii()}
    assert scripts, "the corpus has words in other scripts"
    some = sorted(scripts)[:20]
    assert list(milvus.index.passage_frequency(some)) == list(segments.index.passage_frequency(some))


def copy_corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    return corpus


def test_changed_documents_are_upserted_removed_ones_deleted_and_citations_say_so(tmp_path):
    corpus = copy_corpus(tmp_path)
    embedder = FakeEmbedder()
    settings = fake_settings(tmp_path, corpus, backend="milvus")
    build_index(settings, embedder)
    before = Searcher.open(settings, embedder)
    changed, removed = "001_4cb7d0521dd44a67.txt", "004_ac4458f6c11ac45b.txt"
    stored = writer._all_passages(Engine(settings))  # passage id: document (rows are keys, not 0..n-1)
    assert len(stored) == before.index.passage_count
    old_changed = [i for i, doc in stored.items() if doc == changed]
    old_removed = [i for i, doc in stored.items() if doc == removed]
    text = (corpus / changed).read_text()
    (corpus / changed).write_text(text + "\n\nA new closing paragraph about the Lachin corridor and its checkpoints.\n")
    (corpus / removed).unlink()

    counting = FakeEmbedder()
    encoded: list[str] = []
    original = counting.encode
    counting.encode = lambda texts, *a, **k: (encoded.extend(texts), original(texts, *a, **k))[1]  # type: ignore[method-assign]
    build_index(settings, counting)
    after = Searcher.open(settings, counting)

    assert after.index.version != before.index.version
    assert removed not in after.index.documents and after.index.documents[changed].text.endswith("checkpoints.\n")
    assert 0 < len(encoded) < 10  # only the new passage and sentences: the stored vectors were reused
    with pytest.raises(DocumentGone):
        after.document(removed)
    with pytest.raises(PassageGone):
        after.passage(old_removed[0])
    moved = [i for i in old_changed if after.index.row_of(i) is None]
    assert moved, "the changed document's last passage changed"
    with pytest.raises(PassageMoved):
        after.passage(moved[0])
    with pytest.raises(PassageNotFound):
        after.passage("0" * 16)
    kept = [i for i in old_changed if after.index.row_of(i) is not None]
    assert kept and after.passage(kept[0])[0].doc_id == changed  # an unchanged passage keeps its id: 200
    assert all(h.document.id != removed for h in after.search("September 2022 clashes", 8).hits)

    (corpus / removed).write_text((CORPUS / removed).read_text())  # back again: no longer gone
    build_index(settings, counting)
    again = Searcher.open(settings, counting)
    assert again.index.removed_document(removed) is None and again.passage(old_removed[0])[0].doc_id == removed


class Crash(RuntimeError):
    pass


class CrashingEmbedder(FakeEmbedder):
    """Fails at its `after`-th call, as a build killed while encoding."""

    def __init__(self, after: int) -> None:
        super().__init__()
        self.after, self.texts = after, 0

    def encode(self, texts, batch_size=32, progress=None):
        if self.calls + 1 >= self.after:
            raise Crash("killed")
        self.texts += len(texts)
        return super().encode(texts, batch_size, progress)


def test_a_killed_build_continues_where_it_stopped(tmp_path, monkeypatch):
    monkeypatch.setattr(writer, "GROUP_CHARS", 1)  # one document per group (each committed on its own)
    settings = fake_settings(tmp_path, backend="milvus")
    crashing = CrashingEmbedder(after=5)  # two encoder calls per document: the third document's passages fail
    with pytest.raises(Crash):
        build_index(settings, crashing)
    committed = writer.state.committed(Engine(settings))
    assert len(committed) == 2
    resumed = CrashingEmbedder(after=10**9)
    build_index(settings, resumed)
    whole = CrashingEmbedder(after=10**9)
    build_index(fake_settings(tmp_path / "whole", backend="milvus"), whole)
    assert 0 < resumed.texts < whole.texts  # only the documents not committed were encoded
    searcher = Searcher.open(settings, FakeEmbedder())
    reference = Searcher.open(fake_settings(tmp_path / "whole", backend="milvus"), FakeEmbedder())
    assert list(searcher.index.documents) == list(reference.index.documents)
    assert searcher.index.version == reference.index.version
    assert ranked(searcher, QUESTIONS[0]) == ranked(reference, QUESTIONS[0])


def test_a_segment_build_in_the_index_folder_lends_its_vectors(tmp_path):
    settings = fake_settings(tmp_path)
    build_index(settings, FakeEmbedder())
    counting = CrashingEmbedder(after=10**9)
    build_index(settings.replace(backend="milvus"), counting)
    assert counting.texts == 0  # nothing encoded again


def test_a_segment_build_with_token_vectors_lends_its_vectors_to_milvus(tmp_path, fake_projection):
    """Milvus keeps no token vectors, so it does not ask for them: nothing is encoded again."""
    settings = Settings.load(env={}, corpus_dir=CORPUS, index_dir=tmp_path / "index", model=FakeTokenEmbedder.name)
    build_index(settings, FakeTokenEmbedder())
    counting = FakeTokenEmbedder()
    build_index(settings.replace(backend="milvus"), counting)
    assert counting.calls == 0  # every encoding, of vectors or token vectors, goes through `encode`


def test_the_cli_builds_adds_removes_and_reports_on_milvus(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from qa.cli import main

    monkeypatch.setattr("qa.cli.building.load_embedder", lambda settings: FakeEmbedder())
    corpus, index = copy_corpus(tmp_path), tmp_path / "index"
    env = {"QA_MODEL": FakeEmbedder.name, "QA_BACKEND": "milvus", "QA_CORPUS_DIR": str(corpus), "QA_INDEX_DIR": str(index)}

    def qa(*args: object) -> str:
        result = CliRunner().invoke(main, [str(a) for a in args], env=env)
        assert result.exit_code == 0, result.output
        return result.output

    assert "built milvus at " in qa("build") and (index / "milvus.db").exists()
    assert "in milvus at" in qa("status") and "in step with the index" in qa("status")
    extra = tmp_path / "zebra.txt"
    extra.write_text("Zebra crossing\n\nA zebra crossing was painted near Tavush.\n")
    assert "6 documents" in qa("add", extra)
    assert "5 documents" in qa("remove", "004_ac4458f6c11ac45b.txt")
    searcher = Searcher.open(fake_settings(tmp_path, corpus, backend="milvus"), FakeEmbedder())
    assert "zebra.txt" in searcher.index.documents and searcher.index.removed_document("004_ac4458f6c11ac45b.txt")
