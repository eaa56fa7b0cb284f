"""Question variants for `qa eval --variant`: keyword-only and one-typo questions."""

from __future__ import annotations

import pytest

from qa.eval.datasets import Question
from qa.eval.variants import keyword, typo, vary
from qa.index.build import build_index
from qa.ingest.documents import Document
from qa.retrieve.searcher import Searcher

from .conftest import FakeEmbedder, fake_settings

DOCS = [Document(f"d{n}", f"Report {n}", f"The war went on in sector {n}. Troops held the line.", f"d{n}.txt") for n in range(4)]
DOCS.append(Document("tb2", "Drones", "The war saw the Bayraktar TB2 strike from the air.", "tb2.txt"))


@pytest.fixture(scope="module")
def searcher(tmp_path_factory: pytest.TempPathFactory) -> Searcher:
    settings = fake_settings(tmp_path_factory.mktemp("variants"))
    build_index(settings, FakeEmbedder(), DOCS)
    return Searcher.open(settings, FakeEmbedder())


def test_a_keyword_question_keeps_its_rarest_content_words_in_order(searcher):
    assert keyword("Which Bayraktar drone struck in the war?", searcher.index) == "Bayraktar drone struck"
    assert keyword("What is the war?", searcher.index) == "war"  # asking words and stopwords go first


def test_a_typo_swaps_two_inner_letters_of_one_long_word_reproducibly():
    text = "Where is Nagorno-Karabakh?"
    once = typo(text, "q1")
    assert once == typo(text, "q1") and once != text and len(once) == len(text)
    changed = [(a, b) for a, b in zip(text, once, strict=True) if a != b]
    assert len(changed) == 2 and changed[0] == changed[1][::-1]
    for before, after in zip(text.split(), once.split(), strict=True):  # first and last letters stay
        assert (before[0], before[-1]) == (after[0], after[-1])


def test_a_question_without_a_long_word_is_left_as_it_is():
    assert typo("Who won?", "q") == "Who won?"


def test_vary_keeps_answers_and_gold_documents(searcher):
    asked = [Question("q1", "Which Bayraktar drone struck?", {"tb2": 1}, ("Bayraktar TB2",))]
    for variant in ("keyword", "typo"):
        varied = vary(asked, variant, searcher.index)[0]
        assert varied.text != asked[0].text
        assert (varied.relevant, varied.answers) == (asked[0].relevant, asked[0].answers)
    assert vary(asked, "original", searcher.index) == asked
