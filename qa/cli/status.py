"""`qa status`: what the index holds and serves, and how the corpus folder differs from it."""

from __future__ import annotations

from pathlib import Path

import click

from .options import corpus_option, index_option, index_settings


@click.command(short_help="What the index holds and serves; what changed in the corpus.")
@corpus_option
@index_option
def status(corpus: Path | None, index: Path | None) -> None:
    """What the index holds, which build each running server serves, the question encoder on this
    CPU, and how the corpus folder differs from the index."""
    from ..encode.choice import known_choice
    from ..encode.onnx import ENCODERS
    from ..index.provenance import status as corpus_status
    from ..index.servers import running
    from ..ingest.documents import skipped_files

    settings = index_settings(corpus_dir=corpus, index_dir=index)
    state = corpus_status(settings.corpus_dir, settings.index_dir, settings)
    if state.index is None:
        click.echo(f"index: none ({state.problem})")
    else:
        m = state.index
        click.echo(f"index: {settings.index_dir}, built {m.built_at} with {m.model}")
        where = "on disk" if settings.backend == "segments" else f"in {settings.backend} at {settings.engine_uri}"
        click.echo(f"  {where}: {state.build}, {m.documents} documents, {m.passages} passages, version {m.index_version}")
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
