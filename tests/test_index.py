"""Index build, save, load, staleness and mismatch errors (fake embedder: fast)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from qa.errors import IndexMismatchError, IndexMissingError, StorageError
from qa.index import catalog, segments, storage
from qa.index.build import build_index, stale_reason
from qa.index.load import load_index
from qa.index.manifest import FORMAT_VERSION, Manifest, SegmentRecord, mismatch
from qa.retrieve.searcher import Searcher

from .conftest import CORPUS, FakeEmbedder, fake_settings


def current(settings) -> Path:
    return storage.current_build(settings.index_dir)


def test_build_then_load_round_trip(tmp_path, fake_embedder):
    settings = fake_settings(tmp_path)
    build_index(settings, fake_embedder)
    index = load_index(settings.index_dir, model=FakeEmbedder.name)
    manifest = index.manifest
    assert manifest.format_version == FORMAT_VERSION
    assert manifest.model == FakeEmbedder.name and manifest.dimension == 256
    assert manifest.documents == 5 == len(index.documents)
    assert manifest.passages == len(index.passages) == len(index.vectors)
    assert set(manifest.corpus_files) == {p.name for p in CORPUS.iterdir() if not p.name.startswith(".")}
    assert manifest.settings["passage_target_chars"] == settings.passage_target_chars
    for p in index.passages:
        assert index.documents[p.doc_id].text[p.start : p.end] == p.text


def test_rebuilding_an_unchanged_corpus_keeps_passage_ids_and_version(tmp_path, fake_embedder):
    settings = fake_settings(tmp_path)
    served = build_index(settings, fake_embedder)
    first = load_index(settings.index_dir)
    assert build_index(settings, fake_embedder) == served  # nothing changed: nothing written
    build_index(settings, fake_embedder, full=True)
    second = load_index(settings.index_dir)
    assert [p.id for p in first.passages] == [p.id for p in second.passages]
    assert first.version == second.version
    build_index(settings, fake_embedder, full=True)
    assert len(list(settings.index_dir.glob("build-*"))) == 2  # the served build and the previous one


def test_missing_index_says_how_to_build(tmp_path):
    with pytest.raises(IndexMissingError, match="qa build"):
        load_index(tmp_path / "nothing-here")


def test_index_of_another_model_is_refused(tmp_path, fake_embedder):
    settings = fake_settings(tmp_path)
    build_index(settings, fake_embedder)
    with pytest.raises(IndexMismatchError, match=r"built with model 'fake-hash-256'.*qa build"):
        load_index(settings.index_dir, model="sentence-transformers/all-MiniLM-L6-v2")


def test_index_of_another_format_is_refused(tmp_path, fake_embedder):
    settings = fake_settings(tmp_path)
    build_index(settings, fake_embedder)
    manifest_path = current(settings) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = FORMAT_VERSION + 1
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatchError, match="format"):
        load_index(settings.index_dir)


@pytest.mark.parametrize("part", [f"seg-*.{p}" for p in segments.PARTS] + [catalog.FILE])
def test_missing_or_damaged_files_are_detected(tmp_path, fake_embedder, part):
    settings = fake_settings(tmp_path)
    build_index(settings, fake_embedder)
    (path,) = current(settings).glob(part)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(IndexMismatchError, match="damaged"):
        load_index(settings.index_dir)
    path.unlink()
    with pytest.raises(IndexMismatchError, match="missing"):
        load_index(settings.index_dir)


class ExplodingEmbedder(FakeEmbedder):
    def encode(self, texts, batch_size=32, progress=None):
        if len(texts) > 10:
            progress and progress(1, len(texts))
            raise RuntimeError("power cut")
        return super().encode(texts, batch_size, progress)


def test_a_failed_build_leaves_the_served_index_intact(tmp_path, fake_embedder):
    settings = fake_settings(tmp_path)
    build_index(settings, fake_embedder)
    before = current(settings)
    answers = Searcher.open(settings, fake_embedder).search("Harop loitering munition").to_dict()["results"]
    with pytest.raises(RuntimeError, match="power cut"):
        build_index(settings, ExplodingEmbedder(), full=True)
    assert current(settings) == before
    assert Searcher.open(settings, fake_embedder).search("Harop loitering munition").to_dict()["results"] == answers


def test_a_build_interrupted_while_writing_leaves_no_debris(tmp_path, fake_embedder, monkeypatch):
    settings = fake_settings(tmp_path)
    build_index(settings, fake_embedder)
    before = current(settings)

    def broken_save(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("qa.index.segments.np.save", broken_save)
    with pytest.raises(StorageError, match=r"No space left on device.*the index being served is unchanged"):
        build_index(settings, fake_embedder, full=True)
    assert current(settings) == before
    assert not list(settings.index_dir.glob(".tmp-*"))
    load_index(settings.index_dir)


def test_staleness_follows_corpus_model_and_settings(tmp_path, fake_embedder):
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = fake_settings(tmp_path, corpus=corpus)
    assert "no index" in stale_reason(settings)
    build_index(settings, fake_embedder)
    assert stale_reason(settings) is None
    assert stale_reason(settings.replace(passage_target_chars=400)) == "passage settings changed"
    assert stale_reason(settings.replace(model="other")) == "model changed"
    (corpus / "new.txt").write_text("A new article\nSomething new happened on Monday in the region.\n")
    assert stale_reason(settings) == "corpus changed"


def test_documents_in_memory_can_be_indexed(tmp_path, fake_embedder):
    settings = fake_settings(tmp_path)
    docs = [
        {"id": "a", "title": "Apples", "text": "Apples grow on trees in orchards. They are red or green."},
        {"id": "b", "title": "Boats", "text": "Boats float on water. Sailing boats use the wind."},
    ]
    build_index(settings, fake_embedder, documents=docs)
    hits = Searcher.open(settings, fake_embedder).search("Which boats use the wind?", 1).hits
    assert hits[0].document.id == "b"
    assert hits[0].passage.text[slice(*hits[0].highlight)] == "Sailing boats use the wind."


def test_documents_without_prose_are_a_corpus_error(tmp_path, fake_embedder):
    from qa.errors import CorpusError

    with pytest.raises(CorpusError, match="no prose"):
        build_index(fake_settings(tmp_path), fake_embedder, documents=[{"id": "x", "text": "| a | b |\n---|---|\n"}])


@pytest.mark.parametrize(
    "damage",
    [
        lambda index: (index / "CURRENT").write_bytes(b"\xff\xfe"),
        lambda index: (index / "CURRENT").write_text("../../etc\n"),
        lambda index: (current_of(index) / "manifest.json").write_text("[1, 2]"),
        lambda index: (current_of(index) / "manifest.json").write_text('{"checksums": 7}'),
    ],
)
def test_a_damaged_pointer_or_manifest_is_an_index_mismatch(tmp_path, fake_embedder, damage):
    settings = fake_settings(tmp_path)
    build_index(settings, fake_embedder)
    damage(settings.index_dir)
    with pytest.raises(IndexMismatchError, match="rebuild"):
        load_index(settings.index_dir)


def current_of(index_dir):
    return index_dir / (index_dir / "CURRENT").read_text().strip()


def test_the_catalog_keeps_every_entry_as_written(tmp_path):
    entries = {
        doc_id: catalog.Entry(
            segment=f"seg-{n % 2}",
            digest=f"{n:064x}",
            file=f"f{n % 3}.jsonl",
            source=f"corpus/f{n % 3}.jsonl",
            span=catalog.Span(n, (2 * n, 2 * n + 2), (5 * n, 5 * n + 5)),
        )
        for n, doc_id in enumerate(["a", "line\nbreak", "é/ü 中", "", "x" * 300])
    }
    catalog.write(tmp_path / catalog.FILE, entries)
    assert catalog.read(tmp_path / catalog.FILE).entries() == entries
    assert list(catalog.read(tmp_path / catalog.FILE).ids) == list(entries)


def test_a_damaged_catalog_makes_the_next_build_encode_everything(tmp_path, fake_embedder):
    settings = fake_settings(tmp_path)
    build_index(settings, fake_embedder)
    path = current(settings) / catalog.FILE
    path.write_bytes(path.read_bytes()[:-7])
    build_index(settings, fake_embedder)
    assert load_index(settings.index_dir).manifest.reused_vectors == 0


def test_a_built_manifest_reads_and_writes_back_equal(tmp_path, fake_embedder):
    shutil.copytree(CORPUS, tmp_path / "corpus")
    settings = fake_settings(tmp_path, corpus=tmp_path / "corpus")
    build_index(settings, fake_embedder)
    next(p for p in settings.corpus_dir.glob("*.txt")).unlink()  # so the manifest has a history too
    build_index(settings, fake_embedder)
    text = (current(settings) / storage.MANIFEST).read_text()
    data = json.loads(text)
    manifest = storage.read_manifest(current(settings))
    assert manifest == Manifest.from_json(data)
    assert manifest.to_json() == data
    assert json.dumps(manifest.to_json(), ensure_ascii=False) + "\n" == text  # same keys, order and values
    assert manifest.segments and all(isinstance(s, SegmentRecord) for s in manifest.segments)
    assert manifest.removed_documents and manifest.retired_passages and manifest.checksums and manifest.query_encoder


def test_a_manifest_of_the_wrong_shape_is_a_mismatch(tmp_path, fake_embedder):
    settings = fake_settings(tmp_path)
    build_index(settings, fake_embedder)
    path = current(settings) / storage.MANIFEST
    data = json.loads(path.read_text())
    for key, value in [("passages", "many"), ("segments", {}), ("checksums", []), ("skipped", None)]:
        path.write_text(json.dumps({**data, key: value}))
        with pytest.raises(IndexMismatchError, match=f"not an index manifest.*{key}.*qa build"):
            load_index(settings.index_dir)
        assert stale_reason(settings) is not None
    path.write_text(json.dumps([data]))
    with pytest.raises(IndexMismatchError, match="not an index manifest"):
        load_index(settings.index_dir)
    older = {k: v for k, v in data.items() if k not in ("segments", "precision")} | {"format_version": 3, "passages": "x"}
    path.write_text(json.dumps(older))
    with pytest.raises(IndexMismatchError, match="has format 3, this qa reads format"):  # not "not a manifest"
        load_index(settings.index_dir)


def test_the_compatibility_check_says_why(tmp_path, fake_embedder):
    settings = fake_settings(tmp_path)
    build_index(settings, fake_embedder)
    manifest = storage.read_manifest(current(settings))
    assert mismatch(manifest, FakeEmbedder.name, settings) is None
    assert mismatch(manifest, None) is None  # (the loader does not know the build settings)
    model = mismatch(manifest, "other-model", settings)
    assert model is not None and model.reason == "model changed"
    assert "'fake-hash-256'" in model.detail and "'other-model'" in model.detail and "QA_MODEL" in model.advice
    passages = mismatch(manifest, FakeEmbedder.name, settings.replace(passage_overlap_sentences=3))
    assert passages is not None and passages.reason == "passage settings changed"
    assert mismatch(manifest, FakeEmbedder.name, settings.replace(embed_title=not settings.embed_title)) is not None
    assert mismatch(manifest, "other-model") is not None  # the model is checked without settings too
    older = Manifest.from_json(manifest.to_json() | {"format_version": FORMAT_VERSION - 1})
    assert older.segments == ()  # another format's segments are not taken as this format's
    fmt = mismatch(older, FakeEmbedder.name, settings)
    assert fmt is not None and fmt.reason == "index format changed"
    assert fmt.detail == f"has format {FORMAT_VERSION - 1}, this qa reads format {FORMAT_VERSION}"
    # the format is checked first: an older index is "format changed" whatever else differs
    fmt_and_model = mismatch(older, "other-model", settings.replace(passage_target_chars=50))
    assert fmt_and_model is not None and fmt_and_model.reason == "index format changed"


def test_every_compatibility_verdict_comes_from_one_check(tmp_path, fake_embedder, monkeypatch):
    """The loader, an incremental build and stale_reason all ask `manifest.mismatch`."""
    from qa.index import build, load, previous
    from qa.index.manifest import Mismatch

    settings = fake_settings(tmp_path)
    build_index(settings, fake_embedder)
    refuse = Mismatch("index format changed", "is refused by the test", "rebuild it with `qa build`")
    for module in (build, load, previous):
        monkeypatch.setattr(module, "mismatch", lambda *args, **kwargs: refuse)
    with pytest.raises(IndexMismatchError, match="is refused by the test"):
        load_index(settings.index_dir)
    assert stale_reason(settings) == "index format changed"
    build_index(settings, fake_embedder)  # not compatible: everything is encoded again
    monkeypatch.undo()
    assert load_index(settings.index_dir).manifest.reused_vectors == 0
