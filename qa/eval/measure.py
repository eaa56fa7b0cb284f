"""Measuring retrieval: ask a dataset's questions through a `Searcher` and score what comes back.

Rank metrics come from ir-measures (trec_eval underneath) over the documents of the returned
passages, in the order the service returns them. Answer recall, highlight accuracy and the
abstention rates are string and count checks done here.
"""

from __future__ import annotations

import dataclasses
import re
import statistics
import string
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import ir_measures
import numpy as np
from ir_measures import RR, R, nDCG

from ..config import Settings
from ..encode import late
from ..encode.embedder import Embedder, TokenEmbedder
from ..index.lexical import Lexical
from ..index.load import Index
from ..index.manifest import BM25_B, BM25_K1
from ..ingest.cleaning import normalize_for_embedding
from ..retrieve.searcher import Hit, Searcher
from .datasets import KNOWN, Dataset, Question, load_dataset, off_topic_questions

RANK_MEASURES = [R @ 1, R @ 5, R @ 10, R @ 20, RR @ 10, nDCG @ 10, R @ 100]
ANSWER_DEPTHS = (1, 3, 5)
EVAL_CACHE = Path(".eval-cache")  # where `qa eval` builds each dataset's index (from the repository's root)
SQUAD_INDEX = EVAL_CACHE / KNOWN["squad"].stem


@dataclass(frozen=True)
class Report:
    """One evaluated configuration: a row of the printed table."""

    mode: str
    metrics: dict[str, float]

    def row(self, columns: list[str]) -> str:
        cells = [_cell(c, self.metrics.get(c)) for c in columns]
        return f"| {self.mode} | " + " | ".join(cells) + " |"


def _cell(column: str, value: float | None) -> str:
    if value is None:
        return ""
    return {"search_ms": f"{value:.1f}", "Docs@5": f"{value:.2f}", "keywords": f"{value:.0f}"}.get(column, f"{value:.3f}")


class CachedEmbedder:
    """Encodes every question once for all the modes compared; delegates anything else."""

    def __init__(self, embedder: Embedder, texts: Iterable[str], batch_size: int = 64) -> None:
        self.name, self.dimension, self._embedder = embedder.name, embedder.dimension, embedder
        unique = sorted({normalize_for_embedding(t) for t in texts})
        self._tokens: dict[str, np.ndarray] = {}
        if isinstance(embedder, TokenEmbedder) and unique:
            vectors, tokens = embedder.encode_tokens(unique, batch_size)
            self._tokens = dict(zip(unique, tokens, strict=True))
        else:
            vectors = embedder.encode(unique, batch_size) if unique else np.zeros((0, self.dimension), np.float32)
        self._cache = dict(zip(unique, vectors, strict=True))

    def encode(
        self, texts: Sequence[str], batch_size: int = 32, progress: Callable[[int, int], None] | None = None
    ) -> np.ndarray:
        if all(t in self._cache for t in texts):
            return np.stack([self._cache[t] for t in texts])
        return self._embedder.encode(texts, batch_size, progress)

    def encode_tokens(
        self,
        texts: Sequence[str],
        batch_size: int = 32,
        progress: Callable[[int, int], None] | None = None,
        projection: np.ndarray | None = None,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """The cached vectors and token vectors (`TokenEmbedder`); no tokens when the model gives none."""
        if all(t in self._tokens for t in texts):
            tokens = [self._tokens[t] for t in texts]
            return self.encode(texts), tokens if projection is None else [late.compact(t, projection) for t in tokens]
        if isinstance(self._embedder, TokenEmbedder):
            return self._embedder.encode_tokens(texts, batch_size, progress, projection)
        return self.encode(texts, batch_size, progress), [np.zeros((0, self.dimension), np.float32) for _ in texts]

    def token_starts(self, texts: Sequence[str]) -> list[np.ndarray]:
        return (
            self._embedder.token_starts(texts)
            if isinstance(self._embedder, TokenEmbedder)
            else [np.zeros(0, np.int64)] * len(texts)
        )


def fold(text: str) -> str:
    """Answer matching: NFKC, case-insensitive, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def holds_answer(text: str, answers: tuple[str, ...]) -> bool:
    """Whether `text` contains any of the gold answers, compared folded."""
    folded = fold(text)
    return any(fold(a) in folded for a in answers)


def squad_normal(text: str) -> str:
    """SQuAD's answer normalisation for exact match: lower case, no punctuation, no articles,
    whitespace collapsed (the official evaluation script's `normalize_answer`)."""
    text = "".join(c for c in text.lower() if c not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def span_matches(hit: Hit, answers: tuple[str, ...]) -> bool:
    """Whether the hit's answer span is, normalised, one of the gold answers (False without a span)."""
    if hit.answer is None:
        return False
    span = squad_normal(hit.passage.text[slice(*hit.answer)])
    return any(span == squad_normal(a) for a in answers)


def questions_of(dataset: Dataset, split: str) -> tuple[list[Question], list[Question]]:
    """The answerable and the off-topic questions of a split (everyday questions included)."""
    questions = dataset.split(split)
    off_topic = [q for q in questions if q.off_topic] + off_topic_questions(split)
    return [q for q in questions if not q.off_topic], off_topic


def evaluate(
    searcher: Searcher,
    answerable: list[Question],
    off_topic: list[Question],
    depth: int = 100,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, float]:
    """Every measure for one searcher configuration (answerable and off-topic questions apart)."""
    searcher = searcher.with_settings(max_k=max(depth, searcher.settings.max_k))
    run: dict[str, dict[str, float]] = {}
    answer_hits = {k: 0 for k in ANSWER_DEPTHS}
    highlight_hits, highlight_asked, wrongly_abstained, took, sources = 0, 0, 0, [], []
    spans, exact = 0, 0
    total = len(answerable) + len(off_topic)
    for n, question in enumerate(answerable):
        result = searcher.search(question.text, depth)
        took.append(result.took_ms)
        wrongly_abstained += result.abstained
        run[question.id] = _passage_run(result.hits)
        sources.append(len({h.document.id for h in result.hits[:5]}))
        if question.answers:
            found = [holds_answer(h.passage.text, question.answers) for h in result.hits]
            for k in ANSWER_DEPTHS:
                answer_hits[k] += any(found[:k])
            spans += bool(result.hits) and result.hits[0].answer is not None
            exact += bool(result.hits) and span_matches(result.hits[0], question.answers)
            if found and found[0]:  # the answer is in the top passage: is it the highlighted sentence?
                highlight_asked += 1
                top = result.hits[0]
                highlight_hits += holds_answer(top.passage.text[slice(*top.highlight)], question.answers)
        if progress:
            progress(n + 1, total)
    answered_off_topic = 0
    for n, question in enumerate(off_topic, len(answerable) + 1):
        result = searcher.search(question.text, 1)
        took.append(result.took_ms)
        answered_off_topic += not result.abstained
        if progress:
            progress(n, total)
    metrics: dict[str, float] = {}
    if answerable:
        qrels = {q.id: q.relevant for q in answerable}
        for measure, value in ir_measures.calc_aggregate(RANK_MEASURES, qrels, run).items():
            metrics[str(measure)] = value
        with_answers = sum(1 for q in answerable if q.answers)
        if with_answers:
            metrics.update({f"Ans@{k}": answer_hits[k] / with_answers for k in ANSWER_DEPTHS})
            metrics["Highlight"] = highlight_hits / highlight_asked if highlight_asked else 0.0
            metrics.update(AnsEM=exact / with_answers, AnsCov=spans / with_answers, AnsPrec=exact / spans if spans else 0.0)
        metrics["Docs@5"] = statistics.mean(sources)
        metrics["WrongAbstain"] = wrongly_abstained / len(answerable)
    if off_topic:
        metrics["OffTopicAnswered"] = answered_off_topic / len(off_topic)
    metrics["search_ms"] = statistics.median(took) if took else 0.0  # questions come pre-encoded
    return metrics


def _passage_run(hits: list[Hit]) -> dict[str, float]:
    """The run trec_eval scores: one entry per returned passage, in order. A document's first
    passage stands for it; a repeated document takes its slot as a never-relevant placeholder,
    so R@k means "among the documents of the top k passages"."""
    run: dict[str, float] = {}
    for position, hit in enumerate(hits):
        doc = hit.document.id
        run[doc if doc not in run else f"{doc} [repeat {position}]"] = float(len(hits) - position)
    return run


def table(reports: list[Report]) -> str:
    """A markdown table with the columns any report has, in a fixed order."""
    order = [str(m) for m in RANK_MEASURES] + [f"Ans@{k}" for k in ANSWER_DEPTHS]
    order += ["Highlight", "AnsEM", "AnsCov", "AnsPrec", "Docs@5", "WrongAbstain", "OffTopicAnswered", "search_ms"]
    columns = [c for c in order if any(c in r.metrics for r in reports)]
    lines = ["| mode | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    return "\n".join(lines + [r.row(columns) for r in reports])


# name -> (row label, query-time settings). "bm25-plain" also swaps in a textbook BM25 over the
# bare passage text (no title, stemming or stopwords), the usual published baseline.
MODES: dict[str, tuple[str, dict[str, object]]] = {
    "bm25-plain": ("bm25 plain (k1 .9, b .4, no stemming, no title)", {"ranking": "bm25", "source_diversity": 0.0}),
    "bm25": ("bm25", {"ranking": "bm25", "source_diversity": 0.0}),
    "dense": ("dense", {"ranking": "dense", "source_diversity": 0.0}),
    "hybrid-flat": ("hybrid, no source diversity", {"ranking": "hybrid", "source_diversity": 0.0}),
    "hybrid": ("hybrid, default settings", {}),
}


def modes_for(dataset: Dataset) -> list[str]:
    """Every mode that applies (the plain baseline needs the documents in hand)."""
    return [m for m in MODES if m != "bm25-plain" or dataset.documents is not None]


def compare(
    searcher: Searcher,
    dataset: Dataset,
    split: str,
    modes: list[str] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[Report]:
    """Each mode (default: all that apply) on one split of `dataset`, questions encoded once."""
    answerable, off_topic = questions_of(dataset, split)
    searcher = with_cached_questions(searcher, answerable + off_topic)
    reports = []
    for mode in modes or modes_for(dataset):
        label, changes = MODES[mode]
        mode_searcher = searcher.with_settings(**changes)
        if mode == "bm25-plain":
            mode_searcher = Searcher(_with_plain_bm25(searcher.index), searcher.embedder, mode_searcher.settings)
        report = (lambda done, total, label=label: progress(label, done, total)) if progress else None
        reports.append(Report(label, evaluate(mode_searcher, answerable, off_topic, progress=report)))
    return reports


def with_cached_questions(searcher: Searcher, questions: list[Question]) -> Searcher:
    """The same searcher, with every question encoded up front in batches."""
    return Searcher(searcher.index, CachedEmbedder(searcher.embedder, [q.text for q in questions]), searcher.settings)


def squad_split(split: str, index_dir: Path = SQUAD_INDEX) -> tuple[Searcher, list[Question], list[Question]]:
    """A SQuAD split's answerable and off-topic questions, and a searcher on the evaluation index
    (built by `qa eval squad`) with all of them encoded up front: what the bench scripts ask."""
    answerable, off_topic = questions_of(load_dataset("squad"), split)
    searcher = Searcher.open(Settings.load(index_dir=index_dir))
    return with_cached_questions(searcher, answerable + off_topic), answerable, off_topic


def _with_plain_bm25(index: Index) -> Index:
    """The segment store with BM25 over unstemmed words (the `bm25-plain` baseline): a mode of the
    evaluation only, so it is built on the segment store rather than asked of the backend seam."""
    plain = Lexical.build([p.text for p in index.passages], BM25_K1, BM25_B, plain=True)
    return dataclasses.replace(index, lexical=plain)
