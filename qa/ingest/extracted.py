"""What a reader of a binary document format (PDF, DOCX) gives: the text citations index, and
where in the original file each part of it came from."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Extracted:
    text: str
    title: str = ""  # from the file's metadata; "" when it has none
    author: str = ""
    date: str = ""  # ISO YYYY-MM-DD, when the file's metadata has one
    pages: tuple[int, ...] = ()  # PDF: offset in `text` where each page begins
    sections: tuple[tuple[int, tuple[str, ...]], ...] = ()  # DOCX: (start, heading path) of each section
    junk: tuple[tuple[int, int], ...] = ()  # spans of `text` no passage takes (running headers, footers)


class Unreadable(Exception):
    """A file its reader cannot read; the message says why, for the list of skipped files."""
