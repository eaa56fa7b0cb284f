"""qa.ingest.docx_text on DOCX files written here with python-docx: known paragraphs under known
headings, a table, core properties, footnotes, and broken or hostile zips."""

from __future__ import annotations

import datetime
import os
import struct
import tracemalloc
import zipfile
from pathlib import Path

import docx
import pytest
from docx.opc.constants import CONTENT_TYPE, RELATIONSHIP_TYPE
from docx.opc.packuri import PackURI
from docx.opc.part import Part

from qa.index.build import build_index
from qa.ingest.documents import Document, binary_document, read_file
from qa.ingest.docx_text import read_docx
from qa.ingest.extracted import Unreadable
from qa.ingest.passages import make_passages
from qa.retrieve.searcher import Searcher

from .conftest import FakeEmbedder, fake_settings
from .docx_bomb import write_docx_bomb

TITLE = "Harbour Works Report"
AUTHOR = "Ada Lovelace"
CREATED = datetime.datetime(2021, 3, 14, 9, 26, tzinfo=datetime.timezone.utc)
INTRO = "This report covers the harbour works of the year and what they cost the town."
HINDI = "उत्तरी घाट का निर्माण जून में पूरा हुआ। जहाज फिर से बंदरगाह पर रुकते हैं।"
TABLE = [
    ("Item", "Cost", "Supplier"),
    ("Granite blocks", "1200 crowns", "Aberdeen quarries"),
    ("Lighthouse lamp", "300 crowns", "Brass fitters of Leith"),
]
# (heading level, heading) or (None, paragraph), in document order; the table comes after "2.1 Costs"
REPORT = [
    (None, INTRO),
    (1, "1 Introduction"),
    (None, "The harbour board rebuilt the north pier in stone. Ships could moor there again by June."),
    (2, "1.1 Scope"),
    (None, "The works covered the north pier, the breakwater and the lighthouse on the point."),
    (1, "2 Results"),
    (2, "2.1 Costs"),
    (None, "The costs were higher than planned because the price of granite rose in spring."),
    (None, HINDI),
    (2, "2.2 Schedule"),
    (None, "The lighthouse was lit again in September, three weeks late."),
]
PATHS = {  # the heading path of each heading of REPORT
    "1 Introduction": ("1 Introduction",),
    "1.1 Scope": ("1 Introduction", "1.1 Scope"),
    "2 Results": ("2 Results",),
    "2.1 Costs": ("2 Results", "2.1 Costs"),
    "2.2 Schedule": ("2 Results", "2.2 Schedule"),
}


def write_report(path: Path, title: str = TITLE) -> Path:
    document = docx.Document()
    document.core_properties.title = title
    document.core_properties.author = AUTHOR
    document.core_properties.created = CREATED
    for level, text in REPORT:
        if level is None:
            document.add_paragraph(text)
        else:
            document.add_heading(text, level)
        if text == "2.1 Costs":
            table = document.add_table(rows=len(TABLE), cols=len(TABLE[0]))
            for row, values in zip(table.rows, TABLE, strict=True):
                for cell, value in zip(row.cells, values, strict=True):
                    cell.text = value
    document.add_paragraph("")  # an empty paragraph: left out
    document.save(str(path))
    return path


def add_footnotes(document: docx.document.Document, notes: list[str]) -> None:
    """A footnotes part as Word writes one (its separators first), which python-docx cannot add."""
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    body = "".join(
        f'<w:footnote w:id="{i}"><w:p><w:r><w:t>{note}</w:t></w:r></w:p></w:footnote>' for i, note in enumerate(notes, 1)
    )
    xml = (
        f'<w:footnotes xmlns:w="{w}"><w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:footnote>'
        f'<w:footnote w:type="continuationSeparator" w:id="0"><w:p><w:r><w:continuationSeparator/></w:r></w:p></w:footnote>'
        f"{body}</w:footnotes>"
    )
    part = Part(PackURI("/word/footnotes.xml"), CONTENT_TYPE.WML_FOOTNOTES, xml.encode(), document.part.package)
    document.part.relate_to(part, RELATIONSHIP_TYPE.FOOTNOTES)


def expected_section(text: str, start: int) -> tuple[str, ...]:
    """The heading path of the last heading of REPORT whose line starts at or before `start`."""
    at = [(text.index(f"\n{h}\n") + 1, path) for h, path in PATHS.items()]
    before = [path for offset, path in sorted(at) if offset <= start]
    return before[-1] if before else ()


def test_paragraphs_and_table_rows_are_lines_in_document_order(tmp_path: Path) -> None:
    text = read_docx(write_report(tmp_path / "report.docx")).text
    lines = text.split("\n")
    rows = ["\t".join(row) for row in TABLE]
    for line in [t for _, t in REPORT] + rows:
        assert line in lines
    order = [t for _, t in REPORT[:7]] + rows + [t for _, t in REPORT[7:]]
    positions = [text.index(line) for line in order]
    assert positions == sorted(positions)
    assert "\n\n".join(rows) not in text and "\n".join(rows) in text  # a table is one block, a row per line
    assert f"{INTRO}\n\n1 Introduction\n\n" in text  # a blank line between blocks
    assert "\n\n\n" not in text  # the empty paragraph is left out


def test_each_heading_starts_a_section_with_its_heading_path(tmp_path: Path) -> None:
    found = read_docx(write_report(tmp_path / "report.docx"))
    headed = tuple((found.text.index(f"\n{h}\n") + 1, path) for h, path in PATHS.items())
    assert found.sections == ((0, ()), *headed)  # the introduction before the first heading: no heading
    doc = Document("d", "", found.text, "", sections=found.sections)
    for _, text in REPORT:
        start = found.text.index(text)
        assert doc.location(start, start + len(text)).section == expected_section(found.text, start)
    costs = found.text.index("Granite blocks")
    assert doc.location(costs, costs + 10).section == ("2 Results", "2.1 Costs")
    assert doc.location(0, len(INTRO)).section == ()  # before the first heading


def test_title_author_and_date_come_from_the_core_properties(tmp_path: Path) -> None:
    found = read_docx(write_report(tmp_path / "report.docx"))
    assert (found.title, found.author, found.date) == (TITLE, AUTHOR, "2021-03-14")


def test_without_a_title_property_the_first_heading_is_the_title(tmp_path: Path) -> None:
    assert read_docx(write_report(tmp_path / "report.docx", title="")).title == "1 Introduction"
    document = docx.Document()
    document.add_paragraph("A short note with no heading at all.")
    document.add_heading("Later Heading", 0)  # the Title style
    document.save(str(tmp_path / "note.docx"))
    found = read_docx(tmp_path / "note.docx")
    assert found.title == "Later Heading" and found.sections == ((0, ()), (found.text.index("Later Heading"), ("Later Heading",)))


def test_a_document_without_headings_is_titled_by_its_first_line(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("Minutes of the harbour board meeting.")
    document.add_paragraph("The board met on Tuesday.")
    document.save(str(tmp_path / "minutes.docx"))
    assert read_docx(tmp_path / "minutes.docx").title == ""
    doc = binary_document(tmp_path / "minutes.docx", "minutes.docx", "minutes.docx")
    assert doc.title == "Minutes of the harbour board meeting." and doc.sections == ((0, ()),)


def test_every_passage_is_an_exact_slice_cited_by_its_heading_path(tmp_path: Path) -> None:
    doc = binary_document(write_report(tmp_path / "report.docx"), "report.docx", "report.docx")
    passages = make_passages(doc, 120, 200, 1)  # small passages: several sections, several passages
    assert len(passages) > 3
    for p in passages:
        assert doc.text[p.start : p.end] == p.text
        assert doc.location(p.start, p.end).section == expected_section(doc.text, p.start)
        assert expected_section(doc.text, p.end - 1) == expected_section(doc.text, p.start)  # a passage is in one section
    assert any("Granite blocks\t1200 crowns\tAberdeen quarries" in p.text for p in passages)
    assert any(HINDI in p.text for p in passages)


def test_a_table_row_is_found_by_a_search_and_cited_by_its_section(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_report(corpus / "report.docx")
    settings = fake_settings(tmp_path, corpus=corpus)
    build_index(settings, FakeEmbedder())
    top = Searcher.open(settings, FakeEmbedder()).search("granite blocks from the Aberdeen quarries", 1).hits[0].to_dict()
    assert "Granite blocks\t1200 crowns\tAberdeen quarries" in top["text"]
    assert top["section"] == ["2 Results", "2.1 Costs"] and top["document"]["author"] == AUTHOR


def test_a_cell_merged_across_columns_is_given_once(tmp_path: Path) -> None:
    document = docx.Document()
    table = document.add_table(rows=2, cols=3)
    table.cell(0, 0).merge(table.cell(0, 1)).text = "Spring works"
    table.cell(0, 2).text = "Autumn works"
    for cell, value in zip(table.rows[1].cells, ["pier", "breakwater", "lamp"], strict=True):
        cell.text = value
    document.save(str(tmp_path / "merged.docx"))
    assert read_docx(tmp_path / "merged.docx").text == "Spring works\tAutumn works\npier\tbreakwater\tlamp\n\n"


def test_footnotes_follow_the_body_in_their_own_section(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_heading("1 Costs", 1)
    document.add_paragraph("Granite cost more than planned.")
    add_footnotes(document, ["Prices from the Aberdeen quarry ledger.", "Converted at the 1921 rate."])
    document.save(str(tmp_path / "notes.docx"))
    found = read_docx(tmp_path / "notes.docx")
    assert found.text == (
        "1 Costs\n\nGranite cost more than planned.\n\n"
        "Footnotes\n\nPrices from the Aberdeen quarry ledger.\n\nConverted at the 1921 rate.\n\n"
    )
    assert found.sections == ((0, ("1 Costs",)), (found.text.index("Footnotes"), ("Footnotes",)))


def test_binary_document_and_read_file_read_a_docx(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    (corpus / "reports").mkdir(parents=True)
    path = write_report(corpus / "reports" / "harbour.docx")
    (doc,) = read_file(path, corpus, "corpus/reports/harbour.docx")
    assert (doc.id, doc.source, doc.title, doc.author, doc.date) == (
        "reports/harbour.docx",
        "corpus/reports/harbour.docx",
        TITLE,
        AUTHOR,
        "2021-03-14",
    )
    assert [path for _, path in doc.sections] == [(), *PATHS.values()] and doc.pages == () and doc.junk == ()
    assert doc == binary_document(path, "reports/harbour.docx", "corpus/reports/harbour.docx")
    assert doc.to_dict()["sections"][1] == [doc.text.index("1 Introduction"), ["1 Introduction"]]


def unreadable_reason(path: Path, max_bytes: int = 0) -> str:
    with pytest.raises(Unreadable) as caught:
        read_docx(path, max_bytes)
    return str(caught.value)


def test_a_truncated_or_random_file_is_not_a_readable_docx(tmp_path: Path) -> None:
    whole = write_report(tmp_path / "whole.docx").read_bytes()
    (tmp_path / "truncated.docx").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "random.docx").write_bytes(os.urandom(4096))
    (tmp_path / "empty.docx").write_bytes(b"")
    for name in ("truncated.docx", "random.docx", "empty.docx"):
        assert unreadable_reason(tmp_path / name) == "not a readable DOCX (BadZipFile: File is not a zip file)"


def test_a_zip_without_its_main_document_is_not_a_readable_docx(tmp_path: Path) -> None:
    with zipfile.ZipFile(write_report(tmp_path / "whole.docx")) as whole, zipfile.ZipFile(tmp_path / "gutted.docx", "w") as out:
        for name in whole.namelist():
            if name != "word/document.xml":
                out.writestr(name, whole.read(name))
    assert unreadable_reason(tmp_path / "gutted.docx") == (
        "not a readable DOCX (KeyError: There is no item named 'word/document.xml' in the archive)"
    )
    with zipfile.ZipFile(tmp_path / "photos.docx", "w") as out:
        out.writestr("holiday.txt", "not a Word document")
    assert "[Content_Types].xml" in unreadable_reason(tmp_path / "photos.docx")


def test_a_password_protected_word_file_is_named_as_such(tmp_path: Path) -> None:
    # Word encrypts a .docx into an OLE compound file; its first 8 bytes are the OLE signature
    (tmp_path / "secret.docx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + os.urandom(4088))
    assert "password-protected" in unreadable_reason(tmp_path / "secret.docx")


def test_a_zip_compressed_otherwise_than_a_docx_may_be_is_refused(tmp_path: Path) -> None:
    whole = zipfile.ZipFile(write_report(tmp_path / "whole.docx"))
    with whole, zipfile.ZipFile(tmp_path / "bzip2.docx", "w", zipfile.ZIP_BZIP2) as out:
        for name in whole.namelist():
            out.writestr(name, whole.read(name))
    assert "uses zip compression method 12" in unreadable_reason(tmp_path / "bzip2.docx")


BOMB_SPACES = 200 << 20


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real DOCX whose word/document.xml has 200 MB of spaces inside its XML: about 200 KB on disk."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.docx"
    write_docx_bomb(path, BOMB_SPACES)
    return path


def test_a_zip_bomb_is_refused_by_its_declared_size_before_anything_is_inflated(bomb: Path, tmp_path: Path) -> None:
    assert bomb.stat().st_size < 1 << 20
    assert unreadable_reason(bomb, max_bytes=100_000_000) == "unzips to more than 100000000 bytes (the file_max_bytes setting)"
    assert INTRO in read_docx(write_report(tmp_path / "report.docx"), max_bytes=100_000_000).text  # a real one is read


def test_a_zip_bomb_that_understates_its_size_is_not_inflated_past_it(bomb: Path, tmp_path: Path) -> None:
    """A member whose directory entry and local header claim 1 KB: zipfile would inflate all of it
    in one call inside python-docx; the check inflates in chunks and stops at the claimed size."""
    with zipfile.ZipFile(bomb) as archive:
        member = archive.getinfo("word/document.xml")
    liar = bytearray(bomb.read_bytes())
    struct.pack_into("<I", liar, member.header_offset + 22, 1024)  # the local header's uncompressed size
    entry = liar.index(b"PK\x01\x02")  # the central directory's entries: find this member's
    while liar[entry + 46 : entry + 46 + len(member.filename)] != member.filename.encode():
        entry = liar.index(b"PK\x01\x02", entry + 4)
    struct.pack_into("<I", liar, entry + 24, 1024)  # its uncompressed size
    (tmp_path / "liar.docx").write_bytes(liar)
    tracemalloc.start()
    try:
        reason = unreadable_reason(tmp_path / "liar.docx", max_bytes=100_000_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert reason == "not a readable DOCX (BadZipFile: Bad CRC-32 for file 'word/document.xml')"
    assert peak < BOMB_SPACES // 10


def test_an_unreadable_docx_becomes_a_corpus_error_naming_the_file(tmp_path: Path) -> None:
    from qa.errors import CorpusError

    (tmp_path / "broken.docx").write_bytes(write_report(tmp_path / "whole.docx").read_bytes()[:1000])
    with pytest.raises(CorpusError, match=r"^corpus/broken\.docx: not a readable DOCX \(BadZipFile"):
        binary_document(tmp_path / "broken.docx", "broken.docx", "corpus/broken.docx")
