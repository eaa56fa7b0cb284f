"""Hybrid ranking's pure functions, on small hand-made arrays."""

from __future__ import annotations

import numpy as np
import pytest

from qa.index.rows import SentenceMap
from qa.retrieve import ranking


def test_sentence_map_takes_each_passages_best_sentence():
    sentences = SentenceMap.of([[0, 1], [1, 2, 3], [4]])
    assert sentences.best(np.array([0.1, 0.9, 0.2, 0.3, -1.0])).tolist() == pytest.approx([0.9, 0.9, -1.0])


def test_zscore_puts_signals_on_one_scale_and_is_zero_when_flat():
    z = ranking.zscore(np.array([1.0, 2.0, 3.0]))
    assert z.mean() == pytest.approx(0) and z.std() == pytest.approx(1)
    assert ranking.zscore(np.full(4, 7.0)).tolist() == [0, 0, 0, 0]


def test_fuse_is_the_weighted_mean_of_z_scores_and_ignores_zero_weights():
    signals = {"a": np.array([0.0, 1.0]), "b": np.array([10.0, 0.0]), "c": np.array([np.nan, np.nan])}
    fused = ranking.fuse(signals, {"a": 3.0, "b": 1.0, "c": 0.0})
    assert fused.tolist() == pytest.approx([(3 * -1 + 1 * 1) / 4, (3 * 1 + 1 * -1) / 4])


def test_every_mode_has_sentence_weights_for_the_highlight():
    for mode in ranking.WEIGHTS:
        assert sum(ranking.sentence_weights(mode).values()) > 0


DOCS = ["a", "a", "b", "c"]


def top(scores, k, penalty, clashes=lambda a, b: False):
    return ranking.diverse_top(np.array(scores), k, DOCS.__getitem__, clashes, penalty, pool=10)


def test_without_penalty_the_top_is_by_score():
    assert [row for row, _ in top([0.9, 0.8, 0.7, 0.1], 3, 0.0)] == [0, 1, 2]


def test_source_diversity_lets_another_documents_nearly_as_good_passage_go_first():
    picked = top([0.9, 0.8, 0.7, 0.1], 3, penalty=0.15)
    assert [row for row, _ in picked] == [0, 2, 1]
    assert [score for _, score in picked] == pytest.approx([0.9, 0.7, 0.8])  # scores are not penalised
    # a much better passage of the same document still comes before a weak one of another
    assert [row for row, _ in top([0.9, 0.8, 0.2, 0.1], 2, penalty=0.15)] == [0, 1]


def test_clashing_passages_are_left_out_while_others_remain():
    clash = lambda a, b: {a, b} == {0, 1}  # noqa: E731
    assert [row for row, _ in top([0.9, 0.8, 0.7, 0.1], 3, 0.0, clash)] == [0, 2, 3]
    assert [row for row, _ in top([0.9, 0.8], 2, 0.0, clash)] == [0, 1]  # nothing else left


def test_zscore_of_a_flat_float32_signal_is_zero():
    assert not ranking.zscore(np.full(3176, 0.1, dtype=np.float32)).any()


def test_only_the_best_pool_rows_are_considered():
    scores = np.array([0.1, 0.9, 0.2, 0.8, 0.3])
    picked = ranking.diverse_top(scores, 5, str, lambda a, b: False, 0.0, pool=2)
    assert [row for row, _ in picked] == [1, 3]


def test_a_clash_and_the_penalty_together():
    # rows 0 and 1 overlap (same document a); row 2 is document a too, row 3 is document b
    docs = ["a", "a", "a", "b"]
    clash = lambda x, y: {x, y} == {0, 1}  # noqa: E731
    picked = ranking.diverse_top(np.array([1.0, 0.95, 0.9, 0.5]), 3, docs.__getitem__, clash, 0.3, pool=4)
    assert [row for row, _ in picked] == [0, 2, 3]  # 1 clashes; 2 pays 0.3 and still beats b (0.6 > 0.5)
    picked = ranking.diverse_top(np.array([1.0, 0.95, 0.7, 0.5]), 3, docs.__getitem__, clash, 0.3, pool=4)
    assert [row for row, _ in picked] == [0, 3, 2]  # now b goes first (0.7 - 0.3 < 0.5)
