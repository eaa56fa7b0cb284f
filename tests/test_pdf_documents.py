"""A PDF as a document: every passage is an exact slice of the extracted text, on the page it was drawn on.

The PDF is drawn here with reportlab, line by line, so the test knows the page of every line:
a running header and a "Page n of N" footer on every page, wrapped paragraphs, a paragraph
that goes on over a page break, a word hyphenated at a line end, ligature glyphs, Armenian and
Cyrillic sentences.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from qa.ingest.cleaning import normalize_for_embedding
from qa.ingest.documents import Document, binary_document
from qa.ingest.passages import make_passages

from .drawn_pdf import draw_pages

HEADER = "Harbour Board Annual Report"
TOWNS = ["Alder", "Birch", "Cedar", "Dunmore", "Elmstead", "Fairhaven"]
ARMENIAN_FULL_STOP = "\u0589"
HYPHENATED = ("The board improved the extrac-", "tion of silt from the inner basin during the dry months.")
LIGATURES = "The \ufb01nance o\ufb03ce \ufb02ew its \ufb02ag over the harbour on the \ufb01rst day."
NON_LATIN = ["Հայաստանի մայրաքաղաքը Երևանն է։", "Столица России — Москва, а порт стоит на реке."]  # noqa: RUF001


def paragraph(page: int, n: int) -> list[str]:
    """A paragraph of several sentences about one town, wrapped into lines like a page's."""
    town = TOWNS[(page + n) % len(TOWNS)]
    sentences = [
        f"In the year covered by page {page}, the pier at {town} was rebuilt in grey stone.",
        f"Ships that moored at {town} paid a toll of {page * 3 + n} shillings to the board.",
        f"The harbour master of {town} kept a ledger of every cargo that was landed there.",
    ]
    return textwrap.wrap(" ".join(sentences), 80)


def page_lines() -> list[list[str]]:
    """The body lines of each page. Page 2's last paragraph goes on at the top of page 3."""
    pages = [[*paragraph(p, 0), "", *paragraph(p, 1)] for p in range(1, 6)]
    spill = paragraph(2, 2)
    pages[1] += ["", *spill[:2]]
    pages[2] = [*spill[2:], "", *pages[2]]
    pages[2] += ["", *HYPHENATED]
    pages[3] += ["", LIGATURES]
    pages[4] += ["", *NON_LATIN]
    return pages


def draw(path: Path, furniture: bool = True) -> tuple[Document, list[list[str]]]:
    """The PDF, with or without a running header and footer, as a document; and its body lines."""
    pages = page_lines()
    draw_pages(path, pages, HEADER if furniture else "", "Harbour Board Annual Report 1911", "Harbour Board")
    return binary_document(path, path.name, f"corpus/{path.name}"), pages


@pytest.fixture(scope="module")
def drawn(tmp_path_factory) -> tuple[Document, list[list[str]]]:
    return draw(tmp_path_factory.mktemp("pdf") / "harbour.pdf")


def line_pages(doc: Document, pages: list[list[str]]) -> list[tuple[int, int, int]]:
    """(start, end, page) of every drawn body line, found in order in the document's text."""
    out, at = [], 0
    for number, lines in enumerate(pages, 1):
        for line in filter(None, lines):
            plain = line.replace("\ufb01", "fi").replace("\ufb03", "ffi").replace("\ufb02", "fl")
            start = doc.text.index(plain, at)
            at = start + len(plain)
            out.append((start, at, number))
    return out


def page_at(lines: list[tuple[int, int, int]], offset: int) -> int:
    return next(page for start, end, page in lines if start <= offset < end)


def test_title_and_author_come_from_the_pdf_metadata(drawn):
    doc, _ = drawn
    assert (doc.title, doc.author, doc.id, doc.source) == (
        "Harbour Board Annual Report 1911",
        "Harbour Board",
        "harbour.pdf",
        "corpus/harbour.pdf",
    )
    assert len(doc.pages) == 5 and doc.pages[0] == 0


def check_every_passage(doc: Document, pages: list[list[str]]) -> int:
    """Every passage is an exact slice and on the pages its lines were drawn on; returns how
    many cross a page break."""
    lines = line_pages(doc, pages)
    passages = make_passages(doc, 600, 1000, 1)
    assert len(passages) >= 5
    crossing = 0
    for p in passages:
        assert doc.text[p.start : p.end] == p.text
        where = doc.location(p.start, p.end)
        assert (where.page, where.page_end) == (page_at(lines, p.start), page_at(lines, p.end - 1))
        crossing += where.page != where.page_end
    return crossing


def test_every_passage_is_an_exact_slice_on_the_page_its_lines_were_drawn_on(drawn):
    """A footer and a header stand between pages: they are left out, so no passage crosses a
    break; the paragraph that goes on from page 2 to page 3 is cited in two parts."""
    assert check_every_passage(*drawn) == 0


def test_without_running_headers_a_passage_crosses_a_page_break_and_names_both_pages(tmp_path):
    doc, pages = draw(tmp_path / "plain.pdf", furniture=False)
    assert doc.junk == ()
    assert check_every_passage(doc, pages) >= 1


def test_running_headers_and_page_numbers_never_reach_a_passage(drawn):
    doc, pages = drawn
    assert len(doc.junk) == 2 * len(pages)
    for start, end in doc.junk:
        assert doc.text[start:end] in {HEADER} | {f"Page {n} of {len(pages)}" for n in range(1, 6)}
    for p in make_passages(doc, 600, 1000, 1):
        assert HEADER not in p.text and "of 5" not in p.text


def test_a_hyphenated_word_is_cited_as_printed_and_matched_whole(drawn):
    doc, _ = drawn
    [p] = [p for p in make_passages(doc, 600, 1000, 1) if "extrac-" in p.text]
    assert "extrac-\ntion of silt" in p.text
    assert "the extraction of silt" in normalize_for_embedding(p.text)


def test_ligatures_and_non_latin_scripts_come_through_as_letters(drawn):
    doc, _ = drawn
    passages = make_passages(doc, 600, 1000, 1)
    assert any("The finance office flew its flag" in p.text for p in passages)
    assert not any(ch in doc.text for ch in "\ufb01\ufb02\ufb03")
    for sentence in NON_LATIN:
        assert any(sentence in p.text for p in passages)
        assert doc.location(doc.text.index(sentence), doc.text.index(sentence) + 1).page == 5


def test_sentences_run_over_wrapped_lines(tmp_path):
    """In a PDF every line is wrapped by the page: only a blank line ends a paragraph, so a
    sentence whose next line starts with a capital or a digit stays one sentence."""
    doc, _ = draw(tmp_path / "plain.pdf", furniture=False)
    sentences = [" ".join(p.text[s:e].split()) for p in make_passages(doc, 600, 1000, 1) for s, e in p.sentences]
    assert "Ships that moored at Alder paid a toll of 16 shillings to the board." in sentences
    assert [s for s in sentences if not s.endswith((".", ARMENIAN_FULL_STOP))] == []
