"""BM25 through bm25s: stemming, stopwords, folding, and a save/load round trip."""

from __future__ import annotations

import numpy as np

from qa.lexical import Lexical, tokenize

TEXTS = ["The drones were attacking the convoy.", "A ceasefire was signed in Moscow.", "Nothing here at all."]


def test_stemming_and_stopwords():
    assert tokenize(["The drones and the attacking"]) == [["drone", "attack"]]
    assert tokenize(["The drones were attacking"], plain=True) == [["the", "drones", "were", "attacking"]]


def test_a_question_finds_the_passage_with_its_stemmed_words():
    bm25 = Lexical.build(TEXTS, 0.9, 0.4)
    scores = bm25.scores("Which drone attacks hit the convoys?")
    assert scores.shape == (3,) and int(np.argmax(scores)) == 0 and scores[2] == 0
    assert not bm25.scores("What was it?").any()  # only stopwords: no evidence either way
    assert not bm25.scores("zebra").any()  # unknown word


def test_non_breaking_spaces_and_ligatures_do_not_hide_words():
    bm25 = Lexical.build(["peace\u00a0talks in the ﬁnal round", "other text"], 0.9, 0.4)
    assert int(np.argmax(bm25.scores("final peace"))) == 0 and bm25.scores("final peace")[0] > 0


def test_save_and_load_give_the_same_scores(tmp_path):
    bm25 = Lexical.build(TEXTS, 0.9, 0.4)
    bm25.save(tmp_path, "bm25-test")
    loaded = Lexical.load(tmp_path, "bm25-test")
    assert loaded.size == 3
    assert np.allclose(loaded.scores("ceasefire in Moscow"), bm25.scores("ceasefire in Moscow"))
