"""Memory under batch load (issue 15): what keeps a server's RSS from climbing with each batch.

These check that the measures are taken, not how much memory this machine's allocator keeps
(see `bench/load.py --batch-soak` for that)."""

from __future__ import annotations

import platform

import pytest

from qa.encode.onnx import ENCODERS, SHRINK_ARENA, OnnxEmbedder
from qa.index.load import load_index
from qa.web import create_app, memory

from .conftest import fake_settings

LONG = "The ceasefire agreement was signed in Moscow after six weeks of fighting in the region. " * 11  # 968 characters


class RecordingSession:
    """An ONNX Runtime session that notes, for each run, its rows and whether it shrinks the arena."""

    def __init__(self, session) -> None:
        self.session, self.runs = session, []

    def run(self, outputs, feed, options=None):
        shrinks = options is not None and options.get_run_config_entry(SHRINK_ARENA) == "cpu:0"
        self.runs.append((len(feed["input_ids"]), shrinks))
        return self.session.run(outputs, feed, options)

    def __getattr__(self, name):
        return getattr(self.session, name)


def recording(settings, tier: str) -> OnnxEmbedder:
    entry = load_index(settings.index_dir).manifest.query_encoder
    encoder = OnnxEmbedder(settings.index_dir / ENCODERS / entry["folder"], settings.model, tier)
    encoder._session = RecordingSession(encoder._session)
    return encoder


def test_a_batch_hands_the_onnx_arena_back_after_its_last_run(real_settings):
    encoder = recording(real_settings, "fp32")
    encoder.encode([LONG, "Who signed it?", LONG[:300]] * 30, batch_size=32)
    assert encoder._session.runs == [(32, False), (32, False), (26, True)]


@pytest.mark.parametrize("tier", ["fp32", "int8"])
def test_single_questions_and_one_text_runs_keep_the_arena_warm(real_settings, tier):
    encoder = recording(real_settings, tier)
    encoder.encode([LONG])
    encoder.encode(["Who signed the ceasefire?", "When?"])
    runs = encoder._session.runs
    assert not any(shrinks for _, shrinks in runs) and len(runs) == (3 if tier == "int8" else 2)


def test_batch_requests_give_freed_memory_back_and_single_questions_do_not(client, monkeypatch):
    calls = []
    monkeypatch.setattr("qa.web.api.give_back", lambda: calls.append(1))
    with client.post("/api/search", json={"q": "Who signed the ceasefire?", "k": 50}) as response:
        assert response.status_code == 200
    assert calls == []
    with client.post("/api/search", json={"queries": [LONG, "Who signed the ceasefire?"], "k": 50}) as response:
        assert response.status_code == 200
    assert calls == [1]


def test_the_app_fixes_mallocs_thresholds(tmp_path, fake_searcher, monkeypatch):
    calls = []
    monkeypatch.setattr(memory, "_glibc", lambda name: lambda *args: calls.append((name, *args)) or 1)
    create_app(fake_settings(tmp_path), fake_searcher)
    assert sorted(calls) == [
        ("mallopt", memory.M_MMAP_THRESHOLD, memory.THRESHOLD),
        ("mallopt", memory.M_TRIM_THRESHOLD, memory.THRESHOLD),
    ]


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim and mallopt are glibc's")
def test_glibcs_calls_are_found_and_accept_their_arguments():
    assert memory.keep_heaps_small() is True
    assert memory.give_back() in (True, False)
