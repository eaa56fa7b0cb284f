"""Incremental builds: only new or changed documents are encoded, and the result equals a full build."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from qa.cli import main
from qa.config import Settings
from qa.index import segments
from qa.index.build import MAX_SEGMENTS, build_index
from qa.index.load import load_index
from qa.index.manifest import Manifest
from qa.index.storage import current_build
from qa.retrieve.searcher import Searcher

from .conftest import CORPUS, FakeEmbedder, fake_settings

QUESTIONS = ["How long did the war last?", "Harop loitering munition", "zebra crossing", "Lavrov interview Trud"]


class CountingEmbedder(FakeEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.texts = 0

    def encode(self, texts, batch_size=32, progress=None):
        self.texts += len(texts)
        return super().encode(texts, batch_size, progress)


def change_the_corpus(corpus) -> None:
    (corpus / "zebra.txt").write_text("Zebra news\nA zebra crossing was painted on the Armenian border.\n")
    lavrov = corpus / "003_d560007ba48ee34c.txt"
    lavrov.write_text(lavrov.read_text().replace("Trud newspaper", "Trud daily newspaper"))
    (corpus / "000_abdca20c2aa4f4be.txt").unlink()


def test_an_incremental_build_encodes_only_changes_and_equals_a_full_build(tmp_path):
    shutil.copytree(CORPUS, tmp_path / "corpus")
    settings = fake_settings(tmp_path, corpus=tmp_path / "corpus")
    first = CountingEmbedder()
    build_index(settings, first)
    change_the_corpus(settings.corpus_dir)

    incremental = CountingEmbedder()
    build_index(settings, incremental)
    full_settings = settings.replace(index_dir=tmp_path / "full")
    full = CountingEmbedder()
    build_index(full_settings, full, full=True)

    assert 0 < incremental.texts < full.texts / 5  # the new and the changed document only
    a, b = load_index(settings.index_dir), load_index(full_settings.index_dir)
    assert a.passages == b.passages and a.documents == b.documents
    assert a.version == b.version
    assert np.array_equal(a.vectors, b.vectors)
    assert np.array_equal(a.sentence_vectors, b.sentence_vectors)
    assert a.manifest.reused_vectors > 0 and b.manifest.reused_vectors == 0
    sa, sb = Searcher(a, FakeEmbedder(), settings), Searcher(b, FakeEmbedder(), settings)
    for question in QUESTIONS:
        assert sa.search(question, 5).to_dict()["results"] == sb.search(question, 5).to_dict()["results"]


@pytest.fixture
def cli(tmp_path, monkeypatch):
    shutil.copytree(CORPUS, tmp_path / "corpus")
    monkeypatch.setattr("qa.cli.building.load_embedder", lambda settings: FakeEmbedder())
    env = {"QA_MODEL": FakeEmbedder.name, "QA_CORPUS_DIR": str(tmp_path / "corpus"), "QA_INDEX_DIR": str(tmp_path / "index")}
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), env=env)


def test_add_remove_and_status(cli, tmp_path):
    assert cli("status").output.startswith("index: none")
    assert cli("build").exit_code == 0
    assert "corpus folder: in step with the index on disk" in cli("status").output
    new = tmp_path / "zebra.md"
    new.write_text("# Zebra news\n\nA zebra crossing was painted on the Armenian border.\n")
    result = cli("add", str(new))
    assert result.exit_code == 0, result.output
    assert "added zebra.md" in result.output
    settings = fake_settings(tmp_path, corpus=tmp_path / "corpus")
    hit = Searcher.open(settings, FakeEmbedder()).search("zebra crossing", 1).hits[0]
    assert hit.document.id == "zebra.md"
    (tmp_path / "corpus" / "004_ac4458f6c11ac45b.txt").write_text("September 2022\nChanged text about clashes.\n")
    (tmp_path / "corpus" / "004_ac4458f6c11ac45b.txt.meta.json").write_text('{"date": "2022-09-14"}')
    status = cli("status").output
    assert "changed: 004_ac4458f6c11ac45b.txt" in status and "run `qa build`" in status
    assert "new: 004_ac4458f6c11ac45b.txt (metadata)" in status
    result = cli("remove", "zebra.md")
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "corpus" / "zebra.md").exists()
    assert "zebra.md" not in Searcher.open(settings, FakeEmbedder()).index.documents
    assert "corpus folder: in step with the index on disk" in cli("status").output


@pytest.mark.parametrize(
    "args, message",
    [
        (["remove", "no-such.txt"], "no document file 'no-such.txt'"),
        (["add", "/no/such/file.txt"], "no such file"),
        (["add", "{tmp}/notes.xlsx"], "not a document"),
    ],
)
def test_add_and_remove_errors_are_one_line(cli, tmp_path, args, message):
    (tmp_path / "notes.xlsx").write_bytes(b"PK\x03\x04")
    result = cli(*[arg.format(tmp=tmp_path) for arg in args])
    assert result.exit_code == 1 and result.output.startswith("Error: ") and message in result.output


def test_with_the_real_model_incremental_and_full_builds_answer_alike(real_settings, tmp_path):
    """Reused vectors differ from re-encoded ones only by batching noise (which bf16 builds make larger)."""
    import json

    from .conftest import SHARED_EVAL, real_embedder_for

    shutil.copytree(real_settings.corpus_dir, tmp_path / "corpus")
    shutil.copytree(real_settings.index_dir, tmp_path / "index")
    settings = real_settings.replace(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index")
    embedder = real_embedder_for(settings)
    (tmp_path / "corpus" / "zebra.txt").write_text("Zebra news\nA zebra crossing was painted on the Armenian border.\n")
    build_index(settings, embedder)
    full = settings.replace(index_dir=tmp_path / "full")
    build_index(full, embedder, full=True)
    a, b = load_index(settings.index_dir), load_index(full.index_dir)
    assert a.passages == b.passages and a.manifest.reused_vectors > 0
    assert (np.sum(a.vectors * b.vectors, axis=1) > 0.999).all()  # batching noise: ~1e-7 in fp32, ~1e-3 in bf16
    seed = SHARED_EVAL / "seed_dev.jsonl"
    questions = [json.loads(line)["q"] for line in seed.read_text().splitlines() if line.strip()] + ["zebra crossing"]
    sa, sb = Searcher(a, embedder, settings), Searcher(b, embedder, full)
    for question in questions:
        assert [h.passage.id for h in sa.search(question, 5).hits] == [h.passage.id for h in sb.search(question, 5).hits]


def test_no_reuse_across_a_change_of_cleaning_rules(tmp_path, monkeypatch):
    shutil.copytree(CORPUS, tmp_path / "corpus")
    settings = fake_settings(tmp_path, corpus=tmp_path / "corpus")
    first = CountingEmbedder()
    build_index(settings, first)
    monkeypatch.setattr("qa.ingest.cleaning.RULES_VERSION", "changed-for-the-test")
    again = CountingEmbedder()
    build_index(settings, again)
    assert again.texts == first.texts  # everything encoded again under the new rules


def test_add_refuses_the_http_documents_file_and_replaces_sidecars(cli, tmp_path):
    special = tmp_path / "http-documents.jsonl"
    special.write_text("")
    result = cli("add", str(special))
    assert result.exit_code == 1 and "holds the documents added over HTTP" in result.output
    corpus = tmp_path / "corpus"
    (corpus / "zebra.txt.meta.json").write_text('{"date": "2001-01-01"}')
    new = tmp_path / "zebra.txt"
    new.write_text("Zebra news\nA zebra crossing was painted.\n")
    assert cli("add", str(new)).exit_code == 0
    assert not (corpus / "zebra.txt.meta.json").exists()  # old metadata does not stick to new text


def manifest_of(settings: Settings) -> Manifest:
    return load_index(settings.index_dir).manifest


def test_many_small_changes_keep_few_segments_and_still_equal_a_full_build(tmp_path):
    shutil.copytree(CORPUS, tmp_path / "corpus")
    settings = fake_settings(tmp_path, corpus=tmp_path / "corpus")
    embedder = CountingEmbedder()
    build_index(settings, embedder)
    for n in range(2 * MAX_SEGMENTS):
        (settings.corpus_dir / f"note-{n:02}.txt").write_text(f"Note {n}\nA zebra crossing number {n} was painted.\n")
        if n % 5 == 4:  # now and then a change to an earlier note and a removal
            (settings.corpus_dir / f"note-{n - 2:02}.txt").write_text(f"Note {n}\nThe crossing {n} was repainted.\n")
            (settings.corpus_dir / f"note-{n - 3:02}.txt").unlink()
        before = embedder.texts
        build_index(settings, embedder)
        assert embedder.texts - before <= 8  # one or two short notes, never the corpus again
        assert len(manifest_of(settings).segments) <= MAX_SEGMENTS
    full_settings = settings.replace(index_dir=tmp_path / "full")
    build_index(full_settings, FakeEmbedder(), full=True)
    a, b = load_index(settings.index_dir), load_index(full_settings.index_dir)
    assert a.passages == b.passages and a.documents == b.documents and a.version == b.version
    assert a.sentence_rows == b.sentence_rows and np.array_equal(a.sentence_vectors, b.sentence_vectors)
    sa, sb = Searcher(a, FakeEmbedder(), settings), Searcher(b, FakeEmbedder(), settings)
    for question in [*QUESTIONS, "crossing 12 repainted"]:
        assert sa.search(question, 5).to_dict()["results"] == sb.search(question, 5).to_dict()["results"]
        for part in ("lexical", "sentence_lexical"):  # BM25 over segments with rows no longer served
            scores = getattr(a, part).scores(question)
            assert np.allclose(scores, getattr(b, part).scores(question), rtol=1e-6)
            some = np.random.default_rng(len(question)).choice(len(scores), 40, replace=False)
            words = getattr(a, part).words(question)
            assert np.array_equal(getattr(a, part).scores_of(words, some), scores[some])  # looked up, exactly
        assert a.lexical.scores(question).any()
    live_rows = sum(s.passages for s in a.manifest.segments)
    assert live_rows < 1.5 * a.manifest.passages  # dead rows are dropped as segments merge


def test_a_build_reads_only_changed_files_and_links_the_kept_segment(tmp_path, monkeypatch):
    import qa.index.plan

    shutil.copytree(CORPUS, tmp_path / "corpus")
    settings = fake_settings(tmp_path, corpus=tmp_path / "corpus")
    first = build_index(settings, FakeEmbedder())
    read = []
    real_read_file = qa.index.plan.read_file
    monkeypatch.setattr("qa.index.plan.read_file", lambda path, *rest: read.append(path.name) or real_read_file(path, *rest))
    (settings.corpus_dir / "zebra.txt").write_text("Zebra news\nA zebra crossing was painted on the border.\n")
    second = build_index(settings, FakeEmbedder())
    assert read == ["zebra.txt"]
    (base,) = manifest_of(settings).segments[:1]
    for name in segments.files(first, base.name):
        assert (first / name).stat().st_ino == (second / name).stat().st_ino  # a hard link, not a copy
    assert build_index(settings, FakeEmbedder()) == second and read == ["zebra.txt"]  # nothing changed


class OtherModel(FakeEmbedder):
    name = "fake-hash-256-other"


def test_removal_history_survives_a_change_of_model(tmp_path):
    shutil.copytree(CORPUS, tmp_path / "corpus")
    settings = fake_settings(tmp_path, corpus=tmp_path / "corpus")
    build_index(settings, FakeEmbedder())
    first = load_index(settings.index_dir)
    lavrov = [p.id for p in first.passages if p.doc_id == "003_d560007ba48ee34c.txt"]
    (settings.corpus_dir / "003_d560007ba48ee34c.txt").unlink()
    build_index(settings, FakeEmbedder())
    (settings.corpus_dir / "000_abdca20c2aa4f4be.txt").unlink()  # gone in the same build as the model changes
    other = settings.replace(model=OtherModel.name)
    build_index(other, OtherModel())
    manifest = manifest_of(other)
    assert manifest.model == OtherModel.name and manifest.encoded_texts > 0
    assert {"003_d560007ba48ee34c.txt", "000_abdca20c2aa4f4be.txt"} <= set(manifest.removed_documents)
    assert all(manifest.retired_passages[pid] == "003_d560007ba48ee34c.txt" for pid in lavrov)
    assert any(doc == "000_abdca20c2aa4f4be.txt" for doc in manifest.retired_passages.values())


def test_a_mostly_deleted_segment_is_merged_away(tmp_path):
    settings = fake_settings(tmp_path)
    docs = [{"id": f"d{n}", "title": f"Doc {n}", "text": f"Document {n} tells of crossing number {n}."} for n in range(10)]
    build_index(settings, FakeEmbedder(), documents=docs)
    embedder = CountingEmbedder()
    build_index(settings, embedder, documents=[*docs[:4], {"id": "new", "title": "Zebras", "text": "A new one about zebras."}])
    manifest = manifest_of(settings)
    assert [s.documents for s in manifest.segments] == [5]  # 4 of 10 live: copied into the new one
    assert embedder.texts == 2  # only the new document's passage and sentence were encoded
    assert Searcher.open(settings, FakeEmbedder()).search("crossing number 3", 1).hits[0].document.id == "d3"


def test_a_damaged_served_build_is_not_reused_and_a_build_still_succeeds(tmp_path):
    shutil.copytree(CORPUS, tmp_path / "corpus")
    settings = fake_settings(tmp_path, corpus=tmp_path / "corpus")
    first = build_index(settings, FakeEmbedder())
    (vectors,) = first.glob("seg-*.vectors.npy")
    data = bytearray(vectors.read_bytes())
    data[-10] ^= 0xFF  # one flipped byte in the vectors a changed document would reuse
    vectors.write_bytes(bytes(data))
    lavrov = settings.corpus_dir / "003_d560007ba48ee34c.txt"
    lavrov.write_text(lavrov.read_text().replace("Trud newspaper", "Trud daily newspaper"))
    embedder = CountingEmbedder()
    build_index(settings, embedder)  # not a crash, not the damaged vectors: everything encoded again
    full = settings.replace(index_dir=tmp_path / "full")
    build_index(full, FakeEmbedder(), full=True)
    a, b = load_index(settings.index_dir), load_index(full.index_dir)
    assert np.array_equal(a.vectors, b.vectors) and a.passages == b.passages
    assert "003_d560007ba48ee34c.txt" not in a.manifest.removed_documents
    (passages,) = current_build(settings.index_dir).glob("seg-*.passages.jsonl")
    passages.unlink()  # a missing file: --full still builds
    build_index(settings, FakeEmbedder(), full=True)
    assert load_index(settings.index_dir).passages == b.passages


def test_with_the_most_segments_an_unchanged_build_writes_nothing(tmp_path):
    shutil.copytree(CORPUS, tmp_path / "corpus")
    settings = fake_settings(tmp_path, corpus=tmp_path / "corpus")
    build_index(settings, FakeEmbedder())
    n = 0
    while len(manifest_of(settings).segments) < MAX_SEGMENTS:
        (settings.corpus_dir / f"note-{n}.txt").write_text(f"Note {n}\nA zebra crossing number {n} was painted.\n")
        build_index(settings, FakeEmbedder())
        n += 1
    served = current_build(settings.index_dir)
    assert build_index(settings, FakeEmbedder()) == served


def test_a_build_holds_the_lock_from_reading_the_served_build_to_switching(tmp_path):
    import threading
    import time

    from qa.index import storage

    settings = fake_settings(tmp_path)
    done = []
    with storage.build_lock(settings.index_dir):
        thread = threading.Thread(target=lambda: done.append(build_index(settings, FakeEmbedder())))
        thread.start()
        time.sleep(0.5)
        assert not done and not (settings.index_dir / "CURRENT").exists()  # waiting, nothing read yet
    thread.join(30)
    assert done and (settings.index_dir / "CURRENT").exists()
