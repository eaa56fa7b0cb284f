"""The `qa` command: build, ask, serve. A thin layer: it calls the library and prints."""

from __future__ import annotations

import json
import logging
import sys
import textwrap
from pathlib import Path
from typing import Callable

import click

from .config import Settings
from .errors import QAError

log = logging.getLogger(__name__)

corpus_option = click.option("--corpus", type=click.Path(path_type=Path), help="Corpus folder [QA_CORPUS_DIR].")
index_option = click.option("--index", type=click.Path(path_type=Path), help="Index folder [QA_INDEX_DIR].")


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


@main.command()
@corpus_option
@index_option
def build(corpus: Path | None, index: Path | None) -> None:
    """Build the index from the corpus folder (atomically: the old index stays until the new one is complete)."""
    settings = Settings.load(corpus_dir=corpus, index_dir=index)
    folder = run_build(settings)
    click.echo(f"built {folder}", err=True)


def run_build(settings: Settings) -> Path:
    from .documents import corpus_files
    from .embedder import SentenceTransformerEmbedder
    from .index import build_index

    corpus_files(settings.corpus_dir)  # a missing corpus fails before the model loads
    click.echo(f"loading model {settings.model} ...", err=True)
    embedder = SentenceTransformerEmbedder(settings.model, settings.torch_threads)
    bars: dict[str, object] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in bars:
            bar = click.progressbar(length=total, label=f"embedding {stage}", file=sys.stderr, show_eta=True)
            bars[stage] = bar.__enter__()
        bar = bars[stage]
        bar.update(done - bar.pos)  # type: ignore[attr-defined]
        if done >= total:
            bar.__exit__(None, None, None)  # type: ignore[attr-defined]

    return build_index(settings, embedder, progress=progress)


@main.command()
@click.argument("question")
@click.option("-k", type=int, default=None, help="How many passages (1-50, default 5).")
@click.option("--json", "as_json", is_flag=True, help="Print the HTTP API's JSON result.")
@index_option
def ask(question: str, k: int | None, as_json: bool, index: Path | None) -> None:
    """Answer QUESTION with the best-matching passages."""
    from .search import Searcher

    searcher = Searcher.open(Settings.load(index_dir=index))
    result = searcher.search(question, k)
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    if result.abstained:
        click.echo("No confident answer in these documents. Nearest passages:\n")
    for hit in result.hits:
        click.echo(format_hit(hit.to_dict(), mark=lambda s: click.style(f"»{s}«", bold=True)))


def format_hit(hit: dict, mark: Callable[[str], str]) -> str:
    text, hl = hit["text"], hit["highlight"]
    body = text[: hl["start"]] + mark(text[hl["start"] : hl["end"]]) + text[hl["end"] :]
    body = textwrap.fill(" ".join(body.split()), width=100, initial_indent="   ", subsequent_indent="   ")
    doc = hit["document"]
    return f"{hit['rank']}. [{hit['score']:.3f}] {doc['title']}\n   {doc['source']} [{hit['start']}:{hit['end']}]\n{body}\n"


@main.command()
@click.option("--host", default=None, help="Address to listen on [QA_HOST, 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port [QA_PORT, 8000].")
@corpus_option
@index_option
def serve(host: str | None, port: int | None, corpus: Path | None, index: Path | None) -> None:
    """Serve the web page and JSON API with waitress, building the index first if it is missing or stale."""
    import waitress

    from .index import stale_reason
    from .web import create_app

    settings = Settings.load(host=host, port=port, corpus_dir=corpus, index_dir=index)
    reason = stale_reason(settings)
    if reason:
        click.echo(f"index needs building ({reason})", err=True)
        run_build(settings)
    app = create_app(settings)
    click.echo(f"serving on http://{settings.host}:{settings.port}", err=True)
    waitress.serve(app, host=settings.host, port=settings.port, threads=settings.threads, ident="qa")
