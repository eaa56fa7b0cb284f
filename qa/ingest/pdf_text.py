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

Hostile files: the pages are counted before any is laid out (`max_pages`); the streams inflate
under a byte budget (`max_bytes`, see `_InflateBudget`); objects nested past Python's recursion
limit make the file unreadable, not the build fail. Time and memory are bounded by the process
that calls this (qa/ingest/reader_process.py).
"""

from __future__ import annotations

import datetime
import itertools
import re
import threading
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

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


def read_pdf(path: Path, max_pages: int = 0, max_bytes: int = 0) -> Extracted:
    """The text of a PDF's text layer, its page starts, its furniture and its metadata.
    Unreadable when it is encrypted, has no text layer, is not a PDF, has more than `max_pages`
    pages, inflates to more than `max_bytes` bytes (0: no limit for either; see `_InflateBudget`)
    or nests its objects too deeply to follow. Time and memory are not limited here: see reader_process."""
    from pdfminer.psexceptions import PSException  # imported by builds that read PDF only

    with open(path, "rb") as f, _inflate_limit(max_bytes):
        try:
            document = _document(f)
            page_starts, parts, edge_lines = _page_texts(_pages(document, max_pages))
            info = _info(document)
        except (PSException, ValueError, KeyError, TypeError) as e:
            raise Unreadable(f"not a readable PDF ({type(e).__name__}: {e})") from None
        except RecursionError:  # pdfminer follows nested arrays and page trees by recursion
            raise Unreadable("not a readable PDF (its objects are nested too deeply)") from None
    text = "".join(parts)
    if not page_starts:
        raise Unreadable("not a readable PDF (no pages)")
    if not text.strip():
        pages = f"{len(page_starts)} page{'s' * (len(page_starts) > 1)}"
        raise Unreadable(f"no text layer: scanned? ({pages} of images only)")
    return Extracted(
        text=text,
        title=info.get("Title", ""),
        author=info.get("Author", ""),
        date=_pdf_date(info.get("CreationDate", "")),
        pages=tuple(page_starts),
        junk=_repeated(edge_lines),
    )


def _document(f: BinaryIO) -> Any:
    """pdfminer's PDFDocument of an open file (opened with the empty user password)."""
    from pdfminer.pdfdocument import PDFDocument, PDFEncryptionError, PDFPasswordIncorrect
    from pdfminer.pdfparser import PDFParser

    try:
        return PDFDocument(PDFParser(f))
    except (PDFPasswordIncorrect, PDFEncryptionError):
        raise Unreadable("encrypted PDF: it needs a password to be read") from None


def _pages(document: Any, max_pages: int) -> list:
    """The document's pages, counted before any is read: Unreadable when more than `max_pages` (0: no limit)."""
    from pdfminer.pdfpage import PDFPage

    pages = list(itertools.islice(PDFPage.create_pages(document), max_pages + 1 if max_pages else None))
    if max_pages and len(pages) > max_pages:
        raise Unreadable(f"more than {max_pages} pages (the pdf_max_pages setting)")
    return pages


def _page_texts(pages: list) -> tuple[list[int], list[str], list[list[_Line]]]:
    """Each page laid out: where it starts in the text, the text's parts, and per page the lines
    of its short top and bottom boxes (header and footer candidates)."""
    from pdfminer.converter import PDFPageAggregator
    from pdfminer.layout import LAParams, LTTextBox, LTTextLine
    from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager

    manager = PDFResourceManager()
    device = PDFPageAggregator(manager, laparams=LAParams())
    interpreter = PDFPageInterpreter(manager, device)
    parts: list[str] = []
    size = 0
    page_starts: list[int] = []
    edge_lines: list[list[_Line]] = []
    for page in pages:
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
    return page_starts, parts, edge_lines


class _InflateBudget:
    """What pdfminer sees as `zlib` while a PDF is read under a size limit.

    pdfminer inflates each FlateDecode stream whole, with one `zlib.decompress` call
    (`PDFStream.decode`), so a 300 KB stream of zeros becomes 300 MB in memory before anything
    can look at it. This inflates with `max_length`, so it stops one byte past what the file
    has left of `max_bytes`, over every stream of the file (each filter of a chain counts).
    The other filters expand far less (LZW at most some thousand times, RunLength 64 times):
    what they make is bounded by the reading process's memory limit.
    """

    error = zlib.error

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.left = max_bytes

    def spend(self, size: int) -> None:
        self.left -= size
        if self.left < 0:
            raise Unreadable(f"inflates to more than {self.max_bytes} bytes (the file_max_bytes setting)")

    def decompress(self, data: bytes) -> bytes:
        """zlib.decompress(data), or Unreadable as soon as the output passes the budget."""
        inflater = zlib.decompressobj()
        out = inflater.decompress(data, self.left + 1)
        self.spend(len(out))
        if not inflater.eof:
            raise zlib.error("Error -5 while decompressing data: incomplete or truncated stream")
        return out

    def decompressobj(self) -> _CountingInflater:
        """For pdfminer's `decompress_corrupted`, which inflates a damaged stream byte by byte."""
        return _CountingInflater(self)


class _CountingInflater:
    def __init__(self, budget: _InflateBudget) -> None:
        self.budget = budget
        self.inflater = zlib.decompressobj()

    def decompress(self, data: bytes, max_length: int = 0) -> bytes:
        out = self.inflater.decompress(data, max_length)
        self.budget.spend(len(out))
        return out


_INFLATING = threading.Lock()  # the budget replaces a module global of pdfminer: one limited read at a time


@contextmanager
def _inflate_limit(max_bytes: int) -> Iterator[None]:
    """pdfminer inflating under a budget of `max_bytes` (0: as it is) while the block runs."""
    if not max_bytes:
        yield
        return
    from pdfminer import pdftypes

    with _INFLATING:
        pdftypes.zlib = _InflateBudget(max_bytes)  # type: ignore[assignment]
        try:
            yield
        finally:
            pdftypes.zlib = zlib


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
