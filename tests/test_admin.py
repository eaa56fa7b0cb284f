"""/admin/reload: off without a token, then bearer-only; a new build is served, a damaged one refused."""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path
from typing import Any, NoReturn

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from qa.config import Settings
from qa.errors import StorageError
from qa.index.build import build_index
from qa.index.storage import current_build
from qa.retrieve.live import LiveSearcher
from qa.retrieve.searcher import Searcher
from qa.web import create_app

from .conftest import CORPUS, FakeEmbedder, fake_settings
from .openapi_check import checking_client
from .test_http import assert_error

TOKEN = "s3cret-token-for-tests"


@pytest.fixture
def served(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Settings, FakeEmbedder, LiveSearcher, FlaskClient]:
    """A server on the default corpus (on the segment store, or on the backend a test names:
    `@on_both_backends`)."""
    shutil.copytree(CORPUS, tmp_path / "corpus")
    backend = getattr(request, "param", "segments")
    settings = fake_settings(tmp_path, corpus=tmp_path / "corpus", admin_token=TOKEN, backend=backend)
    embedder = FakeEmbedder()
    build_index(settings, embedder)
    live = LiveSearcher(Searcher.open(settings, embedder))
    return settings, embedder, live, checking_client(create_app(settings, live))


on_both_backends = pytest.mark.parametrize("served", ["segments", "milvus"], indirect=True)


def reload(client: FlaskClient, token: str | None = TOKEN) -> TestResponse:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return client.post("/admin/reload", headers=headers)


def top(client: FlaskClient, question: str) -> str:
    return client.get("/api/search", query_string={"q": question, "k": 1}).get_json()["results"][0]["text"]


def test_admin_endpoints_are_off_without_a_token(fake_searcher):
    client = checking_client(create_app(fake_searcher.settings, fake_searcher))
    assert_error(reload(client, "anything"), 404, "not_found")


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x"])
def test_a_missing_or_wrong_token_is_refused(served, header):
    client = served[3]
    response = client.post("/admin/reload", headers={"Authorization": header} if header is not None else {})
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_reload_serves_a_new_build(served):
    settings, embedder, live, client = served
    question = "zebra crossing on the Armenian border"
    assert "zebra" not in top(client, question)
    (settings.corpus_dir / "zebra.txt").write_text("Zebra news\nA zebra crossing was painted on the Armenian border.\n")
    build_index(settings, embedder)
    assert "zebra" not in top(client, question)  # built, not yet served
    old = live.searcher
    response = reload(client)
    assert response.status_code == 200 and response.get_json()["status"] == "reloaded"
    assert live.searcher is not old and live.searcher.encoder is old.encoder  # one model, one lock
    assert response.get_json()["index_version"] != response.get_json()["previous_version"]
    assert "zebra" in top(client, question)


def test_a_damaged_build_is_refused_and_the_old_index_kept(served):
    settings, embedder, _live, client = served
    before = top(client, "Who was the Russian co-chair of the OSCE Minsk Group?")
    (settings.corpus_dir / "zebra.txt").write_text("Zebra news\nA zebra crossing was painted.\n")
    build_index(settings, embedder)
    build = current_build(settings.index_dir)
    newest = json.loads((build / "manifest.json").read_text())["segments"][-1]["name"]
    vectors = build / f"{newest}.vectors.npy"  # the new segment's: the older ones are shared with the served build
    data = bytearray(vectors.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit
    vectors.write_bytes(bytes(data))
    response = reload(client)
    assert_error(response, 503, "index_mismatch")
    assert "damaged" in response.get_json()["error"]["message"]
    assert "Retry-After" not in response.headers  # retrying will not help; only overload says retry
    assert top(client, "Who was the Russian co-chair of the OSCE Minsk Group?") == before
    assert "zebra" not in top(client, "zebra crossing")


def test_queries_during_repeated_rebuilds_and_reloads_never_fail_or_mix(served):
    settings, embedder, live, client = served
    zebra = settings.corpus_dir / "zebra.txt"
    ids: dict[str, set[str]] = {}

    def build(with_zebra: bool) -> None:
        if with_zebra:
            zebra.write_text("Zebra news\nA zebra crossing was painted on the Armenian border near Tavush.\n")
        else:
            zebra.unlink(missing_ok=True)
        build_index(settings, embedder)
        ids[str(with_zebra)] = {p.id for p in Searcher.open(settings, embedder).index.passages}

    build(True)
    build(False)
    questions = ["zebra crossing on the Armenian border", "Who was the Russian co-chair of the OSCE Minsk Group?"]
    answers: list = []
    stop = threading.Event()

    warming, warm = threading.Lock(), threading.Barrier(len(questions) + 1)

    def ask_in_a_loop(question: str) -> None:
        with warming:  # CPython 3.11's ast.parse is not thread-safe: werkzeug compiles routes at first use
            local = create_app(settings, live).test_client()
            local.get("/api/search", query_string={"q": question, "k": 5})  # also loads the language detector
        warm.wait(60)
        while not stop.is_set():
            response = local.get("/api/search", query_string={"q": question, "k": 5})
            answers.append((response.status_code, [hit["passage_id"] for hit in response.get_json()["results"]]))

    askers = [threading.Thread(target=ask_in_a_loop, args=(q,)) for q in questions]
    for thread in askers:
        thread.start()
    warm.wait(60)  # both ask from here on, while the index is swapped under them
    for swap in range(6):
        build(swap % 2 == 0)
        assert reload(client).status_code == 200
    stop.set()
    for thread in askers:
        thread.join(10)
    assert len(answers) > 20
    assert {status for status, _ in answers} == {200}
    assert all(set(found) <= ids["True"] or set(found) <= ids["False"] for _, found in answers)
    assert any(not set(found) <= ids["False"] for _, found in answers)  # the zebra index was really served


ZEBRA = {
    "title": "Zebra news",
    "text": "A zebra crossing was painted on the Armenian border near Tavush.",
    "source_url": "https://news.example/zebra",
    "date": "2026-11-22",
}


def admin(client: FlaskClient, method: str, path: str, **kwargs: Any) -> TestResponse:
    return client.open(path, method=method, headers={"Authorization": f"Bearer {TOKEN}"}, **kwargs)


@on_both_backends
def test_a_document_put_over_http_is_searchable_and_durable_when_acknowledged(served):
    settings, _embedder, _live, client = served
    response = admin(client, "PUT", "/admin/documents/news/zebra-1", json=ZEBRA)
    assert response.status_code == 200 and response.get_json()["status"] == "added"
    assert "zebra" in top(client, "zebra crossing Tavush")
    assert client.get("/api/documents/news/zebra-1").get_json()["text"] == ZEBRA["text"]
    restarted = Searcher.open(settings, FakeEmbedder())  # what a restart would serve
    assert restarted.document("news/zebra-1").title == "Zebra news"
    assert restarted.document("news/zebra-1").date == "2026-11-22"
    again = admin(client, "PUT", "/admin/documents/news/zebra-1", json={**ZEBRA, "text": "A zebra was seen in Tavush."})
    assert again.get_json()["status"] == "replaced"
    assert client.get("/api/documents/news/zebra-1").get_json()["text"] == "A zebra was seen in Tavush."


@on_both_backends
def test_a_removed_document_is_gone_410_and_no_longer_found(served):
    settings, _embedder, _live, client = served
    admin(client, "PUT", "/admin/documents/zebra-2", json=ZEBRA)
    response = admin(client, "DELETE", "/admin/documents/zebra-2")
    assert response.status_code == 200 and response.get_json()["status"] == "removed"
    assert_error(client.get("/api/documents/zebra-2"), 410, "document_gone")
    assert client.get("/documents/zebra-2").status_code == 410
    assert "zebra" not in top(client, "zebra crossing Tavush")
    removed_file = admin(client, "DELETE", "/admin/documents/000_abdca20c2aa4f4be.txt")  # a file document
    assert removed_file.status_code == 200 and not (settings.corpus_dir / "000_abdca20c2aa4f4be.txt").exists()
    assert_error(client.get("/api/documents/000_abdca20c2aa4f4be.txt"), 410, "document_gone")
    assert_error(admin(client, "DELETE", "/admin/documents/never-was"), 404, "document_not_found")


@pytest.mark.parametrize(
    "doc_id, body, status, code",
    [
        ("004_ac4458f6c11ac45b.txt", ZEBRA, 409, "conflict"),
        ("x", {"title": "no text"}, 400, "bad_request"),
        ("x", {"text": "   "}, 400, "bad_request"),
        ("x", {"text": "ok", "title": 7}, 400, "bad_request"),
        ("x", {"text": "ok", "date": "last week"}, 400, "bad_request"),
        ("x", ["not", "an", "object"], 400, "bad_request"),
        ("a" * 201, ZEBRA, 400, "bad_request"),
        ("x", {"text": "ok", "date": "2020-01-01garbage<script>"}, 400, "bad_request"),
        ("x", {"text": "ok", "date": "2020-01-01T25:99:99"}, 400, "bad_request"),
        ("x", {"text": "ok", "date": "2020-02-30"}, 400, "bad_request"),
        ("x", {"text": "ok", "title": "red \u009b31m title"}, 400, "bad_request"),  # a C1 control (CSI)
        ("x\u009b31m", ZEBRA, 400, "bad_request"),
        ("../x", ZEBRA, 400, "bad_request"),
        ("news/../x", ZEBRA, 400, "bad_request"),
        ("news/./x", ZEBRA, 400, "bad_request"),
        ("news//x", ZEBRA, 400, "bad_request"),
        ("news/", ZEBRA, 400, "bad_request"),
        ("..", ZEBRA, 400, "bad_request"),
    ],
)
def test_bad_document_puts(served, doc_id, body, status, code):
    settings, _embedder, _live, client = served
    assert_error(admin(client, "PUT", f"/admin/documents/{doc_id}", json=body), status, code)
    assert not (settings.corpus_dir / "http-documents.jsonl").exists()


@pytest.mark.parametrize(
    "body, message",
    [
        ({"title": "no text"}, '"text" is missing'),
        ({"text": "   "}, '"text" is blank: send a JSON object like {"title": "...", "text": "..."'),
        ({"text": 7}, '"text" must be a string'),
        ({"text": "ok", "title": 7}, '"title" must be a string'),
        ({"text": "ok", "source_url": None}, '"source_url" must be a string'),
        ("text", 'the body must be a JSON object like {"title": "...", "text": "..."'),
    ],
)
def test_a_bad_document_put_says_what_is_wrong_in_words(served, body, message):
    response = admin(served[3], "PUT", "/admin/documents/x", json=body)
    assert_error(response, 400, "bad_request")
    said = response.get_json()["error"]["message"]
    assert said.startswith(message) and "Input should" not in said, said


def test_the_documented_document_id_pattern_is_the_servers_rule(served):
    import re

    from qa.errors import BadRequest
    from qa.web.models import check_document_id

    schema = served[3].get("/openapi.json").get_json()["components"]["schemas"]["DocumentId"]
    pattern = re.compile(schema["pattern"])
    accepted_ids = ["a", "news/x", "a.b", "..a", ".../x", "a/.b", "a\nb", "x" * 200]
    refused_ids = ["x" * 201, "", "x\x9b", "x\x00", "../x", "news/../x", "news/./x", "news//x", "news/", "/a", "..", ".", "a/.."]
    for doc_id in accepted_ids + refused_ids:
        documented = bool(pattern.search(doc_id)) and schema["minLength"] <= len(doc_id) <= schema["maxLength"]
        try:
            accepted = check_document_id(doc_id) == doc_id
        except BadRequest:
            accepted = False
        assert documented == accepted == (doc_id in accepted_ids), doc_id


def test_a_put_date_time_is_stored_as_its_date(served):
    _settings, _embedder, _live, client = served
    assert admin(client, "PUT", "/admin/documents/dated", json={**ZEBRA, "date": "2026-11-22T14:05:00+02:00"}).status_code == 200
    assert client.get("/api/documents/dated").get_json()["date"] == "2026-11-22"


@on_both_backends
def test_status_and_rebuild_pick_up_files_changed_on_disk(served):
    settings, _embedder, _live, client = served
    assert admin(client, "GET", "/admin/status").get_json()["added"] == []
    (settings.corpus_dir / "zebra.txt").write_text("Zebra news\nA zebra crossing was painted near Tavush.\n")
    assert admin(client, "GET", "/admin/status").get_json()["added"] == ["zebra.txt"]
    assert "zebra" not in top(client, "zebra crossing Tavush")
    assert admin(client, "POST", "/admin/rebuild").get_json()["status"] == "rebuilt"
    assert "zebra" in top(client, "zebra crossing Tavush")
    assert admin(client, "GET", "/admin/status").get_json()["added"] == []


@pytest.mark.parametrize(
    "method, path",
    [("POST", "/admin/rebuild"), ("PUT", "/admin/documents/x"), ("DELETE", "/admin/documents/x"), ("GET", "/admin/status")],
)
def test_every_admin_endpoint_needs_the_token(served, method, path):
    assert_error(served[3].open(path, method=method, json=ZEBRA), 401, "unauthorized")


@on_both_backends
def test_old_citations_resolve_or_say_moved_or_gone(served):
    _settings, _embedder, _live, client = served
    admin(client, "PUT", "/admin/documents/zebra-3", json=ZEBRA)
    cited = client.get("/api/search", query_string={"q": "zebra crossing Tavush", "k": 1}).get_json()["results"][0]
    still = client.get(f"/api/passages/{cited['passage_id']}").get_json()
    assert still["text"] == cited["text"] and still["document"]["id"] == "zebra-3"
    admin(client, "PUT", "/admin/documents/zebra-3", json={**ZEBRA, "text": "A zebra was seen in Tavush."})
    moved = client.get(f"/api/passages/{cited['passage_id']}")
    assert_error(moved, 410, "passage_moved")
    assert "zebra-3" in moved.get_json()["error"]["message"]
    current = client.get("/api/search", query_string={"q": "zebra Tavush", "k": 1}).get_json()["results"][0]
    admin(client, "DELETE", "/admin/documents/zebra-3")
    assert_error(client.get(f"/api/passages/{current['passage_id']}"), 410, "passage_gone")
    assert_error(client.get(f"/api/passages/{cited['passage_id']}"), 410, "passage_gone")  # its document went too
    assert_error(client.get("/api/passages/0123456789abcdef"), 404, "passage_not_found")


def test_concurrent_puts_lose_nothing(served):
    settings, _embedder, live, _client = served
    app = create_app(settings, live)

    def put(i: int) -> None:
        response = app.test_client().put(
            f"/admin/documents/doc-{i}",
            json={"text": f"Document number {i} about zebras."},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert response.status_code == 200

    writers = [threading.Thread(target=put, args=(i,)) for i in range(8)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join(30)
    served_ids = set(live.searcher.index.documents)
    assert {f"doc-{i}" for i in range(8)} <= served_ids
    assert {f"doc-{i}" for i in range(8)} <= set(Searcher.open(settings, FakeEmbedder()).index.documents)


def test_an_id_of_another_jsonl_record_is_a_conflict_and_changes_nothing(served):
    settings, _embedder, _live, client = served
    (settings.corpus_dir / "extra.jsonl").write_text(
        json.dumps({"id": "rec1", "title": "R", "text": "A record about zebras."}) + "\n"
    )
    assert admin(client, "POST", "/admin/rebuild").status_code == 200
    assert_error(admin(client, "PUT", "/admin/documents/rec1", json=ZEBRA), 409, "conflict")
    assert not (settings.corpus_dir / "http-documents.jsonl").exists()
    assert admin(client, "PUT", "/admin/documents/fine", json=ZEBRA).status_code == 200


def test_a_change_whose_indexing_fails_is_undone(served, monkeypatch):
    settings, _embedder, live, client = served
    admin(client, "PUT", "/admin/documents/kept", json=ZEBRA)
    before = (settings.corpus_dir / "http-documents.jsonl").read_bytes()

    def full_disk() -> NoReturn:
        raise StorageError("cannot write the index (No space left on device); the index being served is unchanged")

    monkeypatch.setattr(live, "rebuild", full_disk)
    assert_error(admin(client, "PUT", "/admin/documents/lost", json=ZEBRA), 507, "storage_error")
    assert_error(admin(client, "DELETE", "/admin/documents/004_ac4458f6c11ac45b.txt"), 507, "storage_error")
    assert (settings.corpus_dir / "http-documents.jsonl").read_bytes() == before
    assert (settings.corpus_dir / "004_ac4458f6c11ac45b.txt").exists()


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\u0085"])
def test_line_separators_inside_text_title_and_id_round_trip(served, separator):
    settings, _embedder, _live, client = served
    doc_id = f"sep{separator}2028"
    record = {"title": f"Sep{separator}title", "text": f"First line about zebras.{separator}Second line in Tavush."}
    assert admin(client, "PUT", f"/admin/documents/{doc_id}", json=record).status_code == 200
    assert admin(client, "PUT", "/admin/documents/after", json=ZEBRA).status_code == 200  # the file is read again
    document = client.get(f"/api/documents/{doc_id}").get_json()
    assert (document["text"], document["title"]) == (record["text"], record["title"])
    hit = next(
        h
        for h in client.get("/api/search", query_string={"q": "zebras Tavush", "k": 10}).get_json()["results"]
        if h["document"]["id"] == doc_id
    )
    assert record["text"][hit["start"] : hit["end"]] == hit["text"]
    assert client.get(f"/api/passages/{hit['passage_id']}").status_code == 200
    restarted = Searcher.open(settings, FakeEmbedder())
    assert restarted.document(doc_id).text == record["text"]


def test_a_users_jsonl_with_a_raw_line_separator_is_read_whole(tmp_path):
    from qa.ingest.documents import read_jsonl

    raw = '{"id": "a", "text": "One\u2028two\u2029three\u0085four"}\r\n{"id": "b", "text": "Five"}\n'
    assert [d.text for d in read_jsonl(raw, "x.jsonl")] == ["One\u2028two\u2029three\u0085four", "Five"]


def test_a_full_disk_while_writing_a_document_is_507_and_leaves_nothing(served, monkeypatch):
    settings, _embedder, _live, client = served
    admin(client, "PUT", "/admin/documents/kept", json=ZEBRA)
    before = (settings.corpus_dir / "http-documents.jsonl").read_bytes()
    real_fsync = os.fsync

    def full(fd: int) -> NoReturn:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    response = admin(client, "PUT", "/admin/documents/lost", json=ZEBRA)
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert_error(response, 507, "storage_error")
    assert "No space left on device" in response.get_json()["error"]["message"]
    assert (settings.corpus_dir / "http-documents.jsonl").read_bytes() == before
    assert not [p.name for p in settings.corpus_dir.iterdir() if p.name.endswith(".tmp")]
    assert_error(client.get("/api/documents/lost"), 404, "document_not_found")
