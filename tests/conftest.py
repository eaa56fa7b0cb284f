"""Shared fixtures: a deterministic fake embedder for fast tests, the real model on the real corpus."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from qa.config import Settings
from qa.index.build import build_index
from qa.retrieve.searcher import Searcher

from .openapi_check import CheckingClient

REPO = Path(__file__).resolve().parent.parent  # the checkout: its corpus, README, scripts
CORPUS = REPO / "corpus"
SHARED_EVAL = REPO.parent / "shared" / "eval"  # the eval data beside the checkout (../shared)


REAL_FIXTURES = frozenset({"real_settings", "real_searcher", "app", "client", "backend_searcher", "backend_app"})
BACKENDS = ("segments", "milvus")  # the HTTP contract runs on each (`backend_app`)  # the real model on the real corpus


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that asks for the real model's fixtures is `slow` (`pytest -m "not slow"` leaves it out);
    tests that load the model another way carry the marker themselves."""
    for item in items:
        if REAL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


class FakeEmbedder:
    """Bag of hashed lower-cased words: deterministic, instant, and lexical enough to rank."""

    name = "fake-hash-256"
    dimension = 256

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts, batch_size=32, progress=None):
        self.calls += 1
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                h = int.from_bytes(hashlib.sha1(word.encode()).digest()[:4], "little")
                out[i, h % self.dimension] += 1.0
            norm = np.linalg.norm(out[i])
            out[i] = out[i] / norm if norm else out[i]
        if progress:
            progress(len(texts), len(texts))
        return out


class FakeTokenEmbedder(FakeEmbedder):
    """`FakeEmbedder` that also gives token vectors (`TokenEmbedder`): [CLS], one hashed one-hot
    row per word, [SEP]; its vector is their mean, as mean pooling makes it. Its projection
    (`late.projection`, see `fake_projection`) is a fixed random one."""

    name = "fake-hash-tokens-256"

    def encode_tokens(self, texts, batch_size=32, progress=None, projection=None):
        from qa.encode import late

        tokens = []
        for text in texts:
            rows = np.zeros((len(re.findall(r"\w+", text.lower())) + 2, self.dimension), dtype=np.float32)
            rows[0, 0] = rows[-1, 1] = 1.0
            for n, word in enumerate(re.findall(r"\w+", text.lower()), 1):
                rows[n, int.from_bytes(hashlib.sha1(word.encode()).digest()[:4], "little") % self.dimension] = 1.0
            tokens.append(rows if projection is None else late.compact(rows, projection))
        return self.encode(texts, batch_size, progress), tokens

    def token_starts(self, texts):
        return [np.array([m.start() for m in re.finditer(r"\w+", text.lower())], dtype=np.int64) for text in texts]


@pytest.fixture
def fake_projection(monkeypatch: pytest.MonkeyPatch) -> np.ndarray:
    """A projection for FakeTokenEmbedder's model (other models keep theirs)."""
    from qa.encode import late

    projection = np.linalg.qr(np.random.default_rng(7).normal(size=(FakeEmbedder.dimension, late.DIMS)))[0].astype(np.float32)
    shipped = late.projection
    monkeypatch.setattr(late, "projection", lambda model: projection if model == FakeTokenEmbedder.name else shipped(model))
    return projection


def fake_settings(tmp_path: Path, corpus: Path = CORPUS, **overrides) -> Settings:
    return Settings.load(env={}, corpus_dir=corpus, index_dir=tmp_path / "index", model=FakeEmbedder.name, **overrides)


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def fake_searcher(tmp_path: Path, fake_embedder: FakeEmbedder) -> Searcher:
    """The default corpus indexed with the fake embedder (fast)."""
    settings = fake_settings(tmp_path)
    build_index(settings, fake_embedder)
    return Searcher.open(settings, fake_embedder)


@pytest.fixture(scope="session")
def real_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The real corpus indexed once per session with the real bundled model."""
    root = tmp_path_factory.mktemp("real")
    corpus = root / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = Settings.load(env={}, corpus_dir=corpus, index_dir=root / "index")
    build_index(settings, real_embedder_for(settings))
    return settings


_EMBEDDERS: dict[str, object] = {}


def real_embedder_for(settings: Settings):
    from qa.encode.embedder import SentenceTransformerEmbedder

    key = f"{settings.model} {settings.build_precision}"
    if key not in _EMBEDDERS:
        _EMBEDDERS[key] = SentenceTransformerEmbedder(settings.model, 0, settings.build_precision)
    return _EMBEDDERS[key]


@pytest.fixture(scope="session")
def real_searcher(real_settings: Settings) -> Searcher:
    """What `qa serve` opens: questions through the build's checked ONNX int8 encoder."""
    return Searcher.open(real_settings)


@pytest.fixture(scope="session")
def app(real_settings: Settings, real_searcher: Searcher):
    from qa.web import create_app

    app = create_app(real_settings, real_searcher)
    app.config["TESTING"] = True
    app.test_client_class = CheckingClient
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session", params=BACKENDS)
def backend_searcher(request: pytest.FixtureRequest, real_settings: Settings, real_searcher: Searcher) -> Searcher:
    """The real corpus and model served by each backend: the segment store of `real_searcher`,
    and the same corpus built once per session into Milvus Lite, with the segment build's
    vectors and question encoders (nothing is encoded again)."""
    if request.param == "segments":
        return real_searcher
    engine = real_settings.index_dir.parent / "milvus.db"
    settings = real_settings.replace(backend="milvus", milvus_uri=str(engine))
    build_index(settings, real_embedder_for(settings))
    return Searcher.open(settings)


@pytest.fixture(scope="session")
def backend_app(backend_searcher: Searcher):
    from qa.web import create_app

    app = create_app(backend_searcher.settings, backend_searcher)
    app.config["TESTING"] = True
    app.test_client_class = CheckingClient
    return app
