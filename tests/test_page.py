"""The HTML search page and document view: server-rendered, escaped, usable without JavaScript."""

from __future__ import annotations

import markupsafe

import pytest

from qa.index import build_index
from qa.search import Searcher
from qa.web import create_app

from .conftest import fake_settings


def test_empty_page_has_a_search_form(client):
    page = client.get("/").get_data(as_text=True)
    assert '<form role="search" method="get"' in page and 'name="q"' in page
    assert "<script" not in page


def test_results_mark_the_answering_sentence_and_link_to_the_document(client):
    response = client.get("/", query_string={"q": "Which newspaper interviewed Lavrov?"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert page.count('<li class="hit">') == 5
    assert "<mark>" in page and "Trud" in page
    assert "/documents/003_d560007ba48ee34c.txt?start=" in page


def test_bad_k_on_the_page_is_shown_not_crashed(client):
    response = client.get("/", query_string={"q": "war", "k": "lots"})
    assert response.status_code == 400
    assert 'class="error"' in response.get_data(as_text=True)


def test_document_view_marks_the_cited_passage(client, real_searcher):
    hit = real_searcher.search("Harop", 1).hits[0]
    page = client.get(f"/documents/{hit.document.id}?start={hit.passage.start}&end={hit.passage.end}").get_data(as_text=True)
    assert f'<mark id="cited">{markupsafe.escape(hit.passage.text)}</mark>' in page


@pytest.fixture
def hostile_client(tmp_path, fake_embedder):  # type: ignore[no-untyped-def]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "evil.txt").write_text(
        "Evil <b>title</b>\nThe attacker wrote <script>alert(1)</script> and <img src=x onerror=alert(2)> here. "
        "It is a sentence about scripts and images.\n"
    )
    settings = fake_settings(tmp_path, corpus=corpus)
    build_index(settings, fake_embedder)
    return create_app(settings, Searcher.open(settings, fake_embedder)).test_client()


def test_corpus_text_and_questions_are_escaped(hostile_client):
    page = hostile_client.get("/", query_string={"q": "<script>alert(3)</script> scripts"}).get_data(as_text=True)
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in page
    doc = hostile_client.get("/documents/evil.txt?start=0&end=10").get_data(as_text=True)
    assert "<script>" not in doc and "&lt;img src=x onerror=alert(2)&gt;" in doc
