"""The HTTP contract with Flask's test client, on the real model and corpus."""

from __future__ import annotations

import pytest

RESULT_KEYS = {"rank", "score", "passage_id", "text", "document", "start", "end", "highlight"}


def assert_error(response, status: int, code: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status
    assert response.is_json, response.data[:200]
    error = response.get_json()["error"]
    assert error["code"] == code and isinstance(error["message"], str) and error["message"]


def test_get_search_returns_cited_passages(client):
    response = client.get("/api/search", query_string={"q": "How long did the Second Nagorno-Karabakh War last?"})
    assert response.status_code == 200
    data = response.get_json()
    assert set(data) == {"query", "results", "abstained", "confidence", "took_ms"}
    assert data["abstained"] is False and data["took_ms"] > 0 and 0 < data["confidence"] <= 1
    assert len(data["results"]) == 5
    for rank, hit in enumerate(data["results"], 1):
        assert set(hit) == RESULT_KEYS and hit["rank"] == rank
        assert set(hit["document"]) == {"id", "title", "source"}
        assert hit["document"]["source"].startswith("corpus/") or hit["document"]["source"].endswith(".txt")
        assert 0 <= hit["highlight"]["start"] < hit["highlight"]["end"] <= len(hit["text"])
        document = client.get(f"/api/documents/{hit['document']['id']}").get_json()
        assert document["text"][hit["start"] : hit["end"]] == hit["text"]
    assert any("44 days" in hit["text"] for hit in data["results"][:3])


def test_post_search_with_k(client):
    response = client.post("/api/search", json={"q": "Who was the Russian co-chair of the OSCE Minsk Group?", "k": 2})
    assert response.status_code == 200
    data = response.get_json()
    assert len(data["results"]) == 2
    assert any("Popov" in hit["text"] for hit in data["results"])


def test_off_topic_question_abstains(client):
    data = client.get("/api/search?q=What+is+the+recipe+for+chocolate+cake%3F&k=2").get_json()
    assert data["abstained"] is True and len(data["results"]) == 2


@pytest.mark.parametrize(
    "query, code",
    [
        ({}, "invalid_query"),
        ({"q": ""}, "invalid_query"),
        ({"q": "   "}, "invalid_query"),
        ({"q": "x" * 1001}, "invalid_query"),
        ({"q": "war", "k": "0"}, "invalid_k"),
        ({"q": "war", "k": "51"}, "invalid_k"),
        ({"q": "war", "k": "-1"}, "invalid_k"),
        ({"q": "war", "k": "abc"}, "invalid_k"),
        ({"q": "war", "k": "2.5"}, "invalid_k"),
        ({"q": "war", "k": "1e9"}, "invalid_k"),
    ],
)
def test_get_bad_input_is_a_json_400(client, query, code):
    assert_error(client.get("/api/search", query_string=query), 400, code)


@pytest.mark.parametrize(
    "body, code",
    [
        ({"k": 3}, "invalid_query"),
        ({"q": 42}, "invalid_query"),
        ({"q": "war", "k": 0}, "invalid_k"),
        ({"q": "war", "k": 2.5}, "invalid_k"),
        ({"q": "war", "k": "3"}, "invalid_k"),
        ({"q": "war", "k": True}, "invalid_k"),
        (["war"], "bad_request"),
    ],
)
def test_post_bad_input_is_a_json_400(client, body, code):
    assert_error(client.post("/api/search", json=body), 400, code)


def test_malformed_json_and_wrong_content_type(client):
    assert_error(client.post("/api/search", data="{not json", content_type="application/json"), 400, "bad_request")
    assert_error(client.post("/api/search", data="q=war", content_type="application/x-www-form-urlencoded"), 400, "bad_request")


def test_documents(client):
    data = client.get("/api/documents/004_ac4458f6c11ac45b.txt").get_json()
    assert data["title"] == "September 2022 Armenia–Azerbaijan clashes"
    assert data["source"].endswith("004_ac4458f6c11ac45b.txt")
    assert data["text"].startswith("September 2022")
    for missing in ["nope.txt", "../../etc/passwd", "%2e%2e%2fetc%2fpasswd"]:
        assert_error(client.get(f"/api/documents/{missing}"), 404, "document_not_found")


def test_healthz(client, real_searcher):
    data = client.get("/healthz").get_json()
    assert data["status"] == "ok" and data["documents"] == 5
    assert data["passages"] == len(real_searcher.index.passages)
    assert data["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert data["index_version"] == real_searcher.index.version


def test_unknown_routes_and_methods_are_json(client):
    assert_error(client.get("/no/such/page"), 404, "not_found")
    assert_error(client.delete("/api/search"), 405, "method_not_allowed")


def test_security_headers(client):
    response = client.get("/")
    assert "script-src" not in response.headers["Content-Security-Policy"]  # no scripts at all
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_oversized_body_is_a_json_413(client):
    assert_error(client.post("/api/search", data="x" * (2 << 20), content_type="application/json"), 413, "payload_too_large")
