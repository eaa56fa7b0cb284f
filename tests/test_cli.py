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


def env_for(settings) -> dict:
    return {"QA_INDEX_DIR": str(settings.index_dir), "QA_CORPUS_DIR": str(settings.corpus_dir)}


def test_ask_json_matches_the_http_shape(runner, real_settings):
    result = runner.invoke(
        main, ["ask", "How long did the war last?", "-k", "2", "--json", "--index", str(real_settings.index_dir)]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["query"] == "How long did the war last?"
    assert len(data["results"]) == 2 and isinstance(data["abstained"], bool)
    first = data["results"][0]
    shape = {"rank", "score", "similarity", "passage_id", "text", "document", "start", "end", "highlight"}
    assert set(first) - {"answer"} == shape  # "answer" only when the question's answer span was found
    for hit in data["results"]:
        if "answer" in hit:
            assert hit["highlight"]["start"] <= hit["answer"]["start"] < hit["answer"]["end"] <= hit["highlight"]["end"]
    spec = openapi_document(real_settings)
    OpenAPIChecker(spec).check("/api/search", "GET", 200, data)


def test_ask_prints_rank_title_source_and_the_marked_sentence(runner, real_settings):
    result = runner.invoke(main, ["ask", "Which newspaper interviewed Lavrov?", "-k", "1"], env=env_for(real_settings))
    assert result.exit_code == 0, result.output
    assert re.match(r"Confidence 0\.\d\d\n\n1\. \[-?\d+\.\d{3}\] ", result.output)
    assert "003_d560007ba48ee34c.txt [" in result.output
    assert "»" in result.output and "«" in result.output


def test_ask_prints_the_answer_span_and_why_it_abstained(runner, real_settings):
    question = "Who was Armenia's defence minister in 2022?"
    result = runner.invoke(main, ["ask", question, "-k", "3"], env=env_for(real_settings))
    assert result.exit_code == 0, result.output
    assert "   Answer: Suren Papikyan\n" in result.output
    strict = env_for(real_settings) | {"QA_ABSTAIN_THRESHOLD": "1", "QA_ABSTAIN_LEXICAL": "false"}
    doubtful = runner.invoke(main, ["ask", question, "-k", "3"], env=strict)
    assert doubtful.exit_code == 0, doubtful.output
    assert doubtful.output.startswith("No confident answer in these documents: No passage is close enough")
    assert "Answer:" not in doubtful.output


@pytest.mark.slow  # the real model encodes a document
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

    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("qa.cli.building.load_embedder", lambda settings: FakeEmbedder())
    monkeypatch.setattr("qa.index.segments.np.save", no_space)
    result = runner.invoke(main, ["build", "--index", str(tmp_path / "index")], env={"QA_MODEL": FakeEmbedder.name})
    assert result.exit_code == 1
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("Error: cannot write the index") and "No space left on device" in last
    assert "Traceback" not in result.output


@pytest.fixture
def nothing_heavy(monkeypatch):
    """Fails the test if a model, an index or a build is loaded."""

    def heavy(*args, **kwargs):
        raise AssertionError("loaded something heavy before checking the input")

    for name in (
        "qa.cli.building.load_embedder",
        "qa.retrieve.searcher.Searcher.open",
        "qa.index.build.build_index",
        "qa.index.build.stale_reason",
    ):
        monkeypatch.setattr(name, heavy)


@pytest.mark.parametrize(
    "args, message",
    [
        (["ask", "", "--index", "{tmp}/none"], "Error: the question is missing or empty"),
        (["ask", "why?", "-k", "0", "--index", "{tmp}/none"], "Error: k must be an integer from 1 to 50"),
        (["build", "--corpus", "{tmp}/missing", "--index", "{tmp}/i"], "Error: corpus folder not found: {tmp}/missing"),
        (
            ["build", "--corpus", "{tmp}/empty", "--index", "{tmp}/i"],
            "Error: no documents (.docx, .htm, .html, .jsonl, .md, .pdf, .txt) in {tmp}/empty (skipped: notes.xlsx)",
        ),
        (
            ["serve", "--corpus", "{tmp}/empty", "--index", "{tmp}/i"],
            "Error: no documents (.docx, .htm, .html, .jsonl, .md, .pdf, .txt) in {tmp}/empty (skipped: notes.xlsx)",
        ),
    ],
)
def test_bad_input_fails_before_anything_heavy_loads(runner, tmp_path, nothing_heavy, monkeypatch, args, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.xlsx").write_bytes(b"PK\x03\x04")
    monkeypatch.setattr("qa.index.build.stale_reason", lambda settings, documents=None: "no index yet")
    fill = {"tmp": str(tmp_path)}
    result = runner.invoke(main, [a.format(**fill) for a in args] + (["--port", "0"] if args[0] == "serve" else []))
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines()[-1] == message.format(**fill)


def test_a_port_in_use_is_one_line_before_anything_loads(runner, tmp_path, nothing_heavy):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(main, ["serve", "--port", str(port), "--corpus", str(CORPUS), "--index", str(tmp_path / "i")])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: cannot listen on 127.0.0.1:{port}: Address already in use (another server? choose one with --port)"
    ]


def test_help_gives_every_command_a_whole_summary(runner):
    output = runner.invoke(main, ["--help"]).output
    commands = output.split("Commands:")[1].strip().splitlines()
    assert len(commands) == len(main.commands) == 7
    for line in commands:
        assert line.rstrip().endswith(".") and "..." not in line, line


@pytest.fixture
def fake_cli(tmp_path, monkeypatch):
    """`qa` with the fake embedder and no QA_ variables: what names the corpus is the command line alone."""
    from .conftest import FakeEmbedder

    monkeypatch.setattr("qa.cli.building.load_embedder", lambda settings: FakeEmbedder())
    env = {name: "" for name in ("QA_CORPUS_DIR", "QA_INDEX_DIR")} | {"QA_MODEL": FakeEmbedder.name}
    return lambda *args: CliRunner().invoke(main, [str(a) for a in args], env=env)


def test_an_index_remembers_its_corpus_and_another_needs_replace(fake_cli, tmp_path):
    from qa.cli.options import index_settings
    from qa.index.build import stale_reason

    big, small = tmp_path / "big", tmp_path / "small"
    shutil.copytree(CORPUS, big)
    small.mkdir()
    shutil.copy(CORPUS / "004_ac4458f6c11ac45b.txt", small)
    index = tmp_path / "index"
    assert fake_cli("build", "--corpus", big, "--index", index).exit_code == 0
    # named without a corpus, the index is in step with its own corpus, not with the default one
    settings = index_settings(index_dir=index, model="fake-hash-256")
    assert settings.corpus_dir == big and stale_reason(settings) is None
    status = fake_cli("status", "--index", index).output
    assert f"corpus folder: {big}" in status and "in step with the index on disk" in status
    assert "5 documents" in fake_cli("build", "--index", index).output  # rebuilt from its own corpus
    refused = fake_cli("build", "--corpus", small, "--index", index)
    assert refused.exit_code == 1 and "Give --replace to do that" in refused.output.splitlines()[-1]
    assert f"was built from {big}, not {small}" in refused.output
    assert fake_cli("serve", "--corpus", small, "--index", index, "--port", "0").exit_code == 1  # refused too
    replaced = fake_cli("build", "--corpus", small, "--index", index, "--replace")
    assert replaced.exit_code == 0 and "1 documents" in replaced.output
    assert index_settings(index_dir=index, model="fake-hash-256").corpus_dir == small


def test_files_that_cannot_be_read_are_skipped_listed_and_the_rest_indexed(fake_cli, tmp_path):
    from qa.index.load import load_index

    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(CORPUS, corpus)
    (corpus / "report.pdf").write_bytes(b"%PDF-1.4 ...")
    (corpus / "blob.bin").write_bytes(b"\x00\x01")
    (corpus / "latin1.txt").write_bytes("Caf\xe9 cr\xe8me".encode("latin-1"))
    (corpus / "broken.jsonl").write_text('{"id": "a", "text": "fine"}\n{"id": "b", "text": \n')
    result = fake_cli("build", "--corpus", corpus, "--index", index)
    assert result.exit_code == 0, result.output
    reasons = {
        "blob.bin": "not a document this version reads",
        "report.pdf": "not a readable PDF",
        "latin1.txt": "not valid UTF-8",
        "broken.jsonl": "line 2: invalid JSON",
    }
    manifest = load_index(index).manifest
    assert list(manifest.skipped) == sorted(reasons) and manifest.documents == 5
    for name, reason in reasons.items():
        assert reason in manifest.skipped[name]
        assert f"skipped {name}: {reason}" in result.output
        assert f" skipped: {name}: {reason}" in fake_cli("status", "--index", index).output
    assert "4 files skipped; the rest is indexed" in result.output
    strict = fake_cli("build", "--corpus", corpus, "--index", tmp_path / "strict", "--strict")
    assert strict.exit_code == 1 and "broken.jsonl:2: invalid JSON" in strict.output.splitlines()[-1]
    # a served document whose file turns bad keeps its last readable version, and says so
    (corpus / "004_ac4458f6c11ac45b.txt").write_bytes(b"\xff\xfe broken now")
    again = fake_cli("build", "--index", index)
    assert again.exit_code == 0 and "004_ac4458f6c11ac45b.txt: not valid UTF-8" in again.output
    assert "its last readable version is still served" in again.output
    assert "004_ac4458f6c11ac45b.txt" in load_index(index).documents
