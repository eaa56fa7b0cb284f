"""The HTTP contract with Flask's test client, on the real model and corpus."""

from __future__ import annotations

import pytest
from werkzeug.test import TestResponse

from .openapi_check import checking_client

pytestmark = pytest.mark.slow  # the real model on the real corpus


@pytest.fixture
def client(backend_app):
    """The contract is the same on every backend (`conftest.BACKENDS`)."""
    return backend_app.test_client()


RESULT_KEYS = {"rank", "score", "similarity", "passage_id", "text", "document", "start", "end", "highlight"}


def assert_error(response: TestResponse, status: int, code: str) -> None:
    assert response.status_code == status
    assert response.is_json, response.data[:200]
    error = response.get_json()["error"]
    assert error["code"] == code and isinstance(error["message"], str) and error["message"]


def test_get_search_returns_cited_passages(client):
    response = client.get("/api/search", query_string={"q": "How long did the Second Nagorno-Karabakh War last?"})
    assert response.status_code == 200
    data = response.get_json()
    assert set(data) == {
        "query",
        "results",
        "abstained",
        "abstain_reason",
        "abstain_message",
        "confidence",
        "language",
        "took_ms",
    }
    assert data["abstained"] is False and data["took_ms"] > 0 and 0 < data["confidence"] <= 1
    assert data["abstain_reason"] == data["abstain_message"] == "" and data["language"] in ("en", "")
    assert len(data["results"]) == 5
    for rank, hit in enumerate(data["results"], 1):
        assert set(hit) - {"answer"} == RESULT_KEYS and hit["rank"] == rank  # an answer span only when one fits
        assert set(hit["document"]) == {"id", "title", "source", "source_url", "date"}
        assert hit["document"]["source"].startswith("corpus/") or hit["document"]["source"].endswith(".txt")
        assert 0 <= hit["highlight"]["start"] < hit["highlight"]["end"] <= len(hit["text"])
        if "answer" in hit:
            assert hit["highlight"]["start"] <= hit["answer"]["start"] < hit["answer"]["end"] <= hit["highlight"]["end"]
        document = client.get(f"/api/documents/{hit['document']['id']}").get_json()
        assert document["text"][hit["start"] : hit["end"]] == hit["text"]
    assert any("44 days" in hit["text"] for hit in data["results"][:3])
    assert data["results"][0]["similarity"] == data["confidence"]
    assert client.checked == 1 + 5  # every JSON answer above was checked against /openapi.json


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
        ({"q": "war", "k": "99999999999999999999"}, "invalid_k"),
        ({"q": "war", "k": " "}, "invalid_k"),
        ({"q": "war", "k": ""}, "invalid_k"),
        ({"q": "\t \n "}, "invalid_query"),
        ({"q": "x" * 100_000}, "invalid_query"),
        ({"q": "war\x00"}, "invalid_query"),
        ({"q": "war\x1b[31m"}, "invalid_query"),
        ({"q": "war\u009b31m"}, "invalid_query"),  # C1 controls: CSI
        ({"q": "war\x80"}, "invalid_query"),
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
        ({"q": "war", "k": 51.0}, "invalid_k"),
        ({"q": "war", "k": "3"}, "invalid_k"),
        ({"q": "war", "k": True}, "invalid_k"),
        (["war"], "bad_request"),
    ],
)
def test_post_bad_input_is_a_json_400(client, body, code):
    assert_error(client.post("/api/search", json=body), 400, code)


def test_malformed_json_and_wrong_content_type(client):
    assert_error(client.post("/api/search", data="{not json", content_type="application/json"), 400, "bad_request")
    assert_error(
        client.post("/api/search", data="q=war", content_type="application/x-www-form-urlencoded"), 415, "unsupported_media_type"
    )


def test_documents(client):
    data = client.get("/api/documents/004_ac4458f6c11ac45b.txt").get_json()
    assert data["title"] == "September 2022 Armenia\u2013Azerbaijan clashes"
    assert data["source"].endswith("004_ac4458f6c11ac45b.txt")
    assert data["text"].startswith("September 2022")
    for missing in ["nope.txt", "../../etc/passwd", "%2e%2e%2fetc%2fpasswd"]:
        assert_error(client.get(f"/api/documents/{missing}"), 404, "document_not_found")


def test_healthz(client, backend_searcher, real_searcher):
    data = client.get("/healthz").get_json()
    assert data["status"] == "ok" and data["documents"] == 5 and data["reachable"] is True
    assert data["passages"] == len(real_searcher.index.passages) == backend_searcher.index.passage_count
    assert data["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert data["index_version"] == backend_searcher.index.version
    assert data["backend"] == backend_searcher.settings.backend


def test_unknown_routes_and_methods_are_json(client):
    assert_error(client.get("/no/such/page"), 404, "not_found")
    assert_error(client.delete("/api/search"), 405, "method_not_allowed")


def test_security_headers(client):
    response = client.get("/")
    policy = dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == policy["connect-src"] == "'self'"  # no inline scripts, no other origins
    assert "unsafe" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_oversized_body_is_a_json_413(client):
    assert_error(client.post("/api/search", data="x" * (2 << 20), content_type="application/json"), 413, "payload_too_large")


def test_batch_answers_each_question_in_order(client):
    questions = [
        "Who was the Russian co-chair of the OSCE Minsk Group?",
        "What is the recipe for chocolate cake?",
        "Which drones did Azerbaijan use?",
    ]
    response = client.post("/api/search", json={"queries": questions, "k": 2})
    assert response.status_code == 200
    data = response.get_json()
    assert [r["query"] for r in data["responses"]] == questions
    assert all(len(r["results"]) == 2 for r in data["responses"])
    assert any("Popov" in hit["text"] for hit in data["responses"][0]["results"])
    assert [r["abstained"] for r in data["responses"]] == [False, True, False]
    single = client.get("/api/search", query_string={"q": questions[2], "k": 2}).get_json()
    assert [h["passage_id"] for h in single["results"]] == [h["passage_id"] for h in data["responses"][2]["results"]]


@pytest.mark.parametrize(
    "body, code, words",
    [
        ({"queries": []}, "bad_request", "list of 1 to 32"),
        ({"queries": ["war"] * 33}, "bad_request", "list of 1 to 32"),
        ({"queries": "war"}, "bad_request", "list"),
        ({"queries": ["war", ""]}, "invalid_query", "queries[1]"),
        ({"queries": ["war", 7]}, "invalid_query", "queries[1]"),
        ({"queries": ["war"], "k": 0}, "invalid_k", "k must be"),
        ({"queries": ["war"], "q": "war"}, "bad_request", "not both"),
    ],
)
def test_bad_batches_are_a_json_400(client, body, code, words):
    response = client.post("/api/search", json=body)
    assert_error(response, 400, code)
    assert words in response.get_json()["error"]["message"]


def test_openapi_document_describes_the_running_limits(client):
    spec = client.get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.1")
    assert spec["servers"] == [{"url": "/"}]
    schemas = spec["components"]["schemas"]
    assert schemas["K"]["maximum"] == 50 and schemas["Question"]["maxLength"] == 1000
    assert schemas["BatchRequest"]["properties"]["queries"]["maxItems"] == 32
    assert set(schemas["Hit"]["required"]) == RESULT_KEYS


def test_the_openapi_check_can_fail(client):
    from .openapi_check import OpenAPIChecker

    checker = OpenAPIChecker(client.get("/openapi.json").get_json())
    good = client.get("/api/search?q=Harop&k=1").get_json()
    checker.check("/api/search", "GET", 200, good)
    bad = {**good, "results": [{**good["results"][0], "start": "12"}]}
    with pytest.raises(AssertionError, match="start"):
        checker.check("/api/search", "GET", 200, bad)
    with pytest.raises(AssertionError, match="not documented"):
        checker.check("/api/search", "GET", 404, good)
    with pytest.raises(AssertionError, match="not in the OpenAPI document"):
        checker.check("/api/other", "GET", 200, good)


def test_cors_is_off_by_default(client):
    response = client.get("/api/search?q=Harop&k=1", headers={"Origin": "https://elsewhere.example"})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_cors_allows_only_the_configured_origins(real_settings, real_searcher):
    from qa.web import create_app

    settings = real_settings.replace(cors_origins="https://tools.example, http://localhost:3000")
    client = checking_client(create_app(settings, real_searcher))
    allowed = client.get("/api/search?q=Harop&k=1", headers={"Origin": "http://localhost:3000"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    preflight = client.options(
        "/api/search",
        headers={
            "Origin": "https://tools.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://tools.example"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    other = client.get("/api/search?q=Harop&k=1", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    page = client.get("/", headers={"Origin": "https://tools.example"})
    assert "Access-Control-Allow-Origin" not in page.headers


def test_every_error_code_the_service_can_send_is_in_the_openapi_enum(client):
    from qa import errors
    from qa.web.errors import HTTP_CODES

    def subclasses(cls: type[errors.QAError]) -> set[type[errors.QAError]]:
        return {cls, *(s for sub in cls.__subclasses__() for s in subclasses(sub))}

    codes = {cls.code for cls in subclasses(errors.QAError)} | set(HTTP_CODES.values()) | {"http_error"}
    schemas = client.get("/openapi.json").get_json()["components"]["schemas"]
    assert schemas["Error"]["properties"]["error"] == {"$ref": "#/components/schemas/ErrorDetail"}
    assert codes == set(schemas["ErrorDetail"]["properties"]["code"]["enum"])
