"""The `qa` command: build, add, remove, status, ask, serve, eval. A thin layer: it calls the
library and prints; a library error becomes one clear line and exit status 1."""

from __future__ import annotations

import logging

import click

from ..errors import QAError
from .asking import ask, serve
from .building import add, build, remove
from .evaluating import evaluate
from .status import status


class QACommand(click.Group):
    """Turns library errors into one clear line and exit status 1."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except QAError as e:
            raise click.ClickException(e.message) from None


@click.group(cls=QACommand, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log what happens.")
def main(verbose: bool) -> None:
    """Ask questions of a folder of documents; get back cited, verbatim passages."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("bm25s").setLevel(logging.INFO if verbose else logging.WARNING)  # it sets DEBUG itself


for command in (build, add, remove, status, ask, serve, evaluate):
    main.add_command(command)
