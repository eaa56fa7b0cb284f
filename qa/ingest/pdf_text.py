"""The text layer of a PDF, with where each page starts and which lines are page furniture.

pdfminer.six reads the PDF (chosen by bench/pdf_extractors.py: its layout analysis keeps two
columns in reading order however the file's content stream runs, keeps a line-end hyphen, and
gives every line its position on the page). The document's text is what this module returns:
citations index it exactly. Nothing is removed from it: running headers, footers and page
numbers stay in the text and are listed as (start, end) ranges that passages leave out, as
junk is for scraped HTML.

Layout of the text: each pdfminer text box's lines, one per line; a blank line after each box;
pages one after another. Ligature glyphs (U+FB00..U+FB06) become their letters, so "ﬁnance"
is found by a search for "finance".
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

LIGATURES = str.maketrans(
    {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl", "\ufb05": "st", "\ufb06": "st"}
)
FURNITURE_BOX_LINES = 3  # a header or footer is a text box of at most this many lines at a page's top or bottom
DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class PdfText:
    text: str
    page_starts: tuple[int, ...]  # offset in `text` where each page begins; page 1 at 0
    furniture: tuple[tuple[int, int], ...]  # repeated headers, footers, page numbers: (start, end) in `text`

    def page_of(self, offset: int) -> int:
        """The 1-based page that the character at `offset` is on."""
        return bisect.bisect_right(self.page_starts, offset)

    def pages_of(self, start: int, end: int) -> tuple[int, int]:
        """(page, page_end) of the span text[start:end] (end exclusive; the same page when it does not cross one)."""
        return self.page_of(start), self.page_of(max(start, end - 1))


@dataclass(frozen=True)
class _Line:
    start: int
    end: int
    key: str  # the line with its numbers made "#", so "Page 3 of 9" and "Page 4 of 9" match


def _line_key(line: str) -> str:
    return DIGITS.sub("#", " ".join(line.split()).lower())


def read_pdf(path: Path) -> PdfText:
    """The text of a PDF's text layer, its page starts and its furniture ranges."""
    from pdfminer.high_level import extract_pages  # imported by builds that read PDF only
    from pdfminer.layout import LAParams, LTTextBox, LTTextLine

    parts: list[str] = []
    size = 0
    page_starts: list[int] = []
    edge_lines: list[list[_Line]] = []  # per page: the lines of its short top and bottom boxes
    for page in extract_pages(path, laparams=LAParams()):
        page_starts.append(size)
        boxes = [el for el in page if isinstance(el, LTTextBox)]
        edges = _edge_boxes(boxes)
        on_edge: list[_Line] = []
        for box in boxes:
            for line in box:
                if not isinstance(line, LTTextLine):
                    continue
                content = line.get_text().rstrip("\n").translate(LIGATURES)
                if id(box) in edges and content.strip():
                    on_edge.append(_Line(size, size + len(content), _line_key(content)))
                parts.append(content + "\n")
                size += len(content) + 1
            parts.append("\n")
            size += 1
        edge_lines.append(on_edge)
    return PdfText("".join(parts), tuple(page_starts), _repeated(edge_lines))


def _edge_boxes(boxes: list) -> set[int]:
    """ids of the top-most and bottom-most boxes of a page, when short enough to be a header or footer."""
    if len(boxes) < 2:
        return set()
    top = max(boxes, key=lambda b: b.y1)
    bottom = min(boxes, key=lambda b: b.y0)
    return {id(b) for b in (top, bottom) if len(b) <= FURNITURE_BOX_LINES}


def _repeated(edge_lines: list[list[_Line]]) -> tuple[tuple[int, int], ...]:
    """Edge lines whose key recurs on at least half the pages (and at least two)."""
    pages_with = Counter(key for lines in edge_lines for key in {line.key for line in lines})
    needed = max(2, (len(edge_lines) + 1) // 2)
    return tuple((line.start, line.end) for lines in edge_lines for line in lines if pages_with[line.key] >= needed)
