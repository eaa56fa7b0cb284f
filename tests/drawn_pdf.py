"""Multi-page PDFs drawn for tests with reportlab, line by line, so a test knows each line's page."""

from __future__ import annotations

import textwrap
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")  # Debian's fonts-dejavu-core: Cyrillic, Armenian, ligatures
LINES_PER_PAGE = 55
LINE_CHARS = 95


def draw_pages(path: Path, pages: list[list[str]], header: str = "", title: str = "", author: str = "") -> Path:
    """A PDF of A4 pages, each with its lines drawn one by one (10 pt type on 13 pt leading, as
    typeset text is); with a `header`, it runs at the top of every page and "Page n of N" at the
    foot. `invariant`: the same bytes every run."""
    pdfmetrics.registerFont(TTFont("DejaVu", str(DEJAVU)))
    c = canvas.Canvas(str(path), pagesize=(595, 842), invariant=1)
    c.setTitle(title)
    c.setAuthor(author)
    for number, lines in enumerate(pages, 1):
        if header:
            c.setFont("DejaVu", 8)
            c.drawString(50, 810, header)
            c.drawCentredString(297, 25, f"Page {number} of {len(pages)}")
        c.setFont("DejaVu", 10)
        for i, line in enumerate(lines):
            c.drawString(50, 770 - 13 * i, line)
        c.showPage()
    c.save()
    return path


def draw_report(path: Path, title: str, paragraphs: list[str], header: str = "", author: str = "") -> list[tuple[str, int]]:
    """Lay `paragraphs` out as wrapped lines (a blank line between paragraphs) on as many pages
    as they take (see `draw_pages`). Returns every drawn line with its 1-based page."""
    lines = [
        line for text in paragraphs for line in [*textwrap.wrap(" ".join(text.split()), LINE_CHARS, break_on_hyphens=False), ""]
    ]
    pages = [lines[first : first + LINES_PER_PAGE] for first in range(0, len(lines), LINES_PER_PAGE)]
    draw_pages(path, pages, header, title, author)
    return [(line, number) for number, page in enumerate(pages, 1) for line in page]


def pages_of(drawn: list[tuple[str, int]], phrase: str) -> set[int]:
    """The pages a phrase was drawn on (it may wrap over lines, and over a page break)."""
    text, page_at = "", []
    for line, page in drawn:
        text += line + " "
        page_at += [page] * (len(line) + 1)
    found = set()
    at = text.find(phrase)
    while at >= 0:
        found |= set(page_at[at : at + len(phrase)])
        at = text.find(phrase, at + 1)
    return found
