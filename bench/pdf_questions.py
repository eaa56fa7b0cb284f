"""Real questions asked of a real multi-page PDF, with the page each answer is cited on.

    python bench/pdf_questions.py [--work /tmp/qa-pdf-questions] "question" ...

Lays the default corpus's Wikipedia article on the Second Nagorno-Karabakh War out as an A4
report (tests/drawn_pdf.py: 10 pt type, a running header and "Page n of N" on every page), builds
an index of that one PDF with the real model, and prints each question's first three hits: the
page (or pages) they are cited on and the answering sentence.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
WAR = "001_4cb7d0521dd44a67.txt"
QUESTIONS = [
    "When did Azerbaijan launch its offensive?",
    "How many people died in the 44-day war?",
    "Who brokered the ceasefires?",
    "When was the ceasefire agreement signed?",
    "Which country did Canada suspend arms exports to?",
    "Which drones did Azerbaijan use?",
]


def main() -> None:
    from drawn_pdf import draw_report

    from qa.config import Settings
    from qa.encode.cpu import describe
    from qa.encode.embedder import SentenceTransformerEmbedder
    from qa.index.build import build_index
    from qa.ingest.cleaning import prose_regions
    from qa.ingest.documents import read_corpus
    from qa.retrieve.searcher import Searcher

    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, default=Path("/tmp/qa-pdf-questions"))
    parser.add_argument("questions", nargs="*", default=QUESTIONS)
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    (args.work / "corpus").mkdir(parents=True)
    doc = {d.id: d for d in read_corpus(ROOT / "corpus")}[WAR]
    lines = [line for s, e in prose_regions(doc.text, doc.title) for line in doc.text[s:e].split("\n") if line.strip()]
    drawn = draw_report(args.work / "corpus" / "war-report.pdf", doc.title, lines, header=f"{doc.title}: a report")
    settings = Settings.load(env={}, corpus_dir=args.work / "corpus", index_dir=args.work / "index")
    build_index(settings, SentenceTransformerEmbedder(settings.model, 0, settings.build_precision))
    searcher = Searcher.open(settings)
    print(f"{describe()}; war-report.pdf: {drawn[-1][1]} pages\n")
    print("| question | rank | page | answering sentence |\n|---|---|---|---|")
    for question in args.questions:
        for hit in searcher.search(question, 3).hits:
            where = hit.location()
            pages = f"{where.page}" if where.page == where.page_end else f"{where.page}–{where.page_end}"
            sentence = " ".join(hit.passage.text[hit.highlight[0] : hit.highlight[1]].split())
            print(f"| {question} | {hit.rank} | {pages} | {sentence[:160]} |")


if __name__ == "__main__":
    main()
