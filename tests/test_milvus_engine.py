"""The Milvus engine itself: the traps of its client (each checked against the engine), an engine
that is down or killed mid-run (503 `backend_unavailable`, then recovery without a restart of
qa), and two replicas on one engine (an admin write on one shows on the other)."""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from qa.errors import BackendUnavailable
from qa.index.build import build_index
from qa.index.manifest import BM25_K1
from qa.index.milvus.engine import Engine, pymilvus
from qa.index.milvus.reader import MilvusIndex
from qa.retrieve.filters import Filter
from qa.retrieve.searcher import Searcher
from qa.web import create_app

from .conftest import CORPUS, FakeEmbedder, fake_settings
from .milvus_engine import RELOAD_INTERVAL, engine_process, replica, replica_settings
from .openapi_check import checking_client

ONE_DOC = "002_97eb6d87a007548f.txt"


@pytest.fixture(scope="module")
def lite(tmp_path_factory: pytest.TempPathFactory):
    """The default corpus in a Milvus Lite file, and its searcher."""
    settings = fake_settings(tmp_path_factory.mktemp("lite"), backend="milvus")
    build_index(settings, FakeEmbedder())
    return settings, Searcher.open(settings, FakeEmbedder())


def test_trap_hybrid_search_filter_is_ignored_so_each_request_carries_the_expression(lite):
    settings, searcher = lite
    m, engine = pymilvus(), Engine(settings)
    q = FakeEmbedder().encode(["war and ceasefire"])[0].tolist()
    expr = f'doc == "{ONE_DOC}"'

    def docs_of(**request: object) -> set[str]:
        found = engine.call(
            "hybrid_search", engine.loaded("passages"), ranker=m.RRFRanker(), limit=20, output_fields=["doc"],
            reqs=[m.AnnSearchRequest(data=[q], anns_field="vector", param={"metric_type": "IP"}, limit=20, **request)],
            **({"filter": expr} if not request else {}),
        )  # fmt: skip
        return {hit["entity"]["doc"] for hit in found[0]}

    assert len(docs_of()) > 1  # filter= on hybrid_search: every document's passages still come back
    assert docs_of(expr=expr) == {ONE_DOC}  # the expression in the request: only the allowed ones
    allowed = searcher.index.allowed_rows(Filter(doc_ids=(ONE_DOC,)))
    rows = searcher.index.dense_candidates(np.array(q, np.float32), 20, 64, Filter(doc_ids=(ONE_DOC,)))
    lexical = searcher.index.lexical_candidates(["war", "ceasefir"], 20, Filter(doc_ids=(ONE_DOC,)))
    assert len(rows) and set(rows) <= set(allowed) and len(lexical.rows) and set(lexical.rows) <= set(allowed)


def test_trap_a_reopened_collection_must_be_loaded_before_searching(lite):
    settings, _ = lite
    client = pymilvus().MilvusClient(uri=str(settings.engine_uri))
    client.release_collection("qa_passages")  # as after a restart of the engine: stored, not loaded
    with pytest.raises(pymilvus().MilvusException, match="load"):
        client.search("qa_passages", data=[[0.0] * 256], anns_field="vector", limit=1)
    reopened = MilvusIndex.open(Engine(settings))  # loads what it searches
    assert len(reopened.dense_candidates(np.eye(256, dtype=np.float32)[3], 5, 64)) == 5


def test_trap_milvus_lite_ignores_highlighter_so_highlights_are_qas_own(lite):
    settings, searcher = lite
    m, engine = pymilvus(), Engine(settings)
    highlighter = m.LexicalHighlighter(pre_tags=["<b>"], post_tags=["</b>"])
    found = engine.call(
        "search", engine.loaded("passages"), data=["ceasefir"], anns_field="sparse", limit=3, output_fields=["doc"],
        search_params={"metric_type": "BM25"}, highlighter=highlighter,
    )  # fmt: skip
    assert found[0] and all("highlight" not in hit and "<b>" not in json.dumps(dict(hit)) for hit in found[0])
    hit = searcher.search("When was the ceasefire signed?", 1).hits[0]
    start, end = hit.highlight
    assert (start, end) in hit.passage.sentences and 0 <= start < end <= len(hit.passage.text)


def test_bm25_distances_from_milvus_lite_are_negated_scores(lite):
    """Milvus Lite reports a BM25 match as a distance, the score negated (best first, most negative):
    only its order is used; the scores are computed as the segment store's."""
    settings, searcher = lite
    engine = Engine(settings)
    found = engine.call("search", engine.loaded("passages"), data=["ceasefir agreement"], anns_field="sparse", limit=5,
                        search_params={"metric_type": "BM25"})  # fmt: skip
    distances = [hit["distance"] for hit in found[0]]
    assert distances == sorted(distances) and all(d < 0 for d in distances)
    best = searcher.index.lexical_candidates(["ceasefir", "agreement"], 5)
    assert set(best.rows) == {searcher.index.row_of(hit["id"]) for hit in found[0]}
    ours = np.sort(best.scores_of(best.rows))[::-1]
    # the engine's BM25 is the textbook one, tf (k1 + 1) / (tf + ...): bm25s's "lucene" drops the (k1 + 1)
    assert -np.array(distances) / ours == pytest.approx(np.full(5, 1 + BM25_K1), rel=0.2)  # (and its own idf, avgdl)


def test_an_engine_that_cannot_be_reached_is_a_503_at_once(tmp_path):
    settings = fake_settings(tmp_path, backend="milvus", milvus_uri="http://127.0.0.1:9", milvus_timeout=1.0)
    with pytest.raises(BackendUnavailable) as caught:
        Searcher.open(settings, FakeEmbedder())
    assert caught.value.status == 503 and caught.value.retry_after > 0 and "127.0.0.1:9" in caught.value.message


def test_an_engine_killed_mid_run_gives_503s_then_answers_again_without_a_restart(tmp_path):
    with engine_process(tmp_path / "engine") as engine:
        settings = fake_settings(tmp_path, backend="milvus", milvus_uri=engine.uri, milvus_timeout=2.0)
        build_index(settings, FakeEmbedder())
        client = checking_client(create_app(settings, Searcher.open(settings, FakeEmbedder())))
        assert client.get("/api/search?q=ceasefire").status_code == 200
        engine.stop()
        for path in ("/api/search?q=ceasefire+talks", "/api/passages/0123456789abcdef", "/api/documents/nope"):
            response = client.get(path)
            assert response.status_code == 503 and response.get_json()["error"]["code"] == "backend_unavailable"
            assert int(response.headers["Retry-After"]) > 0
        health = client.get("/healthz").get_json()
        assert health["backend"] == "milvus" and health["reachable"] is False and health["status"] == "unavailable"
        engine.start()
        answered = _eventually(lambda: client.get("/api/search?q=ceasefire+talks").status_code == 200)
        assert answered and client.get("/healthz").get_json()["reachable"] is True


def _eventually(check, seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def _get(port: int, path: str, token: str = "") -> tuple[int, dict]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _put(port: int, path: str, body: dict, token: str) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(), method="PUT",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, json.loads(response.read())


@pytest.mark.slow  # three processes
def test_an_admin_write_on_one_replica_shows_on_the_other(tmp_path):
    token = "replica-token"
    shutil.copytree(CORPUS, tmp_path / "corpus")
    with engine_process(tmp_path / "engine") as engine:
        build_index(replica_settings(tmp_path, engine.uri, token), FakeEmbedder())
        with replica(tmp_path, engine.uri, token) as a, replica(tmp_path, engine.uri, token) as b:
            assert _get(b, "/api/documents/news/zebra")[0] == 404
            body = {"title": "Zebra news", "text": "A zebra crossing was painted near Tavush."}
            status, change = _put(a, "/admin/documents/news/zebra", body, token)
            assert status == 200 and change["status"] == "added"
            assert _get(a, "/api/documents/news/zebra")[0] == 200  # searchable on A when acknowledged
            version = change["index_version"]
            assert _eventually(lambda: _get(b, "/healthz")[1]["index_version"] == version, 30 + 10 * RELOAD_INTERVAL)
            assert _get(b, "/api/documents/news/zebra")[1]["text"] == body["text"]
            hits = _get(b, "/api/search?q=zebra+crossing+Tavush&k=1")[1]["results"]
            assert hits[0]["document"]["id"] == "news/zebra"
