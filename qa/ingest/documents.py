"""Reading a corpus folder (or documents given in memory) into `Document`s.

A document's `text` is the text that citations point into: the file's exact characters for
.txt and .md (read with ``newline=""``), the record's ``text`` for .jsonl, and the visible text
extracted from an .html file.
"""

from __future__ import annotations

import bisect
import datetime
import hashlib
import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from ..errors import CorpusError
from .cleaning import first_prose_line
from .extracted import Unreadable
from .reader_process import FileLimits, ReaderProcess

log = logging.getLogger(__name__)

TEXT_SUFFIXES = {".txt", ".md"}
HTML_SUFFIXES = {".html", ".htm"}
JSONL_SUFFIXES = {".jsonl"}
BINARY_SUFFIXES = {".pdf", ".docx"}  # read by a reader of the format, see `binary_document`
SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | JSONL_SUFFIXES | BINARY_SUFFIXES
META_SUFFIX = ".meta.json"  # a sidecar with a document file's source URL and date


class Meta(TypedDict, total=False):
    """A document's publication metadata, from a record, a sidecar or the file's own metadata."""

    source_url: str
    date: str


@dataclass(frozen=True)
class Document:
    id: str
    title: str
    text: str
    source: str  # path relative to the project root (or as given), "" for in-memory documents
    source_url: str = ""  # where it was published, when known (record field or sidecar)
    date: str = ""  # publication date, ISO (YYYY-MM-DD...), when known
    author: str = ""  # from a PDF's or DOCX's metadata, when it has one
    pages: tuple[int, ...] = ()  # a PDF's page starts: page n begins at text[pages[n - 1]]
    sections: tuple[tuple[int, tuple[str, ...]], ...] = ()  # a DOCX's (start, heading path) of each section
    junk: tuple[tuple[int, int], ...] = ()  # (start, end) spans no passage takes: a PDF's running headers and footers

    def __post_init__(self) -> None:  # JSON gives lists: keep the fields hashable and comparable
        object.__setattr__(self, "pages", tuple(self.pages))
        object.__setattr__(self, "sections", tuple((s, tuple(path)) for s, path in self.sections))
        object.__setattr__(self, "junk", tuple((s, e) for s, e in self.junk))

    def ref(self) -> dict:
        """The document without its text, as results and citations carry it (`author` only when known)."""
        out = {"id": self.id, "title": self.title, "source": self.source, "source_url": self.source_url, "date": self.date}
        if self.author:
            out["author"] = self.author
        return out

    def to_dict(self) -> dict:
        """The document as stored and as `/api/documents/<id>` returns it. The fields a plain
        text document leaves empty are left out, so its stored form (and digest) is as before."""
        out = {**self.ref(), "text": self.text}
        if self.pages:
            out["pages"] = list(self.pages)
        if self.sections:
            out["sections"] = [[start, list(path)] for start, path in self.sections]
        if self.junk:
            out["junk"] = [list(span) for span in self.junk]
        return out

    def location(self, start: int, end: int) -> Location:
        """Where text[start:end] is in the original file: its pages (PDF) or section (DOCX)."""
        if self.pages:
            first = bisect.bisect_right(self.pages, start)
            return Location(page=first, page_end=max(first, bisect.bisect_right(self.pages, max(start, end - 1))))
        if self.sections:
            at = bisect.bisect_right(self.sections, start, key=lambda section: section[0]) - 1
            return Location(section=self.sections[at][1] if at >= 0 else ())
        return Location()


@dataclass(frozen=True)
class Location:
    """A cited span's place in its original file: pages of a PDF (1-based; `page_end` is the last
    page it reaches), heading path of a DOCX section."""

    page: int | None = None
    page_end: int | None = None
    section: tuple[str, ...] | None = None

    def to_dict(self) -> dict:
        """The fields that apply: `page` for a PDF, with `page_end` when the span crosses a page
        break; `section` for a DOCX; none for other documents."""
        out: dict = {}
        if self.page is not None:
            out["page"] = self.page
            if self.page_end != self.page:
                out["page_end"] = self.page_end
        if self.section is not None:
            out["section"] = list(self.section)
        return out


# An ISO 8601 date, alone or starting a date-time: 2020-09-28, 2020-09-28T14:05, 2020-09-28 14:05:30.25Z,
# 2020-09-28T14:05:30+02:00. Nothing may follow; the numbers are checked by `iso_date`.
ISO_DATE = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})"
    r"(?:[Tt ](?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})(?::(?P<second>[0-9]{2})(?:[.,][0-9]{1,9})?)?"
    r"(?:[Zz]|[+-](?P<tz_hour>[0-9]{2})(?::?(?P<tz_minute>[0-9]{2}))?)?)?"
)


def iso_date(value: str) -> str:
    """The YYYY-MM-DD of an ISO 8601 date or date-time (see ISO_DATE); ValueError for anything
    else: another shape, text after it, or a day or time that does not exist."""
    match = ISO_DATE.fullmatch(value)
    if not match:
        raise ValueError(f"not an ISO 8601 date or date-time: {value!r}")
    day = datetime.date.fromisoformat(match["date"])  # ValueError for 2020-02-30
    n = {name: int(text or 0) for name, text in match.groupdict().items() if name != "date"}
    datetime.time(n["hour"], n["minute"], n["second"])  # ValueError for 25:99:99
    datetime.time(n["tz_hour"], n["tz_minute"])  # and for an offset of +25:00
    return day.isoformat()


def corpus_files(corpus_dir: Path) -> list[Path]:
    """Every readable document file under `corpus_dir`, in a stable order; hidden files skipped."""
    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus folder not found: {corpus_dir}")
    files = [
        p
        for p in corpus_dir.rglob("*")
        if p.is_file()
        and p.suffix.lower() in SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(corpus_dir).parts)
    ]
    return sorted(files, key=lambda p: p.relative_to(corpus_dir).as_posix())


def skipped_files(corpus_dir: Path) -> dict[str, str]:
    """Files under `corpus_dir` that are not read (not hidden, not sidecars), with why."""
    if not corpus_dir.is_dir():
        return {}
    kinds = ", ".join(sorted(SUFFIXES))
    return {
        p.relative_to(corpus_dir).as_posix(): f"not a document this version reads ({kinds})"
        for p in sorted(corpus_dir.rglob("*"))
        if p.is_file()
        and p.suffix.lower() not in SUFFIXES
        and not p.name.endswith(META_SUFFIX)
        and not any(part.startswith(".") for part in p.relative_to(corpus_dir).parts)
    }


def file_hashes(corpus_dir: Path) -> dict[str, str]:
    """sha256 of every corpus file and metadata sidecar, keyed by its path in the corpus folder."""
    files = corpus_files(corpus_dir)
    sidecars = [p.with_name(p.name + META_SUFFIX) for p in files]
    return {
        p.relative_to(corpus_dir).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in files + [s for s in sidecars if s.is_file()]
    }


def read_corpus(corpus_dir: Path, source_root: Path | None = None, limits: FileLimits | None = None) -> list[Document]:
    """All documents of a corpus folder. `source` is shown relative to `source_root` when inside
    it; PDF and DOCX files are read within `limits` (default: the settings' defaults)."""
    docs: list[Document] = []
    with ReaderProcess(limits or FileLimits()) as reader:
        for path in corpus_files(corpus_dir):
            docs.extend(read_file(path, corpus_dir, display_path(path, source_root), reader))
    if not docs:
        raise CorpusError(f"no documents ({', '.join(sorted(SUFFIXES))}) in {corpus_dir}")
    check_unique_ids((d.id, d.source) for d in docs)
    return docs


def read_file(path: Path, corpus_dir: Path, source: str, reader: ReaderProcess | None = None) -> Iterator[Document]:
    """The documents of one corpus file (a .jsonl file holds many). PDF and DOCX files are read by
    `reader` (see `binary_document`)."""
    rel = path.relative_to(corpus_dir).as_posix()
    if path.suffix.lower() in BINARY_SUFFIXES:
        yield binary_document(path, rel, source, reader)
        return
    try:
        with open(path, encoding="utf-8", newline="") as f:
            raw = f.read()
    except UnicodeDecodeError as e:
        raise CorpusError(f"{source}: not valid UTF-8 ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise CorpusError(f"{source}: cannot read ({e.strerror})") from None
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        yield from read_jsonl(raw, source)
        return
    meta = _sidecar(path, source)
    if suffix in HTML_SUFFIXES:
        from .html_text import html_to_text  # BeautifulSoup: imported by builds that read HTML only

        title, text = html_to_text(raw)
        yield Document(id=rel, title=title or first_prose_line(text) or path.stem, text=text, source=source, **meta)
    else:
        title = first_prose_line(raw) or path.stem
        if suffix == ".md":
            title = title.lstrip("#").strip() or path.stem
        yield Document(id=rel, title=title, text=raw, source=source, **meta)


def binary_document(path: Path, doc_id: str, source: str, reader: ReaderProcess | None = None) -> Document:
    """A PDF or DOCX file's document: its extracted text, the locations in the file, and its
    title, author and date from the file's metadata (a sidecar's date and source_url win). The
    file is read in `reader`'s process, within its limits; without one, in a process started
    for this file with the default limits."""
    try:
        if reader is None:
            with ReaderProcess(FileLimits()) as own:
                found = own.read(path)
        else:
            found = reader.read(path)
    except Unreadable as e:
        raise CorpusError(f"{source}: {e}") from None
    meta: Meta = {"date": found.date} if found.date else {}
    meta.update(_sidecar(path, source))
    title = found.title or first_prose_line(_blanked(found.text, found.junk)) or path.stem
    return Document(
        id=doc_id,
        title=title,
        text=found.text,
        source=source,
        author=found.author,
        pages=found.pages,
        sections=found.sections,
        junk=found.junk,
        **meta,
    )


def _blanked(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """`text` with each span's characters made spaces (line breaks kept)."""
    chars = list(text)
    for start, end in spans:
        chars[start:end] = [c if c == "\n" else " " for c in chars[start:end]]
    return "".join(chars)


def _sidecar(path: Path, source: str) -> Meta:
    """`<file>.meta.json` beside a document file: {"source_url": ..., "date": ...} (both optional)."""
    sidecar = path.with_name(path.name + META_SUFFIX)
    if not sidecar.is_file():
        return {}
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise CorpusError(f"{source}{META_SUFFIX}: not a JSON object ({e})") from None
    if not isinstance(meta, dict) or not all(isinstance(meta.get(k, ""), str) for k in ("source_url", "date")):
        raise CorpusError(f'{source}{META_SUFFIX}: expected {{"source_url": "...", "date": "YYYY-MM-DD"}}')
    return checked_meta(_meta_of(meta), f"{source}{META_SUFFIX}")


def _meta_of(record: dict) -> Meta:
    """The source_url and date of a record or sidecar, where they are non-empty strings."""
    meta = Meta()
    if isinstance(record.get("source_url"), str) and record["source_url"]:
        meta["source_url"] = record["source_url"]
    if isinstance(record.get("date"), str) and record["date"]:
        meta["date"] = record["date"]
    return meta


def checked_meta(meta: Meta, where: str) -> Meta:
    """Metadata with its date checked (ISO, YYYY-MM-DD...), so that date filters compare rightly."""
    if meta.get("date"):
        try:
            iso_date(meta["date"])
        except ValueError:
            raise CorpusError(f"{where}: date {meta['date']!r} is not an ISO date like 2020-09-28") from None
    return meta


def jsonl_lines(raw: str) -> list[str]:
    """The lines of a JSONL text: split on "\n" alone. (`str.splitlines` also splits on U+2028,
    U+2029, U+0085 and others, which JSON writes raw inside strings.)"""
    return raw.split("\n")


def read_jsonl(raw: str, source: str) -> Iterator[Document]:
    """One document per line: {"id", "title", "text"} (BEIR's corpus.jsonl shape)."""
    for lineno, line in enumerate(jsonl_lines(raw), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise CorpusError(f"{source}:{lineno}: invalid JSON ({e.msg})") from None
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise CorpusError(f'{source}:{lineno}: a record needs a string "text" field')
        doc_id = record.get("id", record.get("_id"))
        if not isinstance(doc_id, (str, int)) or str(doc_id) == "":
            raise CorpusError(f'{source}:{lineno}: a record needs an "id"')
        title = record["title"] if isinstance(record.get("title"), str) else ""
        meta = checked_meta(_meta_of(record), f"{source}:{lineno}")
        yield Document(id=str(doc_id), title=title, text=record["text"], source=source, **meta)


def documents_from(items: Iterable[Document | dict]) -> list[Document]:
    """Documents given in memory: `Document`s or dicts with id, text and optional title/source."""
    docs = []
    for item in items:
        if isinstance(item, dict):
            if not isinstance(item.get("text"), str) or not str(item.get("id", "")):
                raise CorpusError('each document needs "id" and a string "text"')
            item = Document(
                id=str(item["id"]),
                title=str(item.get("title") or first_prose_line(item["text"]) or item["id"]),
                text=item["text"],
                source=str(item.get("source", "")),
            )
        docs.append(item)
    if not docs:
        raise CorpusError("no documents given")
    check_unique_ids((d.id, d.source) for d in docs)
    return docs


def check_unique_ids(ids_and_sources: Iterable[tuple[str, str]]) -> None:
    seen: dict[str, str] = {}
    for doc_id, source in ids_and_sources:
        if doc_id in seen:
            raise CorpusError(f"duplicate document id {doc_id!r} (in {seen[doc_id]} and {source})")
        seen[doc_id] = source


def display_path(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    return path.as_posix()
