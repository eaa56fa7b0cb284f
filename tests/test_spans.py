"""Answer spans: the one new candidate of the kind asked inside the highlight, or none."""

from __future__ import annotations

import dataclasses
import html

import pytest

from qa.ingest.documents import Document
from qa.ingest.passages import Passage
from qa.retrieve import answers
from qa.retrieve.results import Hit, SearchResult
from qa.retrieve.spans import answer_span
from qa.web import create_app


def span_text(question: str, sentence: str, kind: str | None = None) -> str | None:
    """The answer `answer_span` finds in a one-sentence passage, as text."""
    span = answer_span(question, answers.asks_for(question) if kind is None else kind, sentence, (0, len(sentence)))
    return sentence[slice(*span)] if span else None


@pytest.mark.parametrize(
    ("question", "sentence", "answer"),
    [
        # dates: a whole date expression, a range of days, a year alone, the year of a date when a year is asked
        ("When did the war begin?", "The war began on 27 September 2020.", "27 September 2020"),
        ("When did the war begin?", "The war began in September 2020.", "September 2020"),
        ("When were the clashes?", "Clashes took place on 12–14 September 2022 along the border.", "12–14 September 2022"),
        ("When was the party founded?", "It was founded in 1994 by veterans.", "1994"),
        ("When was the treaty signed?", "The treaty was signed on May 3, 1994.", "May 3, 1994"),
        ("In what year was the museum opened?", "The museum opened in July 1888.", "1888"),
        # numbers: with the noun counted unless the question has it, qualifiers, percentages, money
        ("How many died?", "Armenia lost 3,800 soldiers in the war.", "3,800 soldiers"),
        ("How many soldiers died?", "Armenia lost 3,800 soldiers in the war.", "3,800"),
        ("How many people were killed?", "Nearly 300 people were killed.", "Nearly 300"),
        ("What percentage voted yes?", "About 80% voted yes in 2019 out of 3 regions.", "About 80%"),
        ("How much did the stadium cost?", "The stadium cost $1.2 billion to build.", "$1.2 billion"),
        # names and places: runs of capitalised words, cut at the question's words
        ("Who was Armenia's defence minister in 2022?", "Suren Papikyan (Minister of Defence)", "Suren Papikyan"),
        ("Who was Armenia's defence minister?", "Armenian Defence Minister Suren Papikyan resigned.", "Suren Papikyan"),
        ("Which drones did Azerbaijan use?", "Azerbaijan used Bayraktar TB2 drones.", "Bayraktar TB2"),
        ("Who founded the school?", "The school was founded by Leonardo da Vinci's pupils.", "Leonardo da Vinci"),
        ("Where did the fighting resume?", "The fighting resumed in Nagorno-Karabakh.", "Nagorno-Karabakh"),
        ("Where did the Tesla ashes go?", "The ashes were sent to Belgrade in a golden urn.", "Belgrade"),
    ],
)
def test_the_one_new_candidate_of_the_kind_asked_is_the_answer(question, sentence, answer):
    assert span_text(question, sentence) == answer


@pytest.mark.parametrize(
    ("question", "sentence", "kind"),
    [
        ("Why did the war begin?", "The war began on 27 September 2020.", ""),  # no kind asked
        ("Bayraktar TB2", "Azerbaijan used Bayraktar TB2 drones.", ""),
        ("When did the war begin?", "It began on 27 September 2020 and ended in November 2020.", None),  # two dates
        ("Who brokered the ceasefire?", "It was brokered by Russia and France.", None),  # two names
        ("How many soldiers died?", "Armenia lost 3,800 soldiers and Azerbaijan 2,900 soldiers.", None),
        ("When did the 2020 war end?", "The 2020 war ended with a ceasefire.", None),  # the only year is asked
        ("Who was Armenia's defence minister?", "Papikyan became minister.", None),  # only the first word
        ("Who spoke for Tetzel?", "Johann Tetzel spoke for himself.", None),  # the rest of the question's own name
        ("How many men were in the army?", "The army sailed in 300 ships.", None),  # counts ships, not men
        ("What percentage of voters stayed home?", "Some 2,000 voters stayed home.", None),  # not a percentage
        ("Where do the animals live?", "Greek sailors saw the animals at sea.", None),  # an adjective, not a place
        ("When did the rain stop?", "The rain may stop soon.", None),  # "may" is no month
        ("Who was the minister in 2022?", "A map of strikes between 12-13 September 2022.", None),  # a month is no name
    ],
)
def test_no_span_without_a_kind_or_with_no_or_several_candidates(question, sentence, kind):
    assert span_text(question, sentence, kind) is None


def test_a_span_is_verbatim_offsets_into_the_passage_inside_the_highlight():
    text = "Azerbaijan's minister was Zakir Hasanov.\nSuren Papikyan (Minister of Defence)\nThe war ended in 2020."
    highlight = (text.index("Suren"), text.index(")") + 1)
    span = answer_span("Who was Armenia's defence minister in 2022?", "name", text, highlight)
    assert span is not None and highlight[0] <= span[0] < span[1] <= highlight[1]
    assert text[span[0] : span[1]] == "Suren Papikyan"
    assert answer_span("Who was Armenia's defence minister in 2022?", "", text, highlight) is None


def hit_with(answer: tuple[int, int] | None) -> Hit:
    text = "Suren Papikyan (Minister of Defence)"
    passage = Passage(id="0123456789abcdef", doc_id="d", start=10, end=10 + len(text), text=text, sentences=((0, len(text)),))
    return Hit(1, 1.0, passage, Document(id="d", title="T", text="x" * 10 + text, source=""), (0, len(text)), 0.8, answer)


def test_the_json_carries_the_answer_only_when_there_is_one():
    assert hit_with((0, 14)).to_dict()["answer"] == {"start": 0, "end": 14}
    assert "answer" not in hit_with(None).to_dict()


def page_for(fake_searcher, monkeypatch, answer: tuple[int, int] | None) -> tuple[str, str]:
    """The search page's results when the top hit has this answer span inside its first sentence
    (or none), and the text of that span."""
    hit = fake_searcher.search("Who was Armenia's defence minister in 2022?", 1).hits[0]
    sentence = hit.passage.sentences[0]
    span = (sentence[0] + answer[0], sentence[0] + answer[1]) if answer else None
    hit = dataclasses.replace(hit, highlight=sentence, answer=span)
    monkeypatch.setattr(fake_searcher, "search", lambda q, k=None, filter=None: SearchResult(q, [hit], False, 0.9))
    client = create_app(fake_searcher.settings, fake_searcher).test_client()
    page = client.get("/", query_string={"q": "Who was Armenia's defence minister in 2022?"}).get_data(as_text=True)
    return page.split('<ol class="results">')[1].split("</ol>")[0], hit.passage.text[slice(*span)] if span else ""


def test_the_page_shows_the_answer_in_bold_inside_the_mark_only_when_there_is_one(fake_searcher, monkeypatch):
    shown, answer = page_for(fake_searcher, monkeypatch, (0, 4))
    mark = shown.split("<mark>")[1].split("</mark>")[0]
    assert mark.count('<strong class="answer">') == 1
    assert html.unescape(mark.split('<strong class="answer">')[1].split("</strong>")[0]) == answer
    shown, _ = page_for(fake_searcher, monkeypatch, None)
    assert "<mark>" in shown and "<strong" not in shown
