"""What a newcomer sees of a document: its source relative to the corpus folder, the answering
sentence marked inside the cited passage, and the cleaner's left-out runs faded, all verbatim."""

from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from markupsafe import escape

from qa.index.build import build_index
from qa.ingest.cleaning import prose_regions
from qa.ingest.documents import read_corpus
from qa.ingest.passages import make_passages
from qa.retrieve.searcher import Searcher
from qa.web import create_app
from qa.web.display import shown_source, source_prefix, text_parts

from .conftest import CORPUS, REPO, fake_settings
from .openapi_check import checking_client

BAKERY_HTML = (
    "<html><head><title>Bakery</title></head><body><h1>Bakery</h1>"
    "<p>The bakery on Mill Street bakes sourdough bread every morning before dawn.</p></body></html>"
)
INFOBOX = (
    "Oven infobox\n| ||||||||\nFuel | beech\n---|---|\n"
    "The oven burns beech wood, which gives the crust a smoky taste. It was built in 1921.\n"
)
INFOBOX_JUNK = "Oven infobox\n| ||||||||\nFuel | beech\n---|---|"


@pytest.fixture
def outside(tmp_path: Path, fake_embedder) -> tuple[Path, object]:
    """A corpus in a folder outside the project (like /srv/docs), served with the fake embedder."""
    corpus = tmp_path / "srv" / "docs"
    (corpus / "notes").mkdir(parents=True)
    (corpus / "bakery.html").write_text(BAKERY_HTML)
    (corpus / "notes" / "oven.txt").write_text(INFOBOX)
    settings = fake_settings(tmp_path, corpus=corpus)
    build_index(settings, fake_embedder)
    return corpus, checking_client(create_app(settings, Searcher.open(settings, fake_embedder)))


def pre_of(page: str) -> str:
    """The document text as a browser's HTML parser reads the <pre> (its first newline is dropped)."""
    inner = re.search(r"<pre>(.*?)</pre>", page, re.S).group(1)
    return html.unescape(re.sub(r"<[^>]+>", "", inner.removeprefix("\n")))


@pytest.mark.parametrize(
    "source, shown",
    [
        ("/srv/docs/bakery.html", "bakery.html"),
        ("/srv/docs/notes/oven.txt", "notes/oven.txt"),
        ("/srv/other/x.txt", "x.txt"),  # never an absolute path, even outside the corpus folder
        ("C:\\docs\\x.txt", "x.txt"),
        ("notes/given.txt", "notes/given.txt"),  # in-memory documents' sources are shown as given
        ("", ""),
    ],
)
def test_shown_source_is_relative_to_the_corpus_folder(source, shown):
    assert shown_source(source, "/srv/docs/") == shown


def test_source_prefix_is_the_corpus_folder_as_sources_spell_it():
    assert source_prefix(REPO / "corpus") == "corpus/"
    assert source_prefix(Path("/srv/docs")) == "/srv/docs/"


def test_cards_and_document_view_show_sources_relative_to_the_corpus_folder(outside):
    corpus, client = outside
    page = client.get("/", query_string={"q": "sourdough bread bakery"}).get_data(as_text=True)
    sources = re.findall(r'data-slot="source">([^<]*)</span>', page)
    assert sources[0].startswith("bakery.html, characters ")
    assert any(s.startswith("notes/oven.txt, characters ") for s in sources)
    for_script = f'data-source-prefix="{corpus.as_posix()}/"'  # search.js shows API results the same way
    assert for_script in page and str(corpus) not in page.replace(for_script, "")
    doc = client.get("/documents/bakery.html").get_data(as_text=True)
    assert '<p class="source">bakery.html · ' in doc and str(corpus) not in doc
    api = client.get("/api/search", query_string={"q": "sourdough bread bakery"}).get_json()
    assert api["results"][0]["document"]["source"] == (corpus / "bakery.html").as_posix()  # the API is unchanged


def test_read_in_context_marks_the_passage_and_inside_it_the_answering_sentence(client, real_searcher):
    question = "Which newspaper interviewed Lavrov?"
    hit = real_searcher.search(question, 1).hits[0]
    page = client.get("/", query_string={"q": question}).get_data(as_text=True)
    link = urlsplit(html.unescape(re.search(r'data-slot="link" href="([^"]+)"', page).group(1)))
    args = {key: values[0] for key, values in parse_qs(link.query).items()}
    (hs, he), start = hit.highlight, hit.passage.start
    assert [args[k] for k in ("start", "end", "sentence_start", "sentence_end")] == [
        str(n) for n in (start, hit.passage.end, start + hs, start + he)
    ]
    doc = client.get(link.path, query_string=link.query).get_data(as_text=True)
    text = hit.passage.text
    assert (
        f'<mark id="cited" tabindex="-1">{escape(text[:hs])}<mark class="sentence">{escape(text[hs:he])}</mark>'
        f"{escape(text[he:])}</mark>"
    ) in doc
    assert pre_of(doc) == real_searcher.document(hit.document.id).text


@pytest.mark.parametrize(
    "sentence",
    [
        "sentence_start={s_5}&sentence_end={s3}",
        "sentence_start={e_1}&sentence_end={s1}",
        "sentence_start=1e3&sentence_end={e}",
        "sentence_start={s}&sentence_end=99999999",
        "sentence_start={s}",
        "sentence_start={s}&sentence_end={s}",
    ],
)
def test_bad_sentence_offsets_still_mark_the_passage(client, real_searcher, sentence):
    hit = real_searcher.search("Harop", 1).hits[0]
    s, e = hit.passage.start, hit.passage.end
    query = sentence.format(s=s, e=e, s_5=s - 5, s3=s + 3, e_1=e - 1, s1=s + 1)
    page = client.get(f"/documents/{hit.document.id}?start={s}&end={e}&{query}").get_data(as_text=True)
    assert f'<mark id="cited" tabindex="-1">{escape(hit.passage.text)}</mark>' in page
    assert 'class="sentence"' not in page


def test_document_view_fades_what_the_cleaner_left_out_and_keeps_every_character(outside):
    _, client = outside
    prose_start = INFOBOX.index("The oven")
    page = client.get(f"/documents/notes/oven.txt?start={prose_start}&end={len(INFOBOX) - 1}").get_data(as_text=True)
    assert re.findall(r'<span class="left-out">([^<]*)</span>', page.split("<pre>")[1]) == [str(escape(INFOBOX_JUNK))]
    assert f'<mark id="cited" tabindex="-1">{escape(INFOBOX[prose_start:-1])}</mark>' in page
    assert "faded text</span> is left out of answers" in page
    assert pre_of(page) == INFOBOX
    bakery = client.get("/documents/bakery.html").get_data(as_text=True)  # the headline repeats the title
    assert re.findall(r'<span class="left-out">([^<]*)</span>', bakery.split("<pre>")[1]) == ["Bakery"]


@pytest.mark.parametrize("doc", read_corpus(CORPUS), ids=lambda d: d.id)
def test_faded_runs_are_exactly_what_passages_never_quote(doc):
    passage = make_passages(doc, 600, 1000, 1)[-1]
    s, e = (passage.start + offset for offset in passage.sentences[-1])
    parts = text_parts(doc, (passage.start, passage.end), (s, e))
    assert "".join(piece.text for piece in parts.all()) == doc.text
    assert "".join(piece.text for piece in parts.sentence) == doc.text[s:e]
    assert not any(piece.left_out for piece in parts.passage_head + parts.sentence + parts.passage_tail)
    faded_at = [piece.left_out for piece in parts.all() for _ in piece.text]
    in_prose = [False] * len(doc.text)
    for start, end in prose_regions(doc.text, doc.title):
        in_prose[start:end] = [True] * (end - start)
    assert all(faded_at[i] != in_prose[i] for i, ch in enumerate(doc.text) if not ch.isspace())
    assert parts.faded == (False in in_prose)
