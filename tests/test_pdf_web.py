"""PDF and DOCX documents on the web side: hits carry their page (or section) in the API, on the
page and in `qa ask`; the document view marks where each page starts; the original file is
served only for PDF and DOCX files inside the corpus folder. The files are made here (reportlab,
python-docx: tests/pdf_corpus.py); the index uses the fake embedder. Every JSON answer is
checked against the OpenAPI document."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa.cli import main
from qa.index.build import build_index
from qa.ingest.documents import Document
from qa.retrieve.searcher import Searcher
from qa.web import create_app

from .conftest import FakeEmbedder, fake_settings
from .openapi_check import CheckingClient, checking_client
from .pdf_corpus import LEDGER, MINUTES, MINUTES_AUTHOR, REPORT, REPORT_AUTHOR, REPORT_TITLE, write_corpus

TOLL = "toll shillings east pier"  # answered on page 2 of report.pdf
LEDGER_QUESTION = "quartermaster ledger cargo schooner"  # one sentence across pages 1 and 2 of notes/ledger.pdf
MARKER = re.compile(r'<span class="page-start" id="page-(\d+)" role="heading" aria-level="2">— page (\d+) —</span>')


def served(settings, embedder) -> CheckingClient:
    return checking_client(create_app(settings, Searcher.open(settings, embedder)))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, CheckingClient]:
    """The corpus folder of tests/pdf_corpus.py, indexed and served."""
    root = tmp_path_factory.mktemp("pdf-web")
    corpus = write_corpus(root / "corpus")
    settings = fake_settings(root, corpus=corpus)
    embedder = FakeEmbedder()
    build_index(settings, embedder)
    return corpus, served(settings, embedder)


def top_hit(client: CheckingClient, question: str) -> dict:
    response = client.get("/api/search", query_string={"q": question, "k": 3})
    assert response.status_code == 200
    return response.get_json()["results"][0]


def page_of(line: str) -> int:
    """The page of report.pdf a line of its body is drawn on."""
    return next(n for n, lines in enumerate(REPORT, 1) if line in lines)


def test_pdf_hits_carry_the_page_they_are_on(site):
    _, client = site
    for question in [TOLL, "granite masons Aberdeen", "steam crane coal colliers"]:
        hit = top_hit(client, question)
        assert hit["document"]["id"] == "report.pdf"
        assert (hit["document"]["title"], hit["document"]["author"]) == (REPORT_TITLE, REPORT_AUTHOR)
        first_line = hit["text"].splitlines()[0]
        assert hit["page"] == page_of(first_line) and "page_end" not in hit and "section" not in hit


def test_a_passage_across_a_page_break_carries_its_last_page(site):
    _, client = site
    hit = top_hit(client, LEDGER_QUESTION)
    assert hit["document"]["id"] == "notes/ledger.pdf"
    assert LEDGER[0][0] in hit["text"] and LEDGER[1][0] in hit["text"]
    assert (hit["page"], hit["page_end"]) == (1, 2)


def test_a_text_document_has_no_page(site):
    _, client = site
    hit = top_hit(client, "garden of roses customs house")
    assert hit["document"]["id"] == "notes/harbour.txt"
    assert not {"page", "page_end", "section", "author"} & (set(hit) | set(hit["document"]))


def test_checking_a_citation_gives_its_page(site):
    _, client = site
    for question, pages in [(TOLL, {"page": 2}), (LEDGER_QUESTION, {"page": 1, "page_end": 2})]:
        hit = top_hit(client, question)
        cited = client.get(f"/api/passages/{hit['passage_id']}").get_json()
        assert {key: cited.get(key) for key in pages} == pages and cited["text"] == hit["text"]
    assert client.checked >= 4  # every answer was checked against the OpenAPI document


def test_the_result_card_shows_the_page_and_links_the_pdf_at_it(site):
    _, client = site
    page = client.get("/", query_string={"q": TOLL}).get_data(as_text=True)
    card = page.split('<li class="hit">')[1]
    assert 'report.pdf, <span class="location" data-slot="location">p. 2</span>, characters ' in card
    assert '<a class="file" data-slot="file" href="/documents/report.pdf/original#page=2">Open the PDF at p. 2</a>' in card
    assert '<blockquote data-slot="passage" class="reflowed">' in card  # its lines end where the page did: reflowed
    ledger = client.get("/", query_string={"q": LEDGER_QUESTION}).get_data(as_text=True).split('<li class="hit">')[1]
    assert '<span class="location" data-slot="location">pp. 1–2</span>' in ledger
    assert 'href="/documents/notes/ledger.pdf/original#page=1">Open the PDF at p. 1</a>' in ledger


def test_a_text_documents_card_has_no_page_and_no_file_link(site):
    _, client = site
    page = client.get("/", query_string={"q": "garden of roses customs house"}).get_data(as_text=True)
    card = page.split('<li class="hit">')[1]
    assert "notes/harbour.txt, characters " in card and 'class="location"' not in card
    assert '<blockquote data-slot="passage">' in card  # its line breaks are the text's own: kept
    assert '<a class="file" data-slot="file" hidden></a>' in card


def document_view(client: CheckingClient, hit: dict) -> str:
    s, hs, he = hit["start"], hit["highlight"]["start"], hit["highlight"]["end"]
    query = {"start": s, "end": hit["end"], "sentence_start": s + hs, "sentence_end": s + he}
    return client.get(f"/documents/{hit['document']['id']}", query_string=query).get_data(as_text=True)


def text_before_markers(pre: str) -> list[tuple[int, int]]:
    """(page number, how many characters of the document text come before its marker)."""
    found = []
    for match in MARKER.finditer(pre):
        before = MARKER.sub("", pre[: match.start()])
        found.append((int(match[1]), len(html.unescape(re.sub(r"<[^>]+>", "", before)))))
        assert match[1] == match[2]
    return found


def test_the_document_view_marks_each_page_start_and_the_passage(site):
    _, client = site
    hit = top_hit(client, TOLL)
    doc = client.get("/api/documents/report.pdf").get_json()
    page = document_view(client, hit)
    pre = page.split("<pre>\n", 1)[1].split("</pre>")[0]
    assert text_before_markers(pre) == [(n, start) for n, start in enumerate(doc["pages"], 1)]
    assert html.unescape(re.sub(r"<[^>]+>", "", MARKER.sub("", pre))) == doc["text"]  # the markers aside, verbatim
    cited = pre.split('<mark id="cited" tabindex="-1">')[1].rsplit("</mark>", 1)[0]  # (the sentence's mark is inside)
    assert html.unescape(re.sub(r"<[^>]+>", "", cited)) == hit["text"]
    faded = [html.unescape(piece).strip() for piece in re.findall(r'<span class="left-out">([^<]*)</span>', pre)]
    assert faded == [doc["text"][start:end] for start, end in doc["junk"]]  # the running header, the page numbers
    assert 'cited passage: <span class="location">p. 2</span>, characters' in page
    assert '<a class="file" data-slot="file" href="/documents/report.pdf/original#page=2">Open the PDF at p. 2</a>' in page
    assert f"report.pdf · {REPORT_AUTHOR} · 3 pages · " in page


def test_a_passage_across_a_page_break_holds_the_marker_of_the_page_it_goes_on_to(site):
    _, client = site
    page = document_view(client, top_hit(client, LEDGER_QUESTION))
    before, cited = page.split("<pre>\n", 1)[1].split('<mark id="cited" tabindex="-1">')
    assert [m[1] for m in MARKER.finditer(before)] == ["1"]  # the page it starts with: marked before the mark
    assert [m[1] for m in MARKER.finditer(cited)] == ["2"]
    assert 'cited passage: <span class="location">pp. 1–2</span>' in page


def test_the_original_pdf_is_served_inline(site):
    corpus, client = site
    response = client.get("/documents/report.pdf/original")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == "inline; filename=report.pdf"
    assert response.get_data() == (corpus / "report.pdf").read_bytes()
    # the browser's PDF viewer draws in a page of its own, which the site's policy would break
    assert response.headers["Content-Security-Policy"] == "frame-ancestors 'none'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    response.close()
    nested = client.get("/documents/notes/ledger.pdf/original")
    assert nested.status_code == 200 and nested.get_data() == (corpus / "notes" / "ledger.pdf").read_bytes()
    nested.close()


def assert_json_404(response, code: str) -> None:
    assert (response.status_code, response.get_json()["error"]["code"]) == (404, code)


def test_no_original_for_a_text_document_or_an_unknown_id(site):
    _, client = site
    assert_json_404(client.get("/documents/notes/harbour.txt/original"), "original_not_found")
    assert_json_404(client.get("/documents/no-such.pdf/original"), "document_not_found")
    page = client.get("/documents/notes/harbour.txt/original", headers={"Accept": "text/html,*/*;q=0.8"})
    assert page.status_code == 404 and page.mimetype == "text/html"  # a browser gets the page
    assert "<h1>No original file to open</h1>" in page.get_data(as_text=True)
    unknown = client.get("/documents/no-such.pdf/original", headers={"Accept": "text/html"})
    assert unknown.status_code == 404 and "<h1>Document not found</h1>" in unknown.get_data(as_text=True)


@pytest.fixture
def replaceable(tmp_path: Path) -> tuple[Path, Path, CheckingClient]:
    """A corpus of its own (its files are swapped by the test), and a folder outside it."""
    corpus = write_corpus(tmp_path / "corpus")
    outside = tmp_path / "outside"
    outside.mkdir()
    settings = fake_settings(tmp_path, corpus=corpus)
    embedder = FakeEmbedder()
    build_index(settings, embedder)
    return corpus, outside, served(settings, embedder)


def test_a_file_replaced_by_a_symlink_out_of_the_corpus_folder_is_not_served(replaceable):
    corpus, outside, client = replaceable
    secret = outside / "secret.pdf"
    secret.write_bytes(b"%PDF-1.4 not for readers")
    (corpus / "report.pdf").unlink()
    (corpus / "report.pdf").symlink_to(secret)
    assert_json_404(client.get("/documents/report.pdf/original"), "original_not_found")


def test_a_file_under_a_folder_replaced_by_a_symlink_is_not_served(replaceable):
    corpus, outside, client = replaceable
    shutil.move(corpus / "notes", outside / "notes")
    (corpus / "notes").symlink_to(outside / "notes", target_is_directory=True)
    assert_json_404(client.get("/documents/notes/ledger.pdf/original"), "original_not_found")
    (corpus / "report.pdf").unlink()  # and a file that is gone
    assert_json_404(client.get("/documents/report.pdf/original"), "original_not_found")


DOCX_QUESTION = "dredging river mouth cost spring"  # the "1.1 Costs" section of minutes.docx
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def test_docx_hits_carry_the_heading_path_of_their_section(site):
    _, client = site
    hits = client.get("/api/search", query_string={"q": DOCX_QUESTION, "k": 5}).get_json()["results"]
    found = {tuple(h["section"]): h["text"] for h in hits if h["document"]["id"] == "minutes.docx"}
    assert set(found) == {(heading,) if level == 1 else ("1 Budget", heading) for level, heading, _ in MINUTES}
    for section, text in found.items():  # a passage lies in its section: its heading and what is under it
        assert text == next(f"{heading}\n\n{paragraph}" for _, heading, paragraph in MINUTES if heading == section[-1])
    assert all("page" not in h for h in hits if h["document"]["id"] == "minutes.docx")
    assert top_hit(client, DOCX_QUESTION)["document"]["author"] == MINUTES_AUTHOR


def test_a_docx_card_shows_its_section_and_links_the_file(site):
    _, client = site
    card = client.get("/", query_string={"q": DOCX_QUESTION}).get_data(as_text=True).split('<li class="hit">')[1]
    assert 'minutes.docx, <span class="location" data-slot="location">1 Budget › 1.1 Costs</span>, characters ' in card
    assert '<a class="file" data-slot="file" href="/documents/minutes.docx/original">Download the DOCX</a>' in card


def test_the_docx_document_view_shows_its_headings_and_the_section(site):
    _, client = site
    hit = top_hit(client, DOCX_QUESTION)
    page = document_view(client, hit)
    assert 'cited passage: <span class="location">1 Budget › 1.1 Costs</span>, characters' in page
    assert not MARKER.search(page) and "1 Budget\n\n" in page and "1.1 Costs" in page


def test_the_original_docx_is_served_as_an_attachment(site):
    corpus, client = site
    response = client.get("/documents/minutes.docx/original")
    assert (response.status_code, response.mimetype) == (200, DOCX_TYPE)
    assert response.headers["Content-Disposition"] == "attachment; filename=minutes.docx"
    assert response.get_data() == (corpus / "minutes.docx").read_bytes()
    response.close()


@pytest.fixture(scope="module")
def in_memory(tmp_path_factory: pytest.TempPathFactory) -> CheckingClient:
    """Documents given in memory (no file): a DOCX's text and sections, and one whose id ends in
    "/original"."""
    text = "1 Budget\n\nThe council set the budget for dredging the river at four hundred pounds.\n\n"
    minutes = Document("minutes.docx", "Council minutes", text, "minutes.docx", sections=((0, ("1 Budget",)),))
    odd = Document("a/original", "Odd id", "The odd document talks about lanterns and their wicks.", "")
    settings = fake_settings(tmp_path_factory.mktemp("in-memory"))
    embedder = FakeEmbedder()
    build_index(settings, embedder, [minutes, odd])
    return served(settings, embedder)


def test_a_document_given_in_memory_has_no_original_file(in_memory):
    assert top_hit(in_memory, "council budget dredging")["section"] == ["1 Budget"]
    assert_json_404(in_memory.get("/documents/minutes.docx/original"), "original_not_found")


def test_an_id_ending_in_original_still_opens_its_document_view(in_memory):
    page = in_memory.get("/documents/a/original")
    assert page.status_code == 200 and "<h1>Odd id</h1>" in page.get_data(as_text=True)


def test_qa_ask_prints_the_page(site, monkeypatch):
    corpus, _ = site
    monkeypatch.setattr("qa.retrieve.searcher.question_encoder", lambda *args, **kwargs: FakeEmbedder())
    index = corpus.parent / "index"
    env = {"QA_MODEL": FakeEmbedder.name}
    result = CliRunner().invoke(main, ["ask", TOLL, "-k", "1", "--index", str(index)], env=env)
    assert result.exit_code == 0, result.output
    assert re.search(r"^   \S*report\.pdf, p\. 2 \[\d+:\d+\]$", result.output, re.M), result.output
    ledger = CliRunner().invoke(main, ["ask", LEDGER_QUESTION, "-k", "1", "--index", str(index)], env=env)
    assert re.search(r"ledger\.pdf, pp\. 1–2 \[", ledger.output), ledger.output
