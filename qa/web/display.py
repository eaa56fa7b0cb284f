"""What the pages show of a document, every character verbatim.

- `shown_source`: a document's source path relative to the corpus folder, never the server's
  absolute path (search.js applies the same rule to API results, given `source_prefix`).
- `text_parts`: the document text cut for the document view: the cited passage, its answering
  sentence, the runs that no passage takes (what `cleaning.prose_regions` leaves out, infobox
  rows and page furniture, and a PDF's running headers and footers, `Document.junk`), which
  the page shows faded; and where each page of a PDF starts, which the page marks.
- `original_kind`: whether a document's original file is served (a PDF or DOCX) and as what.
- `without_bidi_controls`: text for the <title>, where no element can isolate it: a question
  or title with U+202E (right-to-left override) would otherwise turn "· Ask the documents"
  around. In the page itself such text is shown whole, inside <bdi>.
"""

from __future__ import annotations

import bisect
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from ..ingest.cleaning import trim_span
from ..ingest.documents import BINARY_SUFFIXES, Document, display_path
from ..ingest.passages import passage_regions

ABSOLUTE = re.compile(r"^(?:/|\\|[A-Za-z]:[\\/])")  # search.js has the same pattern
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")  # embeddings, overrides, isolates (search.js too)


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


def original_kind(source: str) -> str:
    """The kind of a document's file when the server gives it out at /documents/<id>/original:
    "PDF" or "DOCX" by its source's suffix; "" for any other (search.js has the same rule)."""
    suffix = Path(source).suffix.lower()
    return suffix[1:].upper() if suffix in BINARY_SUFFIXES else ""


def left_out(doc: Document) -> list[tuple[int, int]]:
    """Offsets of the non-blank runs that no passage ever quotes: between the prose regions (cut
    at a DOCX's section starts, as passages are), and the document's own junk spans (a PDF's
    running headers and footers)."""
    regions = passage_regions(doc)
    bounds = [0, *(offset for region in regions for offset in region), len(doc.text)]
    gaps = (trim_span(doc.text, bounds[i], bounds[i + 1]) for i in range(0, len(bounds), 2))
    return [(start, end) for start, end in gaps if start < end]


class Piece(NamedTuple):
    """A run of the document text as the page shows it."""

    text: str
    left_out: bool  # no passage takes it: shown faded
    page: int = 0  # the number of the PDF page that starts with it (0: none does)


def pieces(text: str, junk: list[tuple[int, int]], page_starts: dict[int, int], lo: int, hi: int) -> list[Piece]:
    """text[lo:hi] as consecutive pieces, cut where a `junk` span (sorted, disjoint) starts or
    ends and where a page starts (`page_starts`: offset -> page number)."""
    cuts = {lo, hi} | {page for page in page_starts if lo < page < hi}
    cuts |= {offset for span in junk for offset in span if lo < offset < hi}
    junk_starts = [start for start, _ in junk]
    out = []
    for start, end in itertools.pairwise(sorted(cuts)):
        at = bisect.bisect_right(junk_starts, start) - 1
        out.append(Piece(text[start:end], at >= 0 and start < junk[at][1], page_starts.get(start, 0)))
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
    """Cut `doc.text` at a passage (empty: none) and a sentence inside it (empty: none). Each
    page start of a PDF begins a piece (a last page without text aside); a page that begins
    with the passage is marked by an empty piece just before it, outside the passage's mark."""
    start, end = passage
    s_start, s_end = sentence if start <= sentence[0] <= sentence[1] <= end else (start, start)
    junk = left_out(doc)
    page_starts = {offset: n for n, offset in enumerate(doc.pages, 1)}  # (a page without text: its next one's offset wins)
    first_page = page_starts.pop(start, 0) if start < end else 0
    cuts = [0, start, s_start, s_end, end, len(doc.text)]
    before, head, answer, tail, after = (pieces(doc.text, junk, page_starts, cuts[i], cuts[i + 1]) for i in range(5))
    if first_page:
        before.append(Piece("", False, first_page))
    return TextParts(before, head, answer, tail, after, faded=bool(junk))
