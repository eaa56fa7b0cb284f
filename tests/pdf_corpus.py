"""A small corpus folder with PDFs drawn here with reportlab, known sentences on known pages,
for the web tests (test_pdf_web, test_browser): a report with a running header and page
numbers, a ledger whose one sentence crosses a page break, council minutes written with
python-docx (a heading path per section), and a text file beside them."""

from __future__ import annotations

from pathlib import Path

import docx

from .drawn_pdf import draw_pages

HEADER = "Harbour Board Annual Report"
REPORT_TITLE = "Harbour Board Annual Report 1921"
REPORT_AUTHOR = "Harbour Board"
REPORT = [  # the body of each page of report.pdf, line by line
    ["The east pier was rebuilt in granite after the winter storms.", "Masons from Aberdeen cut every granite block by hand."],
    ["Ships moored at the east pier paid a toll of two shillings.", "The toll money paid for a new lighthouse lamp."],
    ["A steam crane lifted coal from the colliers in the outer basin.", "The crane driver worked shifts of twelve hours."],
]
LEDGER = [  # ledger.pdf: its one sentence goes on from page 1 to page 2 (no header or footer)
    ["The ledger of the quartermaster lists the cargo of every"],
    ["schooner that docked in the spring, with its tonnage and port."],
]
LEDGER_TITLE = "The quartermaster's ledger"  # (without one, its first line would be the title, which passages leave out)
MINUTES = [  # minutes.docx: (heading level, heading, the paragraph under it)
    (1, "1 Budget", "The council set the budget for dredging the river at four hundred pounds."),
    (2, "1.1 Costs", "Dredging the river mouth cost three hundred pounds in the spring."),
]
MINUTES_AUTHOR = "Town clerk"
NOTES = "Harbour notes\n\nThe harbour master keeps a garden of roses behind the customs house.\n"


def write_minutes(path: Path) -> Path:
    """A DOCX of headings (Heading 1, Heading 2) with a paragraph under each."""
    document = docx.Document()
    document.core_properties.title = "Council minutes"
    document.core_properties.author = MINUTES_AUTHOR
    for level, heading, paragraph in MINUTES:
        document.add_heading(heading, level)
        document.add_paragraph(paragraph)
    document.save(str(path))
    return path


def write_corpus(folder: Path) -> Path:
    """report.pdf, minutes.docx, notes/ledger.pdf and notes/harbour.txt in `folder` (made if missing)."""
    (folder / "notes").mkdir(parents=True, exist_ok=True)
    write_minutes(folder / "minutes.docx")
    draw_pages(folder / "report.pdf", REPORT, HEADER, REPORT_TITLE, REPORT_AUTHOR)
    draw_pages(folder / "notes" / "ledger.pdf", LEDGER, title=LEDGER_TITLE)
    (folder / "notes" / "harbour.txt").write_text(NOTES, encoding="utf-8")
    return folder
