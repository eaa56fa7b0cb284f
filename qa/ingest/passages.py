"""Cutting documents into passages: sentence-aware, sized, overlapping, each an exact slice.

Sentences come from `sentencex` (Wikimedia's segmenter) inside the prose regions that
`cleaning.prose_regions` finds, less a document's junk spans; a DOCX's section starts end a
region, so a passage lies in one section. A passage is a run of whole sentences; only a single
sentence longer than the maximum is cut, at a word boundary.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

import sentencex

from .cleaning import REFERENCE_MARKER, prose_regions, trim_span
from .documents import Document

# A line break ends a paragraph unless the next line goes on in lower case (hard-wrapped prose).
PARAGRAPH_BREAK = re.compile(r"\n(?=[ \t\r]*(?![a-z])\S)")
# In a PDF's text every line is wrapped where the page ended it: only a blank line (between
# pdfminer's text boxes) ends a paragraph, and not when the text goes on in lower case (a
# paragraph that runs on over a page or column break).
BLANK_LINE = re.compile(r"\n[ \t\r]*\n(?=\s*(?![a-z])\S)")
LINE_BREAKS = re.compile(r"[\r\n]+")
LEADING_MARKER = re.compile(REFERENCE_MARKER.pattern + r"\s*", re.I)


@dataclass(frozen=True)
class Passage:
    id: str
    doc_id: str
    start: int  # offsets of `text` in the document's text
    end: int
    text: str
    sentences: tuple[tuple[int, int], ...]  # offsets of each sentence inside `text`

    def overlaps(self, other: Passage) -> bool:
        """True when both cite some of the same characters of the same document."""
        return self.doc_id == other.doc_id and self.start < other.end and other.start < self.end


def passage_id(doc_id: str, start: int, text: str) -> str:
    """Stable across rebuilds of an unchanged document; changes whenever its text moves or changes."""
    digest = hashlib.sha256(f"{doc_id}\0{start}\0{text}".encode()).hexdigest()
    return digest[:16]


def split_sentences(text: str, start: int, end: int, wrapped: bool = False) -> list[tuple[int, int]]:
    """Whitespace-trimmed sentence offsets within text[start:end]. `wrapped` text (a PDF's) has
    its line breaks where the page put them: only BLANK_LINE ends a paragraph, and the segmenter
    sees the line breaks inside one as spaces."""
    spans: list[tuple[int, int]] = []
    para_start = start
    for brk in [m.start() for m in (BLANK_LINE if wrapped else PARAGRAPH_BREAK).finditer(text, start, end)] + [end]:
        chunk = text[para_start:brk]
        if wrapped:  # same length: offsets stay those of `text`
            chunk = LINE_BREAKS.sub(lambda m: " " * len(m.group()), chunk)
        for b in sentencex.get_sentence_boundaries("en", chunk):
            s, e = trim_span(text, para_start + b["start_index"], para_start + b["end_index"])
            while (marker := LEADING_MARKER.match(text, s, e)) and marker.end() < e:
                s = marker.end()  # "[d] The war lasted..." starts at "The"
            if s < e:
                spans.append((s, e))
        para_start = brk
    return spans


def cut_long(span: tuple[int, int], text: str, max_chars: int) -> list[tuple[int, int]]:
    """Cut one over-long sentence into pieces of at most `max_chars`, at spaces where possible."""
    start, end = span
    pieces = []
    while end - start > max_chars:
        cut = text.rfind(" ", start + 1, start + max_chars + 1)
        cut = cut if cut > start else start + max_chars
        s, e = trim_span(text, start, cut)
        pieces.append((s, e))
        start, _ = trim_span(text, cut, end)
    pieces.append((start, end))
    return pieces


def group_sentences(sentences: list[tuple[int, int]], target: int, maximum: int, overlap: int) -> list[tuple[int, int]]:
    """(first, last+1) sentence index ranges: close at `target` chars, never pass `maximum`."""
    groups = []
    i = 0
    while i < len(sentences):
        j = i + 1
        while (
            j < len(sentences) and sentences[j - 1][1] - sentences[i][0] < target and sentences[j][1] - sentences[i][0] <= maximum
        ):
            j += 1
        groups.append((i, j))
        if j >= len(sentences):
            break
        i = max(j - overlap, i + 1)
    return groups


def make_passages(doc: Document, target: int, maximum: int, overlap: int) -> list[Passage]:
    passages = []
    for region_start, region_end in passage_regions(doc):
        sentences = [
            piece
            for span in split_sentences(doc.text, region_start, region_end, wrapped=bool(doc.pages))
            for piece in cut_long(span, doc.text, maximum)
        ]
        for first, last in group_sentences(sentences, target, maximum, overlap):
            start, end = sentences[first][0], sentences[last - 1][1]
            text = doc.text[start:end]
            passages.append(
                Passage(
                    id=passage_id(doc.id, start, text),
                    doc_id=doc.id,
                    start=start,
                    end=end,
                    text=text,
                    sentences=tuple((s - start, e - start) for s, e in sentences[first:last]),
                )
            )
    return passages


def passage_regions(doc: Document) -> list[tuple[int, int]]:
    """The spans of a document's text that passages are cut from: its prose, ended at each
    section start (DOCX), with its junk spans (a PDF's running headers and footers) left out."""
    regions = prose_regions(doc.text, doc.title, breaks={start for start, _ in doc.sections})
    return without(regions, doc.junk, doc.text)


def without(regions: list[tuple[int, int]], junk: Iterable[tuple[int, int]], text: str) -> list[tuple[int, int]]:
    """`regions` with the `junk` spans cut out (each piece whitespace-trimmed, empty ones dropped)."""
    for cut_start, cut_end in sorted(junk):
        pieces: list[tuple[int, int]] = []
        for start, end in regions:
            if cut_end <= start or end <= cut_start:
                pieces.append((start, end))
                continue
            pieces += [trim_span(text, start, cut_start), trim_span(text, cut_end, end)]
        regions = [(s, e) for s, e in pieces if s < e]
    return regions


def passages_of(docs: Iterable[Document], target: int, maximum: int, overlap: int) -> list[Passage]:
    return [p for doc in docs for p in make_passages(doc, target, maximum, overlap)]
