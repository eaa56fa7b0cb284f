"""qa.ingest.pdf_text on PDFs drawn here with reportlab: known text on known pages."""

from __future__ import annotations

from pathlib import Path

from reportlab.pdfgen import canvas

from qa.ingest.documents import Document
from qa.ingest.extracted import Extracted
from qa.ingest.pdf_text import read_pdf

HEADER = "Harbour Board Annual Report"
PAGES = 4


def body(page: int) -> list[str]:
    return [f"The pier on page {page} was rebuilt in stone.", f"Ships moored there on page {page} paid a toll."]


def pages_of(pdf: Extracted, start: int, end: int) -> tuple[int | None, int | None]:
    where = Document("d", "", pdf.text, "", pages=pdf.pages).location(start, end)
    return where.page, where.page_end


def draw(path: Path, pages: int, header: bool = True) -> Path:
    c = canvas.Canvas(str(path), pagesize=(595, 842), invariant=1)
    for page in range(1, pages + 1):
        c.setFont("Helvetica", 9)
        if header:
            c.drawString(60, 800, HEADER)
            c.drawCentredString(297, 30, f"Page {page} of {pages}")
        c.setFont("Helvetica", 11)
        for i, line in enumerate(body(page)):
            c.drawString(60, 740 - 16 * i, line)
        c.showPage()
    c.save()
    return path


def test_each_line_is_on_its_page(tmp_path: Path) -> None:
    pdf = read_pdf(draw(tmp_path / "report.pdf", PAGES))
    assert len(pdf.pages) == PAGES and pdf.pages[0] == 0
    for page in range(1, PAGES + 1):
        for line in [*body(page), f"Page {page} of {PAGES}"]:
            start = pdf.text.index(line)
            assert pages_of(pdf, start, start + len(line)) == (page, page)
        assert pdf.text[pdf.pages[page - 1] :].startswith(HEADER)


def test_a_span_across_a_page_break_names_both_pages(tmp_path: Path) -> None:
    pdf = read_pdf(draw(tmp_path / "report.pdf", PAGES))
    start = pdf.text.index(body(2)[1])
    end = pdf.text.index(body(3)[0]) + len(body(3)[0])
    assert pages_of(pdf, start, end) == (2, 3)


def test_running_header_and_page_numbers_are_furniture_and_stay_in_the_text(tmp_path: Path) -> None:
    pdf = read_pdf(draw(tmp_path / "report.pdf", PAGES))
    found = [(pages_of(pdf, start, end)[0], pdf.text[start:end]) for start, end in pdf.junk]
    expected = [(p, text) for p in range(1, PAGES + 1) for text in (HEADER, f"Page {p} of {PAGES}")]
    assert sorted(found) == sorted(expected)
    body_lines = [line for p in range(1, PAGES + 1) for line in body(p)]
    for start, end in pdf.junk:
        assert not any(line in pdf.text[start:end] for line in body_lines)


def test_no_furniture_without_repetition(tmp_path: Path) -> None:
    assert read_pdf(draw(tmp_path / "one.pdf", 1)).junk == ()
    assert read_pdf(draw(tmp_path / "plain.pdf", 3, header=False)).junk == ()


def test_two_columns_read_column_by_column_whatever_the_stream_order(tmp_path: Path) -> None:
    left = [f"Left column sentence {n} ends here." for n in range(1, 6)]
    right = [f"Right column sentence {n} ends here." for n in range(1, 6)]
    c = canvas.Canvas(str(tmp_path / "columns.pdf"), pagesize=(595, 842), invariant=1)
    c.setFont("Helvetica", 11)
    for i, (a, b) in enumerate(zip(left, right, strict=True)):  # the stream runs row by row
        c.drawString(60, 740 - 16 * i, a)
        c.drawString(320, 740 - 16 * i, b)
    c.save()
    text = read_pdf(tmp_path / "columns.pdf").text
    positions = [text.index(line) for line in left + right]
    assert positions == sorted(positions)
