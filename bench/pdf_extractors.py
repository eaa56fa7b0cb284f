"""PDF text extractors compared on generated PDFs with known text (issue 18: pick by measurement).

    python bench/pdf_extractors.py [--pages 300] [--runs 3] [--work /tmp/qa-pdf-bench]

Generates the PDFs with reportlab (bench/pdf_fixtures.py; nothing binary is committed) and asks
each extractor for every page's text:
- pdfminer.six: `extract_pages` with the default `LAParams()` (layout analysis), text boxes joined;
- pypdf: `PageObject.extract_text()`, plain and `extraction_mode="layout"`;
- pdfplumber: `Page.extract_text()` (its defaults);
- pypdfium2 (pdfplumber's own dependency, BSD/Apache): `PdfTextPage.get_text_range()`.
It checks reading order over two columns (stream in column order, and row by row), whether a
running header and a "Page n of N" footer come out as lines of their own on every page, whether a
line-end hyphen survives, what ligature glyphs come back as, Armenian and Cyrillic text, table
cells in row order, and pages/s on a --pages document (median of --runs).
Prints a table; writes bench/results/pdf-extractors-<cpu>.{md,json}, the CPU named in both.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pdf_fixtures
from pdf_fixtures import Fixture

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("pdfminer.six", "pypdf", "pdfplumber", "pypdfium2", "reportlab")


def pdfminer_pages(path: Path) -> list[str]:
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LAParams, LTTextContainer

    return [
        "".join(el.get_text() for el in page if isinstance(el, LTTextContainer))
        for page in extract_pages(path, laparams=LAParams())
    ]


def pypdf_pages(path: Path, mode: str = "plain") -> list[str]:
    from pypdf import PdfReader

    return [page.extract_text(extraction_mode=mode) for page in PdfReader(path).pages]


def pdfplumber_pages(path: Path) -> list[str]:
    import pdfplumber

    with pdfplumber.open(path) as pdf:
        return [page.extract_text() or "" for page in pdf.pages]


def pypdfium2_pages(path: Path) -> list[str]:
    import pypdfium2

    pdf = pypdfium2.PdfDocument(path)
    try:
        return [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
    finally:
        pdf.close()


EXTRACTORS: dict[str, Callable[[Path], list[str]]] = {
    "pdfminer.six": pdfminer_pages,
    "pypdf": pypdf_pages,
    "pypdf layout": lambda path: pypdf_pages(path, "layout"),
    "pdfplumber": pdfplumber_pages,
    "pypdfium2": pypdfium2_pages,
}


def flat(pages: list[str]) -> str:
    """The text with every run of whitespace (line breaks included) made one space."""
    return " ".join(" ".join(pages).split())


def check_order(pages: list[str], expect: dict) -> str:
    text = flat(pages)
    at = [text.find(sentence) for sentence in expect["order"]]
    if -1 in at:
        return f"broken: {at.count(-1)}/{len(at)} sentences not found whole"
    return "right" if at == sorted(at) else "wrong (columns interleaved)"


def check_furniture(pages: list[str], expect: dict) -> str:
    """Pages on which the header and the footer are each a line of their own."""
    own = 0
    for text, footer in zip(pages, expect["footers"], strict=False):
        lines = {line.strip() for line in text.splitlines()}
        own += expect["header"] in lines and footer in lines
    return f"{own}/{len(expect['footers'])} pages"


def check_hyphen(pages: list[str], expect: dict) -> str:
    head, tail = expect["broken"]
    text = "\n".join(pages)
    if re.search(re.escape(head) + r"\s*\n\s*" + re.escape(tail), text):
        return "kept, line break after it"
    if head + tail in text:
        return "kept, lines joined"
    if head[:-1] + tail in text:
        return "hyphen dropped"
    if head[:-1] + "\ufffe" + tail in text:
        return "hyphen made U+FFFE, lines joined"
    return "broken"


def check_ligatures(pages: list[str], expect: dict) -> str:
    text = flat(pages)
    if expect["plain"] in text:
        return "two letters (fi)"
    if expect["ligature"] in text:
        return "U+FB01 etc. as drawn"
    return "garbled: " + ascii(text[:60])


def check_non_latin(pages: list[str], expect: dict) -> str:
    text = flat(pages)
    found = sum(t in text for t in expect["texts"])
    return "intact" if found == len(expect["texts"]) else f"{found}/{len(expect['texts'])} lines intact"


def check_table(pages: list[str], expect: dict) -> str:
    rows = expect["rows"]
    cells = {cell for row in rows for cell in row}
    seen = [token for token in flat(pages).split() if token in cells]
    if seen == [cell for row in rows for cell in row]:
        return "row order"
    if seen == [row[col] for col in range(len(rows[0])) for row in rows]:
        return "column order"
    return "other order" if sorted(seen) == sorted(cells) else "cells lost"


CHECKS = {
    "two-columns-columns": ("two columns, stream by column", check_order),
    "two-columns-rows": ("two columns, stream by row", check_order),
    "header-footer": ("header, footer own lines", check_furniture),
    "hyphenation": ("line-end hyphen", check_hyphen),
    "ligatures": ("ligature glyphs", check_ligatures),
    "table": ("table cells", check_table),
    "non-latin": ("Armenian, Cyrillic", check_non_latin),
}


def pages_per_second(extract: Callable[[Path], list[str]], fixture: Fixture, runs: int) -> tuple[float, int]:
    times, count = [], 0
    for _ in range(runs):
        t0 = time.perf_counter()
        count = len(extract(fixture.path))
        times.append(time.perf_counter() - t0)
    return fixture.expect["pages"] / statistics.median(times), count


def cpu_name() -> str:
    out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    match = re.search(r"Model name:\s*(.+)", out)
    return match[1].strip() if match else "unknown CPU"


def measure(fixtures: list[Fixture], runs: int) -> dict[str, dict[str, str]]:
    results: dict[str, dict[str, str]] = {}
    for name, extract in EXTRACTORS.items():
        row: dict[str, str] = {}
        for fixture in fixtures:
            if fixture.name in CHECKS:
                label, check = CHECKS[fixture.name]
                row[label] = check(extract(fixture.path), fixture.expect)
            else:
                rate, count = pages_per_second(extract, fixture, runs)
                row[f"pages/s ({fixture.expect['pages']} pages)"] = f"{rate:.1f}" + (
                    f" ({count} pages!)" if count != fixture.expect["pages"] else ""
                )
        results[name] = row
        print(f"{name}: {row}", file=sys.stderr)
    return results


NOTES = """
Notes on the fixtures (bench/pdf_fixtures.py):
- reportlab does no text shaping, so the ligature glyphs are drawn by their code points
  (U+FB01..U+FB03) in DejaVu Sans; a producer whose ToUnicode map gives "fi" for the glyph is not covered.
- The table's cells are drawn column by column in the content stream; ruled, 4 rows × 3 columns.
- "header, footer own lines": the header and the "Page n of N" footer each a whole line on every page.
- pages/s: the whole document's extraction, median of the runs, one process, after the other checks.
"""


def markdown(results: dict[str, dict[str, str]], header: str) -> str:
    names = list(results)
    labels = list(next(iter(results.values())))
    lines = [header, "", "| check | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    lines += [f"| {label} | " + " | ".join(results[n][label] for n in names) + " |" for label in labels]
    return "\n".join(lines) + "\n" + NOTES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=300, help="pages of the speed document")
    parser.add_argument("--runs", type=int, default=3, help="speed runs; the median is reported")
    parser.add_argument("--work", type=Path, default=Path("/tmp/qa-pdf-bench"), help="where the PDFs are generated")
    args = parser.parse_args()
    fixtures = pdf_fixtures.make_all(args.work, args.pages)
    results = measure(fixtures, args.runs)
    cpu = cpu_name()
    versions = {p: importlib.metadata.version(p) for p in PACKAGES}
    command = f"python bench/pdf_extractors.py --pages {args.pages} --runs {args.runs}"
    date = datetime.date.today().isoformat()
    header = (
        f"Measured {date} on {cpu}, Python {sys.version.split()[0]}: `{command}`\n\n"
        + "Versions: "
        + ", ".join(f"{p} {v}" for p, v in versions.items())
    )
    table = markdown(results, header)
    print(table)
    slug = re.sub(r"[^a-z0-9]+", "-", re.sub(r"\(.*?\)|processor|\d+-core", "", cpu.lower())).strip("-")
    out = ROOT / "bench" / "results" / f"pdf-extractors-{slug}"
    out.with_suffix(".md").write_text(table, encoding="utf-8")
    record = {
        "date": date,
        "cpu": cpu,
        "python": sys.version.split()[0],
        "command": command,
        "versions": versions,
        "results": results,
    }
    out.with_suffix(".json").write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out}.md and .json", file=sys.stderr)


if __name__ == "__main__":
    main()
