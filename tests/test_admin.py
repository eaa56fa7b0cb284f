"""/admin/reload: off without a token, then bearer-only; a new build is served, a damaged one refused."""

from __future__ import annotations

import shutil
import threading

import pytest

from qa.index import build_index
from qa.live import LiveSearcher
from qa.search import Searcher
from qa.storage import current_build
from qa.web import create_app

from .conftest import CORPUS, FakeEmbedder, fake_settings
from .openapi_check import checking_client
from .test_http import assert_error

TOKEN = "s3cret-token-for-tests"


@pytest.fixture
def served(tmp_path):  # type: ignore[no-untyped-def]
    shutil.copytree(CORPUS, tmp_path / "corpus")
    settings = fake_settings(tmp_path, corpus=tmp_path / "corpus", admin_token=TOKEN)
    embedder = FakeEmbedder()
    build_index(settings, embedder)
    live = LiveSearcher(Searcher.open(settings, embedder))
    return settings, embedder, live, checking_client(create_app(settings, live))


def reload(client, token: str | None = TOKEN):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return client.post("/admin/reload", headers=headers)


def top(client, question: str) -> str:  # type: ignore[no-untyped-def]
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
    assert live.searcher is not old and live.searcher._lock is old._lock  # one model, one lock
    assert response.get_json()["index_version"] != response.get_json()["previous_version"]
    assert "zebra" in top(client, question)


def test_a_damaged_build_is_refused_and_the_old_index_kept(served):
    settings, embedder, live, client = served
    before = top(client, "Who was the Russian co-chair of the OSCE Minsk Group?")
    (settings.corpus_dir / "zebra.txt").write_text("Zebra news\nA zebra crossing was painted.\n")
    build_index(settings, embedder)
    vectors = current_build(settings.index_dir) / "vectors.faiss"
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

    def ask_in_a_loop(question: str) -> None:
        local = create_app(settings, live).test_client()
        while not stop.is_set():
            response = local.get("/api/search", query_string={"q": question, "k": 5})
            answers.append((response.status_code, [hit["passage_id"] for hit in response.get_json()["results"]]))

    askers = [threading.Thread(target=ask_in_a_loop, args=(q,)) for q in questions]
    for thread in askers:
        thread.start()
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
