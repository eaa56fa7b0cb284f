"""A corpus folder that mixes PDF, DOCX, HTML, Markdown and text, built and asked with the real model.

The default corpus's articles are laid out again in each format: the long Wikipedia article on
the 2020 war as an 18-page PDF with a running header and page numbers, the 2022 clashes as a
DOCX with headings, the July 2020 clashes as HTML, two news articles as Markdown and text. An
unreadable DOCX sits beside them. Each answer is cited on the page (PDF) or under the heading
(DOCX) where it was written.
"""

from __future__ import annotations

import datetime
import html
import json
import shutil
from pathlib import Path

import docx
import pytest

from qa.config import Settings
from qa.index.build import build_index
from qa.index.load import load_index
from qa.ingest.cleaning import prose_regions
from qa.ingest.documents import read_corpus
from qa.retrieve.searcher import Searcher

from .conftest import CORPUS, real_embedder_for
from .drawn_pdf import draw_report, pages_of

WAR, JULY, LAVROV, NEWS, SEPTEMBER = (
    "001_4cb7d0521dd44a67.txt",
    "000_abdca20c2aa4f4be.txt",
    "003_d560007ba48ee34c.txt",
    "002_97eb6d87a007548f.txt",
    "004_ac4458f6c11ac45b.txt",
)
OVERVIEW, AFTERMATH = ("1 Overview",), ("2 Aftermath",)

# question, file, words one of the first 3 passages must hold (a PDF's is found on the pages it was drawn on)
QUESTIONS = [
    ("When did Azerbaijan launch its military offensive in 2020?", "war-report.pdf", "On 27 September 2020, Azerbaijan launched"),
    ("How many victims did the 44-day war have?", "war-report.pdf", "the 44-day war is 3825"),
    ("Which countries brokered the three ceasefires?", "war-report.pdf", "Three ceasefires brokered by Russia, France"),
    ("How many deaths did the September 2022 border clashes cause?", "clashes-2022.docx", "nearly 300 deaths"),
    ("Where did the July 2020 clashes first occur?", "july-2020.html", "Initial clashes occurred near Movses"),
]
DOCX_SECTION = {"nearly 300 deaths": OVERVIEW}  # the first paragraph, under the first heading


def paragraphs(doc_id: str) -> tuple[str, list[str]]:
    """A default-corpus article's title and the lines of its prose."""
    doc = {d.id: d for d in read_corpus(CORPUS)}[doc_id]
    lines = [line for s, e in prose_regions(doc.text, doc.title) for line in doc.text[s:e].split("\n") if line.strip()]
    return doc.title, lines


def write_docx(path: Path) -> None:
    title, lines = paragraphs(SEPTEMBER)
    d = docx.Document()
    d.core_properties.title, d.core_properties.author = title, "qa tests"
    d.core_properties.created = datetime.datetime(2022, 9, 20, tzinfo=datetime.timezone.utc)
    half = len(lines) // 2
    for heading, part in ((OVERVIEW[0], lines[:half]), (AFTERMATH[0], lines[half:])):
        d.add_heading(heading, level=1)
        for line in part:
            d.add_paragraph(line)
    d.save(str(path))


def write_html(path: Path) -> None:
    title, lines = paragraphs(JULY)
    body = "".join(f"<p>{html.escape(line)}</p>\n" for line in lines)
    path.write_text(
        f"<html><head><title>{html.escape(title)}</title></head><body><h1>{html.escape(title)}</h1>\n{body}</body></html>"
    )


@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> tuple[Settings, list[tuple[str, int]]]:
    root = tmp_path_factory.mktemp("mixed")
    corpus = root / "corpus"
    corpus.mkdir()
    title, lines = paragraphs(WAR)
    drawn = draw_report(
        corpus / "war-report.pdf", title, lines, header="Second Nagorno-Karabakh War: a report", author="qa tests"
    )
    write_docx(corpus / "clashes-2022.docx")
    write_html(corpus / "july-2020.html")
    shutil.copyfile(CORPUS / NEWS, corpus / "fresh-clashes.md")
    shutil.copyfile(CORPUS / f"{NEWS}.meta.json", corpus / "fresh-clashes.md.meta.json")
    shutil.copyfile(CORPUS / LAVROV, corpus / "lavrov.txt")
    (corpus / "broken.docx").write_bytes(b"PK\x03\x04 not really a zip")
    settings = Settings.load(env={}, corpus_dir=corpus, index_dir=root / "index")
    build_index(settings, real_embedder_for(settings))
    return settings, drawn


def test_every_format_is_indexed_and_the_unreadable_file_is_listed(mixed):
    settings, drawn = mixed
    manifest = load_index(settings.index_dir).manifest
    assert manifest.documents == 5
    assert list(manifest.skipped) == ["broken.docx"] and "not a readable DOCX" in manifest.skipped["broken.docx"]
    docs = Searcher.open(settings).index.documents
    pdf, word = docs["war-report.pdf"], docs["clashes-2022.docx"]
    assert len(pdf.pages) == drawn[-1][1] >= 15 and pdf.author == "qa tests"
    assert (word.title, word.date, [path for _, path in word.sections]) == (
        "September 2022 Armenia–Azerbaijan clashes",
        "2022-09-20",
        [OVERVIEW, AFTERMATH],
    )
    assert docs["fresh-clashes.md"].date == json.loads((CORPUS / f"{NEWS}.meta.json").read_text())["date"]


@pytest.mark.parametrize("question, file, words", QUESTIONS)
def test_answers_are_cited_on_their_page_or_under_their_heading(mixed, question, file, words):
    settings, drawn = mixed
    result = Searcher.open(settings).search(question, 3)
    assert not result.abstained
    [hit, *_] = [h for h in result.hits if h.document.id == file and words in " ".join(h.passage.text.split())]
    assert hit.document.text[hit.passage.start : hit.passage.end] == hit.passage.text
    where, shown = hit.location(), hit.to_dict()
    if file.endswith(".pdf"):
        assert pages_of(drawn, words) <= set(range(where.page or 0, (where.page_end or where.page or 0) + 1))
        assert shown["page"] == where.page and "section" not in shown
    elif file.endswith(".docx"):
        assert where.section == DOCX_SECTION[words]
        assert shown["section"] == list(where.section or ()) and "page" not in shown
    else:
        assert "page" not in shown and "section" not in shown


def test_running_headers_and_page_numbers_reach_no_passage(mixed):
    settings, _ = mixed
    index = Searcher.open(settings).index
    pdf = index.documents["war-report.pdf"]
    assert len(pdf.junk) == 2 * len(pdf.pages)
    result = Searcher.open(settings).search("Second Nagorno-Karabakh War: a report, page 7", 20)
    from_pdf = [h.passage for h in result.hits if h.document.id == "war-report.pdf"]
    assert len(from_pdf) >= 5
    for p in from_pdf:
        assert "Nagorno-Karabakh War: a report" not in p.text
        assert not any(start < p.end and p.start < end for start, end in pdf.junk)
