"""The HTML search page and document view: server-rendered, escaped, usable without JavaScript."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import markupsafe
import pytest
from flask.testing import FlaskClient

from qa.config import Settings
from qa.index.build import build_index
from qa.retrieve.searcher import Searcher
from qa.web import create_app
from qa.web.pages import relevance_cues

from .conftest import CORPUS, FakeEmbedder, fake_settings
from .openapi_check import checking_client
from .test_admin import TOKEN

EXAMPLES = [line for line in (CORPUS / ".examples.txt").read_text().splitlines() if line.strip() and not line.startswith("#")]


def scripts_of(page: str) -> list[str]:
    return re.findall(r"<script\b[^>]*>.*?</script>", page, re.S)


def test_empty_page_has_a_search_form_examples_and_the_collection(client):
    page = client.get("/").get_data(as_text=True)
    assert re.search(r'<form id="search" role="search" method="get" action="/"', page) and 'name="q"' in page
    assert '<label for="q">' in page and "autofocus" in page
    links = re.findall(r'<li><a href="/\?q=([^"]*)">([^<]*)</a></li>', page)
    assert [(parse_qs(f"q={href}")["q"][0], text) for href, text in links[: len(EXAMPLES)]] == [
        (example, example) for example in EXAMPLES
    ]
    assert "5 documents" in page and "Second Nagorno-Karabakh War</a>" in page


def test_every_script_is_a_file_served_by_the_app(client):
    page = client.get("/").get_data(as_text=True)
    scripts = scripts_of(page)
    assert scripts == ['<script src="/static/qa/search.js" defer></script>']
    with client.get("/static/qa/search.js") as response:
        assert response.status_code == 200 and response.mimetype == "text/javascript"
        script = response.get_data(as_text=True)
    assert "textContent" in script and "innerHTML" not in script
    assert not re.search(r"https?://", page.replace('content="width', "")), "no external resources"


@pytest.mark.parametrize("question", EXAMPLES)
def test_example_questions_get_a_confident_answer(real_searcher, question):
    result = real_searcher.search(question, 3)
    assert not result.abstained, (question, result.confidence)


def test_favicon_is_a_same_origin_svg_the_security_policy_allows(client):
    page = client.get("/").get_data(as_text=True)
    assert '<link rel="icon" type="image/svg+xml" href="/static/qa/favicon.svg">' in page
    ico = client.get("/favicon.ico")
    assert ico.status_code == 301 and ico.headers["Location"] == "/static/qa/favicon.svg"
    assert "img-src 'self'" in ico.headers["Content-Security-Policy"]
    with client.get("/favicon.ico", follow_redirects=True) as svg:
        assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
        body = svg.get_data(as_text=True)
    assert body.startswith("<svg") and "<script" not in body and "href" not in body  # nothing to run or fetch


def test_examples_fall_back_to_document_titles(fake_searcher):
    client = checking_client(create_app(fake_searcher.settings, fake_searcher.with_settings(examples_file="no-such-file")))
    page = client.get("/").get_data(as_text=True)
    examples = re.search(r'<ul class="examples">(.*?)</ul>', page, re.S).group(1)
    assert "July 2020 Armenian\u2013Azerbaijani clashes" in examples and examples.count("<li>") == 5


def shown_examples(client: FlaskClient) -> str:
    examples = re.search(r'<ul class="examples">(.*?)</ul>', client.get("/").get_data(as_text=True), re.S)
    assert examples is not None, "the empty page lists no example questions"
    return examples.group(1)


@pytest.fixture
def editable(tmp_path: Path, fake_embedder: FakeEmbedder) -> tuple[Settings, FlaskClient]:
    """A copy of the corpus served with the admin endpoints on."""
    shutil.copytree(CORPUS, tmp_path / "corpus")
    settings = fake_settings(tmp_path, corpus=tmp_path / "corpus", admin_token=TOKEN)
    build_index(settings, fake_embedder)
    return settings, checking_client(create_app(settings, Searcher.open(settings, fake_embedder)))


def rebuild(client: FlaskClient) -> None:
    response = client.post("/admin/rebuild", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200 and response.get_json()["status"] == "rebuilt"


def test_example_questions_follow_the_corpus_after_a_rebuild(editable):
    settings, client = editable
    assert EXAMPLES[0] in shown_examples(client)
    settings.examples_path.write_text("# new examples\nWhen was the zebra crossing painted?\n")
    (settings.corpus_dir / "zebra.txt").write_text("Zebra news\nA zebra crossing was painted near Tavush in May.\n")
    rebuild(client)
    examples = shown_examples(client)
    assert "When was the zebra crossing painted?" in examples and EXAMPLES[0] not in examples


def test_example_titles_follow_the_documents_after_a_rebuild(editable):
    settings, client = editable
    settings.examples_path.unlink()  # examples are then the first documents' titles
    assert "July 2020 Armenian\u2013Azerbaijani clashes" in shown_examples(client)
    (settings.corpus_dir / "000_abdca20c2aa4f4be.txt").unlink()
    rebuild(client)
    examples = shown_examples(client)
    assert "July 2020 Armenian\u2013Azerbaijani clashes" not in examples and examples.count("<li>") == 4


def test_results_mark_the_answering_sentence_cue_the_match_and_link_to_the_document(client):
    response = client.get("/", query_string={"q": "Which newspaper interviewed Lavrov?"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    results = page.split('<ol class="results">')[1].split("</ol>")[0]
    assert results.count('<li class="hit">') == 5
    assert "<mark>" in results and "Trud" in results
    assert "/documents/003_d560007ba48ee34c.txt?start=" in results and "q=Which+newspaper" in results
    assert re.search(r'class="cue cue-(strong|fair)"', results)
    assert 'role="status"' in page and "No confident answer" not in page


def test_abstained_page_says_so_and_still_lists_passages(client):
    page = client.get("/", query_string={"q": "What is the recipe for chocolate cake?"}).get_data(as_text=True)
    assert "No confident answer in these documents." in page
    assert page.count('<li class="hit">') == 5 + 1  # five results and the card <template>
    assert "cue cue-weak" in page


def test_relevance_cues_cover_every_similarity():
    cues = relevance_cues(0.39)
    assert [level for _, level, _ in cues] == ["strong", "fair", "weak"]
    assert cues[0][0] > cues[1][0] == 0.39 > cues[2][0] == -1.0


def test_bad_k_on_the_page_is_shown_not_crashed(client):
    response = client.get("/", query_string={"q": "war", "k": "lots"})
    assert response.status_code == 400
    assert 'class="error"' in response.get_data(as_text=True)


def test_document_view_marks_the_cited_passage_and_links_back(client, real_searcher):
    hit = real_searcher.search("Harop", 1).hits[0]
    url = f"/documents/{hit.document.id}?start={hit.passage.start}&end={hit.passage.end}&q=Harop"
    page = client.get(url).get_data(as_text=True)
    assert f'<mark id="cited" tabindex="-1">{markupsafe.escape(hit.passage.text)}</mark>' in page
    assert 'href="/?q=Harop"' in page and f"characters {hit.passage.start}\u2013{hit.passage.end}" in page


@pytest.mark.parametrize("offsets", ["start=5&end=2", "start=x&end=4", "start=0&end=99999999", "start=%C2%B2&end=9", ""])
def test_document_view_ignores_bad_offsets(client, offsets):
    response = client.get(f"/documents/004_ac4458f6c11ac45b.txt?{offsets}")
    assert response.status_code == 200 and "<mark" not in response.get_data(as_text=True)


@pytest.fixture
def hostile_client(tmp_path: Path, fake_embedder: FakeEmbedder) -> FlaskClient:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "evil.txt").write_text(HOSTILE_TEXT)
    (corpus / ".examples.txt").write_text("<script>alert(4)</script>\n")
    record = {"id": "bidi", "title": "Invoice \u202bgpj.exe", "text": "An invoice about scripts and images."}
    (corpus / "bidi.jsonl").write_text(json.dumps(record) + "\n")
    settings = fake_settings(tmp_path, corpus=corpus)
    build_index(settings, fake_embedder)
    return checking_client(create_app(settings, Searcher.open(settings, fake_embedder)))


HOSTILE_TEXT = (
    "Evil <b>title</b>\nThe attacker wrote <script>alert(1)</script> and <img src=x onerror=alert(2)> here. "
    "It is a sentence about scripts and images.\n"
)


def test_corpus_text_and_questions_are_escaped(hostile_client):
    page = hostile_client.get("/", query_string={"q": "<script>alert(3)</script> scripts"}).get_data(as_text=True)
    assert len(scripts_of(page)) == 1 and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in page
    empty = hostile_client.get("/").get_data(as_text=True)
    assert len(scripts_of(empty)) == 1 and "&lt;script&gt;alert(4)&lt;/script&gt;" in empty
    doc = hostile_client.get("/documents/evil.txt?start=0&end=10").get_data(as_text=True)
    assert len(scripts_of(doc)) == 0 and "&lt;img src=x onerror=alert(2)&gt;" in doc


ODD_IDS = [
    "../escape",
    "news/../b",
    "a/./b",
    "a//b",
    "/rooted",
    "trailing/",
    "q?x=1#frag",
    "back\\slash",
    "50%2F50",
    "news/zebra.txt",
    "spaced ü id",
    "...",
]


def test_links_to_documents_survive_a_browser_for_every_id(tmp_path, fake_embedder):
    """Ids from a user's .jsonl may hold anything: each link, resolved as a browser resolves it
    (dot segments removed), opens its own document."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    records = [{"id": doc_id, "title": f"Record {n}", "text": f"A zebra record number {n}."} for n, doc_id in enumerate(ODD_IDS)]
    (corpus / "odd.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    settings = fake_settings(tmp_path, corpus=corpus)
    build_index(settings, fake_embedder)
    client = create_app(settings, Searcher.open(settings, fake_embedder)).test_client()
    page = client.get("/", query_string={"q": "zebra record", "k": len(ODD_IDS)}).get_data(as_text=True)
    page = page.split('<template id="hit-template">')[0]  # the cards, not search.js's template
    links = [html.unescape(href) for href in re.findall(r'href="(/documents/[^"]*)"', page)]
    reached = {}
    for link in links:
        resolved = urlsplit(urljoin("http://qa.test/?q=zebra", link))  # what a browser fetches
        view = client.get(resolved.path, query_string=resolved.query)
        assert view.status_code == 200, (link, resolved.path)
        title = re.search(r"<h1>Record (\d+)</h1>", view.get_data(as_text=True))
        reached[ODD_IDS[int(title.group(1))]] = link
        api = client.get(resolved.path.replace("/documents/", "/api/documents/", 1))
        assert api.get_json()["id"] == ODD_IDS[int(title.group(1))]
    assert set(reached) == set(ODD_IDS)
    assert reached["news/zebra.txt"].startswith("/documents/news/zebra.txt?")  # plain ids keep readable links


def outside_isolation(page: str) -> str:
    """The page without its <bdi> elements and attribute values: where a bidi control would turn
    the text around it."""
    return re.sub(r'"[^"]*"', "", re.sub(r"<bdi>[^<]*</bdi>", "", page))


def test_bidi_controls_cannot_turn_the_page_around(hostile_client):
    question = "scripts \u202e?sdrawkcab \u2067images"  # right-to-left override, right-to-left isolate
    page = hostile_client.get("/", query_string={"q": question}).get_data(as_text=True)
    assert re.search(r"<title>(.*?)</title>", page).group(1) == "scripts ?sdrawkcab images · Ask the documents"
    assert f"for “<bdi>{question}</bdi>”" in page
    assert "\u202e" not in outside_isolation(page) and "\u2067" not in outside_isolation(page)
    doc = hostile_client.get("/documents/bidi", query_string={"q": question}).get_data(as_text=True)
    assert re.search(r"<title>(.*?)</title>", doc).group(1) == "Invoice gpj.exe · Ask the documents"
    assert f"Back to “<bdi>{question}</bdi>”" in doc


def test_unknown_document_is_an_html_404_page(client):
    response = client.get("/documents/no-such-doc.txt")
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "Document not found" in response.get_data(as_text=True)
