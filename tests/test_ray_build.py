"""A build encoded by Ray Data actors (`--workers ray`) equals a local build; a Ray cluster that
cannot be reached fails in one line and writes nothing."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import numpy as np
import pytest
import ray
from click.testing import CliRunner

from qa.cli import main
from qa.config import Settings
from qa.encode.embedder import Embedder, passage_encoder
from qa.encode.onnx import ENCODERS
from qa.errors import EncodersUnavailable
from qa.index.build import build_index
from qa.index.load import load_index
from qa.retrieve.searcher import Searcher

from .conftest import CORPUS, FakeEmbedder, fake_settings

SMALL = ("000_abdca20c2aa4f4be.txt", "002_97eb6d87a007548f.txt", "002_97eb6d87a007548f.txt.meta.json")
QUESTIONS = ("How long did the war last?", "Who painted the ceiling?", "What is the capital?")


class Counting:
    """The driver's embedder, counting the texts it encodes itself."""

    def __init__(self, embedder: Embedder) -> None:
        self.inner, self.name, self.dimension, self.texts = embedder, embedder.name, embedder.dimension, 0

    def encode(self, texts, batch_size=32, progress=None):
        self.texts += len(texts)
        return self.inner.encode(texts, batch_size, progress)

    def encode_tokens(self, texts, batch_size=32, progress=None, projection=None):
        self.texts += len(texts)
        return self.inner.encode_tokens(texts, batch_size, progress, projection)

    def token_starts(self, texts):
        return self.inner.token_starts(texts)  # the tokenizer alone: no text is encoded


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def small_corpus(root: Path) -> Path:
    corpus = root / "corpus"
    corpus.mkdir()
    for name in SMALL:
        shutil.copy(CORPUS / name, corpus / name)
    return corpus


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once it is closed


def test_a_ray_build_equals_a_local_build(tmp_path, local_ray, real_settings):
    corpus = small_corpus(tmp_path)
    local = Settings.load(env={}, corpus_dir=corpus, index_dir=tmp_path / "local")
    distributed = local.replace(index_dir=tmp_path / "ray", build_workers="ray", ray_actors=2)
    for settings in (local, distributed):  # the session index's ONNX export: no build exports it again
        shutil.copytree(real_settings.index_dir / ENCODERS, settings.index_dir / ENCODERS)
    model = passage_encoder(local)  # what `qa build` encodes with here, and what each actor loads
    build_index(local, model)
    driver = Counting(model)
    build_index(distributed, driver)
    a, b = load_index(local.index_dir), load_index(distributed.index_dir)
    assert driver.texts == 0  # every passage and sentence was encoded by the actors
    assert b.manifest.encoded_texts == a.manifest.encoded_texts > 0
    assert [p.id for p in a.passages] == [p.id for p in b.passages]
    for mine, theirs in ((a.vectors, b.vectors), (a.sentence_vectors, b.sentence_vectors)):
        # the same model; batches and threads differ, and some CPUs' kernels then round differently
        assert np.min(np.sum(np.asarray(mine) * np.asarray(theirs), axis=1)) > 0.9999
    rows = np.arange(a.passage_count)
    local_tokens, ray_tokens = a.token_vectors(rows), b.token_vectors(rows)
    assert local_tokens is not None and ray_tokens is not None  # the actors give token vectors too
    for x, y in zip(local_tokens, ray_tokens, strict=True):
        assert np.array_equal(x.starts, y.starts) and x.tokens.shape == y.tokens.shape
        assert np.abs(x.tokens.astype(int) - y.tokens.astype(int)).max() <= 3  # int8 units of 1/127
    searchers = [Searcher.open(s, model) for s in (local, distributed)]
    for q in QUESTIONS:
        ra, rb = (s.search(q, 5) for s in searchers)
        assert [h.passage.id for h in ra.hits] == [h.passage.id for h in rb.hits]
        assert [h.score for h in rb.hits] == pytest.approx([h.score for h in ra.hits], abs=1e-4)


def test_an_unreachable_cluster_fails_and_changes_nothing(tmp_path):
    corpus = small_corpus(tmp_path)
    settings = fake_settings(tmp_path, corpus)
    served = build_index(settings, FakeEmbedder())
    shutil.copy(CORPUS / "004_ac4458f6c11ac45b.txt", corpus)  # a new document: its texts need the workers
    before, running = sorted(p.name for p in settings.index_dir.iterdir()), ray.is_initialized()
    address = f"ray://127.0.0.1:{closed_port()}"
    with pytest.raises(EncodersUnavailable, match=f"cannot reach the Ray cluster at {address}"):
        build_index(settings.replace(build_workers=address), FakeEmbedder())
    assert sorted(p.name for p in settings.index_dir.iterdir()) == before
    assert (settings.index_dir / "CURRENT").read_text().strip() == served.name
    assert ray.is_initialized() == running  # no Ray left started


def test_the_cli_says_so_in_one_line_and_exits_non_zero(tmp_path):
    corpus = small_corpus(tmp_path)
    index = tmp_path / "index"
    address = f"ray://127.0.0.1:{closed_port()}"
    result = CliRunner().invoke(main, ["build", "--corpus", str(corpus), "--index", str(index), "--workers", address])
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: cannot reach the Ray cluster at {address}"), result.output
    assert not (index / "CURRENT").exists()


def test_workers_must_be_local_ray_or_a_ray_address():
    for good in ("local", "ray", "ray://head:10001"):
        assert Settings.load(env={}, build_workers=good).build_workers == good
    for bad in ("threads", "ray://", "http://head:10001"):
        with pytest.raises(Exception, match="build_workers must be"):
            Settings.load(env={}, build_workers=bad)
    assert Settings.load(env={"QA_BUILD_WORKERS": "ray://h:1"}).build_workers == "ray://h:1"


def test_the_actor_pool_takes_the_gpus_else_shares_the_cpus():
    from qa.encode.workers import pool_size

    assert pool_size(0, gpus=4, cpus=32) == (4, {"num_gpus": 1})  # one actor per GPU
    assert pool_size(2, gpus=4, cpus=32) == (2, {"num_gpus": 1})
    assert pool_size(0, gpus=0, cpus=8) == (8, {"num_cpus": 1})  # one actor per CPU
    assert pool_size(1, gpus=0, cpus=2) == (1, {"num_cpus": 2})  # one actor, every CPU
    assert pool_size(3, gpus=0, cpus=2) == (3, {"num_cpus": 1})
