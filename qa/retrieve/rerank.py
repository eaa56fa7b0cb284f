"""A learned reranker for a question's best passages: what the fused score misses about the words.

The fused score (`ranking.fuse`) weighs four signals the same way for every question. The best
`DEPTH` passages are then reordered by a logistic regression over features of each passage and its
sentences: the four signals and the fused score, how much of the question's words (weighed by idf)
the passage, its best sentence, any sentence and any two adjacent sentences hold, how many of the
question's word pairs they hold in order, whether the best sentence holds a candidate of the kind of
answer asked for (`answers`), and each feature's distance to the best in the list; where the index
keeps passages' token vectors and the question's are at hand, also late interaction's MaxSim of the
question over the passage's tokens (`encode.late`). The models (one with MaxSim, one for an index
without token vectors) are in `reranker.json` beside this module: trained on SQuAD's tune articles
by `qa eval squad --split tune --train-reranker` (`qa/eval/reranker.py`), checked against its sha256
when loaded. Only the order of those passages changes: they keep the set of fused scores they had,
handed out again in the model's order, so every passage below them stays below.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..encode import late
from ..errors import ConfigError
from ..index.backend import IndexBackend
from ..index.lexical import tokenize
from ..index.records import Recent
from ..index.rows import best_rows
from . import answers, ranking
from .evidence import bm25_idf, content_words
from .scoring import Scored

DEPTH = 10  # the best passages by fused score that the model reorders
MODEL = Path(__file__).with_name("reranker.json")
REMEMBERED_TEXTS = 1 << 16  # sentences and titles whose tokens are kept (passages come back often)
KINDS = ("", *answers.KINDS)
SIGNALS = ("dense", "dense_sentence", "bm25", "bm25_sentence")
WORDS = ("coverage", "sentence_coverage", "best_coverage", "pair_coverage", "pairs", "sentence_pairs", "best_pairs")
BASE = (*SIGNALS, "fused", "gap", "rank", "sentence", "sentence_margin", *WORDS,
        "typed", "typed_any", "question_words", "log_length", "sentences")  # fmt: skip
# Features also given as their distance to the best value among the passages reordered.
RELATIVE = (*SIGNALS, "sentence", *WORDS, "log_length")
_TOKENS: Recent[str, list[str]] = Recent(REMEMBERED_TEXTS)
FEATURES = (*BASE, *(f"kind_{k or 'none'}" for k in KINDS), *(f"{name}_to_best" for name in RELATIVE))
LATE_FEATURES = (*FEATURES, "maxsim", "maxsim_to_best")  # with the question's MaxSim over the passage's tokens
# The highlight, where token vectors are at hand: a sentence's fused score, whether it holds a
# candidate of the kind of answer asked for, and its own MaxSim, weighed by the model.
HIGHLIGHT_FEATURES = ("sentence", "typed", "maxsim")


@dataclass(frozen=True)
class Model:
    """A logistic regression over standardised FEATURES: higher means more likely to answer."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def score(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale) @ self.coef + self.intercept

    @classmethod
    def from_dict(cls, data: dict, features: tuple[str, ...] = FEATURES) -> Model:
        if tuple(data["features"]) != features:
            raise ConfigError(f"{MODEL.name} was trained on other features: retrain it (qa eval --train-reranker)")
        mean, scale, coef = (np.asarray(data[name], dtype=np.float64) for name in ("mean", "scale", "coef"))
        return cls(mean, scale, coef, float(data["intercept"]))


@dataclass(frozen=True)
class Models:
    """The model over FEATURES, the one over LATE_FEATURES for an index with token vectors, and
    the highlight's weights over HIGHLIGHT_FEATURES (a conditional logit: the best sum wins)."""

    plain: Model
    late: Model
    highlight: np.ndarray

    @classmethod
    def from_dict(cls, data: dict) -> Models:
        try:
            highlight = data["highlight"]
            if tuple(highlight["features"]) != HIGHLIGHT_FEATURES:
                raise ConfigError(f"{MODEL.name} was trained on other features: retrain it (qa eval --train-reranker)")
            weights = np.asarray(highlight["coef"], dtype=np.float64)
            return cls(Model.from_dict(data["plain"]), Model.from_dict(data["late"], LATE_FEATURES), weights)
        except (KeyError, TypeError):
            raise ConfigError(f"{MODEL.name} is not a reranker of this qa: retrain it (qa eval --train-reranker)") from None


def checksum(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def checksum_file(path: Path) -> Path:
    """Where a model's sha256 is kept: beside it, as `sha256sum` writes it."""
    return path.with_name(f"{path.name}.sha256")


@functools.cache
def model(path: Path = MODEL) -> Models:
    """The shipped models, once the file's sha256 matches the one it was written with."""
    text = path.read_text(encoding="utf-8")
    expected = checksum_file(path).read_text(encoding="ascii").split()[0]
    if checksum(text) != expected:
        raise ConfigError(f"{path} does not match its checksum: reinstall qa or retrain it (qa eval --train-reranker)")
    return Models.from_dict(json.loads(text))


def rerank(
    index: IndexBackend, query: str, kind: str, fused: np.ndarray, scored: Scored, question_tokens: np.ndarray | None = None
) -> np.ndarray:
    """The fused scores with the best DEPTH passages' handed out again in the model's order.
    `question_tokens`: the question's token vectors (`late.question_tokens`), when at hand."""
    top = top_of(fused)
    if len(top) < 2:
        return fused
    x = features(index, query, kind, fused, scored, top)
    maxsim = late_features(index, scored, top, question_tokens)
    scores = model().plain.score(x) if maxsim is None else model().late.score(np.hstack([x, maxsim]))
    order = top[np.argsort(-scores, kind="stable")]
    adjusted = fused.copy()
    adjusted[order] = np.sort(fused[top])[::-1]
    return adjusted


def top_of(fused: np.ndarray) -> np.ndarray:
    """The passages the model reorders: the best DEPTH by fused score, best first."""
    rows = best_rows(fused, DEPTH)
    return rows[np.argsort(-fused[rows], kind="stable")]


def features(index: IndexBackend, query: str, kind: str, fused: np.ndarray, scored: Scored, top: np.ndarray) -> np.ndarray:
    """One row of FEATURES per passage of `top` (indices into `scored`, best first)."""
    words = content_words(index, query)
    idf = _idf(index, words)
    question_pairs = set(itertools.pairwise(words))
    z = {name: ranking.zscore(scored.passages[name]) for name in SIGNALS}
    passages = [index.passage(scored.row(int(i))) for i in top]
    titles = [index.documents[p.doc_id].title for p in passages]
    tokens = _tokens([*titles, *(p.text[start:end] for p in passages for start, end in p.sentences)])
    title_tokens, at = tokens[: len(passages)], len(passages)
    rows = []
    for rank, (i, passage, title) in enumerate(zip(top, passages, title_tokens, strict=True)):
        sentence_tokens, at = tokens[at : at + len(passage.sentences)], at + len(passage.sentences)
        sentence_scores = scored.sentence_scores[scored.sentences[int(i)]]
        ranked = np.sort(sentence_scores)[::-1]
        best = int(np.argmax(sentence_scores))
        typed = answers.typed_sentences(query, kind, passage.text, passage.sentences)
        row = {name: z[name][i] for name in SIGNALS}
        row |= {"fused": fused[i], "gap": fused[i] - fused[top[0]], "rank": rank, "sentence": ranked[0]}
        row["sentence_margin"] = ranked[0] - ranked[1] if len(ranked) > 1 else 1.0
        row |= _word_features(idf, question_pairs, [title, *sentence_tokens], best + 1)
        row |= {"typed": typed[best], "typed_any": typed.any(), "question_words": len(idf)}
        row |= {"log_length": math.log(max(len(passage.text), 1)), "sentences": len(passage.sentences)}
        row |= {f"kind_{k or 'none'}": kind == k for k in KINDS}
        rows.append(row)
    for name in RELATIVE:
        best_value = max(row[name] for row in rows)
        for row in rows:
            row[f"{name}_to_best"] = row[name] - best_value
    return np.array([[float(row[name]) for name in FEATURES] for row in rows])


def late_features(index: IndexBackend, scored: Scored, top: np.ndarray, question_tokens: np.ndarray | None) -> np.ndarray | None:
    """The rest of LATE_FEATURES for the passages of `top`: the question's MaxSim over each
    passage's token vectors (`encode.late`), and its distance to the best; None when the
    question's or the index's token vectors are missing."""
    blocks = token_blocks(index, scored, top, question_tokens)
    if blocks is None or question_tokens is None:
        return None
    maxsim = np.array([late.maxsim(question_tokens, block.passage()) for block in blocks])
    return np.column_stack([maxsim, maxsim - maxsim.max()])


def highlight_scores(
    sentence_scores: np.ndarray, typed: np.ndarray, block: late.Block | None, question_tokens: np.ndarray | None
) -> np.ndarray:
    """A passage's sentences' scores for picking its highlight: with the passage's token vectors,
    the model's weighing of HIGHLIGHT_FEATURES; without (or when the passage was cut at the
    model's length, so its last sentences have no tokens), the fused score plus the answer type's
    fixed weight (`answers.highlight_scores`)."""
    whole = block is not None and 0 < len(block.starts) == len(sentence_scores) and block.starts[-1] < len(block.tokens)
    if block is None or question_tokens is None or not whole:
        return answers.highlight_scores(typed, sentence_scores)
    x = np.column_stack([sentence_scores, typed, late.sentence_maxsims(question_tokens, block)])
    return x @ model().highlight


def token_blocks(
    index: IndexBackend, scored: Scored, which: np.ndarray, question_tokens: np.ndarray | None
) -> list[late.Block] | None:
    """These passages' (indices into `scored`) token vectors, when the question's are at hand too."""
    if question_tokens is None or not len(question_tokens):
        return None
    return index.token_vectors(np.array([scored.row(int(i)) for i in which], dtype=np.int64))


def _word_features(idf: dict[str, float], question_pairs: set, parts: list[list[str]], best: int) -> dict[str, float]:
    """What the passage (its title, then its sentences: `parts`) holds of the question's words
    and word pairs; `best`: the part that is its best sentence."""
    pairs = max(len(question_pairs), 1)
    held = [set(part) for part in parts]
    held_pairs = [set(itertools.pairwise(part)) for part in parts]
    sentences = range(1, len(parts))
    adjacent = [idf_share(idf, held[j] | held[j + 1]) for j in range(1, len(parts) - 1)]
    return {
        "coverage": idf_share(idf, set().union(*held)),
        "sentence_coverage": idf_share(idf, held[best]),
        "best_coverage": max(idf_share(idf, held[j]) for j in sentences),
        "pair_coverage": max(adjacent, default=idf_share(idf, held[best])),
        "pairs": len(question_pairs & set().union(*held_pairs)) / pairs,
        "sentence_pairs": len(question_pairs & held_pairs[best]) / pairs,
        "best_pairs": max(len(question_pairs & held_pairs[j]) for j in sentences) / pairs,
    }


def idf_share(idf: dict[str, float], words: set[str]) -> float:
    """The share of the question words' idf (`_idf`) that `words` (BM25 tokens) hold."""
    return sum(weight for w, weight in idf.items() if w in words) / (sum(idf.values()) or 1.0)


def coverages(index: IndexBackend, query: str, texts: list[str]) -> np.ndarray:
    """How much of the question's words (weighed by idf) each text holds, as the reranker measures
    a sentence's coverage."""
    idf = _idf(index, content_words(index, query))
    return np.array([idf_share(idf, set(words)) for words in _tokens(texts)])


def _tokens(texts: list[str]) -> list[list[str]]:
    """Each text's BM25 tokens (stemmed, no stopwords): remembered, the rest in one tokeniser call."""
    known = {text: _TOKENS.get(text) for text in texts}  # each looked up once: another thread may evict it
    missing = [text for text, words in known.items() if words is None]
    for text, words in zip(missing, tokenize(missing) if missing else [], strict=True):
        known[text] = _TOKENS.put(text, words)
    return [known[text] or [] for text in texts]


def forget() -> None:
    """Forget the remembered tokens and typed sentences (bench/rerank_cost.py measures passages
    never read before)."""
    _TOKENS.clear()
    answers.typed_sentences.cache_clear()


def _idf(index: IndexBackend, words: list[str]) -> dict[str, float]:
    """BM25's idf of each question word over the passages (`evidence.bm25_idf`)."""
    if not words:
        return {}
    idf = bm25_idf(index.passage_frequency(words), index.passage_count)
    return dict(zip(words, idf.tolist(), strict=True))
