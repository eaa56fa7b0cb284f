"""The README's promises: the library example runs as written, the config table is current."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from qa.config import Settings
from qa.web import qa_blueprint

from .conftest import REPO
from .openapi_check import checking_client

README = (REPO / "README.md").read_text()


@pytest.mark.slow  # the example builds an index with the real model
def test_library_example_runs_as_written(tmp_path, monkeypatch, capsys):
    example = re.search(r"## In Python\n\n```python\n(.*?)```", README, re.S).group(1)
    monkeypatch.chdir(REPO)
    exec(compile(example.replace("/tmp/qa-index", str(tmp_path / "index")), "README", "exec"), {})
    printed = capsys.readouterr().out
    assert printed.startswith("Second Nagorno-Karabakh War ")
    assert "44 days" in printed


def test_configuration_table_matches_the_settings():
    for variable, default, help in Settings.describe():
        shown = f"`{default}`" if default else "(empty)"
        assert f"| `{variable}` | {shown} | {help} |" in README


def test_blueprint_example_runs_as_written(real_settings, monkeypatch, capsys):
    example = re.search(r"## Mounting in another Flask app\n\n```python\n(.*?)```", README, re.S).group(1)
    assert 'qa.open_index("index")' in example
    monkeypatch.chdir(real_settings.index_dir.parent)  # where the session's real index is called "index"
    exec(compile(example, "README", "exec"), {})
    assert capsys.readouterr().out == "Second Nagorno-Karabakh War\n"


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
