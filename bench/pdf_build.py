"""A long PDF end to end: extraction pages/s, `qa build` time, and whether answers are cited on the right page.

    python bench/pdf_build.py [--pages 300] [--questions 300] [--work /tmp/qa-pdf-build]

Lays out SQuAD v1.1 dev articles (real third-party prose; nothing here is tuned, so all 48 are
used) as one A4 report with reportlab: a heading per article, its paragraphs, a running header
and a "Page n" footer on every page, with about --pages pages. Then, on this CPU:
- extraction: `qa.ingest.pdf_text.read_pdf` pages/s (median of 3);
- build: `qa build --full` over a folder holding only that PDF, in a fresh process, wall time;
  and the same text as one .txt file (what reading the PDF adds);
- questions: up to --questions of the SQuAD questions whose paragraph is in the report, asked
  of the PDF's index. "answer@k": a gold answer is in one of the first k passages (whitespace
  made single spaces). "page right": for the first hit holding the answer, the page pypdf (an
  independent extractor) finds the answer on is within the hit's page..page_end.
Writes bench/results/pdf-build-<cpu>.{md,json}, the CPU named in both.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
HEADER = "SQuAD v1.1 dev: a generated report"
CHARS_PER_PAGE = 5600  # of SQuAD prose in reportlab's BodyText style on A4, measured


def report_paragraphs(pages: int) -> tuple[list[tuple[str, list[dict]]], list]:
    """(title, paragraphs) of the dev articles in order, enough for about `pages` A4 pages, and
    the questions of those paragraphs."""
    from qa.eval.datasets import load_dataset

    data = load_dataset("squad")
    articles: dict[str, list[dict]] = {}
    chars = 0
    for doc in data.documents or []:
        if chars < pages * CHARS_PER_PAGE:
            articles.setdefault(doc["title"], []).append(doc)
            chars += len(doc["text"])
    kept = {doc["id"] for docs in articles.values() for doc in docs}
    return list(articles.items()), [q for q in data.questions if q.relevant and set(q.relevant) <= kept]


def draw_report(path: Path, articles: list[tuple[str, list[dict]]]) -> int:
    """Write the report; returns its page count."""
    from xml.sax.saxutils import escape

    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    styles = getSampleStyleSheet()

    def furniture(canvas, doc) -> None:
        canvas.setFont("Helvetica", 8)
        canvas.drawString(72, A4[1] - 40, HEADER)
        canvas.drawCentredString(A4[0] / 2, 30, f"Page {doc.page}")

    story = []
    for title, docs in articles:
        story.append(Paragraph(escape(title.replace("_", " ")), styles["Heading2"]))
        story += [Paragraph(escape(doc["text"]), styles["BodyText"]) for doc in docs]
    template = SimpleDocTemplate(str(path), pagesize=A4, title="SQuAD held-out report", author="bench/pdf_build.py")
    template.build(story, onFirstPage=furniture, onLaterPages=furniture)
    return template.page


def timed_build(corpus: Path, index: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "qa", "build", "--full", "--corpus", str(corpus), "--index", str(index)],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    return time.perf_counter() - started


def flat(text: str) -> str:
    return " ".join(text.split())


def answer_pages(path: Path) -> list[str]:
    """Each page's text by pypdf, whitespace made single spaces: where an answer really is."""
    from pypdf import PdfReader

    return [flat(page.extract_text()) for page in PdfReader(path).pages]


def ask(index: Path, corpus: Path, questions: list, pages: list[str]) -> dict:
    from qa.config import Settings
    from qa.retrieve.searcher import Searcher

    searcher = Searcher.open(Settings.load(index_dir=index, corpus_dir=corpus))
    at1 = at5 = page_right = page_checked = 0
    for q in questions:
        hits = searcher.search(q.text, 5).hits
        holding = [h for h in hits if any(flat(a) in flat(h.passage.text) for a in q.answers)]
        at1 += bool(holding) and holding[0] is hits[0]
        at5 += bool(holding)
        if holding:
            where = holding[0].location()
            found = [n for n, text in enumerate(pages, 1) if any(flat(a) in text for a in q.answers)]
            if found and where.page is not None:
                page_checked += 1
                page_right += any(where.page <= n <= (where.page_end or where.page) for n in found)
    n = len(questions)
    return {
        "questions": n,
        "answer@1": round(at1 / n, 3),
        "answer@5": round(at5 / n, 3),
        "page right": round(page_right / max(page_checked, 1), 3),
        "pages checked": page_checked,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--work", type=Path, default=Path("/tmp/qa-pdf-build"))
    args = parser.parse_args()
    from qa.encode.cpu import describe as cpu_name  # model name and SIMD flags
    from qa.ingest.pdf_text import read_pdf

    pdf_corpus, txt_corpus = args.work / "pdf-corpus", args.work / "txt-corpus"
    for folder in (pdf_corpus, txt_corpus):
        folder.mkdir(parents=True, exist_ok=True)
    articles, questions = report_paragraphs(args.pages)
    pdf = pdf_corpus / "report.pdf"
    pages = draw_report(pdf, articles)
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        text = read_pdf(pdf).text
        runs.append(time.perf_counter() - started)
    (txt_corpus / "report.txt").write_text(text, encoding="utf-8")
    result = {
        "cpu": cpu_name(),
        "command": "python bench/pdf_build.py " + " ".join(sys.argv[1:]),
        "pages": pages,
        "characters": len(text),
        "extraction pages/s": round(pages / statistics.median(runs), 1),
        "build seconds (pdf)": round(timed_build(pdf_corpus, args.work / "pdf-index"), 1),
        "build seconds (same text as .txt)": round(timed_build(txt_corpus, args.work / "txt-index"), 1),
    }
    sample = random.Random(0).sample(questions, min(args.questions, len(questions)))
    result["pdf index"] = ask(args.work / "pdf-index", pdf_corpus, sample, answer_pages(pdf))
    write(result)


def write(result: dict) -> None:
    from qa.encode.cpu import name

    slug = re.sub(r"[^a-z0-9]+", "-", name().lower()).strip("-")
    out = ROOT / "bench" / "results" / f"pdf-build-{slug}"
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    rows = [f"| {key} | {value} |" for key, value in result.items() if not isinstance(value, dict)]
    rows += [f"| {key}: {name} | {value} |" for key, d in result.items() if isinstance(d, dict) for name, value in d.items()]
    out.with_suffix(".md").write_text("| measure | value |\n|---|---|\n" + "\n".join(rows) + "\n", encoding="utf-8")
    print(out.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
