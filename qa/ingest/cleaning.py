"""Finding the prose in scraped text without moving a character.

`prose_regions` returns (start, end) offsets of the runs of real prose in a document's text;
everything between them (infobox rows, tag-manager comments, template leftovers, bylines,
logos, captions) is junk that never reaches a passage. Passages are cut inside these regions,
so a passage is always an exact slice of the original text.

`normalize_for_embedding` is what the encoder sees: NFKC, no reference markers, single spaces.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection

# Junk that can sit inside a line, before or after prose.
INLINE_JUNK = re.compile(
    r"""
      \{\{[^{}\n]*\}\}                        # template leftovers: {{cite web}}
    | :?[ \t]*CS1[ \t]maint:[^\n]*?\(link\)   # ": CS1 maint: bot: ... (link)"
    | <?!--.*?-->                             # HTML comments, "!-- Google tag (gtag.js) -->"
    """,
    re.VERBOSE,
)
# Whole lines that are page furniture rather than prose.
BOILERPLATE_LINE = re.compile(
    r"""^(?:
        (?:last\s+)?updated?:?\s.*\d          # "Last update: July 24, 2024 00:56"
      | published:?\s.*\d
      | by\s+[A-Z][\w.'-]+(?:\s+[A-Z][\w.'-]+)*(?:\s+\w+\s+\d{1,2},\s+\d{4})?   # bylines
      | source:.*                             # photo credits
      | [A-Z][a-z]+\.?\s+\d{1,2},\s+\d{4} | \d{1,2}\s+[A-Z][a-z]+\.?\s+\d{4}   # a lone dateline
      | .*\b(?:text|content)\s+is\s+(?:available|licensed)\s+under.*   # licence footers
      | .*\blogo
      | advertisement | share | subscribe.*
    )$""",
    re.VERBOSE | re.IGNORECASE,
)
LINE = re.compile(r"[^\n]*\n?")
TERMINAL = re.compile(r"""[.!?…]['"”’)\]]*(?:\s*\[[^\]\n]{1,20}\])*\s*$""")
REFERENCE_MARKER = re.compile(r"\[\s*(?:\d{1,4}|[a-z]{1,2}|citation needed|note \d+|nb \d+)\s*\]", re.I)
MIN_REGION_WORDS = 5
LINE_END_HYPHEN = re.compile(r"(?<=[^\W\d_])-[ \t]*\r?\n[ \t]*(?=[a-z])")  # "extrac-\ntion", not "1990-\n91" or "-\nThe"


# Bump when a change here, in passages.py or in a reader of a format (pdf_text, docx_text, html_text)
# changes the text, the passages or what is embedded: indexes built before are rebuilt, every file read again.
RULES_VERSION = 3
TABLE_ROW_MAX_CHARS = 200  # a longer line with one ` | ` is prose, not a row of cells


def is_table_row(line: str) -> bool:
    """Infobox and table rows: `| |||||||||`, `---|---|`, `Belligerents | ||||`, a short `a | b`.

    A pipe inside prose (`{xx | x is a string}`, the p-adic norm `|−|p`) does not make a row.
    """
    stripped = line.strip()
    if not stripped:
        return False
    return (
        "||" in stripped
        or stripped.startswith("|")
        or stripped.endswith("|")
        or (" | " in stripped and len(stripped) < TABLE_ROW_MAX_CHARS)
        or set(stripped) <= set("-: |")
    )


def is_junk_piece(piece: str, title: str) -> bool:
    """Page furniture: bylines, logos, photo credits, dates, a repeated headline, bare symbols."""
    piece = piece.strip()
    return (
        not any(ch.isalnum() for ch in piece)
        or bool(BOILERPLATE_LINE.match(piece))
        or (title != "" and " ".join(normalize_for_embedding(piece).split()) == title)
    )


def prose_regions(text: str, title: str = "", breaks: Collection[int] = ()) -> list[tuple[int, int]]:
    """Maximal junk-free runs of text, as whitespace-trimmed offsets into `text`.

    Blank lines do not break a run; junk does, and so does a line starting at one of `breaks`
    (a DOCX's section starts: a passage stays in one section). A run too small to say anything
    (fewer than MIN_REGION_WORDS words and no full sentence, e.g. a lone "Per Armenia:" or a
    heading with nothing under it) is dropped.
    """
    regions: list[list[int]] = []
    open_region = False
    for line in LINE.finditer(text):
        if line.start() in breaks:
            open_region = False
        content = line.group().rstrip("\r\n")
        if not content.strip():
            continue
        if is_table_row(content):
            open_region = False
            continue
        for start, end in _pieces(content, line.start()):
            if start is None:
                open_region = False
                continue
            start, end = trim_span(text, start, end)
            if start >= end:
                continue
            if is_junk_piece(text[start:end], title):
                open_region = False
            elif open_region:
                regions[-1][1] = end
            else:
                regions.append([start, end])
                open_region = True
    return [(s, e) for s, e in regions if _has_substance(text[s:e])]


def _pieces(content: str, offset: int) -> list[tuple[int | None, int]]:
    """The line cut around inline junk; (None, 0) marks where junk stood."""
    pieces: list[tuple[int | None, int]] = []
    pos = 0
    for junk in INLINE_JUNK.finditer(content):
        pieces += [(offset + pos, offset + junk.start()), (None, 0)]
        pos = junk.end()
    pieces.append((offset + pos, offset + len(content)))
    return pieces


def _has_substance(region: str) -> bool:
    return bool(TERMINAL.search(region)) or len(region.split()) >= MIN_REGION_WORDS


def first_prose_line(text: str) -> str:
    """The document's title line: its first line that is not markup junk or page furniture."""
    for line in text.splitlines():
        cleaned = INLINE_JUNK.sub(" ", line)
        cleaned = re.sub(r"(\s*\|)+\s*$", "", cleaned).strip()
        if cleaned and not is_table_row(cleaned) and not BOILERPLATE_LINE.match(cleaned):
            return " ".join(normalize_for_embedding(cleaned).split())
    return ""


def normalize_for_embedding(text: str) -> str:
    """NFKC (folds non-breaking spaces), a word hyphenated at a line end made whole again
    ("extrac-\ntion" is embedded and matched as "extraction"), reference markers dropped,
    whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text)
    text = LINE_END_HYPHEN.sub("", text)
    text = REFERENCE_MARKER.sub(" ", text)
    return " ".join(text.split())


def trim_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
