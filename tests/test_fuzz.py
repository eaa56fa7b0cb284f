"""Schema-driven fuzzing: schemathesis generates requests from /openapi.json (hypothesis, a bounded
number of cases per operation); no answer is a 5xx and every one matches the documented schema.
The admin operations are fuzzed with admin on and the right token, against a throwaway copy of
the corpus, so that the requests reach their handlers."""

from __future__ import annotations

import os
import shutil

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import BaseSchema, Case, GenerationMode

from qa.config import Settings
from qa.index.build import build_index
from qa.retrieve.searcher import Searcher
from qa.web import create_app

from .conftest import CORPUS, FakeEmbedder, fake_settings

pytestmark = pytest.mark.slow  # the real model on the real corpus

OPERATIONS = [
    "GET /api/search",
    "POST /api/search",
    "GET /api/documents/{doc_id}",
    "GET /documents/{doc_id}/original",
    "GET /api/passages/{passage_id}",
    "GET /healthz",
    "POST /admin/reload",
    "POST /admin/rebuild",
    "PUT /admin/documents/{doc_id}",
    "DELETE /admin/documents/{doc_id}",
    "GET /admin/status",
    "GET /admin/changes/{change_id}",
]
ADMIN = [label for label in OPERATIONS if " /admin/" in label]
TOKEN = "fuzzing-admin-token"
ADMIN_OFF = "no such page or endpoint"  # the 404 of a server without a token (and of unknown paths)
CASES = 40  # per operation: about 10 s in all with the real model
# Under CI the examples are derandomised (the same every run, so a landing never hangs on a new
# draw); elsewhere every run draws new ones, which is how the bugs this test found were found.
DERANDOMIZE = bool(os.environ.get("CI"))


@pytest.fixture(scope="module")
def api_schema(real_settings: Settings, real_searcher: Searcher) -> BaseSchema:
    """The real model and corpus; batches of at most 4 questions keep the run short."""
    return schemathesis.openapi.from_wsgi("/openapi.json", create_app(real_settings, real_searcher.with_settings(max_batch=4)))


@pytest.fixture(scope="module")
def admin_schema(tmp_path_factory: pytest.TempPathFactory) -> BaseSchema:
    """Admin on (a token) over a throwaway copy of the corpus; the fake embedder keeps rebuilds quick."""
    root = tmp_path_factory.mktemp("fuzz-admin")
    shutil.copytree(CORPUS, root / "corpus")
    # no lockout: schemathesis probes each operation without the token and with a wrong one
    settings = fake_settings(root, corpus=root / "corpus", admin_token=TOKEN, admin_failures="")
    build_index(settings, FakeEmbedder())
    return schemathesis.openapi.from_wsgi("/openapi.json", create_app(settings, Searcher.open(settings, FakeEmbedder())))


def schema_for(request: pytest.FixtureRequest, label: str) -> BaseSchema:
    return request.getfixturevalue("admin_schema" if label in ADMIN else "api_schema")


def test_every_operation_is_fuzzed(api_schema):
    assert sorted(op.ok().label for op in api_schema.get_all_operations()) == sorted(OPERATIONS)


def fuzz(api_schema: BaseSchema, label: str, mode: GenerationMode) -> list[tuple[int, str]]:
    """Send CASES generated requests for one operation; each must be below 500 and match the schema.
    Returns (status, error message or "") of each; admin operations carry the admin token."""
    method, path = label.split(" ", 1)
    headers = {"Authorization": f"Bearer {TOKEN}"} if label in ADMIN else None
    seen: list[tuple[int, str]] = []

    @given(case=api_schema[path][method].as_strategy(generation_mode=mode))
    @settings(max_examples=CASES, deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=DERANDOMIZE)
    def check(case: Case) -> None:
        response = case.call(headers=headers)
        error = response.json().get("error", {}) if response.headers.get("Content-Type") == "application/json" else {}
        seen.append((response.status_code, error.get("message", "") if isinstance(error, dict) else ""))
        assert response.status_code < 500, (case.path, case.query, case.body, response.text[:300])
        case.validate_response(response, headers=headers)  # the token as given auth: it checks that /admin needs it

    check()
    return seen


@pytest.mark.parametrize("label", OPERATIONS)
def test_api_never_fails_and_keeps_its_contract(request, label):
    seen = fuzz(schema_for(request, label), label, GenerationMode.POSITIVE)
    assert len(seen) >= (10 if label.startswith("GET /api/") or "search" in label else 1)  # requests were really made
    if label in ADMIN:  # the handlers answered: the token was taken, and not every answer is admin-off's 404
        assert 401 not in {status for status, _ in seen} and any(message != ADMIN_OFF for _, message in seen), seen


@pytest.mark.parametrize("label", ["GET /api/search", "POST /api/search", "PUT /admin/documents/{doc_id}"])
def test_invalid_requests_get_a_json_4xx(request, label):  # (any string is a document id, so GET documents is left out)
    seen = fuzz(schema_for(request, label), label, GenerationMode.NEGATIVE)
    assert len(seen) >= 10 and any(400 <= status < 500 and message != ADMIN_OFF for status, message in seen), seen
