"""The README's and docs/'s promises: every example runs as written, the configuration table is
the code's, every link resolves.

Fenced blocks, by language tag (any other tag fails the test):
- ``python``: executed in a workspace, a folder holding a copy of the session's real corpus and
  index as ``corpus/`` and ``index/``; a ``text`` block right after it is its printed output.
- ``console``: each ``$ `` line is a command, run by bash in the workspace with ``qa`` on PATH;
  the lines after it, if any, are its output. ``qa serve`` starts a server for the rest of the
  file (on a free port, given as ``QA_PORT``); ``curl`` commands go to it (``127.0.0.1:8000`` is
  replaced by its port) and must answer 2xx with a body that parses as JSON.
- ``sh``: the quick start: each script is checked to end in what the README says it runs;
  ``scripts/serve`` is then replaced by the ``qa serve`` it runs, ``scripts/test`` is not run.
- ``json``: a sample, which must parse. ``text``: output, not run.
In expected output, ``...`` matches any text.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import IO

import pytest
from flask import Flask

from qa.config import Settings
from qa.web import qa_blueprint

from .conftest import REPO
from .openapi_check import checking_client
from .served import free_port, wait_until_up

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)
RUN, OUTPUT = {"python", "console", "sh"}, {"json", "text"}
DOC_PORT = "127.0.0.1:8000"


def blocks(path: Path) -> list[tuple[str, str]]:
    """(language tag, body) of each fenced block."""
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(path.read_text())]


def matches(expected: str, actual: str) -> bool:
    """Whether `actual` is `expected`, where `...` stands for any text (trailing spaces ignored)."""
    pattern = ".*?".join(re.escape(piece) for piece in expected.strip().split("..."))
    tidy = "\n".join(line.rstrip() for line in actual.strip().splitlines())
    return re.fullmatch(pattern, tidy, re.S) is not None


def commands(console: str) -> list[tuple[str, str]]:
    """(command, expected output) of each `$ ` line of a console block."""
    found: list[tuple[str, list[str]]] = []
    for line in console.splitlines():
        if line.startswith("$ "):
            found.append((line[2:], []))
        else:
            assert found, f"output before any command: {line!r}"
            found[-1][1].append(line)
    return [(command, "\n".join(output)) for command, output in found]


@pytest.fixture
def workspace(real_settings: Settings, tmp_path: Path) -> Path:
    """A checkout's root as the docs assume it (commands run there): a copy of the session's real
    corpus and index (the index's files hard-linked: builds never change a file, they add new
    ones), the repository's eval/ folder, and ../shared beside it."""
    root = tmp_path / "checkout"
    shutil.copytree(real_settings.corpus_dir, root / "corpus")
    skip = shutil.ignore_patterns(".lock", ".servers")
    shutil.copytree(real_settings.index_dir, root / "index", copy_function=os.link, ignore=skip)
    (root / "eval").symlink_to(REPO / "eval")
    if (REPO.parent / "shared").is_dir():
        (tmp_path / "shared").symlink_to(REPO.parent / "shared")
    return root


def environment(workspace: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(REPO)
    env |= {"QA_INDEX_DIR": str(workspace / "index"), "QA_CORPUS_DIR": str(workspace / "corpus"), "QA_PORT": str(port)}
    return env


class Session:
    """Runs one document's examples, in order, in one workspace."""

    def __init__(self, workspace: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
        self.workspace, self.monkeypatch, self.capsys = workspace, monkeypatch, capsys
        self.port = free_port()
        self.env = environment(workspace, self.port)
        self.servers: list[subprocess.Popen[bytes]] = []
        self.logs: list[IO[str]] = []

    def python(self, code: str, expected: str | None) -> None:
        self.monkeypatch.chdir(self.workspace)
        for name in ("QA_INDEX_DIR", "QA_CORPUS_DIR"):
            self.monkeypatch.setenv(name, self.env[name])
        self.capsys.readouterr()
        exec(compile(code, "example", "exec"), {"__name__": "example"})
        printed = self.capsys.readouterr().out
        assert expected is None or matches(expected, printed), printed

    def console(self, command: str, expected: str) -> None:
        words = shlex.split(command)
        program = next(w for w in words if "=" not in w)
        if program == "curl":
            return self.curl(words)
        if words[words.index(program) : words.index(program) + 2] == ["qa", "serve"]:
            return self.serve(command)
        done = subprocess.run(["bash", "-c", command], cwd=self.workspace, env=self.env, capture_output=True, text=True)
        assert done.returncode == 0, f"{command}\n{done.stdout}{done.stderr}"
        assert not expected or matches(expected, done.stdout), done.stdout

    def serve(self, command: str) -> None:
        log = (self.workspace / f"server-{len(self.servers)}.log").open("w+")  # closed by stop()
        self.logs.append(log)
        words = shlex.split(command)
        given = dict(w.split("=", 1) for w in words[: words.index("qa")])  # `NAME=value qa serve`
        argv = words[words.index("qa") :]
        server = subprocess.Popen(argv, cwd=self.workspace, env=self.env | given, stdout=log, stderr=log)
        self.servers.append(server)
        wait_until_up(server, self.healthy, 180, output=lambda: (log.seek(0), log.read())[1])

    def healthy(self) -> None:
        """Returns once /healthz answers 200 (an OSError, HTTPError included, until then)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=5) as r:
            if r.status != 200:
                raise OSError(f"/healthz answered {r.status}")

    def curl(self, words: list[str]) -> None:
        assert self.servers, "a curl example before any `qa serve`"
        words = [w.replace(DOC_PORT, f"127.0.0.1:{self.port}") for w in words]
        body = self.workspace / "curl-body"
        done = subprocess.run([*words, "-sS", "-o", str(body), "-w", "%{http_code}"], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert 200 <= int(done.stdout) < 300, f"{words}: {done.stdout} {body.read_text()}"
        json.loads(body.read_text())

    def stop(self) -> None:
        for server in self.servers:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
        for log in self.logs:
            log.close()


def check_script(line: str) -> str:
    """The command a quick-start script runs in the end (its last line, after `exec`)."""
    script = REPO / line.split("#")[0].strip()
    assert script.is_file() and os.access(script, os.X_OK), f"{script} is not an executable script"
    last = script.read_text().strip().splitlines()[-1]
    assert last.startswith("exec "), last
    return last


@pytest.mark.slow
@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_example_runs_as_written(doc: Path, workspace: Path, monkeypatch, capsys) -> None:
    found = blocks(doc)
    session = Session(workspace, monkeypatch, capsys)
    try:
        for i, (language, body) in enumerate(found):
            assert language in RUN | OUTPUT, f"{doc.name}: block {i} has tag {language!r}, not one of {RUN | OUTPUT}"
            after = found[i + 1] if i + 1 < len(found) else ("", "")
            if language == "python":
                session.python(body, after[1] if after[0] == "text" else None)
            elif language == "console":
                for command, expected in commands(body):
                    session.console(command, expected)
            elif language == "sh":
                for line in filter(None, (line.split("#")[0].strip() for line in body.splitlines())):
                    run = check_script(line)
                    if line == "scripts/serve":
                        assert run == 'exec .venv/bin/qa serve "$@"', run
                        session.serve("qa serve")
                    else:
                        assert line == "scripts/test" and "pytest" in run, run
            elif language == "json":
                json.loads(body)
    finally:
        session.stop()


def test_the_readme_is_short_and_its_examples_are_checked() -> None:
    readme = REPO / "README.md"
    assert len(readme.read_text().splitlines()) < 200
    tags = [language for language, _ in blocks(readme)]
    assert tags[:2] == ["sh", "python"], "the quick start, then the library example"
    assert "console" in tags


def configuration_rows() -> list[str]:
    text = (REPO / "docs" / "configuration.md").read_text()
    return [line for line in text.splitlines() if line.startswith("| `QA_")]


def test_configuration_table_is_the_settings() -> None:
    """Every setting of the code is in the table, in order, with its default and help, and
    nothing else is."""
    expected = [
        f"| `{variable}` | {f'`{default}`' if default else '(empty)'} | {help} |"
        for variable, default, help in Settings.describe()
    ]
    assert configuration_rows() == expected


LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchors(path: Path) -> set[str]:
    """GitHub's ids for the headings of a markdown file."""
    headings = re.findall(r"^#+ (.+)$", path.read_text(), re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_links_resolve(doc: Path) -> None:
    for target in LINK.findall(doc.read_text()):
        if re.match(r"https?://", target):
            continue
        file, _, anchor = target.partition("#")
        path = (doc.parent / file).resolve() if file else doc
        assert path.exists(), f"{doc.name}: {target} does not exist"
        assert REPO in path.parents, f"{doc.name}: {target} is outside the repository"
        if anchor:
            assert anchor in anchors(path), f"{doc.name}: {target}: no such heading"


def test_blueprint_mounts_under_a_prefix(real_searcher):
    app = Flask("host")
    app.register_blueprint(qa_blueprint(real_searcher), url_prefix="/qa")
    client = checking_client(app, prefix="/qa")
    assert client.get("/qa/healthz").get_json()["status"] == "ok"
    data = client.get("/qa/api/search?q=Harop&k=1").get_json()
    assert len(data["results"]) == 1
    error = client.get("/qa/api/search?q=").get_json()["error"]
    assert error["code"] == "invalid_query"
    page = client.get("/qa/").get_data(as_text=True)
    assert "/qa/static/qa/style.css" in page and "/qa/static/qa/search.js" in page
    assert 'data-api="/qa/api/search"' in page and 'action="/qa/"' in page
    assert client.get("/qa/openapi.json").get_json()["servers"] == [{"url": "/qa"}]
    assert client.get("/qa/documents/004_ac4458f6c11ac45b.txt").status_code == 200
