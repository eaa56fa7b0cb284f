"""The `qa` command through click's runner: build, ask, errors as one line with a non-zero exit."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from click.testing import CliRunner

from qa.cli import main
from qa.web.openapi import openapi_document

from .conftest import CORPUS
from .openapi_check import OpenAPIChecker


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def env_for(settings) -> dict:  # type: ignore[no-untyped-def]
    return {"QA_INDEX_DIR": str(settings.index_dir), "QA_CORPUS_DIR": str(settings.corpus_dir)}


def test_ask_json_matches_the_http_shape(runner, real_settings):
    result = runner.invoke(main, ["ask", "How long did the war last?", "-k", "2", "--json", "--index", str(real_settings.index_dir)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["query"] == "How long did the war last?"
    assert len(data["results"]) == 2 and isinstance(data["abstained"], bool)
    first = data["results"][0]
    assert set(first) == {"rank", "score", "similarity", "passage_id", "text", "document", "start", "end", "highlight"}
    spec = openapi_document(real_settings)
    OpenAPIChecker(spec).check("/api/search", "GET", 200, data)


def test_ask_prints_rank_title_source_and_the_marked_sentence(runner, real_settings):
    result = runner.invoke(main, ["ask", "Which newspaper interviewed Lavrov?", "-k", "1"], env=env_for(real_settings))
    assert result.exit_code == 0, result.output
    assert re.match(r"1\. \[-?\d+\.\d{3}\] ", result.output)
    assert "003_d560007ba48ee34c.txt [" in result.output
    assert "»" in result.output and "«" in result.output


def test_build_shows_progress_and_writes_an_index(runner, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / "000_abdca20c2aa4f4be.txt", corpus)
    result = runner.invoke(main, ["build", "--corpus", str(corpus), "--index", str(tmp_path / "index")])
    assert result.exit_code == 0, result.output
    assert "embedding passages" in result.output and "built " in result.output
    assert (tmp_path / "index" / "CURRENT").is_file()


@pytest.mark.parametrize(
    "args, message",
    [
        (["ask", "anything", "--index", "{tmp}/none"], "Error: no index in {tmp}/none: build it with `qa build`"),
        (["build", "--corpus", "{tmp}/missing", "--index", "{tmp}/i"], "Error: corpus folder not found: {tmp}/missing"),
        (["ask", "   ", "--index", "{real}"], "Error: the question is missing or empty"),
        (["ask", "why?", "-k", "0", "--index", "{real}"], "Error: k must be an integer from 1 to 50"),
    ],
)
def test_errors_are_one_clear_line(runner, tmp_path, real_settings, args, message):
    fill = {"tmp": str(tmp_path), "real": str(real_settings.index_dir)}
    result = runner.invoke(main, [a.format(**fill) for a in args])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == message.format(**fill)


def test_a_full_disk_during_build_is_one_line_and_exit_1(runner, tmp_path, monkeypatch):
    from .conftest import FakeEmbedder

    def no_space(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("qa.cli.load_embedder", lambda settings: FakeEmbedder())
    monkeypatch.setattr("qa.index.np.save", no_space)
    result = runner.invoke(main, ["build", "--index", str(tmp_path / "index")], env={"QA_MODEL": FakeEmbedder.name})
    assert result.exit_code == 1
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("Error: cannot write the index") and "No space left on device" in last
    assert "Traceback" not in result.output
