"""Test PDFs with known text on known pages, drawn with reportlab (bench/pdf_extractors.py uses them).

Each `make_*` writes one PDF into a folder and returns its path and what a right extraction holds.
Lines are drawn one by one with `canvas.drawString`, so the file says exactly where each word is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

WIDTH, HEIGHT = A4
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
HEADER = "Northwind Quarterly Review"

LEFT = [
    "Alpha: the harbour opened in spring.",
    "Bravo: ships came from the north.",
    "Charlie: the grain market grew fast.",
    "Delta: a second pier was built.",
    "Echo: the old lighthouse was repaired.",
    "Foxtrot: fishermen formed a guild.",
]
RIGHT = [
    "Golf: winter closed the harbour.",
    "Hotel: ice blocked the river mouth.",
    "India: the guild stored grain inland.",
    "Juliet: a road reached the capital.",
    "Kilo: merchants moved their offices.",
    "Lima: the town council met weekly.",
]
HYPHEN_LINES = [
    "The new method improves passage",
    "extrac-",  # the word goes on at the start of the next line
    "tion from scanned and born-digital files.",
]
LIGATURE_TEXT = "The \ufb01nance team \ufb02ew to the o\ufb03ce"  # U+FB01 fi, U+FB02 fl, U+FB03 ffi glyphs
LIGATURE_PLAIN = "The finance team flew to the office"
ARMENIAN = "Հայաստանի մայրաքաղաքը Երևանն է"
CYRILLIC = "Столица России — Москва"
TABLE = [
    ["Region", "Revenue", "Staff"],
    ["North", "1200", "14"],
    ["South", "950", "11"],
    ["East", "780", "9"],
]


@dataclass
class Fixture:
    name: str
    path: Path
    expect: dict = field(default_factory=dict)


def _canvas(path: Path) -> canvas.Canvas:
    c = canvas.Canvas(str(path), pagesize=A4, invariant=1)  # invariant: the same bytes every run
    c.setFont("Helvetica", 11)
    return c


def make_two_columns(folder: Path, interleaved: bool) -> Fixture:
    """One page, two columns of six lines. `interleaved`: the content stream goes row by row
    (left line 1, right line 1, ...), as some producers write it; else column by column."""
    path = folder / f"two-columns-{'rows' if interleaved else 'columns'}.pdf"
    c = _canvas(path)
    ys = [HEIGHT - 100 - 16 * i for i in range(len(LEFT))]
    if interleaved:
        for y, left, right in zip(ys, LEFT, RIGHT, strict=True):
            c.drawString(60, y, left)
            c.drawString(320, y, right)
    else:
        for x, lines in ((60, LEFT), (320, RIGHT)):
            for y, line in zip(ys, lines, strict=True):
                c.drawString(x, y, line)
    c.showPage()
    c.save()
    return Fixture(path.stem, path, {"order": LEFT + RIGHT})


def draw_furniture(c: canvas.Canvas, page: int, pages: int) -> None:
    c.setFont("Helvetica", 9)
    c.drawString(60, HEIGHT - 40, HEADER)
    c.drawCentredString(WIDTH / 2, 30, f"Page {page} of {pages}")
    c.setFont("Helvetica", 11)


def make_header_footer(folder: Path, pages: int = 5) -> Fixture:
    path = folder / "header-footer.pdf"
    c = _canvas(path)
    for page in range(1, pages + 1):
        draw_furniture(c, page, pages)
        for i in range(3):
            c.drawString(60, HEIGHT - 100 - 16 * i, f"Body line {i + 1} of page {page} talks about tides.")
        c.showPage()
    c.save()
    return Fixture("header-footer", path, {"header": HEADER, "footers": [f"Page {p} of {pages}" for p in range(1, pages + 1)]})


def make_hyphenation(folder: Path) -> Fixture:
    path = folder / "hyphenation.pdf"
    c = _canvas(path)
    for i, line in enumerate(HYPHEN_LINES):
        c.drawString(60, HEIGHT - 100 - 14 * i, line)
    c.showPage()
    c.save()
    return Fixture("hyphenation", path, {"broken": ("extrac-", "tion")})


def _dejavu() -> str:
    if "DejaVuSans" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("DejaVuSans", str(DEJAVU)))
    return "DejaVuSans"


def make_ligatures(folder: Path) -> Fixture:
    """reportlab does no text shaping, so it never forms ligatures itself: the ligature glyphs are
    drawn by their code points (U+FB01..U+FB03) in DejaVu Sans, as a shaping producer would draw
    them; the font's ToUnicode map then gives the ligature code point, not "fi"."""
    path = folder / "ligatures.pdf"
    c = _canvas(path)
    c.setFont(_dejavu(), 12)
    c.drawString(60, HEIGHT - 100, LIGATURE_TEXT)
    c.showPage()
    c.save()
    return Fixture("ligatures", path, {"plain": LIGATURE_PLAIN, "ligature": LIGATURE_TEXT})


def make_non_latin(folder: Path) -> Fixture:
    path = folder / "non-latin.pdf"
    c = _canvas(path)
    c.setFont(_dejavu(), 12)
    c.drawString(60, HEIGHT - 100, ARMENIAN)
    c.drawString(60, HEIGHT - 120, CYRILLIC)
    c.showPage()
    c.save()
    return Fixture("non-latin", path, {"texts": [ARMENIAN, CYRILLIC]})


def make_table(folder: Path) -> Fixture:
    """A ruled 4 × 3 table, cells drawn column by column (as the stream of many producers goes)."""
    path = folder / "table.pdf"
    c = _canvas(path)
    x0, y0, cw, rh = 60, HEIGHT - 100, 120, 20
    for col in range(3):
        for row, cells in enumerate(TABLE):
            c.drawString(x0 + col * cw + 4, y0 - row * rh + 6, cells[col])
    for row in range(len(TABLE) + 1):
        c.line(x0, y0 + rh - row * rh, x0 + 3 * cw, y0 + rh - row * rh)
    for col in range(4):
        c.line(x0 + col * cw, y0 + rh, x0 + col * cw, y0 + rh - len(TABLE) * rh)
    c.showPage()
    c.save()
    return Fixture("table", path, {"rows": TABLE})


def make_long(folder: Path, pages: int = 300) -> Fixture:
    """`pages` pages of 45 prose lines each, with a running header and a page-number footer."""
    path = folder / f"long-{pages}.pdf"
    c = _canvas(path)
    for page in range(1, pages + 1):
        draw_furniture(c, page, pages)
        for i in range(45):
            c.drawString(60, HEIGHT - 80 - 15 * i, f"Page {page} line {i + 1}: the river carried timber and salt to the coast.")
        c.showPage()
    c.save()
    return Fixture(path.stem, path, {"pages": pages})


def make_all(folder: Path, long_pages: int = 300) -> list[Fixture]:
    folder.mkdir(parents=True, exist_ok=True)
    return [
        make_two_columns(folder, interleaved=False),
        make_two_columns(folder, interleaved=True),
        make_header_footer(folder),
        make_hyphenation(folder),
        make_ligatures(folder),
        make_table(folder),
        make_non_latin(folder),
        make_long(folder, long_pages),
    ]
