"""What the engine holds, as the next build sees it (`qa.index.previous.Previous` for Milvus).

The plan (`qa.index.plan`) is the segment store's: it asks for the served manifest (file hashes,
skipped files, limits), the catalog (here: the committed documents, with their digests), and the
vectors of what leaves, which are fetched from the engine so that nothing stored is encoded again.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np

from ...config import Settings
from ...ingest.passages import Passage
from ..catalog import Entry, Span
from ..encoding import distinct_sentences, embedding_text
from ..manifest import Manifest, SegmentRecord, mismatch
from ..previous import OldRows, Previous
from . import state
from .engine import Engine, quoted
from .schema import sentence_row

SEGMENT = "milvus"  # what the catalog entries of committed documents name as their segment


class EnginePrevious(Previous):
    """The documents committed to the engine and the manifest of its last complete build."""

    def __init__(self, engine: Engine, index_dir: Path) -> None:
        manifest = state.read_manifest(engine)
        super().__init__(index_dir, manifest or Manifest.from_json({}))
        self.engine = engine
        self.committed = state.committed(engine)
        self.served = manifest is not None or bool(self.committed)

    @property
    def recorded(self) -> Manifest | None:
        return self.manifest if self.manifest.model else None

    def compatible(self, model: str, settings: Settings) -> bool:
        if not self.manifest.model:  # a first build was killed: its committed documents are kept
            return bool(self.committed)
        return mismatch(self.manifest, model, settings) is None

    @functools.cached_property
    def catalog(self) -> dict[str, Entry]:
        return {
            i: Entry(SEGMENT, c.digest, c.file, c.doc.source, Span(c.position, (0, 0), (0, 0))) for i, c in self.committed.items()
        }

    @property
    def segments(self) -> dict[str, SegmentRecord]:
        return {}

    def link(self, folder: Path, names: list[str]) -> None:
        return None

    def checksums_of(self, names: list[str]) -> dict[str, str]:
        return {}

    def old_rows(self, leaving: dict[str, Entry], with_vectors: bool, with_tokens: bool = True) -> OldRows:
        """The passage ids of the documents that leave, and (`with_vectors`) their passages' and
        sentences' vectors by embedded text, read from the engine."""
        out = OldRows()
        ids = list(leaving)
        for at in range(0, len(ids), 256):
            some = ids[at : at + 256]
            fields = ["id", "doc", "start", "end", "text", "sentences", *(["vector"] if with_vectors else [])]
            rows = list(self.engine.each("passages", fields, filter=f"doc in [{', '.join(map(quoted, some))}]"))
            out.passage_ids.update((r["id"], r["doc"]) for r in rows)
            if with_vectors and rows:
                self._vectors(rows, out)
        return out

    def _vectors(self, rows: list[dict], out: OldRows) -> None:
        titles = {i: c.doc.title for i, c in self.committed.items()}
        passages = [
            Passage(r["id"], r["doc"], r["start"], r["end"], r["text"], tuple((s, e) for s, e, _ in json.loads(r["sentences"])))
            for r in rows
        ]
        for p, r in zip(passages, rows, strict=True):
            text = embedding_text(p, titles.get(p.doc_id, ""), self.manifest.embed_title)
            out.vectors[text] = np.asarray(r["vector"], np.float32)
        texts, sentence_rows = distinct_sentences(passages)
        keys: dict[int, str] = {}
        for p, mine in zip(passages, sentence_rows, strict=True):
            for (s, e), row in zip(p.sentences, mine, strict=True):
                keys[sentence_row(p.doc_id, p.start + s, p.start + e)] = texts[row]
        for r in self.engine.by_ids("sentences", list(keys), ["row", "vector"]):
            out.vectors[keys[r["row"]]] = np.asarray(r["vector"], np.float32)
