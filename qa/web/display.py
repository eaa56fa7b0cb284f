"""What the pages show of a document, every character verbatim.

- `shown_source`: a document's source path relative to the corpus folder, never the server's
  absolute path (search.js applies the same rule to API results, given `source_prefix`).
- `text_parts`: the document text cut for the document view: the cited passage, its answering
  sentence, and the runs that `cleaning.prose_regions` leaves out of passages (infobox rows,
  page furniture), which the page shows faded.
- `without_bidi_controls`: text for the <title>, where no element can isolate it: a question
  or title with U+202E (right-to-left override) would otherwise turn "· Ask the documents"
  around. In the page itself such text is shown whole, inside <bdi>.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..ingest.cleaning import prose_regions, trim_span
from ..ingest.documents import Document, display_path

ABSOLUTE = re.compile(r"^(?:/|\\|[A-Za-z]:[\\/])")  # search.js has the same pattern
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")  # embeddings, overrides, isolates (search.js too)
Piece = tuple[str, bool]  # (text, left out of passages by the cleaner)


def source_prefix(corpus_dir: Path) -> str:
    """The corpus folder as document sources spell it (`qa build` records them so), with a final "/"."""
    prefix = display_path(corpus_dir, Path.cwd()).rstrip("/")
    return "" if prefix in ("", ".") else prefix + "/"


def shown_source(source: str, prefix: str) -> str:
    """`source` relative to the corpus folder; an absolute path outside it is cut to its file name."""
    if prefix and source.startswith(prefix):
        return source[len(prefix) :]
    if ABSOLUTE.match(source):
        return re.split(r"[\\/]", source)[-1]
    return source


def without_bidi_controls(text: str) -> str:
    """`text` without bidi embeddings, overrides and isolates; right-to-left script still reads
    right to left (that comes from its letters, not from these controls)."""
    return BIDI_CONTROLS.sub("", text)


def left_out(doc: Document) -> list[tuple[int, int]]:
    """Offsets of the non-blank runs between the prose regions: what no passage ever quotes."""
    bounds = [0, *(offset for region in prose_regions(doc.text, doc.title) for offset in region), len(doc.text)]
    gaps = (trim_span(doc.text, bounds[i], bounds[i + 1]) for i in range(0, len(bounds), 2))
    return [(start, end) for start, end in gaps if start < end]


def pieces(text: str, junk: list[tuple[int, int]], lo: int, hi: int) -> list[Piece]:
    """text[lo:hi] as consecutive pieces, each flagged when it lies in a `junk` span."""
    out: list[Piece] = []
    pos = lo
    for start, end in junk:
        start, end = max(start, lo), min(end, hi)
        if start >= end:
            continue
        if pos < start:
            out.append((text[pos:start], False))
        out.append((text[start:end], True))
        pos = end
    if pos < hi:
        out.append((text[pos:hi], False))
    return out


@dataclass(frozen=True)
class TextParts:
    """The document text in five consecutive parts; joined, they are the text exactly."""

    before: list[Piece]
    passage_head: list[Piece]  # the cited passage up to its answering sentence
    sentence: list[Piece]
    passage_tail: list[Piece]
    after: list[Piece]
    faded: bool  # some text is left out of passages

    def all(self) -> list[Piece]:
        return self.before + self.passage_head + self.sentence + self.passage_tail + self.after


def text_parts(doc: Document, passage: tuple[int, int], sentence: tuple[int, int]) -> TextParts:
    """Cut `doc.text` at a passage (empty: none) and a sentence inside it (empty: none)."""
    start, end = passage
    s_start, s_end = sentence if start <= sentence[0] <= sentence[1] <= end else (start, start)
    junk = left_out(doc)
    cuts = [0, start, s_start, s_end, end, len(doc.text)]
    before, head, answer, tail, after = (pieces(doc.text, junk, cuts[i], cuts[i + 1]) for i in range(5))
    return TextParts(before, head, answer, tail, after, faded=bool(junk))
