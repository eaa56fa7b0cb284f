from __future__ import annotations

from pathlib import Path

import pytest

from qa.config import Settings, enumerated_settings
from qa.errors import ConfigError


def test_defaults_then_environment_then_arguments():
    assert Settings.load(env={}).default_k == 5
    env = {"QA_DEFAULT_K": "7", "QA_INDEX_DIR": "/tmp/x", "QA_EMBED_TITLE": "false"}
    from_env = Settings.load(env=env)
    assert (from_env.default_k, from_env.index_dir, from_env.embed_title) == (7, Path("/tmp/x"), False)
    assert Settings.load(env=env, default_k=3, index_dir="/tmp/y").index_dir == Path("/tmp/y")
    assert Settings.load(env=env, default_k=3).default_k == 3


@pytest.mark.parametrize(
    "env, message",
    [
        ({"QA_DEFAULT_K": "five"}, "QA_DEFAULT_K='five' is not a valid int"),
        ({"QA_DEFAULT_K": "99"}, "default_k"),
        ({"QA_FILE_MAX_SECONDS": "0"}, "file_max_seconds > 0"),
        ({"QA_FILE_MAX_MEMORY": str(64 << 20)}, "file_max_memory >= 268435456"),
        ({"QA_PDF_MAX_PAGES": "0"}, "must be >= 1"),
    ],
)
def test_bad_settings_are_named(env, message):
    with pytest.raises(ConfigError, match=message):
        Settings.load(env=env)


def test_every_setting_has_help():
    rows = Settings.describe()
    assert all(var.startswith("QA_") and help for var, _, help in rows)
    assert ("QA_INDEX_DIR", "index", "Folder where the built index lives.") in rows


def test_default_folders_are_relative_to_the_working_directory(tmp_path, monkeypatch):
    settings = Settings.load(env={})
    assert (settings.corpus_dir, settings.index_dir) == (Path("corpus"), Path("index"))
    monkeypatch.chdir(tmp_path)
    assert settings.index_dir.resolve() == tmp_path / "index"  # not beside the installed package
    assert (
        "QA_CORPUS_DIR",
        "corpus",
        "Folder of source documents (.txt, .md, .html, .jsonl, .pdf, .docx).",
    ) in Settings.describe()


def test_enumerated_settings_are_literal_types_checked_when_loaded():
    assert enumerated_settings() == {
        "build_precision": ("auto", "fp32", "bf16"),
        "ranking": ("hybrid", "dense", "bm25"),
        "log_format": ("text", "json"),
        "query_encoder": ("auto", "onnx", "int8", "int8-u8", "fp32", "torch"),
        "backend": ("segments", "milvus"),
    }
    assert Settings.load(env={"QA_RANKING": "bm25"}, query_encoder="int8").ranking == "bm25"
    with pytest.raises(ConfigError, match=r"ranking must be one of hybrid, dense, bm25, not 'fuzzy'"):
        Settings.load(env={"QA_RANKING": "fuzzy"})
    with pytest.raises(ConfigError, match=r"build_precision must be one of auto, fp32, bf16, not 'fp16'"):
        Settings.load(env={}, build_precision="fp16")
    with pytest.raises(ConfigError, match="query_encoder must be one of"):
        Settings.load(env={}).replace(query_encoder="int4")
    with pytest.raises(ConfigError, match=r"log_format must be one of text, json, not 'xml'"):
        Settings.load(env={"QA_LOG_FORMAT": "xml"})


def test_metrics_are_off_unless_asked_for():
    assert not Settings.load(env={}).collects_metrics
    assert Settings.load(env={"QA_METRICS": "1"}).metrics and Settings.load(env={"QA_METRICS": "1"}).collects_metrics
    on_a_port = Settings.load(env={"QA_METRICS_PORT": "9108"})
    assert (on_a_port.metrics, on_a_port.metrics_port, on_a_port.collects_metrics) == (False, 9108, True)
    with pytest.raises(ConfigError, match="QA_METRICS='maybe' is not a valid bool"):
        Settings.load(env={"QA_METRICS": "maybe"})
