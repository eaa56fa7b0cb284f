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

import datetime
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .extracted import Extracted, Unreadable

LIGATURES = str.maketrans(
    {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl", "\ufb05": "st", "\ufb06": "st"}
)
FURNITURE_BOX_LINES = 3  # a header or footer is a text box of at most this many lines at a page's top or bottom
DIGITS = re.compile(r"\d+")
PDF_DATE = re.compile(r"(?:D:)?(\d{4})(\d{2})?(\d{2})?")  # D:YYYYMMDDHHmmSSOHH'mm', the tail optional


@dataclass(frozen=True)
class _Line:
    start: int
    end: int
    key: str  # the line with its numbers made "#", so "Page 3 of 9" and "Page 4 of 9" match


def _line_key(line: str) -> str:
    return DIGITS.sub("#", " ".join(line.split()).lower())


def read_pdf(path: Path, max_pages: int = 0) -> Extracted:
    """The text of a PDF's text layer, its page starts, its furniture and its metadata.
    Unreadable when it is encrypted, has no text layer, is not a PDF or has more than
    `max_pages` pages (0: no limit)."""
    from pdfminer.converter import PDFPageAggregator  # imported by builds that read PDF only
    from pdfminer.layout import LAParams, LTTextBox, LTTextLine
    from pdfminer.pdfdocument import PDFDocument, PDFEncryptionError, PDFPasswordIncorrect
    from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
    from pdfminer.pdfpage import PDFPage
    from pdfminer.pdfparser import PDFParser
    from pdfminer.psexceptions import PSException

    parts: list[str] = []
    size = 0
    page_starts: list[int] = []
    edge_lines: list[list[_Line]] = []  # per page: the lines of its short top and bottom boxes
    with open(path, "rb") as f:
        try:
            document = PDFDocument(PDFParser(f))
        except (PDFPasswordIncorrect, PDFEncryptionError):
            raise Unreadable("encrypted PDF: it needs a password to be read") from None
        except (PSException, ValueError, KeyError, TypeError) as e:
            raise Unreadable(f"not a readable PDF ({type(e).__name__}: {e})") from None
        manager = PDFResourceManager()
        device = PDFPageAggregator(manager, laparams=LAParams())
        interpreter = PDFPageInterpreter(manager, device)
        try:
            for number, page in enumerate(PDFPage.create_pages(document), 1):
                if max_pages and number > max_pages:
                    raise Unreadable(f"more than {max_pages} pages (the pdf_max_pages setting)")
                interpreter.process_page(page)
                page_starts.append(size)
                boxes = [el for el in device.get_result() if isinstance(el, LTTextBox)]
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
        except (PSException, ValueError, KeyError, TypeError) as e:
            raise Unreadable(f"not a readable PDF ({type(e).__name__}: {e})") from None
        info = _info(document)
    text = "".join(parts)
    if not text.strip():
        raise Unreadable(f"no text layer: scanned? ({len(page_starts)} pages of images only)")
    return Extracted(
        text=text,
        title=info.get("Title", ""),
        author=info.get("Author", ""),
        date=_pdf_date(info.get("CreationDate", "")),
        pages=tuple(page_starts),
        junk=_repeated(edge_lines),
    )


def _info(document: object) -> dict[str, str]:
    """The document information dictionary's text entries (Title, Author, CreationDate...)."""
    from pdfminer.pdftypes import resolve1
    from pdfminer.utils import decode_text

    out: dict[str, str] = {}
    for entry in getattr(document, "info", []):
        entry = resolve1(entry)
        for key, value in entry.items() if isinstance(entry, dict) else ():
            value = resolve1(value)
            if isinstance(value, bytes):
                value = decode_text(value)
            if isinstance(value, str) and value.strip():
                out.setdefault(str(key), " ".join(value.replace("\x00", "").split()))
    return out


def _pdf_date(value: str) -> str:
    """YYYY-MM-DD of a PDF date ("D:20200927120000+04'00'"), "" when it is not one."""
    match = PDF_DATE.match(value)
    if not match:
        return ""
    try:
        return datetime.date(int(match[1]), int(match[2] or 1), int(match[3] or 1)).isoformat()
    except ValueError:
        return ""


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
