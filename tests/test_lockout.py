"""Issue 15: guessing the admin token is limited per client address, rate limit or not."""

from __future__ import annotations

import pytest

from qa.errors import ConfigError
from qa.web import create_app

from .openapi_check import checking_client
from .test_http import assert_error

TOKEN = "s3cret-token-for-tests"
WRONG = {"Authorization": "Bearer guess"}
RIGHT = {"Authorization": f"Bearer {TOKEN}"}
GUESSER = {"REMOTE_ADDR": "10.0.0.66"}
OPERATOR = {"REMOTE_ADDR": "10.0.0.1"}


def admin_client(fake_searcher, **settings):
    searcher = fake_searcher.with_settings(admin_token=TOKEN, **settings)
    return checking_client(create_app(searcher.settings, searcher))


def test_wrong_tokens_are_limited_per_client_by_default(fake_searcher):
    client = admin_client(fake_searcher)  # QA_RATE_LIMIT is empty: no other limit
    statuses = [client.get("/admin/status", headers=WRONG, environ_base=GUESSER).status_code for _ in range(10)]
    assert statuses == [401] * 10
    limited = client.get("/admin/status", headers=WRONG, environ_base=GUESSER)
    assert_error(limited, 429, "too_many_requests")
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    assert "wrong admin tokens" in limited.get_json()["error"]["message"]
    assert_error(client.post("/admin/reload", headers=RIGHT, environ_base=GUESSER), 429, "too_many_requests")
    assert client.get("/admin/status", headers=RIGHT, environ_base=OPERATOR).status_code == 200
    assert_error(client.get("/admin/status", headers=WRONG, environ_base=OPERATOR), 401, "unauthorized")


def test_the_right_token_is_never_counted(fake_searcher):
    client = admin_client(fake_searcher, admin_failures="2/minute")
    assert all(client.get("/admin/status", headers=RIGHT).status_code == 200 for _ in range(5))
    assert [client.get("/admin/status", headers=WRONG).status_code for _ in range(3)] == [401, 401, 429]


def test_the_limit_can_be_turned_off(fake_searcher):
    client = admin_client(fake_searcher, admin_failures="")
    assert all(client.get("/admin/status", headers=WRONG).status_code == 401 for _ in range(30))


def test_a_malformed_limit_is_a_config_error_at_start(fake_searcher):
    with pytest.raises(ConfigError, match="QA_ADMIN_FAILURES"):
        admin_client(fake_searcher, admin_failures="ten a minute")
