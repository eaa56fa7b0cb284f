"""Admin changes are on disk when acknowledged and indexed in the background: searches go on
from the served index meanwhile, a slow change answers 202 with a status URL, a failed one is
undone unless written over, and a document's size is bounded."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient

from qa.config import Settings
from qa.encode.embedder import Progress
from qa.errors import StorageError
from qa.index.build import build_index
from qa.ingest import corpus_folder as corpus
from qa.retrieve.changes import Change, Changes
from qa.retrieve.live import LiveSearcher
from qa.retrieve.question_encoder import QuestionEncoder
from qa.retrieve.searcher import Searcher
from qa.web import create_app

from .conftest import CORPUS, FakeEmbedder, fake_settings
from .openapi_check import checking_client
from .test_admin import TOKEN, ZEBRA, admin
from .test_http import assert_error

HEADERS = {"Authorization": f"Bearer {TOKEN}"}


class GatedEmbedder(FakeEmbedder):
    """Encodes only once the test opens the gate; says when a build reached it."""

    def __init__(self) -> None:
        super().__init__()
        self.reached, self.gate = threading.Event(), threading.Event()

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress: Progress | None = None) -> np.ndarray:
        self.reached.set()
        assert self.gate.wait(60), "the test never opened the gate"
        return super().encode(texts, batch_size, progress)


@pytest.fixture
def gated(tmp_path: Path) -> Iterator[tuple[Settings, LiveSearcher, GatedEmbedder, Flask]]:
    """A served index whose rebuilds encode with a gated encoder of their own (as the ONNX
    passage encoder is), and a waiting bound of 50 ms."""
    shutil.copytree(CORPUS, tmp_path / "corpus")
    settings = fake_settings(tmp_path, corpus=tmp_path / "corpus", admin_token=TOKEN, index_wait=0.05)
    build_index(settings, FakeEmbedder())
    opened, encoder = Searcher.open(settings, FakeEmbedder()), GatedEmbedder()
    live = LiveSearcher(Searcher(opened.index, QuestionEncoder(opened.embedder, passages=encoder), opened.settings))
    app = create_app(settings, live)
    yield settings, live, encoder, app
    encoder.gate.set()


def zebra_hits(client: FlaskClient) -> list[str]:
    response = client.get("/api/search", query_string={"q": "zebra crossing Tavush", "k": 3})
    assert response.status_code == 200
    return [h["document"]["id"] for h in response.get_json()["results"]]


def wait_for(client: FlaskClient, url: str) -> dict:
    for _ in range(600):
        state = client.get(url, headers=HEADERS).get_json()
        if state["state"] != "indexing":
            return state
        time.sleep(0.05)
    raise AssertionError(f"{url} still indexing after 30 s")


def test_searches_are_answered_from_the_served_index_while_a_change_is_indexed(gated):
    _, _, encoder, app = gated
    put: list = []
    putting = threading.Thread(target=lambda: put.append(admin(app.test_client(), "PUT", "/admin/documents/zebra", json=ZEBRA)))
    putting.start()
    assert encoder.reached.wait(30)  # the build is encoding the new document, and holds there
    answered: list[list[str]] = []
    search = threading.Thread(target=lambda: answered.append(zebra_hits(app.test_client())))
    search.start()
    search.join(20)  # on a build that holds the searches back, this would still be waiting
    answered_while_building = not search.is_alive()
    encoder.gate.set()
    search.join(30)
    putting.join(30)
    assert answered_while_building
    assert answered and "zebra" not in answered[0]  # from the index served before
    if put[0].status_code == 202:  # (200 when the PUT's thread only woke once it was indexed)
        assert wait_for(app.test_client(), put[0].get_json()["status_url"])["state"] == "indexed"
    assert put[0].status_code in (200, 202) and put[0].get_json()["id"] == "zebra"
    assert "zebra" in zebra_hits(app.test_client())


def test_a_change_that_takes_longer_than_the_wait_answers_202_and_is_on_disk(gated):
    settings, live, encoder, app = gated
    client = checking_client(app)
    response = admin(client, "PUT", "/admin/documents/zebra", json=ZEBRA)
    assert response.status_code == 202
    body = response.get_json()
    assert body["status"] == "accepted" and body["id"] == "zebra" and body["state"] == "indexing"
    assert response.headers["Location"] == body["status_url"] == f"/admin/changes/{body['change']}"
    assert ZEBRA["text"] in (settings.corpus_dir / corpus.HTTP_DOCUMENTS).read_text()  # durable already
    assert "zebra" not in zebra_hits(client)
    assert client.get(body["status_url"], headers=HEADERS).get_json()["state"] == "indexing"
    assert_error(client.get(body["status_url"]), 401, "unauthorized")
    encoder.gate.set()
    state = wait_for(client, body["status_url"])
    version = live.searcher.index.version
    assert state == {"change": body["change"], "id": "zebra", "status": "added", "state": "indexed", "index_version": version}
    assert "zebra" in zebra_hits(client)
    assert_error(admin(client, "GET", "/admin/changes/nosuchchange"), 404, "not_found")


def test_a_change_whose_background_indexing_fails_says_so_and_is_undone(gated, monkeypatch):
    settings, live, encoder, app = gated
    client = checking_client(app)
    rebuild = live.rebuild

    def full_disk() -> tuple[str, str]:
        rebuild_started.set()
        assert encoder.gate.wait(60)
        raise StorageError("cannot write the index (No space left on device); the index being served is unchanged")

    rebuild_started = threading.Event()
    monkeypatch.setattr(live, "rebuild", full_disk)
    response = admin(client, "PUT", "/admin/documents/zebra", json=ZEBRA)
    assert response.status_code == 202 and rebuild_started.wait(30)
    encoder.gate.set()
    state = wait_for(client, response.get_json()["status_url"])
    assert state["state"] == "failed" and state["undone"] is True
    assert state["error"]["code"] == "storage_error" and "No space left" in state["error"]["message"]
    assert not (settings.corpus_dir / corpus.HTTP_DOCUMENTS).exists()
    monkeypatch.setattr(live, "rebuild", rebuild)


def test_a_failed_change_written_over_since_stays_for_the_next_build(tmp_path):
    folder = tmp_path / "corpus"
    gate, started = threading.Event(), threading.Event()

    def failing_rebuild() -> tuple[str, str]:
        started.set()
        assert gate.wait(30)
        raise StorageError("disk full")

    live = cast(
        LiveSearcher,
        SimpleNamespace(rebuild=failing_rebuild, searcher=SimpleNamespace(settings=SimpleNamespace(corpus_dir=folder))),
    )
    changes = Changes(live)

    def put(doc_id: str) -> Change:
        with corpus.editing(folder):
            saved = corpus.backup(folder, doc_id)
            corpus.put_document(folder, {"id": doc_id, "title": "", "text": f"{doc_id} text"})
            return changes.submit(doc_id, "added", saved)

    first = put("first")
    assert started.wait(30)  # its build is under way when the second is written
    second = put("second")
    gate.set()
    assert first.wait(30) and second.wait(30)
    assert (first.state, first.undone, second.state, second.undone) == ("failed", False, "failed", True)
    assert [r["id"] for r in corpus._http_records(folder)] == ["first"]  # on disk, for the next build


def test_a_document_over_the_size_bound_is_413_and_nothing_is_written(tmp_path):
    shutil.copytree(CORPUS, tmp_path / "corpus")
    settings = fake_settings(tmp_path, corpus=tmp_path / "corpus", admin_token=TOKEN, max_document_bytes=100)
    build_index(settings, FakeEmbedder())
    client = checking_client(create_app(settings, LiveSearcher(Searcher.open(settings, FakeEmbedder()))))
    response = admin(client, "PUT", "/admin/documents/big", json={"title": "Big", "text": "é" * 51})  # 51 characters, 102 bytes
    assert_error(response, 413, "payload_too_large")
    assert "QA_MAX_DOCUMENT_BYTES" in response.get_json()["error"]["message"]
    assert not (settings.corpus_dir / corpus.HTTP_DOCUMENTS).exists()
    assert admin(client, "PUT", "/admin/documents/small", json={"title": "Small", "text": "é" * 50}).status_code == 200
