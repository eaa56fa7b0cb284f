"""The `qa` command: build, ask, serve. A thin layer: it calls the library and prints."""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import click

from .config import PROJECT_ROOT, Settings
from .errors import QAError

if TYPE_CHECKING:
    from .embedder import Embedder
    from .eval_data import Dataset
    from .search import Searcher

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


@main.command()
@corpus_option
@index_option
@click.option("--full", is_flag=True, help="Encode every passage again instead of reusing unchanged ones.")
def build(corpus: Path | None, index: Path | None, full: bool) -> None:
    """Build the index from the corpus folder (atomically: the old index stays until the new one is complete).

    Only new or changed documents are encoded; the vectors of the rest are reused."""
    settings = Settings.load(corpus_dir=corpus, index_dir=index)
    folder = run_build(settings, full=full)
    click.echo(f"built {folder}", err=True)


def run_build(
    settings: Settings, embedder: "Embedder | None" = None, documents: list | None = None, full: bool = False
) -> Path:
    from .documents import corpus_files
    from .index import build_index

    if documents is None:
        corpus_files(settings.corpus_dir)  # a missing corpus fails before the model loads
    embedder = embedder or load_embedder(settings)
    return build_index(settings, embedder, documents, progress=progress_bars("embedding"), full=full)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@corpus_option
@index_option
def add(paths: tuple[Path, ...], corpus: Path | None, index: Path | None) -> None:
    """Copy document files into the corpus folder and index them (a file of the same name is replaced)."""
    from .corpus import add_files

    settings = Settings.load(corpus_dir=corpus, index_dir=index)
    names = add_files(list(paths), settings.corpus_dir)
    folder = run_build(settings)
    click.echo(f"added {', '.join(names)}; built {folder}", err=True)


@main.command()
@click.argument("doc_ids", nargs=-1, required=True)
@corpus_option
@index_option
def remove(doc_ids: tuple[str, ...], corpus: Path | None, index: Path | None) -> None:
    """Delete documents (their files) from the corpus folder and from the index."""
    from .corpus import remove_files

    settings = Settings.load(corpus_dir=corpus, index_dir=index)
    removed = remove_files(list(doc_ids), settings.corpus_dir)
    folder = run_build(settings)
    click.echo(f"removed {', '.join(removed)}; built {folder}", err=True)


@main.command()
@corpus_option
@index_option
def status(corpus: Path | None, index: Path | None) -> None:
    """What the index holds, and how the corpus folder differs from it."""
    from .corpus import status as corpus_status

    settings = Settings.load(corpus_dir=corpus, index_dir=index)
    state = corpus_status(settings.corpus_dir, settings.index_dir)
    if state.index is None:
        click.echo(f"index: none ({state.problem})")
    else:
        m = state.index
        click.echo(f"index: {settings.index_dir}, built {m.get('built_at')} with {m.get('model')}")
        click.echo(f"  {m.get('documents')} documents, {m.get('passages')} passages, version {m.get('index_version')}")
    for label, names in (("new", state.added), ("changed", state.changed), ("deleted", state.removed)):
        for name in names:
            click.echo(f"{label:>8}: {name}")
    if state.index is not None and not (state.added or state.changed or state.removed):
        click.echo("corpus: in step with the index")
    elif state.index is not None:
        click.echo("run `qa build` to index these changes")


def load_embedder(settings: Settings) -> "Embedder":
    from .embedder import SentenceTransformerEmbedder

    click.echo(f"loading model {settings.model} ...", err=True)
    return SentenceTransformerEmbedder(settings.model, settings.torch_threads, settings.build_precision)


def progress_bars(verb: str) -> Callable[[str, int, int], None]:
    """A progress callback drawing one bar (with an ETA) per stage on stderr."""
    bars: dict[str, object] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in bars:
            bar = click.progressbar(length=total, label=f"{verb} {stage}", file=sys.stderr, show_eta=True)
            bars[stage] = bar.__enter__()
        bar = bars[stage]
        bar.update(done - bar.pos)  # type: ignore[attr-defined]
        if done >= total:
            bar.__exit__(None, None, None)  # type: ignore[attr-defined]

    return progress


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
    if result.abstain_reason == "language":
        click.echo(f"Not answered: {result.abstain_message} Nearest passages:\n")
    elif result.abstained:
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
    from .index import stale_reason
    from .web import create_app
    from .web.server import serve as serve_app

    settings = Settings.load(host=host, port=port, corpus_dir=corpus, index_dir=index)
    reason = stale_reason(settings)
    if reason:
        click.echo(f"index needs building ({reason})", err=True)
        run_build(settings)
    app = create_app(settings)
    click.echo(f"serving on http://{settings.host}:{settings.port}", err=True)
    if not serve_app(app, settings.host, settings.port, settings.threads, settings.drain_seconds, settings.max_body_bytes):
        raise click.ClickException(f"stopped after {settings.drain_seconds:g} s with requests still in progress")
    click.echo("stopped", err=True)


@main.command("eval")
@click.argument("dataset", default="squad")
@click.option("--split", type=click.Choice(["tune", "test", "all"]), default="test", show_default=True,
              help="SQuAD: articles 0-23 (tune) or 24-47 (test); off-topic questions: odd or even lines.")
@click.option("--index", type=click.Path(path_type=Path), help="Index folder for the dataset [.eval-cache/NAME].")
@click.option("--limit", type=int, default=None, help="Ask only the first N questions of the split.")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Also write the results to this JSON file.")
@click.option("--modes", help="Comma-separated modes to run: bm25-plain, bm25, dense, hybrid-flat, hybrid [all].")
@click.option("--tune", is_flag=True, help="Print the ranking weights, diversity and threshold this split would choose.")
def evaluate(
    dataset: str, split: str, index: Path | None, limit: int | None, json_path: Path | None, modes: str | None, tune: bool
) -> None:
    """Measure retrieval on DATASET: squad, seed, a SQuAD .json, a seed .jsonl or a BEIR folder."""
    from . import evaluation
    from .documents import documents_from
    from .eval_data import load_dataset
    from .index import stale_reason
    from .search import Searcher

    data = load_dataset(dataset)
    chosen = [m.strip() for m in modes.split(",")] if modes else None
    unknown = set(chosen or ()) - set(evaluation.MODES)
    if unknown:
        raise click.BadParameter(f"unknown mode(s) {', '.join(sorted(unknown))}", param_hint="--modes")
    if limit is not None:
        data = dataclasses.replace(data, questions=data.split(split)[:limit], groups=1)
    docs = documents_from(data.documents) if data.documents is not None else None
    if docs is not None:
        index = index or PROJECT_ROOT / ".eval-cache" / data.name
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
    click.echo(f"{data.name}, split {split}: {questions} questions, {searcher.index.manifest['passages']} passages\n")
    click.echo(evaluation.table(reports))
    if json_path:
        rows = [{"mode": r.mode, **r.metrics} for r in reports]
        json_path.write_text(json.dumps({"dataset": data.name, "split": split, "results": rows}, indent=2) + "\n")


def print_tuning(searcher: "Searcher", data: "Dataset", split: str) -> None:
    from . import tuning

    if split != "tune" or data.groups < 2:
        click.echo(f"warning: tuning on {data.name} split {split}, which has no held-out part; report elsewhere", err=True)
    for choice in tuning.choose(searcher, data, split):
        click.echo(f"{choice.name} = {choice.value}    # {choice.why}")
