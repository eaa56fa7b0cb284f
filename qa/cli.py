"""The `qa` command: build, ask, serve. A thin layer: it calls the library and prints."""

from __future__ import annotations

import dataclasses
import errno
import json
import logging
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .config import Settings
from .errors import CorpusError, QAError

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

    from .encode.embedder import Embedder
    from .eval.datasets import Dataset
    from .retrieve.searcher import Searcher

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
    logging.getLogger("bm25s").setLevel(logging.INFO if verbose else logging.WARNING)  # it sets DEBUG itself


replace_option = click.option(
    "--replace", is_flag=True, help="Build this corpus into an index built from another corpus folder, replacing its documents."
)
strict_option = click.option("--strict", is_flag=True, help="Stop at the first file that cannot be read instead of skipping it.")


def index_settings(**given: Any) -> Settings:
    """Settings for a command on an index: the corpus folder it was built from unless one is named."""
    from .index.provenance import with_recorded_corpus

    return with_recorded_corpus(Settings.load(**given))


@main.command(short_help="Build the index from the corpus folder; only changes are encoded.")
@corpus_option
@index_option
@click.option("--full", is_flag=True, help="Encode every passage again instead of reusing unchanged ones.")
@replace_option
@strict_option
def build(corpus: Path | None, index: Path | None, full: bool, replace: bool, strict: bool) -> None:
    """Build the index from the corpus folder (atomically: the old index stays until the new one is complete).

    Only new or changed documents are encoded; the vectors of the rest are reused. Files that
    cannot be read are skipped and listed (--strict: stop at the first)."""
    settings = index_settings(corpus_dir=corpus, index_dir=index)
    report_build(run_build(settings, full=full, replace=replace, strict=strict), settings)


def run_build(
    settings: Settings,
    embedder: Embedder | None = None,
    documents: list | None = None,
    full: bool = False,
    replace: bool = False,
    strict: bool = False,
) -> Path:
    """Check what can be checked at once (corpus folder, its corpus against the index's), then
    load the model and build."""
    from .index.build import build_index

    if documents is None:
        check_corpus(settings.corpus_dir)
    from .index.provenance import check_same_corpus, served_manifest

    check_same_corpus(served_manifest(settings.index_dir), settings, documents is not None, replace)
    embedder = embedder or load_embedder(settings)
    return build_index(
        settings, embedder, documents, progress=progress_bars("embedding"), full=full, replace=replace, strict=strict
    )


def check_corpus(corpus_dir: Path) -> None:
    """A missing folder, or one with no document to read, fails before any model loads."""
    from .ingest.documents import SUFFIXES, corpus_files, skipped_files

    if not corpus_files(corpus_dir):
        skipped = skipped_files(corpus_dir)
        listed = f" (skipped: {', '.join(list(skipped)[:5])}{', ...' if len(skipped) > 5 else ''})" if skipped else ""
        raise CorpusError(f"no documents ({', '.join(sorted(SUFFIXES))}) in {corpus_dir}{listed}")


def report_build(folder: Path, settings: Settings) -> None:
    """What a build made: counts, the files it skipped and why, the question encoder."""
    from .index.storage import read_manifest

    m = read_manifest(folder)
    click.echo(f"built {folder}: {m.documents} documents, {m.passages} passages", err=True)
    for name, reason in m.skipped.items():
        click.echo(f"  skipped {name}: {reason}", err=True)
    if m.skipped:
        click.echo(f"  ({len(m.skipped)} files skipped; the rest is indexed)", err=True)
    report_servers(settings)


def report_servers(settings: Settings) -> None:
    from .index.servers import WATCH_SECONDS, running

    for server in running(settings.index_dir):
        click.echo(
            f"  the server at {server['url'] or 'pid ' + str(server['pid'])} serves this build "
            f"within {WATCH_SECONDS:g} s (it watches {settings.index_dir / 'CURRENT'})",
            err=True,
        )


@main.command(short_help="Copy document files into the corpus folder and index them.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@corpus_option
@index_option
def add(paths: tuple[Path, ...], corpus: Path | None, index: Path | None) -> None:
    """Copy document files into the corpus folder and index them (a file of the same name is replaced)."""
    from .ingest.corpus_folder import add_files

    settings = index_settings(corpus_dir=corpus, index_dir=index)
    names = add_files(list(paths), settings.corpus_dir)
    click.echo(f"added {', '.join(names)} to {settings.corpus_dir}", err=True)
    report_build(run_build(settings), settings)


@main.command(short_help="Delete documents from the corpus folder and from the index.")
@click.argument("doc_ids", nargs=-1, required=True)
@corpus_option
@index_option
def remove(doc_ids: tuple[str, ...], corpus: Path | None, index: Path | None) -> None:
    """Delete documents (their files) from the corpus folder and from the index."""
    from .ingest.corpus_folder import remove_files

    settings = index_settings(corpus_dir=corpus, index_dir=index)
    removed = remove_files(list(doc_ids), settings.corpus_dir)
    click.echo(f"removed {', '.join(removed)} from {settings.corpus_dir}", err=True)
    report_build(run_build(settings), settings)


@main.command(short_help="What the index holds and serves; what changed in the corpus.")
@corpus_option
@index_option
def status(corpus: Path | None, index: Path | None) -> None:
    """What the index holds, which build each running server serves, the question encoder on this
    CPU, and how the corpus folder differs from the index."""
    from .encode.choice import known_choice
    from .encode.onnx import ENCODERS
    from .index.provenance import status as corpus_status
    from .index.servers import running
    from .ingest.documents import skipped_files

    settings = index_settings(corpus_dir=corpus, index_dir=index)
    state = corpus_status(settings.corpus_dir, settings.index_dir)
    if state.index is None:
        click.echo(f"index: none ({state.problem})")
    else:
        m = state.index
        click.echo(f"index: {settings.index_dir}, built {m.built_at} with {m.model}")
        click.echo(f"  on disk: {state.build}, {m.documents} documents, {m.passages} passages, version {m.index_version}")
        for server in running(settings.index_dir):
            behind = "" if server["build"] == state.build else " (older: it reloads within a second or two)"
            click.echo(f"  served at {server['url'] or 'pid ' + str(server['pid'])}: {server['build']}{behind}")
        choice = known_choice(settings.index_dir / ENCODERS, m.query_encoder)
        encoder = (
            f"{choice.tier} ({choice.why})"
            if choice
            else "not measured on this CPU yet (the first `qa ask` or `qa serve` does, in about a second)"
        )
        if settings.query_encoder != "auto":
            encoder = f"{settings.query_encoder} (QA_QUERY_ENCODER); measured: {encoder}"
        click.echo(f"  question encoder on this CPU: {encoder}")
    click.echo(f"corpus folder: {settings.corpus_dir}")
    skipped = {**(state.index.skipped if state.index else {}), **skipped_files(settings.corpus_dir)}
    for name, reason in sorted(skipped.items()):
        click.echo(f" skipped: {name}: {reason}")
    for label, names in (("new", state.added), ("changed", state.changed), ("deleted", state.removed)):
        for name in names:
            click.echo(f"{label:>8}: {name}")
    if state.index is not None and not (state.added or state.changed or state.removed):
        click.echo("corpus folder: in step with the index on disk")
    elif state.index is not None:
        click.echo("run `qa build` to index these changes")


def load_embedder(settings: Settings) -> Embedder:
    from .encode.embedder import passage_encoder

    encoder = passage_encoder(settings)
    click.echo(f"encoding with {settings.model} ({getattr(encoder, 'tier', 'torch')}) ...", err=True)
    return encoder


def progress_bars(verb: str) -> Callable[[str, int, int], None]:
    """A progress callback drawing one bar (with an ETA) per stage on stderr."""
    bars: dict[str, ProgressBar[int]] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in bars:
            bar = click.progressbar(length=total, label=f"{verb} {stage}", file=sys.stderr, show_eta=True)
            bars[stage] = bar.__enter__()
        bar = bars[stage]
        bar.update(done - bar.pos)
        if done >= total:
            bar.__exit__(None, None, None)

    return progress


@main.command(short_help="Answer QUESTION with the best-matching passages, cited.")
@click.argument("question")
@click.option("-k", type=int, default=None, help="How many passages (1-50, default 5).")
@click.option("--json", "as_json", is_flag=True, help="Print the HTTP API's JSON result.")
@index_option
def ask(question: str, k: int | None, as_json: bool, index: Path | None) -> None:
    """Answer QUESTION with the best-matching passages."""
    from .retrieve.queries import check_k, check_query

    settings = Settings.load(index_dir=index)
    question, k = check_query(question, settings), check_k(k, settings)  # before anything loads
    preload_language(settings)
    from .retrieve.searcher import Searcher

    searcher = Searcher.open(settings)
    result = searcher.search(question, k)
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    if result.abstain_reason == "language":
        click.echo(f"Not answered: {result.abstain_message} Nearest passages:\n")
    elif result.abstained:
        click.echo("No confident answer in these documents. Nearest passages:\n")
    for hit in result.hits:
        click.echo(format_hit(hit.to_dict(), mark=lambda s: click.style(f"»{s}«", bold=True)))


def preload_language(settings: Settings) -> None:
    """Start loading the language detector (0.5 s) now, beside the imports and the index."""
    from .config import ANY_LANGUAGE

    if settings.model_language != ANY_LANGUAGE:
        from .retrieve.language import preload

        preload()


def format_hit(hit: dict, mark: Callable[[str], str]) -> str:
    text, hl = hit["text"], hit["highlight"]
    body = text[: hl["start"]] + mark(text[hl["start"] : hl["end"]]) + text[hl["end"] :]
    body = textwrap.fill(" ".join(body.split()), width=100, initial_indent="   ", subsequent_indent="   ")
    doc = hit["document"]
    return f"{hit['rank']}. [{hit['score']:.3f}] {doc['title']}\n   {doc['source']} [{hit['start']}:{hit['end']}]\n{body}\n"


@main.command(short_help="Serve the web page and JSON API (builds the index first if needed).")
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
    from .index.build import stale_reason
    from .web import create_app
    from .web.server import listen
    from .web.server import serve as serve_app

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
        reason = stale_reason(settings)
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
        if not serve_app(app, listener, settings.threads, settings.drain_seconds, settings.max_body_bytes):
            raise click.ClickException(f"stopped after {settings.drain_seconds:g} s with requests still in progress")
    click.echo("stopped", err=True)


@main.command("eval", short_help="Measure retrieval quality on SQuAD, the seed questions or BEIR.")
@click.argument("dataset", default="squad")
@click.option(
    "--split",
    type=click.Choice(["tune", "test", "all"]),
    default="test",
    show_default=True,
    help="SQuAD: articles 0-23 (tune) or 24-47 (test); off-topic questions: odd or even lines.",
)
@click.option("--index", type=click.Path(path_type=Path), help="Index folder for the dataset [.eval-cache/NAME].")
@click.option("--limit", type=int, default=None, help="Ask only the first N questions of the split.")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Also write the results to this JSON file.")
@click.option("--modes", help="Comma-separated modes to run: bm25-plain, bm25, dense, hybrid-flat, hybrid [all].")
@click.option("--tune", is_flag=True, help="Print the ranking weights, diversity and threshold this split would choose.")
def evaluate(
    dataset: str, split: str, index: Path | None, limit: int | None, json_path: Path | None, modes: str | None, tune: bool
) -> None:
    """Measure retrieval on DATASET: squad, seed, a SQuAD .json, a seed .jsonl or a BEIR folder."""
    from .eval import measure as evaluation
    from .eval.datasets import load_dataset
    from .index.build import stale_reason
    from .ingest.documents import documents_from
    from .retrieve.searcher import Searcher

    data = load_dataset(dataset)
    chosen = [m.strip() for m in modes.split(",")] if modes else None
    unknown = set(chosen or ()) - set(evaluation.MODES)
    if unknown:
        raise click.BadParameter(f"unknown mode(s) {', '.join(sorted(unknown))}", param_hint="--modes")
    if limit is not None:
        data = dataclasses.replace(data, questions=data.split(split)[:limit], groups=1)
    docs = documents_from(data.documents) if data.documents is not None else None
    if docs is not None:
        index = index or Path(".eval-cache") / data.name
    settings = Settings.load(index_dir=index)
    if stale_reason(settings, docs):
        click.echo(f"building the index for {data.name} in {settings.index_dir} ...", err=True)
        run_build(settings, None, docs)
    searcher = Searcher.open(settings)  # questions go through the encoder a server would use (QA_QUERY_ENCODER)
    click.echo(f"question encoder: {type(searcher.embedder).__name__}", err=True)
    if tune:
        return print_tuning(searcher, data, split)
    reports = evaluation.compare(searcher, data, split, chosen, progress_bars("asking"))
    questions = len(evaluation.questions_of(data, split)[0])
    click.echo(f"{data.name}, split {split}: {questions} questions, {searcher.index.manifest.passages} passages\n")
    click.echo(evaluation.table(reports))
    if json_path:
        rows = [{"mode": r.mode, **r.metrics} for r in reports]
        json_path.write_text(json.dumps({"dataset": data.name, "split": split, "results": rows}, indent=2) + "\n")


def print_tuning(searcher: Searcher, data: Dataset, split: str) -> None:
    from .eval import tuning

    if split != "tune" or data.groups < 2:
        click.echo(f"warning: tuning on {data.name} split {split}, which has no held-out part; report elsewhere", err=True)
    for choice in tuning.choose(searcher, data, split):
        click.echo(f"{choice.name} = {choice.value}    # {choice.why}")
