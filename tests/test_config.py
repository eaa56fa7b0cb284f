from __future__ import annotations

from pathlib import Path

import pytest

from qa.config import Settings
from qa.errors import ConfigError


def test_defaults_then_environment_then_arguments():
    assert Settings.load(env={}).default_k == 5
    env = {"QA_DEFAULT_K": "7", "QA_INDEX_DIR": "/tmp/x", "QA_EMBED_TITLE": "false"}
    from_env = Settings.load(env=env)
    assert (from_env.default_k, from_env.index_dir, from_env.embed_title) == (7, Path("/tmp/x"), False)
    assert Settings.load(env=env, default_k=3, index_dir="/tmp/y").index_dir == Path("/tmp/y")
    assert Settings.load(env=env, default_k=3).default_k == 3


@pytest.mark.parametrize(
    "env, message",
    [({"QA_DEFAULT_K": "five"}, "QA_DEFAULT_K='five' is not a valid int"), ({"QA_DEFAULT_K": "99"}, "default_k")],
)
def test_bad_settings_are_named(env, message):
    with pytest.raises(ConfigError, match=message):
        Settings.load(env=env)


def test_every_setting_has_help():
    rows = Settings.describe()
    assert all(var.startswith("QA_") and help for var, _, help in rows)
    assert ("QA_INDEX_DIR", "index", "Folder where the built index lives.") in rows
