"""Abstention that sees lexical evidence: rare question words the top passage holds."""

from __future__ import annotations

import json

import pytest

from qa.eval.datasets import squad
from qa.eval.keywords import evaluate_keywords, keywords_of
from qa.index.build import build_index
from qa.ingest.documents import Document
from qa.retrieve import evidence
from qa.retrieve.searcher import Searcher

from .conftest import FakeEmbedder, fake_settings

# Nine filler documents make "bayraktar" and "harop" rare (one passage in ten holds each).
FILLER = [
    Document(f"f{n}", f"Report {n}", f"The war went on in sector {n}. Troops held the line.", f"f{n}.txt") for n in range(9)
]
DRONES = Document("drones", "Drones", "The Bayraktar TB2 flew from bases in the south.", "drones.txt")


@pytest.fixture(scope="module")
def searcher(tmp_path_factory: pytest.TempPathFactory) -> Searcher:
    """A small index whose every cosine falls short of the threshold (0.99), so only evidence answers."""
    settings = fake_settings(tmp_path_factory.mktemp("evidence"), abstain_threshold=0.99)
    build_index(settings, FakeEmbedder(), [DRONES, *FILLER])
    return Searcher.open(settings, FakeEmbedder())


def top_row(searcher: Searcher, query: str) -> int:
    row = searcher.index.row_of(searcher.search(query, 1).hits[0].passage.id)
    assert row is not None
    return row


def test_rare_words_the_top_passage_holds_are_evidence(searcher):
    found = evidence.lexical_evidence(searcher.index, "Bayraktar TB2", top_row(searcher, "Bayraktar TB2"))
    assert set(found.held) == {"bayraktar", "tb2"} and not found.missing
    assert found.coverage == pytest.approx(1.0) and set(found.rare) == {"bayraktar", "tb2"}
    assert found.sufficient


def test_words_no_passage_holds_weigh_against(searcher):
    query = "Bayraktar chocolate cake recipe"
    found = evidence.lexical_evidence(searcher.index, query, top_row(searcher, query))
    assert found.held == ("bayraktar",) and set(found.missing) == {"chocol", "cake", "recip"}
    assert found.coverage < 0.5 and not found.sufficient


def test_common_words_alone_are_no_evidence(searcher):
    found = evidence.lexical_evidence(searcher.index, "war troops", top_row(searcher, "war troops"))
    assert found.coverage == pytest.approx(1.0) and not found.rare
    assert not found.sufficient


def test_a_word_matched_only_by_its_stem_is_not_exact(searcher):
    found = evidence.lexical_evidence(searcher.index, "Bayraktars", top_row(searcher, "Bayraktars"))
    assert found.held == ("bayraktar",) and found.inexact == ("bayraktars",)
    assert not found.sufficient


def test_asking_words_are_left_out(searcher):
    found = evidence.lexical_evidence(searcher.index, "Which Bayraktar?", top_row(searcher, "Bayraktar"))
    assert found.held == ("bayraktar",) and not found.missing


def test_passage_frequency_counts_the_passages_holding_a_word(searcher):
    assert searcher.index.passage_frequency(["bayraktar", "troop", "zzz"]).tolist() == [1, 9, 0]


def test_a_keyword_query_answers_on_evidence_and_abstains_without(searcher):
    result = searcher.search("Bayraktar TB2", 3)
    assert result.confidence < 0.99 and not result.abstained
    assert "Bayraktar TB2" in result.hits[0].passage.text
    cosine_only = searcher.with_settings(abstain_lexical=False).search("Bayraktar TB2", 3)
    assert cosine_only.abstained and cosine_only.abstain_reason == "confidence"
    assert searcher.search("chocolate cake recipe", 3).abstained


def write_squad(path, articles: dict[str, list[tuple[str, str, str]]]) -> None:
    """A SQuAD-format file: article title -> paragraphs as (context, question, answer)."""
    data = [
        {
            "title": title,
            "paragraphs": [
                {"context": c, "qas": [{"id": f"{title}{n}", "question": q, "answers": [{"text": a, "answer_start": 0}]}]}
                for n, (c, q, a) in enumerate(paragraphs)
            ],
        }
        for title, paragraphs in articles.items()
    ]
    path.write_text(json.dumps({"data": data}))


def test_keywords_are_titles_and_short_answers_asked_against_their_article_and_the_next(tmp_path):
    path = tmp_path / "mini.json"
    write_squad(
        path,
        {
            "Bayraktar_TB2": [("The TB2 is built by Baykar.", "Who builds it?", "Baykar"), ("It flew in 2020.", "When?", "2020")],
            "Harop": [("The Harop is made by IAI.", "Who makes it?", "IAI")],
            "Tea": [("Tea is grown in Lankaran.", "Where?", "Lankaran")],
            "Salt": [("Salt comes from the sea.", "From where?", "the sea")],
        },
    )
    keywords = keywords_of(squad(path), "tune")
    assert [k.text for k in keywords] == ["Bayraktar TB2", "Baykar", "Harop", "IAI"]  # "2020": no letter
    assert keywords[0].own.doc_ids == ("Bayraktar_TB2#0", "Bayraktar_TB2#1") and keywords[0].other.doc_ids == ("Harop#0",)
    assert keywords[2].other.doc_ids == ("Bayraktar_TB2#0", "Bayraktar_TB2#1")  # the split's articles in a ring


def test_keyword_rates_count_abstentions_and_answers_without_the_keyword(tmp_path):
    path = tmp_path / "mini.json"
    contexts = {"Drones": "Baykar builds the Bayraktar drones.", "Tea": "Tea is grown in the hills of Lankaran."}
    write_squad(path, {title: [(text, "Who?", text.split()[0])] for title, text in contexts.items()})
    data = squad(path)
    settings = fake_settings(tmp_path, abstain_threshold=0.99)
    build_index(settings, FakeEmbedder(), [Document(d["id"], d["title"], d["text"], d["id"]) for d in data.documents or []])
    keywords = keywords_of(data, "all")
    lexical = evaluate_keywords(Searcher.open(settings, FakeEmbedder()), keywords)
    cosine = evaluate_keywords(Searcher.open(settings, FakeEmbedder()).with_settings(abstain_lexical=False), keywords)
    assert cosine["OwnWrongAbstain"] == 1.0 and cosine["OtherAnswered"] == 0.0  # nothing reaches 0.99
    assert lexical["OtherAnswered"] == 0.0 and lexical["OtherWrongAnswer"] == 0.0  # the other article lacks them
    assert lexical["OwnWrongAbstain"] < 1.0 and lexical["OwnWrongAnswer"] == 0.0
