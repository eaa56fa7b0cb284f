"""SIGKILL a build at random moments: the index being served must still load and answer the same.

The child process runs the build code of `qa build` (`qa.cli.building.run_build`) with the fast fake
embedder, so that each try takes about a second and the kill lands anywhere from reading the
corpus to writing, fsyncing, renaming and switching CURRENT. Tries alternate between a full
build and an incremental one after a change of a document's metadata (a new segment beside
hard links to the kept one); neither changes which passages answer.
"""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import sys
import time

import pytest

from qa.index.build import build_index
from qa.retrieve.searcher import Searcher

from .conftest import CORPUS, REPO, FakeEmbedder, fake_settings

KILLS = 24
BUDGET_S = 120
pytestmark = pytest.mark.slow  # it starts and kills builds in other processes
QUESTIONS = ["How long did the war last?", "Who was the Russian co-chair of the OSCE Minsk Group?", "Harop drones"]
CHILD = """
import sys, time
from tests.conftest import FakeEmbedder
from qa.cli.building import run_build
from qa.config import Settings
settings = Settings.load(env={}, corpus_dir=sys.argv[1], index_dir=sys.argv[2], model=FakeEmbedder.name)
print("ready", flush=True)
started = time.perf_counter()
run_build(settings, FakeEmbedder(), full=sys.argv[3] == "full")
print(f"built {time.perf_counter() - started:.3f}", flush=True)
"""


def answers(settings) -> list[list[str]]:
    searcher = Searcher.open(settings, FakeEmbedder())
    return [[hit.passage.id for hit in searcher.search(q, 5).hits] for q in QUESTIONS]


def start_build(settings, mode: str = "full") -> subprocess.Popen:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(settings.corpus_dir), str(settings.index_dir), mode],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert child.stdout and child.stdout.readline().strip() == "ready"
    return child


def test_sigkill_during_build_never_damages_the_served_index(tmp_path):
    shutil.copytree(CORPUS, tmp_path / "corpus")
    settings = fake_settings(tmp_path, corpus=tmp_path / "corpus")
    build_index(settings, FakeEmbedder())
    expected = answers(settings)
    sidecar = settings.corpus_dir / "002_97eb6d87a007548f.txt.meta.json"
    child = start_build(settings)
    build_seconds = float(child.communicate(timeout=60)[0].split()[-1])

    rng = random.Random(20261122)
    killed_mid_build = 0
    deadline = time.monotonic() + BUDGET_S
    for attempt in range(KILLS):
        assert time.monotonic() < deadline, f"only {attempt} kills within {BUDGET_S} s"
        mode = "full" if attempt % 2 else "incremental"
        if mode == "incremental":
            sidecar.write_text(f'{{"date": "2020-09-{attempt % 28 + 1:02}"}}')
        child = start_build(settings, mode)
        time.sleep(rng.uniform(0, build_seconds * 1.2))
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=30)  # reaps it and closes its pipe
        killed_mid_build += child.returncode == -signal.SIGKILL
        assert answers(settings) == expected, f"kill {attempt + 1} changed what the index answers"
    assert killed_mid_build >= KILLS // 2, f"only {killed_mid_build} of {KILLS} kills landed before the build ended"
    build_index(settings, FakeEmbedder())  # the next build clears what killed ones left
    assert sorted(p.name for p in settings.index_dir.iterdir() if p.name.startswith(".") and p.name != ".lock") == []
    assert len(list(settings.index_dir.glob("build-*"))) <= 2
    assert answers(settings) == expected


def test_the_next_build_clears_a_killed_builds_folders_even_when_nothing_changed(tmp_path):
    """A build killed after renaming its folder but before moving CURRENT leaves a build folder
    that was never served, newer than the served one: the next build, even one with nothing to
    do, removes it, and keeps the served build and the one served before it."""
    shutil.copytree(CORPUS, tmp_path / "corpus")
    settings = fake_settings(tmp_path, corpus=tmp_path / "corpus")
    first = build_index(settings, FakeEmbedder())
    (settings.corpus_dir / "zebra.txt").write_text("Zebra news\nA zebra crossing was painted on the border.\n")
    served = build_index(settings, FakeEmbedder())
    expected = answers(settings)
    never_served = settings.index_dir / "build-99991231T235959.000000000"
    shutil.copytree(served, never_served)
    (settings.index_dir / ".tmp-dead").mkdir()
    assert build_index(settings, FakeEmbedder()) == served  # nothing changed: nothing written
    assert sorted(p.name for p in settings.index_dir.glob("build-*")) == sorted([first.name, served.name])
    assert not list(settings.index_dir.glob(".tmp-*"))
    assert answers(settings) == expected
