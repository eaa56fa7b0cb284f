"""Passages on the real default corpus: exact citations, no junk, whole sentences, stable ids."""

from __future__ import annotations

import itertools
import re

import pytest

from qa.ingest.cleaning import is_table_row
from qa.ingest.documents import Document, read_corpus
from qa.ingest.passages import Passage, cut_long, group_sentences, make_passages, passages_of, split_sentences

from .conftest import CORPUS, REPO

JUNK = re.compile(r"\|\s*\|\||---\|---|gtag|Google tag|\{\{|\}\}|CS1 maint|Newsroom logo|SOURCE:|^By [A-Z]", re.M)


@pytest.fixture(scope="module")
def corpus_passages():
    docs = read_corpus(CORPUS, REPO)
    return {d.id: d for d in docs}, passages_of(docs, 600, 1000, 1)


def test_every_passage_is_the_exact_text_of_its_source_file(corpus_passages):
    docs, passages = corpus_passages
    assert len(passages) > 100
    for p in passages:
        with open(REPO / docs[p.doc_id].source, encoding="utf-8", newline="") as f:
            assert f.read()[p.start : p.end] == p.text, p.id
    assert {p.doc_id for p in passages} == set(docs)


def test_no_scraping_junk_in_passages(corpus_passages):
    _, passages = corpus_passages
    offenders = [p.text[:80] for p in passages if JUNK.search(p.text)]
    assert offenders == []


def test_passages_are_whole_sentences_within_the_size_limit(corpus_passages):
    _, passages = corpus_passages
    for p in passages:
        assert len(p.text) <= 1000
        assert p.sentences[0][0] == 0 and p.sentences[-1][1] == len(p.text)
        assert all(0 <= s < e <= len(p.text) for s, e in p.sentences)
        assert p.text == p.text.strip()


def test_known_facts_reach_a_passage(corpus_passages):
    _, passages = corpus_passages
    texts = "\n".join(p.text for p in passages)
    for fact in ["The war lasted for 44 days", "Per Azerbaijan:\n80 servicemen killed", "Trud newspaper", "Harop"]:
        assert fact in texts


def test_titles_skip_page_furniture():
    titles = {d.id[:3]: d.title for d in read_corpus(CORPUS)}
    assert titles["001"] == "Second Nagorno-Karabakh War"
    assert titles["002"] == "Fresh Clashes Erupt Between Armenia and Azerbaijan, At Least 23 Dead"
    assert titles["003"].startswith("Russia's Lavrov Addresses Causes")


def test_passage_ids_are_stable_and_unique(corpus_passages):
    docs, passages = corpus_passages
    again = passages_of(list(docs.values()), 600, 1000, 1)
    assert [p.id for p in again] == [p.id for p in passages]
    assert len({p.id for p in passages}) == len(passages)


def test_overlap_repeats_the_last_sentence():
    text = " ".join(f"Sentence number {i} says something short." for i in range(12))
    doc = Document(id="d", title="T", text=text, source="")
    ps = make_passages(doc, target=120, maximum=200, overlap=1)
    assert len(ps) > 2
    for a, b in itertools.pairwise(ps):
        last_of_a = a.text[a.sentences[-1][0] : a.sentences[-1][1]]
        assert b.text.startswith(last_of_a)
    no_overlap = make_passages(doc, target=120, maximum=200, overlap=0)
    assert all(a.end < b.start for a, b in itertools.pairwise(no_overlap))


def test_only_a_sentence_longer_than_the_maximum_is_cut():
    long_sentence = "word " * 300 + "end."
    text = f"A short opening sentence is here. {long_sentence} A short closing sentence."
    spans = split_sentences(text, 0, len(text))
    pieces = [piece for span in spans for piece in cut_long(span, text, 200)]
    assert all(e - s <= 200 for s, e in pieces)
    assert text[pieces[0][0] : pieces[0][1]] == "A short opening sentence is here."
    assert text[pieces[-1][0] : pieces[-1][1]] == "A short closing sentence."


def test_grouping_never_passes_the_maximum():
    sentences = [(i * 100, i * 100 + 90) for i in range(20)]
    groups = group_sentences(sentences, target=250, maximum=300, overlap=1)
    assert groups[0] == (0, 3)
    for first, last in groups:
        assert sentences[last - 1][1] - sentences[first][0] <= 300
    assert groups[-1][1] == 20


def test_reference_markers_do_not_start_a_highlight():
    text = "It was a major war in the region. [d] The war lasted for 44 days and ended."
    doc = Document(id="d", title="T", text=text, source="")
    (p,) = make_passages(doc, 600, 1000, 1)
    starts = [p.text[s:e] for s, e in p.sentences]
    assert starts[-1] == "The war lasted for 44 days and ended."


def test_overlap_means_shared_characters_of_the_same_document():
    a = Passage("a", "d", 0, 10, "x" * 10, ((0, 10),))
    assert a.overlaps(Passage("b", "d", 9, 20, "x" * 11, ((0, 11),)))
    assert not a.overlaps(Passage("c", "d", 10, 20, "x" * 10, ((0, 10),)))
    assert not a.overlaps(Passage("e", "other", 0, 10, "x" * 10, ((0, 10),)))


@pytest.mark.parametrize(
    "line, is_row",
    [
        ("July 2020 Armenian–Azerbaijani clashes | |||||||||", True),
        ("---|---|---|", True),
        ("Per SOHR: See Casualties for details | Per Armenia/Artsakh:", True),
        ("Azerbaijani claim: |", True),
        (
            "For instance, the language {xx | x is any binary string} can be solved in linear time on a "
            "multi-tape Turing machine, but necessarily requires quadratic time in the model of single-tape "
            "Turing machines, so the class depends on the model chosen.",
            False,
        ),
        ("completing with respect to the p-adic norm |−|p yields the field of p-adic numbers.", False),
        ("", False),
    ],
)
def test_table_rows_are_told_from_prose_with_a_pipe(line, is_row):
    assert is_table_row(line) is is_row


def test_a_passage_stays_in_its_section_and_a_bare_heading_makes_none():
    text = (
        "1 Harbour\n\nThe pier was rebuilt in stone. Ships moor there again.\n\n"
        "2 Works\n\n"
        "2.1 Costs\n\nGranite cost more than planned. The lamp cost less.\n\n"
    )
    sections = [(text.index(h), path) for h, path in [("1 Harbour", ("1 Harbour",)), ("2 Works", ("2 Works",))]]
    sections.append((text.index("2.1 Costs"), ("2 Works", "2.1 Costs")))
    doc = Document("d", "", text, "", sections=sections)
    passages = make_passages(doc, 600, 1000, 1)  # room for the whole text in one passage
    assert [p.text for p in passages] == [
        "1 Harbour\n\nThe pier was rebuilt in stone. Ships moor there again.",
        "2.1 Costs\n\nGranite cost more than planned. The lamp cost less.",
    ]
    assert [doc.location(p.start, p.end).section for p in passages] == [("1 Harbour",), ("2 Works", "2.1 Costs")]
    assert len(make_passages(Document("d", "", text, ""), 600, 1000, 1)) == 1  # without sections: one run
