"""`qa build`, `qa add`, `qa remove`: changing the corpus folder and building the index, with
progress bars and a report of what was built."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..config import Settings
from ..errors import CorpusError
from .options import corpus_option, index_option, index_settings, replace_option, strict_option

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

    from ..encode.embedder import Embedder


@click.command(short_help="Build the index from the corpus folder; only changes are encoded.")
@corpus_option
@index_option
@click.option("--full", is_flag=True, help="Encode every passage again instead of reusing unchanged ones.")
@replace_option
@strict_option
@click.option(
    "--workers",
    metavar="local|ray|ray://HOST:PORT",
    help="Who encodes: this process, a local Ray, or a Ray cluster (Ray Data actors) [QA_BUILD_WORKERS].",
)
def build(corpus: Path | None, index: Path | None, full: bool, replace: bool, strict: bool, workers: str | None) -> None:
    """Build the index from the corpus folder (atomically: the old index stays until the new one is complete).

    Only new or changed documents are encoded; the vectors of the rest are reused. Files that
    cannot be read are skipped and listed (--strict: stop at the first)."""
    settings = index_settings(corpus_dir=corpus, index_dir=index, build_workers=workers)
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
    from ..index.build import build_index

    if documents is None:
        check_corpus(settings.corpus_dir)
    from ..index.opening import served_manifest
    from ..index.provenance import check_same_corpus

    check_same_corpus(served_manifest(settings), settings, documents is not None, replace)
    from ..encode.workers import check_reachable

    check_reachable(settings.build_workers)  # before the model loads
    embedder = embedder or load_embedder(settings)
    return build_index(
        settings, embedder, documents, progress=progress_bars("embedding"), full=full, replace=replace, strict=strict
    )


def check_corpus(corpus_dir: Path) -> None:
    """A missing folder, or one with no document to read, fails before any model loads."""
    from ..ingest.documents import SUFFIXES, corpus_files, skipped_files

    if not corpus_files(corpus_dir):
        skipped = skipped_files(corpus_dir)
        listed = f" (skipped: {', '.join(list(skipped)[:5])}{', ...' if len(skipped) > 5 else ''})" if skipped else ""
        raise CorpusError(f"no documents ({', '.join(sorted(SUFFIXES))}) in {corpus_dir}{listed}")


def report_build(folder: Path, settings: Settings) -> None:
    """What a build made: counts, the files it skipped and why, the question encoder."""
    from ..index.opening import served_manifest
    from ..index.storage import read_manifest

    m = read_manifest(folder) if settings.backend == "segments" else served_manifest(settings)
    if m is None:
        raise click.ClickException(f"no index in {settings.backend} at {settings.engine_uri} after the build")
    where = folder if settings.backend == "segments" else f"{settings.backend} at {settings.engine_uri}"
    click.echo(f"built {where}: {m.documents} documents, {m.passages} passages", err=True)
    for name, reason in m.skipped.items():
        click.echo(f"  skipped {name}: {reason}", err=True)
    if m.skipped:
        click.echo(f"  ({len(m.skipped)} files skipped; the rest is indexed)", err=True)
    report_servers(settings)


def report_servers(settings: Settings) -> None:
    from ..index.servers import WATCH_SECONDS, running

    for server in running(settings.index_dir):
        click.echo(
            f"  the server at {server['url'] or 'pid ' + str(server['pid'])} serves this build "
            f"within {WATCH_SECONDS:g} s (it watches {settings.index_dir / 'CURRENT'})",
            err=True,
        )


@click.command(short_help="Copy document files into the corpus folder and index them.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@corpus_option
@index_option
def add(paths: tuple[Path, ...], corpus: Path | None, index: Path | None) -> None:
    """Copy document files into the corpus folder and index them (a file of the same name is replaced)."""
    from ..ingest.corpus_folder import add_files

    settings = index_settings(corpus_dir=corpus, index_dir=index)
    names = add_files(list(paths), settings.corpus_dir)
    click.echo(f"added {', '.join(names)} to {settings.corpus_dir}", err=True)
    report_build(run_build(settings), settings)


@click.command(short_help="Delete documents from the corpus folder and from the index.")
@click.argument("doc_ids", nargs=-1, required=True)
@corpus_option
@index_option
def remove(doc_ids: tuple[str, ...], corpus: Path | None, index: Path | None) -> None:
    """Delete documents (their files) from the corpus folder and from the index."""
    from ..ingest.corpus_folder import remove_files

    settings = index_settings(corpus_dir=corpus, index_dir=index)
    removed = remove_files(list(doc_ids), settings.corpus_dir)
    click.echo(f"removed {', '.join(removed)} from {settings.corpus_dir}", err=True)
    report_build(run_build(settings), settings)


def load_embedder(settings: Settings) -> Embedder:
    from ..encode.embedder import passage_encoder

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
