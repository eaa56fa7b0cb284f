"""BM25 through bm25s: stemming, stopwords, folding, and stored tokens that score as the texts do."""

from __future__ import annotations

import numpy as np

from qa.index.lexical import Lexical, Postings, Tokens, tokenize

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


def test_tokens_saved_taken_and_joined_give_the_scores_of_the_texts_themselves(tmp_path):
    """An index keeps tokens per segment; BM25 made from a selection of them scores as if built
    from those texts directly (same idf, same lengths)."""
    first, second = Tokens.of(TEXTS[:2]), Tokens.of([*TEXTS[2:], "nothing here"])
    second.save(tmp_path / "t.npz")
    joined = Tokens.concat([first, Tokens.load(tmp_path / "t.npz")])
    assert len(joined) == 4
    picked = joined.take(np.array([2, 0, 1]))  # drops the last text, reorders the rest
    texts = [TEXTS[2], TEXTS[0], TEXTS[1]]
    for question in ("ceasefire in Moscow", "Lachin corridor", "unknownword"):
        expected = Lexical.build(texts, 0.9, 0.4).scores(question)
        assert np.allclose(Lexical.of_tokens(picked, 0.9, 0.4).scores(question), expected)
    assert Lexical.build(texts, 0.9, 0.4).scores("ceasefire in Moscow").max() > 0


def test_texts_without_a_word_and_long_words_are_stored_and_scored(tmp_path):
    empty = Tokens.of(["the and of", ""])  # stopwords only: nothing to index
    assert Lexical.of_tokens(empty, 0.9, 0.4).size == 2
    assert not Lexical.of_tokens(empty, 0.9, 0.4).scores("the ceasefire").any()
    empty.save(tmp_path / "e.npz")
    assert Tokens.load(tmp_path / "e.npz").vocab == []
    long = Tokens.of(["和平協議" * 500 + " ceasefire", "ceasefire talks"])
    long.save(tmp_path / "l.npz")
    assert (tmp_path / "l.npz").stat().st_size < 20_000  # not one fixed-width slot per word
    assert Tokens.load(tmp_path / "l.npz").vocab == long.vocab


def test_the_weights_are_bm25s_own():
    """Our postings, built in bulk from token ids and weighed per question word, score exactly as
    bm25s's own index does."""
    import bm25s

    from qa.ingest.documents import read_corpus
    from qa.ingest.passages import passages_of

    from .conftest import CORPUS

    texts = [p.text for p in passages_of(read_corpus(CORPUS), 600, 1000, 1)] + ["", "the of and"]
    tokens = Tokens.of(texts)
    ours = Lexical.of_tokens(tokens, 0.9, 0.4)
    theirs = bm25s.BM25(k1=0.9, b=0.4)
    theirs.index(tokenize(texts), show_progress=False)
    for question in ("How long did the war last?", "Lavrov Trud newspaper interview", "drones drones Harop", "zzz"):
        ids = theirs.get_tokens_ids(tokenize([question])[0])
        expected = theirs.get_scores_from_ids(ids) if ids else np.zeros(len(texts))
        assert np.allclose(ours.scores(question), expected, rtol=1e-5, atol=1e-6)
        assert question == "zzz" or ours.scores(question).max() > 0


def test_ranked_picks_the_best_rows_among_those_holding_a_word():
    from qa.ingest.documents import read_corpus
    from qa.ingest.passages import passages_of

    from .conftest import CORPUS

    texts = [p.text for p in passages_of(read_corpus(CORPUS), 600, 1000, 1)]
    bm25 = Lexical.build(texts, 0.9, 0.4)
    for question, n in (("How long did the war last?", 10), ("Lavrov Trud Lavrov interview", 3), ("war", 400), ("zzz", 5)):
        scores, best = bm25.ranked(question, n)
        assert np.array_equal(scores, bm25.scores(question))
        assert np.array_equal(bm25.scores_of(bm25.words(question), np.arange(len(texts))[::-1]), scores[::-1])
        holding = np.flatnonzero(scores > 0)
        assert len(best) == min(n, len(holding)) and len(set(best.tolist())) == len(best)
        if len(best):  # none left out scores above the worst picked
            assert scores[np.setdiff1d(holding, best)].max(initial=0) <= scores[best].min()


def test_each_thread_stems_with_its_own_stemmer():
    """PyStemmer's stemmer must not run in two threads at once: a build and the searches served
    meanwhile each get their own."""
    import threading

    from qa.index.lexical import _stemmer, tokenize

    theirs: list = []
    thread = threading.Thread(target=lambda: theirs.append(_stemmer()))
    thread.start()
    thread.join()
    assert theirs[0] is not _stemmer() and _stemmer() is _stemmer()
    assert tokenize(["Running runners ran"]) == [["run", "runner", "ran"]]


def test_a_words_frequency_counts_the_served_texts_holding_it():
    texts = [*TEXTS, "Drones again, drones everywhere."]
    postings = Postings.of(Tokens.of(texts))
    whole = Lexical([(postings, None)], 4, 0.9, 0.4)
    assert [whole.frequency(w) for w in ("drone", "ceasefir", "zebra")] == [2, 1, 0]
    served = Lexical([(postings, np.array([0, -1, 1, -1]))], 2, 0.9, 0.4)  # texts 1 and 3 retired
    assert [served.frequency(w) for w in ("drone", "ceasefir", "noth")] == [1, 0, 1]
