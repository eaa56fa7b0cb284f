"""`pip install .` (not editable), then `qa build` and `qa serve` from an unrelated folder.

The throwaway environment reuses this environment's installed dependencies through a .pth file
(nothing is downloaded) and gets its own, non-editable copy of the package: what a user gets.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from .conftest import CORPUS, REPO
from .served import free_port, wait_until_up

pytestmark = pytest.mark.slow  # installs the package, then builds and serves with the real model

DOCUMENTS = ["000_abdca20c2aa4f4be.txt", "001_4cb7d0521dd44a67.txt", "003_d560007ba48ee34c.txt"]  # a small corpus
PACKAGE_DATA = ["py.typed", "web/openapi.json", "web/templates/qa/search.html", "web/static/search.js", "web/static/style.css"]


def run(command: list[str], cwd: Path, env: dict[str, str], timeout: float = 600) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A venv with the package installed from a copy of the checkout (pip would write build/ into it)."""
    pytest.importorskip("setuptools", minversion="77", reason="building the package needs setuptools>=77 (pyproject.toml)")
    root = tmp_path_factory.mktemp("install")
    source = root / "source"
    shutil.copytree(REPO / "qa", source / "qa", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], root, {}).strip())
    # a plain path line: this environment's packages (pip, setuptools, the dependencies), but not
    # its editable `qa` finder, which only runs from a .pth file in a site directory
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QA_", "PYTHON"))} | {"PIP_NO_INDEX": "1"}
    pip = [str(python), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--ignore-installed", "--quiet"]
    run([*pip, str(source)], root, env)
    return venv, env


def test_the_installed_package_is_a_copy_with_its_data(installed):
    venv, env = installed
    where = run([str(venv / "bin" / "python"), "-c", "import qa; print(qa.__file__)"], venv.parent, env).strip()
    package = Path(where).parent
    assert package.is_relative_to(venv) and "site-packages" in package.parts, where  # not the checkout
    missing = [name for name in PACKAGE_DATA if not (package / name).is_file()]
    assert missing == []
    assert (venv / "bin" / "qa").is_file()


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.read()


def test_build_then_serve_from_an_unrelated_folder(installed, tmp_path):
    venv, env = installed
    qa = str(venv / "bin" / "qa")
    work = tmp_path / "elsewhere"
    (work / "corpus").mkdir(parents=True)
    for name in DOCUMENTS:
        shutil.copy2(CORPUS / name, work / "corpus" / name)
    output = run([qa, "build", "--corpus", "corpus", "--index", "index"], work, env)
    assert "built " in output and (work / "index" / "CURRENT").is_file()
    port = free_port()
    # no --corpus or --index: the defaults are the working directory's corpus/ and index/
    server = subprocess.Popen(
        [qa, "serve", "--port", str(port)], cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(server, lambda: get(base + "/healthz"), 300)
        status, body = get(base + "/api/search?" + urllib.parse.urlencode({"q": "How long did the war last?", "k": 3}))
        results = json.loads(body)["results"]
        assert status == 200 and len(results) == 3
        assert {r["document"]["id"] for r in results} <= set(DOCUMENTS)
        assert json.loads(get(base + "/healthz")[1])["documents"] == len(DOCUMENTS)
        page = get(base + "/")[1].decode()
        assert "search.js" in page  # the template, from the installed package
        assert get(base + "/static/qa/style.css")[0] == 200 and json.loads(get(base + "/openapi.json")[1])["paths"]
    finally:
        server.terminate()
        log = server.communicate(timeout=60)[0]
    assert "building the index" not in log, log  # it served ./index as built, with ./corpus
    assert not (venv / "index").exists() and not any(venv.rglob("site-packages/index"))
