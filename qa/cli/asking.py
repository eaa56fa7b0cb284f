"""`qa ask` and `qa serve`: answering from the index, in the terminal or over HTTP."""

from __future__ import annotations

import errno
import json
import logging
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..config import Settings
from .building import report_build, run_build
from .options import corpus_option, index_option, index_settings, replace_option, strict_option

if TYPE_CHECKING:
    from flask import Flask


@click.command(short_help="Answer QUESTION with the best-matching passages, cited.")
@click.argument("question")
@click.option("-k", type=int, default=None, help="How many passages (1-50, default 5).")
@click.option("--json", "as_json", is_flag=True, help="Print the HTTP API's JSON result.")
@index_option
def ask(question: str, k: int | None, as_json: bool, index: Path | None) -> None:
    """Answer QUESTION with the best-matching passages."""
    from ..retrieve.queries import check_k, check_query

    settings = Settings.load(index_dir=index)
    question, k = check_query(question, settings), check_k(k, settings)  # before anything loads
    preload_language(settings)
    from ..retrieve.searcher import Searcher

    searcher = Searcher.open(settings)
    result = searcher.search(question, k)
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    if result.abstain_reason == "language":
        click.echo(f"Not answered: {result.abstain_message} Nearest passages:\n")
    elif result.abstained:
        click.echo(f"No confident answer in these documents: {result.abstain_message} Nearest passages:\n")
    else:
        click.echo(f"Confidence {result.confidence:.2f}\n")
    for hit in result.hits:
        click.echo(format_hit(hit.to_dict(), mark=lambda s: click.style(f"»{s}«", bold=True)))


def preload_language(settings: Settings) -> None:
    """Start loading the language detector (0.5 s) now, beside the imports and the index."""
    from ..config import ANY_LANGUAGE

    if settings.model_language != ANY_LANGUAGE:
        from ..retrieve.language import preload

        preload()


def format_hit(hit: dict, mark: Callable[[str], str]) -> str:
    """A hit (its JSON) for the terminal: rank, score and title; its source, with the page or
    section of a PDF or DOCX ("p. 12", "3 Results › 3.2 Costs"), and offsets; the answer span,
    when it has one; the passage, its answering sentence marked."""
    from ..retrieve.results import location_label

    text, hl = hit["text"], hit["highlight"]
    body = text[: hl["start"]] + mark(text[hl["start"] : hl["end"]]) + text[hl["end"] :]
    body = textwrap.fill(" ".join(body.split()), width=100, initial_indent="   ", subsequent_indent="   ")
    doc, where = hit["document"], location_label(hit)
    source = f"{doc['source']}, {where}" if where else doc["source"]
    answer = f"   Answer: {text[hit['answer']['start'] : hit['answer']['end']]}\n" if "answer" in hit else ""
    return f"{hit['rank']}. [{hit['score']:.3f}] {doc['title']}\n   {source} [{hit['start']}:{hit['end']}]\n{answer}{body}\n"


@click.command(short_help="Serve the web page and JSON API (builds the index first if needed).")
@click.option("--host", default=None, help="Address to listen on [QA_HOST, 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port [QA_PORT, 8000].")
@corpus_option
@index_option
@replace_option
@strict_option
def serve(host: str | None, port: int | None, corpus: Path | None, index: Path | None, replace: bool, strict: bool) -> None:
    """Serve the web page and JSON API with waitress, building the index first if it is missing or stale.

    Without --corpus, the index's own corpus folder is used. The port is taken first, so a port
    in use fails at once."""
    from ..index.build import stale_reason
    from ..web import create_app
    from ..web.server import listen
    from ..web.server import serve as serve_app

    logging.getLogger("qa").setLevel(min(logging.getLogger("qa").getEffectiveLevel(), logging.INFO))  # a server says what it does
    settings = index_settings(host=host, port=port, corpus_dir=corpus, index_dir=index)
    preload_language(settings)
    try:
        listener = listen(settings.host, settings.port)
    except OSError as e:
        raise click.ClickException(
            f"cannot listen on {settings.host}:{settings.port}: {e.strerror or e}"
            + (" (another server? choose one with --port)" if e.errno == errno.EADDRINUSE else "")
        ) from None
    with listener:
        # a replica of a remote index may have no corpus folder of its own: it serves what the engine holds
        stateless = settings.backend != "segments" and not settings.corpus_dir.is_dir()
        reason = None if stateless else stale_reason(settings)
        if reason:
            click.echo(f"building the index in {settings.index_dir} ({reason}) ...", err=True)
            report_build(run_build(settings, replace=replace, strict=strict), settings)
        app = create_app(settings)
        url = f"http://{settings.host}:{settings.port}"
        app.config["QA_URL"] = url
        embedder = app.extensions["qa.live"].searcher.embedder
        click.echo(
            f"questions encoded by {getattr(embedder, 'tier', type(embedder).__name__)}: {getattr(embedder, 'why', '')}", err=True
        )
        click.echo(f"serving {app.extensions['qa.live'].searcher.settings.corpus_dir} on {url}", err=True)
        stop_metrics = start_metrics(app, settings)
        try:
            if not serve_app(app, listener, settings.threads, settings.drain_seconds, settings.max_body_bytes):
                raise click.ClickException(f"stopped after {settings.drain_seconds:g} s with requests still in progress")
        finally:
            stop_metrics()
    click.echo("stopped", err=True)


def start_metrics(app: Flask, settings: Settings) -> Callable[[], None]:
    """The metrics' own listener when `metrics_port` is set; returns what stops it."""
    if not settings.metrics_port:
        return lambda: None
    from ..web.server import serve_metrics

    try:
        stop = serve_metrics(app, settings.host, settings.metrics_port)
    except OSError as e:
        where = f"{settings.host}:{settings.metrics_port}"
        raise click.ClickException(f"cannot serve metrics on {where}: {e.strerror or e}") from None
    click.echo(f"metrics on http://{settings.host}:{settings.metrics_port}/metrics", err=True)
    return stop
