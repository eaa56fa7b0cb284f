"""The text of a DOCX file, the heading path of each of its sections, and its core properties.

python-docx reads the file. The document's text is what this module returns: citations index it
exactly. Layout: the body's paragraphs and tables in document order, one block each, a blank
line after every block. A paragraph is its text (a line break inside it stays a line break); a
table is one line per row, its cells joined by a TAB (a ` | ` would make the row look like a
scraped table row to `cleaning.prose_regions`, which leaves those out). Footnotes and endnotes
follow the body, each under a "Footnotes" or "Endnotes" line. Empty paragraphs and rows are left
out. Text boxes, headers and footers of the page are not read.

A paragraph in a "Heading N" or "Title" style (or a style based on one) starts a section; its
heading path is the headings above it, by level: ("3 Results", "3.2 Costs").

Before python-docx inflates anything, the zip is checked: its members' declared sizes must not
add up to more than `max_bytes`, only the compression methods a DOCX may use (stored, deflate)
are allowed, and every member is inflated once in small chunks, so a member whose data inflates
to more than it declares (a zip bomb that lies in its directory) fails its checksum after at most
its declared size instead of filling memory inside python-docx.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

from .extracted import Extracted, Unreadable

if TYPE_CHECKING:  # python-docx is imported when a DOCX is read
    from docx.document import Document
    from docx.styles.style import ParagraphStyle
    from docx.table import Table, _Cell
    from docx.text.paragraph import Paragraph

HEADING_STYLE = re.compile(r"Heading ([1-9])")
TITLE_STYLE = "Title"  # ranks with "Heading 1": the next Heading 1 ends its section
STYLE_CHAIN_MAX = 10  # base styles followed to find a heading style (a broken file may loop)
DOCX_COMPRESSION = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}  # all that a DOCX (OPC) package may use
INFLATE_CHUNK = 1 << 20
# What zipfile and python-docx raise on a broken file: a bad zip or checksum, a member it cannot
# inflate, an encrypted member (RuntimeError), XML that does not parse (lxml's XMLSyntaxError is a
# SyntaxError), a missing part or relationship (KeyError), and elements that are not where
# python-docx expects them (AttributeError, ValueError, TypeError, IndexError).
BROKEN = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    RuntimeError,
    SyntaxError,
    KeyError,
    ValueError,
    AttributeError,
    TypeError,
    IndexError,
)
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an encrypted Word file, or an old .doc, is an OLE compound file


def read_docx(path: Path, max_bytes: int = 0) -> Extracted:
    """The text of a DOCX file's body, footnotes and endnotes, its sections' heading paths and its
    title, author and date. Unreadable when it is not a DOCX, is corrupt, or its members add up
    to more than `max_bytes` unzipped (0: no limit)."""
    import docx  # python-docx: imported by builds that read DOCX only
    from docx.opc.exceptions import OpcError

    try:
        with open(path, "rb") as f:
            _check_archive(f, max_bytes)
            f.seek(0)
            return _extracted(docx.Document(f))
    except OSError as e:
        raise Unreadable(f"cannot read ({e.strerror or e})") from None
    except (*BROKEN, OpcError) as e:
        raise Unreadable(f"not a readable DOCX ({_reason(e)})") from None


def _reason(error: Exception) -> str:
    message = error.args[0] if len(error.args) == 1 else str(error)  # a KeyError's str() quotes its message
    return f"{type(error).__name__}: {message}"


def _check_archive(f: IO[bytes], max_bytes: int) -> None:
    """Raise Unreadable for an encrypted Word file and a zip over the size limit or not a DOCX's
    kind; inflate every member once, in chunks (see the module's docstring)."""
    if f.read(len(OLE_MAGIC)) == OLE_MAGIC:
        raise Unreadable("not a readable DOCX (an OLE compound file: password-protected, or an old .doc renamed)")
    f.seek(0)
    with zipfile.ZipFile(f) as archive:
        members = archive.infolist()
        if max_bytes and sum(member.file_size for member in members) > max_bytes:
            raise Unreadable(f"unzips to more than {max_bytes} bytes (the file_max_bytes setting)")
        for member in members:
            if member.compress_type not in DOCX_COMPRESSION:
                raise Unreadable(f"not a readable DOCX ({member.filename} uses zip compression method {member.compress_type})")
        for member in members:
            with archive.open(member) as data:
                while data.read(INFLATE_CHUNK):
                    pass


class _Layout:
    """The text being built block by block, and the section each heading starts."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.sections: list[tuple[int, tuple[str, ...]]] = []
        self._path: list[tuple[int, str]] = []  # (level, heading) of the headings above

    def block(self, text: str) -> int:
        """Add a block and the blank line after it; where it starts."""
        start = self.size
        self.parts.append(text + "\n\n")
        self.size += len(text) + 2
        return start

    def heading(self, text: str, level: int) -> str:
        """Add a heading block, starting a section below the headings of lower level; its name."""
        name = " ".join(text.split())
        start = self.block(text)
        self._path = [(lvl, above) for lvl, above in self._path if lvl < level] + [(level, name)]
        self.sections.append((start, tuple(above for _, above in self._path)))
        return name


def _extracted(document: Document) -> Extracted:
    """The text, sections and core properties of an opened python-docx `Document`."""
    layout = _Layout()
    first_heading = _body(document, layout)
    for label, notes in _notes(document):
        layout.heading(label, 1)
        for note in notes:
            layout.block(note)
    props = document.core_properties
    when = props.created or props.modified
    return Extracted(
        text="".join(layout.parts),
        title=" ".join((props.title or "").split()) or first_heading,
        author=" ".join((props.author or "").split()),
        date=when.date().isoformat() if when else "",
        sections=_from_the_start(layout.sections),
    )


def _from_the_start(sections: list[tuple[int, tuple[str, ...]]]) -> tuple[tuple[int, tuple[str, ...]], ...]:
    """The sections, with one of no heading (`()`) for the text before the first heading, so
    that every passage of a DOCX has a section."""
    if sections and sections[0][0] == 0:
        return tuple(sections)
    return ((0, ()), *sections)


def _body(document: Document, layout: _Layout) -> str:
    """Lay out the body's paragraphs and tables in order; the first heading's name ("" if none)."""
    from docx.table import Table

    first_heading = ""
    levels: dict[str | None, int | None] = {}
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            rows = _table_rows(block)
            if rows:
                layout.block("\n".join(rows))
            continue
        text = block.text
        if not text.strip():
            continue
        level = _heading_level(block, levels)
        if level is None:
            layout.block(text)
        else:
            name = layout.heading(text, level)
            first_heading = first_heading or name
    return first_heading


def _heading_level(paragraph: Paragraph, levels: dict[str | None, int | None]) -> int | None:
    """1 to 9 for a paragraph in a heading style (Title ranks as 1), else None. `levels` keeps the
    answer per style id: python-docx's `Paragraph.style` searches the styles part on every call
    (2 ms a paragraph with Word's default styles), and has no public accessor for the id."""
    style_id = paragraph._p.style
    if style_id not in levels:
        levels[style_id] = _style_level(paragraph.style)
    return levels[style_id]


def _style_level(style: ParagraphStyle | None) -> int | None:
    """The heading level of a paragraph style, from its name or the name of a style it is based on."""
    for _ in range(STYLE_CHAIN_MAX):
        if style is None:
            return None
        if style.name == TITLE_STYLE:
            return 1
        if match := HEADING_STYLE.fullmatch(style.name or ""):
            return int(match[1])
        style = style.base_style
    return None


def _table_rows(table: Table) -> list[str]:
    """One line per non-empty row: its cells' text, whitespace collapsed, joined by a TAB. A cell
    merged across columns is given once; a nested table's rows are part of its cell's text."""
    rows = []
    for row in table.rows:
        cells = row.cells
        distinct = [cell for i, cell in enumerate(cells) if i == 0 or cell is not cells[i - 1]]
        line = "\t".join(_cell_text(cell) for cell in distinct)
        if line.strip():
            rows.append(line)
    return rows


def _cell_text(cell: _Cell) -> str:
    from docx.table import Table

    pieces = [" ".join(_table_rows(block)) if isinstance(block, Table) else block.text for block in cell.iter_inner_content()]
    return " ".join(" ".join(pieces).split())


NOTES = (  # (relationship of the part, element of one note, label of the section they are put under)
    ("http://schemas.openxmlformats.org/officeDocument/2006/relationships/footnotes", "w:footnote", "Footnotes"),
    ("http://schemas.openxmlformats.org/officeDocument/2006/relationships/endnotes", "w:endnote", "Endnotes"),
)


def _notes(document: Document) -> Iterator[tuple[str, list[str]]]:
    """(label, texts) of the document's footnotes and of its endnotes, where it has some.
    python-docx 1.2 has no API for notes: their part is found by its relationship."""
    for reltype, tag, label in NOTES:
        rels = [rel for rel in document.part.rels.values() if rel.reltype == reltype and not rel.is_external]
        texts = [text for rel in rels for text in _note_texts(rel.target_part.blob, tag)]
        if texts:
            yield label, texts


def _note_texts(xml: bytes, tag: str) -> list[str]:
    """One text per note of a footnotes or endnotes part, its paragraphs one per line (read with
    python-docx's parser; the separators Word keeps among the notes left out)."""
    from docx.oxml import parse_xml
    from docx.oxml.ns import qn

    texts = []
    for note in parse_xml(xml).iterchildren(qn(tag)):
        lines = [p.text for p in note.iterchildren(qn("w:p")) if p.text.strip()]
        if lines and note.get(qn("w:type"), "normal") == "normal":
            texts.append("\n".join(lines))
    return texts
