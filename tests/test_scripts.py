"""scripts/bootstrap, run on a copy with a stand-in .venv: what it installs, and when it does not."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import REPO


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("scripts/bootstrap", "pyproject.toml", "constraints.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, tmp_path / name)
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text('#!/bin/sh\necho "$@" >> "$(dirname "$0")/../calls.log"\n')  # records each pip call
    python.chmod(0o755)
    for tool in ("chromium", "chromedriver"):  # present: nothing to install with apt
        (tmp_path / "bin" / tool).parent.mkdir(exist_ok=True)
        (tmp_path / "bin" / tool).write_text("#!/bin/sh\n")
        (tmp_path / "bin" / tool).chmod(0o755)
    return tmp_path


def bootstrap(project: Path, *extras: str) -> list[str]:
    """Run it; return the pip calls it made."""
    env = {**os.environ, "PATH": f"{project / 'bin'}:{os.environ['PATH']}"}
    subprocess.run(
        ["bash", str(project / "scripts" / "bootstrap"), *extras],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    log = project / ".venv" / "calls.log"
    calls = log.read_text().splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    return calls


def test_serve_and_test_installs_do_not_undo_each_other(project):
    first = bootstrap(project, "test")
    assert any("torch==2.13.0" in call for call in first) and any("-e .[test]" in call for call in first)
    assert first.index(next(c for c in first if "torch==2.13.0" in c)) < first.index(next(c for c in first if "-e ." in c))
    assert bootstrap(project) == []  # scripts/serve after scripts/test: the test install serves
    assert bootstrap(project, "test") == []
    assert bootstrap(project) == []
    (project / "constraints.txt").write_text((project / "constraints.txt").read_text() + "# changed\n")
    assert any("-e ." in call for call in bootstrap(project))  # a changed pin installs again
    stamps = sorted(p.name for p in (project / ".venv").glob(".installed-*"))
    digest = hashlib.sha256((project / "pyproject.toml").read_bytes() + (project / "constraints.txt").read_bytes())
    assert stamps == [f".installed-{digest.hexdigest()[:16]}"]  # the older stamps are gone
