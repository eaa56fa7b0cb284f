"""The documents and passages of an open index, read from disk when asked for.

Records stay in their segments' JSON-lines files, read when used; what every search needs of
every passage (its document, its span, its sentence rows, its id) is held in arrays. Opening an
index parses no record, and its memory follows the number of passages, not their text: a
search decodes only the passages and documents it returns.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Protocol, TypeVar, overload

import numpy as np

from ..ingest.documents import Document
from ..ingest.passages import Passage
from .catalog import Columns
from .rows import SentenceMap, ranges

CACHED_DOCUMENTS = 256  # decoded documents kept (a result cites a few; the page of one is read often)


class Lines:
    """The JSON records of a JSON-lines file by line number (`offsets`: each line's first byte,
    then the file's size), each read with one `pread` when asked for: the process keeps none of
    the file, and the page cache that serves it is shared by every worker."""

    def __init__(self, path: Path, offsets: np.ndarray) -> None:
        self.offsets = offsets
        fd = os.open(path, os.O_RDONLY)
        if os.fstat(fd).st_size != (int(offsets[-1]) if len(offsets) else 0):
            os.close(fd)
            raise ValueError(f"{path.name} does not match its line offsets")
        self._fd = fd

    def __del__(self) -> None:
        if hasattr(self, "_fd"):
            os.close(self._fd)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, line: int) -> dict:
        start, end = int(self.offsets[line]), int(self.offsets[line + 1])
        data = os.pread(self._fd, end - start, start)
        if len(data) != end - start:
            raise OSError(f"short read of an index record ({len(data)} of {end - start} bytes)")
        return json.loads(data)


def passage_of(record: dict) -> Passage:
    return Passage(**{**record, "sentences": tuple(map(tuple, record["sentences"]))})


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Recent(Generic[K, V]):
    """The last `size` values remembered by key, the oldest dropped first; safe across threads."""

    def __init__(self, size: int) -> None:
        self.size, self._lock = size, threading.Lock()
        self._values: dict[K, V] = {}

    def get(self, key: K) -> V | None:
        return self._values.get(key)

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def put(self, key: K, value: V) -> V:
        with self._lock:
            if len(self._values) >= self.size:
                self._values.pop(next(iter(self._values)))
            self._values[key] = value
        return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


class DocumentTable(Mapping[str, Document]):
    """The served documents by id, in corpus order; each is decoded from its line when used.
    `files` is the catalog's file column: the names, and each document's code among them."""

    def __init__(
        self, ids: list[str], lines: list[Lines], segment: np.ndarray, row: np.ndarray, files: tuple[list[str], np.ndarray]
    ) -> None:
        self.ids, self._lines, self._segment, self._row = ids, lines, segment, row
        self._file_names, self._file = files
        self._position = {doc_id: n for n, doc_id in enumerate(ids)}
        self._cache: Recent[str, Document] = Recent(CACHED_DOCUMENTS)

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._position

    def __getitem__(self, doc_id: str) -> Document:
        cached = self._cache.get(doc_id)
        if cached is not None:
            return cached
        n = self._position[doc_id]
        return self._cache.put(doc_id, Document(**self._lines[self._segment[n]][int(self._row[n])]))

    def position(self, doc_id: str) -> int:
        """Its place in corpus order (what `PassageTable.doc` holds)."""
        return self._position[doc_id]

    def file_of(self, doc_id: str) -> str:
        """Its corpus file, relative to the corpus folder ("" for a document given in memory)."""
        return self._file_names[int(self._file[self._position[doc_id]])]


class PassageTable(Sequence[Passage]):
    """The served passages by row; a passage is decoded from its line when used. Arrays hold,
    for every row, its document's position in the `DocumentTable`, its span and its id."""

    def __init__(
        self,
        lines: list[Lines],
        segment: np.ndarray,
        local: np.ndarray,
        doc: np.ndarray,
        spans: np.ndarray,
        ids: np.ndarray,
        doc_ids: list[str],
    ) -> None:
        self._lines, self._segment, self._local = lines, segment, local
        self.doc, self.spans, self.ids, self._doc_ids = doc, spans, ids, doc_ids
        self._sorted: tuple[np.ndarray, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self._local)

    @overload
    def __getitem__(self, row: int) -> Passage: ...
    @overload
    def __getitem__(self, row: slice) -> list[Passage]: ...
    def __getitem__(self, row: int | slice) -> Passage | list[Passage]:
        if isinstance(row, slice):
            return [self[r] for r in range(*row.indices(len(self)))]
        return passage_of(self._lines[self._segment[row]][int(self._local[row])])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or len(other) != len(self):
            return NotImplemented if not isinstance(other, Sequence) else False
        return all(a == b for a, b in zip(self, other, strict=True))

    def __hash__(self) -> int:
        raise TypeError("unhashable type: 'PassageTable'")

    def doc_id(self, row: int) -> str:
        return self._doc_ids[self.doc[row]]

    def overlaps(self, a: int, b: int) -> bool:
        """True when rows a and b cite some of the same characters of the same document."""
        return bool(self.doc[a] == self.doc[b] and self.spans[a, 0] < self.spans[b, 1] and self.spans[b, 0] < self.spans[a, 1])

    def row_of(self, passage_id: str) -> int | None:
        """The row of a passage id, or None (the id index is sorted on first use)."""
        if self._sorted is None:
            order = np.argsort(self.ids, kind="stable")
            self._sorted = (self.ids[order], order)
        keys, order = self._sorted
        try:
            key = np.array(passage_id.encode("utf-8"), dtype=keys.dtype)
        except (UnicodeEncodeError, ValueError):
            return None
        at = int(np.searchsorted(keys, key))
        if at == len(keys) or keys[at] != passage_id.encode("utf-8"):
            return None
        return int(order[at])


@dataclass(frozen=True, eq=False)
class Remap:
    """Some documents' rows of several segments, renumbered: each segment's passages (and
    sentences) are put end to end, and the documents' rows, in the order given, become rows
    0, 1, ... of the result. A build merging segments and a loader serving them both use it."""

    passage_base: np.ndarray  # where each segment's passages begin end to end (then the total)
    sentence_base: np.ndarray  # likewise for sentences
    passage_bounds: np.ndarray  # (documents, 2): each document's passages, end to end
    passage_rows: np.ndarray  # each kept passage's row end to end, in the new order
    sentence_rows: np.ndarray  # likewise for sentences
    new_passage: np.ndarray  # each row end to end: its new row (-1: not kept)
    new_sentence: np.ndarray  # likewise for sentences
    sentences: SentenceMap  # each kept passage's sentences, by their new rows


def remap(
    sentence_maps: Sequence[SentenceMap],
    sentence_counts: Sequence[int],
    segment: np.ndarray,
    passages: np.ndarray,
    sentences: np.ndarray,
) -> Remap:
    """Renumber these documents' rows: `segment` (its position in `sentence_maps`), `passages`
    and `sentences` ([start, end) rows in that segment) per document, in the new order.
    `sentence_maps`: each segment's sentence rows per passage; `sentence_counts`: its sentences."""
    p_base = np.cumsum([0] + [len(m.starts) for m in sentence_maps]).astype(np.int64)
    s_base = np.cumsum([0, *sentence_counts]).astype(np.int64)
    seg = np.asarray(segment, dtype=np.int64)
    p_bounds = np.asarray(passages, dtype=np.int64).reshape(-1, 2) + p_base[seg][:, None]
    s_bounds = np.asarray(sentences, dtype=np.int64).reshape(-1, 2) + s_base[seg][:, None]
    (p_rows, _), (s_rows, _) = ranges(p_bounds), ranges(s_bounds)
    new_passage = np.full(int(p_base[-1]), -1, dtype=np.int64)
    new_passage[p_rows] = np.arange(len(p_rows))
    new_sentence = np.full(int(s_base[-1]), -1, dtype=np.int64)
    new_sentence[s_rows] = np.arange(len(s_rows))
    flat_base = np.cumsum([0] + [len(m.rows) for m in sentence_maps])
    every = SentenceMap(
        np.concatenate([m.rows + b for m, b in zip(sentence_maps, s_base[:-1], strict=True)] or [np.zeros(0, np.int64)]),
        np.concatenate([m.starts + b for m, b in zip(sentence_maps, flat_base[:-1], strict=True)] or [np.zeros(0, np.int64)]),
    )
    rows, starts = every.of_passages(p_rows)
    served = SentenceMap(new_sentence[rows], starts)
    return Remap(p_base, s_base, p_bounds, p_rows, s_rows, new_passage, new_sentence, served)


@dataclass
class Layout:
    """The served rows of some segments, in catalog order."""

    documents: DocumentTable
    passages: PassageTable
    sentences: SentenceMap  # per served passage, its served sentence rows
    segments: list[str]  # the segments holding served rows, in the order `passage_rows` puts them end to end
    passage_rows: np.ndarray  # each served passage's row in these segments' passages put end to end
    sentence_rows: np.ndarray  # likewise for sentences
    served: dict[str, np.ndarray]  # by segment: the served row of each of its passages (-1: not served)
    served_sentences: dict[str, np.ndarray]  # likewise for sentences


def layout(stored: Mapping[str, StoredRows], catalog: Columns) -> Layout:
    """Where each served document, passage and sentence is, from the catalog (each document's
    segment, line, passage and sentence ranges), without parsing any record."""
    parts = [stored[n] for n in catalog.segments]  # (the catalog's segment codes index this list)
    maps = [SentenceMap(s.sentence_rows, s.sentence_starts[:-1]) for s in parts]
    seg = catalog.segment.astype(np.int64)
    r = remap(maps, [len(s.sentence_vectors) for s in parts], seg, catalog.passages, catalog.sentences)
    p_base, s_base, p_rows = r.passage_base, r.sentence_base, r.passage_rows
    segment_of = np.repeat(np.arange(len(parts), dtype=np.int32), np.diff(p_base))[p_rows]
    doc_ids = catalog.ids
    passages = PassageTable(
        [s.passages for s in parts],
        segment_of,
        p_rows - p_base[segment_of],
        np.repeat(np.arange(len(doc_ids), dtype=np.int32), r.passage_bounds[:, 1] - r.passage_bounds[:, 0]),
        np.concatenate([s.spans for s in parts] or [np.zeros((0, 2), np.int64)])[p_rows],
        np.concatenate([s.ids for s in parts] or [np.zeros(0, "S1")])[p_rows],
        doc_ids,
    )
    documents = DocumentTable(doc_ids, [s.documents for s in parts], seg, catalog.row, (catalog.files, catalog.file))
    served = {name: r.new_passage[a:z] for name, a, z in zip(catalog.segments, p_base[:-1], p_base[1:], strict=True)}
    served_sentences = {name: r.new_sentence[a:z] for name, a, z in zip(catalog.segments, s_base[:-1], s_base[1:], strict=True)}
    return Layout(documents, passages, r.sentences, catalog.segments, p_rows, r.sentence_rows, served, served_sentences)


class StoredRows(Protocol):
    """What `layout` reads of a stored segment (see segments.Stored)."""

    documents: Lines
    passages: Lines
    spans: np.ndarray
    sentence_starts: np.ndarray
    sentence_rows: np.ndarray
    ids: np.ndarray
    sentence_vectors: np.ndarray
