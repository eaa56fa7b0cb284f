"""`qa eval`: measuring retrieval quality on a dataset, or choosing the ranking constants."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..config import Settings
from .building import progress_bars, run_build

if TYPE_CHECKING:
    from ..eval.datasets import Dataset
    from ..retrieve.searcher import Searcher


@click.command("eval", short_help="Measure retrieval quality on SQuAD, the seed questions or BEIR.")
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
@click.option(
    "--variant",
    type=click.Choice(["original", "keyword", "typo"]),
    default="original",
    show_default=True,
    help="Ask the questions as typed (original), cut to their three rarest words (keyword), or with one typo.",
)
@click.option(
    "--keywords", is_flag=True, help="Ask answer strings and titles as bare keywords, against their article and another."
)
@click.option(
    "--train-reranker",
    "reranker_path",
    type=click.Path(path_type=Path),
    help="Train the reranker on this split (checked on its halves first) and write it here, with its .sha256.",
)
def evaluate(
    dataset: str,
    split: str,
    index: Path | None,
    limit: int | None,
    json_path: Path | None,
    modes: str | None,
    tune: bool,
    variant: str,
    keywords: bool,
    reranker_path: Path | None,
) -> None:
    """Measure retrieval on DATASET: squad, seed, a SQuAD .json, a seed .jsonl or a BEIR folder."""
    from ..eval import measure
    from ..eval.datasets import load_dataset
    from ..index.build import stale_reason
    from ..ingest.documents import documents_from
    from ..retrieve.searcher import Searcher

    data = load_dataset(dataset)
    chosen = [m.strip() for m in modes.split(",")] if modes else None
    unknown = set(chosen or ()) - set(measure.MODES)
    if unknown:
        raise click.BadParameter(f"unknown mode(s) {', '.join(sorted(unknown))}", param_hint="--modes")
    if keywords and (data.documents is None or data.groups < 2):
        raise click.UsageError("--keywords needs a SQuAD-format dataset (answers grouped by article)")
    if limit is not None:
        data = dataclasses.replace(data, questions=data.split(split)[:limit], groups=1)
    docs = documents_from(data.documents) if data.documents is not None else None
    if docs is not None:
        index = index or measure.EVAL_CACHE / data.name
    settings = Settings.load(index_dir=index)
    if stale_reason(settings, docs):
        click.echo(f"building the index for {data.name} in {settings.index_dir} ...", err=True)
        run_build(settings, None, docs)
    searcher = Searcher.open(settings)  # questions go through the encoder a server would use (QA_QUERY_ENCODER)
    click.echo(f"question encoder: {type(searcher.embedder).__name__}", err=True)
    if tune:
        return print_tuning(searcher, data, split)
    if reranker_path:
        from ..eval import reranker

        if split != "tune" or data.groups < 2:
            click.echo(f"warning: training on {data.name} split {split}, which has no held-out part", err=True)
        return reranker.train(searcher, data, split, reranker_path, click.echo)
    if keywords:
        return print_keywords(searcher, data, split, json_path)
    if variant != "original":
        from ..eval.variants import vary

        data = dataclasses.replace(data, questions=vary(data.questions, variant, searcher.index))
    reports = measure.compare(searcher, data, split, chosen, progress_bars("asking"))
    questions = len(measure.questions_of(data, split)[0])
    shown = f", asked as {variant}" if variant != "original" else ""
    click.echo(f"{data.name}, split {split}{shown}: {questions} questions, {searcher.index.manifest.passages} passages\n")
    click.echo(measure.table(reports))
    if json_path:
        rows = [{"mode": r.mode, **r.metrics} for r in reports]
        json_path.write_text(json.dumps({"dataset": data.name, "split": split, "results": rows}, indent=2) + "\n")


def print_tuning(searcher: Searcher, data: Dataset, split: str) -> None:
    from ..eval import tuning

    if split != "tune" or data.groups < 2:
        click.echo(f"warning: tuning on {data.name} split {split}, which has no held-out part; report elsewhere", err=True)
    for choice in tuning.choose(searcher, data, split):
        click.echo(f"{choice.name} = {choice.value}    # {choice.why}")


def print_keywords(searcher: Searcher, data: Dataset, split: str, json_path: Path | None) -> None:
    from ..eval import keywords

    reports = keywords.compare_keywords(searcher, data, split, lambda label: click.echo(f"asking: {label}", err=True))
    click.echo(f"{data.name}, split {split}: keyword queries\n")
    click.echo(keywords.keyword_table(reports))
    if json_path:
        rows = [{"mode": r.mode, **r.metrics} for r in reports]
        json_path.write_text(json.dumps({"dataset": data.name, "split": split, "keywords": rows}, indent=2) + "\n")
