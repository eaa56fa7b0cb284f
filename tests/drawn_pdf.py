"""Multi-page PDFs drawn for tests with reportlab, line by line, so a test knows each line's page."""

from __future__ import annotations

import textwrap
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")  # Debian's fonts-dejavu-core: Cyrillic, Armenian
LINES_PER_PAGE = 60
LINE_CHARS = 95


def draw_report(path: Path, title: str, paragraphs: list[str], header: str = "", author: str = "") -> list[tuple[str, int]]:
    """Lay `paragraphs` out as wrapped lines on A4 pages (a blank line between paragraphs), with
    `header` at the top and "Page n" at the foot of every page when a header is given. Returns
    every drawn line with its 1-based page."""
    pdfmetrics.registerFont(TTFont("DejaVu", str(DEJAVU)))
    lines = [
        line for text in paragraphs for line in [*textwrap.wrap(" ".join(text.split()), LINE_CHARS, break_on_hyphens=False), ""]
    ]
    c = canvas.Canvas(str(path), pagesize=(595, 842), invariant=1)
    c.setTitle(title)
    c.setAuthor(author)
    drawn = []
    for first in range(0, len(lines), LINES_PER_PAGE):
        page = first // LINES_PER_PAGE + 1
        if header:
            c.setFont("DejaVu", 8)
            c.drawString(50, 810, header)
            c.drawCentredString(297, 25, f"Page {page}")
        c.setFont("DejaVu", 9)
        for i, line in enumerate(lines[first : first + LINES_PER_PAGE]):
            c.drawString(50, 780 - 12 * i, line)  # 9 pt type on 12 pt leading, as typeset text is
            drawn.append((line, page))
        c.showPage()
    c.save()
    return drawn


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
