"""Token vectors for late interaction (`qa.encode.late`): from the forward pass that gives each
text its pooled vector, the same from torch and from every ONNX tier, trimmed to the text's tokens."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa.encode.embedder import TokenEmbedder, resolve_model_path
from qa.encode.onnx import ENCODERS, PROBE, OnnxEmbedder, read_export
from qa.encode.workers import RayEncoder
from qa.index.load import load_index

from .conftest import FakeEmbedder, fake_settings, real_embedder_for

SENTENCE = "The ceasefire agreement was signed in Moscow after six weeks of fighting in the region. "
# of different lengths in one batch (padding to trim), one past the model's 256 tokens (truncated)
TEXTS = ["Who signed it?", "peace", SENTENCE, SENTENCE * 4, "When did the war start?", SENTENCE * 30, "A short one."]


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def token_counts(model: str, texts: list[str], max_tokens: int) -> list[int]:
    """What the model's own tokenizer makes of each text, [CLS] and [SEP] included."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(model))
    return [len(ids) for ids in tokenizer(texts, truncation=True, max_length=max_tokens)["input_ids"]]


def export_folder(settings) -> Path:
    return settings.index_dir / ENCODERS / load_index(settings.index_dir).manifest.query_encoder["folder"]


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_torch_token_vectors_are_the_pass_that_gives_the_pooled_vectors(real_settings, precision):
    embedder = real_embedder_for(real_settings.replace(build_precision=precision))
    assert isinstance(embedder, TokenEmbedder)
    pooled, tokens = embedder.encode_tokens(TEXTS, batch_size=4)
    assert pooled.dtype == np.float32 and np.allclose(pooled, embedder.encode(TEXTS, batch_size=4), rtol=0, atol=1e-6)
    counts = token_counts(real_settings.model, TEXTS, embedder._model.max_seq_length)
    assert [t.shape for t in tokens] == [(n, embedder.dimension) for n in counts] and max(counts) == 256
    assert all(t.dtype == np.float32 for t in tokens)
    # mean pooling is the mean of the text's own rows: padding rows would pull it away
    means = np.stack([unit(t.mean(axis=0)) for t in tokens])
    if precision == "fp32":
        assert np.allclose(means, pooled, rtol=0, atol=1e-5)
    else:  # the model pools in bf16
        assert (np.sum(means * pooled, axis=1) >= 0.999).all()


def test_onnx_fp32_token_vectors_are_torchs(real_settings):
    folder = export_folder(real_settings)
    encoder = OnnxEmbedder(folder, real_settings.model, "fp32", max_tokens=read_export(folder)["max_tokens"])
    assert isinstance(encoder, TokenEmbedder)
    pooled, tokens = encoder.encode_tokens(TEXTS, batch_size=4)  # batched by length, padded
    assert np.array_equal(pooled, encoder.encode(TEXTS, batch_size=4))
    _, expected = real_embedder_for(real_settings.replace(build_precision="fp32")).encode_tokens(TEXTS)
    assert [t.shape for t in tokens] == [t.shape for t in expected]
    for got, want in zip(tokens, expected, strict=True):
        assert got.dtype == np.float32 and np.allclose(got, want, rtol=0, atol=1e-4)


@pytest.mark.parametrize("tier", ["int8", "int8-u8"])
def test_onnx_int8_token_vectors_keep_the_direction_of_torchs(real_settings, tier):
    encoder = OnnxEmbedder(export_folder(real_settings), real_settings.model, tier)
    pooled, tokens = encoder.encode_tokens(PROBE)
    assert np.array_equal(pooled, encoder.encode(PROBE))
    _, expected = real_embedder_for(real_settings.replace(build_precision="fp32")).encode_tokens(PROBE)
    cosines = np.concatenate([np.sum(unit(a) * unit(b), axis=1) for a, b in zip(tokens, expected, strict=True)])
    # every token ≥ 0.98 measured with VNNI, and with AVX2's saturating u8×s8 pairs emulated
    assert cosines.min() >= 0.95, cosines.min()


def test_a_ray_encoder_gives_token_vectors_and_a_plain_embedder_none(tmp_path):
    assert isinstance(RayEncoder(fake_settings(tmp_path), FakeEmbedder()), TokenEmbedder)  # tests/test_ray_build.py runs it
    assert not isinstance(FakeEmbedder(), TokenEmbedder)
