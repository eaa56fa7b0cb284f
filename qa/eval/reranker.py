"""Training the learned reranker (`qa/retrieve/rerank.py`) on a dataset's tune split, reproducibly.

`qa eval squad --split tune --train-reranker PATH` asks every tune question through the product's
own scoring path, takes the features of its best `rerank.DEPTH` passages (label: the passage is of
the gold document), first trains on one half of the articles and measures on the other (both ways,
so the model is kept only if it wins on data it never saw), then trains on all of them and writes
PATH and PATH.sha256. It trains two models: one on `rerank.LATE_FEATURES` (the index keeps token
vectors, as every build with the default model does) and one on `rerank.FEATURES` alone. scikit-
learn's lbfgs is deterministic: the same index, encoder and questions give the same file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..encode import late
from ..errors import ConfigError
from ..retrieve import answers, rerank
from ..retrieve.searcher import Searcher
from . import measure
from .datasets import Dataset, Question

C = 0.1  # the inverse regularisation strength, chosen on the tune halves (bench/results/ranking-notes.md)


@dataclass(frozen=True)
class Examples:
    """The features of each question's best passages, one row per passage."""

    x: np.ndarray  # LATE_FEATURES
    gold: np.ndarray  # whether the passage is of the question's gold document
    question: np.ndarray  # the question each row belongs to (its position)
    group: np.ndarray  # the question's article
    sentences: list[Sentences]  # per row: its passage's sentences, for the highlight


@dataclass(frozen=True)
class Sentences:
    """A passage's sentences as the highlight reads them: HIGHLIGHT_FEATURES, and whether each
    holds a gold answer."""

    x: np.ndarray
    answers: np.ndarray


def collect(searcher: Searcher, questions: list[Question]) -> Examples:
    """Every question's best passages by fused score, their features and labels."""
    rows: list[np.ndarray] = []
    gold: list[bool] = []
    asked: list[int] = []
    groups: list[int] = []
    sentences: list[Sentences] = []
    for n, q in enumerate(questions):
        vectors, tokens = searcher.encode([q.text])
        ranked = searcher.ranked(q.text, vectors[0])
        if ranked is None:
            continue
        scored, fused = ranked
        top = rerank.top_of(fused)
        kind = answers.asks_for(q.text)
        question = tokens[0]
        maxsim = rerank.late_features(searcher.index, scored, top, question)
        if maxsim is None or question is None:
            raise ConfigError("the index keeps no token vectors for late interaction: rebuild it with the default model")
        rows.append(np.hstack([rerank.features(searcher.index, q.text, kind, fused, scored, top), maxsim]))
        passages = [searcher.index.passage(scored.row(int(i))) for i in top]
        gold += [p.doc_id in q.relevant for p in passages]
        asked += [n] * len(top)
        groups += [q.group] * len(top)
        blocks = rerank.token_blocks(searcher.index, scored, top, question) or []
        for i, passage, block in zip(top, passages, blocks, strict=True):
            typed = answers.typed_sentences(q.text, kind, passage.text, passage.sentences)
            x = np.column_stack([scored.sentence_scores[scored.sentences[int(i)]], typed, late.sentence_maxsims(question, block)])
            held = np.array([measure.holds_answer(passage.text[a:b], q.answers) for a, b in passage.sentences])
            sentences.append(Sentences(x, held))
    return Examples(np.concatenate(rows), np.array(gold), np.array(asked), np.array(groups), sentences)


def fit(examples: Examples, which: np.ndarray | None = None, features: tuple[str, ...] = rerank.LATE_FEATURES) -> dict:
    """A logistic regression over `features` on these rows (all when `which` is None), as the
    JSON the reranker loads."""
    from sklearn.linear_model import LogisticRegression

    x, y = (examples.x, examples.gold) if which is None else (examples.x[which], examples.gold[which])
    x = x[:, : len(features)]
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    model = LogisticRegression(C=C, max_iter=5000).fit((x - mean) / scale, y)
    return {
        "features": list(features),
        "mean": _rounded(mean),
        "scale": _rounded(scale),
        "coef": _rounded(model.coef_[0]),
        "intercept": round(float(model.intercept_[0]), 8),
        "C": C,
    }


def recall(examples: Examples, scores: np.ndarray, which: np.ndarray) -> tuple[float, float]:
    """R@1 and R@5 of the gold passage among each question's best passages ordered by
    `scores` (questions whose gold is not among them count as misses)."""
    hits1 = hits5 = 0
    questions = np.unique(examples.question[which])
    for q in questions:
        mine = examples.question == q
        order = np.argsort(-scores[mine], kind="stable")
        gold = examples.gold[mine][order]
        hits1 += bool(gold[:1].any())
        hits5 += bool(gold[:5].any())
    return hits1 / max(len(questions), 1), hits5 / max(len(questions), 1)


def cross_check(examples: Examples) -> list[str]:
    """Train on one half of the articles, measure on the other, both ways: the fused order
    (the features' rank) against the model's."""
    halves = np.unique(examples.group)
    middle = halves[len(halves) // 2] if len(halves) > 1 else halves[0]
    lines = []
    for held in (examples.group < middle, examples.group >= middle):
        if not held.any() or held.all():
            continue
        before = recall(examples, -examples.x[:, rerank.FEATURES.index("rank")], held)
        articles = sorted(set(examples.group[held].tolist()))
        line = f"held out articles {articles[0]}-{articles[-1]}: R@1 {before[0]:.4f}"
        after = {}
        for name, features in (("without MaxSim", rerank.FEATURES), ("with MaxSim", rerank.LATE_FEATURES)):
            model = rerank.Model.from_dict(fit(examples, ~held, features), features)
            after[name] = recall(examples, model.score(examples.x[:, : len(features)]), held)
        line += "".join(f" -> {r[0]:.4f} ({name})" for name, r in after.items())
        line += f", R@5 {before[1]:.4f}" + "".join(f" -> {r[1]:.4f} ({name})" for name, r in after.items())
        late_model = fit(examples, ~held)
        weights = fit_highlight(examples, late_model, ~held)["coef"]
        firsts = first_passages(examples, late_model, held)
        rule = highlighted(firsts, np.array([1.0, answers.HIGHLIGHT_TYPE_WEIGHT, 0.0]))
        lines.append(f"{line}; Highlight {rule:.4f} (rule) -> {highlighted(firsts, np.array(weights)):.4f} (with MaxSim)")
    return lines


def first_passages(examples: Examples, late_model: dict, which: np.ndarray) -> list[Sentences]:
    """The sentences of each of these questions' first passage by the model over LATE_FEATURES."""
    scores = rerank.Model.from_dict(late_model, rerank.LATE_FEATURES).score(examples.x)
    firsts = []
    for q in np.unique(examples.question[which]):
        mine = np.flatnonzero(examples.question == q)
        firsts.append(examples.sentences[int(mine[np.argmax(scores[mine])])])
    return firsts


def highlighted(firsts: list[Sentences], weights: np.ndarray) -> float:
    """The share of questions whose first passage's highlight, by these weights, holds an answer."""
    return float(np.mean([s.answers[np.argmax(s.x @ weights)] for s in firsts])) if firsts else 0.0


def fit_highlight(examples: Examples, late_model: dict, which: np.ndarray | None = None) -> dict:
    """The highlight's weights over HIGHLIGHT_FEATURES: a conditional logit (a logistic regression
    without intercept on the differences of every answering and other sentence of one passage)
    over the first passages of these questions that have both kinds of sentence."""
    from sklearn.linear_model import LogisticRegression

    which = np.ones(len(examples.x), bool) if which is None else which
    pairs = [
        s.x[i] - s.x[j]
        for s in first_passages(examples, late_model, which)
        for i in np.flatnonzero(s.answers)
        for j in np.flatnonzero(~s.answers)
    ]
    if not pairs:  # nothing to learn from: the fixed rule, MaxSim unweighed
        return {"features": list(rerank.HIGHLIGHT_FEATURES), "coef": [1.0, answers.HIGHLIGHT_TYPE_WEIGHT, 0.0]}
    x = np.array(pairs)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    y = np.r_[np.ones(len(x)), np.zeros(len(x))]
    model = LogisticRegression(C=1.0, fit_intercept=False, max_iter=5000).fit(np.r_[x, -x] / scale, y)
    return {"features": list(rerank.HIGHLIGHT_FEATURES), "coef": _rounded(model.coef_[0] / scale)}


def train(searcher: Searcher, dataset: Dataset, split: str, path: Path, say: Callable[[str], None]) -> None:
    """Cross-check on the split's halves, then write the model trained on all of it."""
    questions, _ = measure.questions_of(dataset, split)
    searcher = measure.with_cached_questions(searcher, questions)
    examples = collect(searcher, questions)
    for line in cross_check(examples):
        say(line)
    late_model = fit(examples)
    models = {
        "plain": fit(examples, features=rerank.FEATURES),
        "late": late_model,
        "highlight": fit_highlight(examples, late_model),
    }
    write(models | {"trained_on": f"{dataset.name} {split}, {len(questions)} questions"}, path)
    say(f"wrote {path} and {rerank.checksum_file(path).name}")


def write(model: dict, path: Path) -> None:
    text = json.dumps(model, indent=1) + "\n"
    path.write_text(text, encoding="utf-8")
    rerank.checksum_file(path).write_text(f"{rerank.checksum(text)}  {path.name}\n", encoding="ascii")


def _rounded(values: np.ndarray) -> list[float]:
    return [round(float(v), 8) for v in values]
