"""Options the commands share, and the settings of a command on an index."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..config import Settings

corpus_option = click.option("--corpus", type=click.Path(path_type=Path), help="Corpus folder [QA_CORPUS_DIR].")
index_option = click.option("--index", type=click.Path(path_type=Path), help="Index folder [QA_INDEX_DIR].")
replace_option = click.option(
    "--replace", is_flag=True, help="Build this corpus into an index built from another corpus folder, replacing its documents."
)
strict_option = click.option("--strict", is_flag=True, help="Stop at the first file that cannot be read instead of skipping it.")


def index_settings(**given: Any) -> Settings:
    """Settings for a command on an index: the corpus folder it was built from unless one is named."""
    from ..index.provenance import with_recorded_corpus

    return with_recorded_corpus(Settings.load(**given))
