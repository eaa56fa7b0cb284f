"""Building, saving and loading the passage index: FAISS vectors plus the texts they cite.

Passage vectors are unit length, so FAISS inner product is cosine similarity. Each distinct
sentence is embedded too, so the answering sentence of a hit is found without encoding
anything at query time. Two BM25 indexes (passages, sentences) sit beside the vectors.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable

import faiss
import numpy as np

from . import cleaning, lexical, storage
from .cleaning import normalize_for_embedding
from .config import PROJECT_ROOT, Settings
from .documents import Document, documents_from, file_hashes, read_corpus
from .embedder import Embedder
from .errors import CorpusError, IndexMismatchError, QAError
from .lexical import Lexical
from .passages import Passage, passages_of
from .reuse import EmbeddingCache

log = logging.getLogger(__name__)

FORMAT_VERSION = 2
BM25_K1, BM25_B = 0.9, 0.4  # the usual Anserini defaults for passage retrieval
BUILD_SETTINGS = ("passage_target_chars", "passage_max_chars", "passage_overlap_sentences", "embed_title")
IN_MEMORY = "<documents given in memory>"
Progress = Callable[[str, int, int], None]


@dataclass
class Index:
    """Everything a search needs, in memory."""

    manifest: dict
    documents: dict[str, Document]
    passages: list[Passage]
    sentence_rows: list[list[int]]  # per passage: rows of `sentence_vectors`, one per sentence
    vectors: faiss.Index
    sentence_vectors: np.ndarray
    lexical: Lexical  # BM25 over title-prefixed passages, rows as in `passages`
    sentence_lexical: Lexical  # BM25 over the distinct sentences, rows as in `sentence_vectors`

    @property
    def version(self) -> str:
        return self.manifest["index_version"]


def build_settings(settings: Settings) -> dict:
    """What decides the passages and their vectors besides the model (recorded in the manifest)."""
    return {name: getattr(settings, name) for name in BUILD_SETTINGS} | {
        "cleaning_rules": cleaning.RULES_VERSION,
        "bm25": {"k1": BM25_K1, "b": BM25_B, "stemmer": lexical.STEMMER, "stopwords": lexical.STOPWORDS},
    }


def embedding_text(passage: Passage, title: str, with_title: bool) -> str:
    text = normalize_for_embedding(passage.text)
    return f"{normalize_for_embedding(title)}. {text}" if with_title and title else text


def build_index(
    settings: Settings,
    embedder: Embedder,
    documents: Iterable[Document | dict] | None = None,
    progress: Progress | None = None,
    full: bool = False,
) -> Path:
    """Build from `documents` (or the configured corpus folder) into `settings.index_dir`.

    Vectors of texts the current build already embedded with this model are reused (only new
    or changed documents are encoded); `full=True` encodes everything again."""
    started = time.perf_counter()
    previous = _previous_index(settings, embedder)
    cache = EmbeddingCache() if full or previous is None else _embeddings_of(previous)
    if documents is None:
        docs = read_corpus(settings.corpus_dir, PROJECT_ROOT)
        hashes = file_hashes(settings.corpus_dir)
    else:
        docs = documents_from(documents)
        hashes = {IN_MEMORY: documents_digest(docs)}
    passages = passages_of(
        docs, settings.passage_target_chars, settings.passage_max_chars, settings.passage_overlap_sentences
    )
    if not passages:
        raise CorpusError("the documents contain no prose to index")
    titles = {d.id: d.title for d in docs}
    texts = [embedding_text(p, titles[p.doc_id], settings.embed_title) for p in passages]
    sentence_texts, sentence_rows = _distinct_sentences(passages)

    def report(stage: str) -> Callable[[int, int], None] | None:
        return (lambda done, total: progress(stage, done, total)) if progress else None

    lexical = Lexical.build([f"{titles[p.doc_id]}. {p.text}" for p in passages], BM25_K1, BM25_B)
    sentence_lexical = Lexical.build(sentence_texts, BM25_K1, BM25_B)
    vectors = cache.encode(embedder, texts, settings.batch_size, report("passages"))
    sentence_vectors = cache.encode(embedder, sentence_texts, settings.batch_size, report("sentences"))
    manifest = {
        "format_version": FORMAT_VERSION,
        "model": embedder.name,
        "dimension": embedder.dimension,
        "documents": len(docs),
        "passages": len(passages),
        "sentences": len(sentence_texts),
        "settings": build_settings(settings),
        "corpus_files": hashes,
        "index_version": _content_version(embedder.name, passages, settings),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "build_seconds": round(time.perf_counter() - started, 2),
        "reused_vectors": cache.reused,
        "removed_documents": _removed_documents(previous, {d.id for d in docs}),
        "retired_passages": _retired_passages(previous, {p.id for p in passages}),
    }

    def write(folder: Path) -> dict:
        flat = faiss.IndexFlatIP(embedder.dimension)
        flat.add(vectors)
        try:
            faiss.write_index(flat, str(folder / "vectors.faiss"))
        except RuntimeError as e:  # faiss reports a failed write (a full disk) this way
            raise OSError(f"writing vectors.faiss failed: {str(e).strip().splitlines()[-1]}") from e
        np.save(folder / "sentences.npy", sentence_vectors)
        lexical.save(folder, "bm25-passages")
        sentence_lexical.save(folder, "bm25-sentences")
        _write_jsonl(folder / "documents.jsonl", (d.to_dict() for d in docs))
        _write_jsonl(
            folder / "passages.jsonl",
            ({**asdict(p), "sentence_rows": rows} for p, rows in zip(passages, sentence_rows)),
        )
        return manifest

    return storage.write_build(settings.index_dir, write)


def load_index(index_dir: Path, model: str | None = None) -> Index:
    """Load the served build, checking format, model, files and checksums."""
    build = storage.current_build(index_dir)
    manifest = storage.read_manifest(build)
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMismatchError(
            f"index in {index_dir} has format {manifest.get('format_version')}, this qa reads "
            f"format {FORMAT_VERSION}: rebuild it with `qa build`"
        )
    if model is not None and manifest.get("model") != model:
        raise IndexMismatchError(
            f"index in {index_dir} was built with model {manifest.get('model')!r}, but the configured "
            f"model is {model!r}: rebuild it with `qa build` (or set QA_MODEL to the index's model)"
        )
    storage.verify_checksums(build, manifest)
    try:
        vectors = faiss.read_index(str(build / "vectors.faiss"))
        sentence_vectors = np.load(build / "sentences.npy")
        documents = {d["id"]: Document(**d) for d in _read_jsonl(build / "documents.jsonl")}
        records = list(_read_jsonl(build / "passages.jsonl"))
        lexical = Lexical.load(build, "bm25-passages")
        sentence_lexical = Lexical.load(build, "bm25-sentences")
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as e:
        raise IndexMismatchError(f"index in {index_dir} cannot be read ({e}): rebuild it with `qa build`") from None
    rows = [r.pop("sentence_rows") for r in records]
    passages = [Passage(**{**r, "sentences": tuple(map(tuple, r["sentences"]))}) for r in records]
    sizes = (vectors.ntotal, lexical.size, sentence_lexical.size, len(sentence_vectors))
    if sizes != (len(passages), len(passages), len(sentence_vectors), manifest.get("sentences")) or (
        vectors.d != manifest.get("dimension")
    ):
        raise IndexMismatchError(f"index in {index_dir} is inconsistent: rebuild it with `qa build`")
    return Index(manifest, documents, passages, rows, vectors, sentence_vectors, lexical, sentence_lexical)


def _previous_index(settings: Settings, embedder: Embedder) -> Index | None:
    """The build being served, if it loads and was made with this model."""
    try:
        return load_index(settings.index_dir, model=embedder.name)
    except QAError:
        return None


def _embeddings_of(previous: Index) -> EmbeddingCache:
    """The previous build's vectors by the exact text that was embedded (none when the cleaning
    rules have changed since: the texts it embedded can no longer be rebuilt)."""
    if previous.manifest.get("settings", {}).get("cleaning_rules") != cleaning.RULES_VERSION:
        return EmbeddingCache()
    titles = {d.id: d.title for d in previous.documents.values()}
    with_title = previous.manifest.get("settings", {}).get("embed_title", True)
    passage_texts = [embedding_text(p, titles[p.doc_id], with_title) for p in previous.passages]
    sentence_texts, _ = _distinct_sentences(previous.passages)
    passage_vectors = previous.vectors.reconstruct_n(0, previous.vectors.ntotal)
    return EmbeddingCache({**dict(zip(sentence_texts, previous.sentence_vectors)), **dict(zip(passage_texts, passage_vectors))})


def _removed_documents(previous: Index | None, current: set[str]) -> dict[str, str]:
    """Ids that were indexed once and are not now, with when they went (for 410 Gone)."""
    if previous is None:
        return {}
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    gone = {**previous.manifest.get("removed_documents", {}), **{i: now for i in set(previous.documents) - current}}
    return {doc_id: when for doc_id, when in sorted(gone.items()) if doc_id not in current}


def _retired_passages(previous: Index | None, current: set[str]) -> dict[str, str]:
    """Passage ids that were served once and are not now, with their document (so an old citation
    can be told apart from an unknown one)."""
    if previous is None:
        return {}
    retired = {**previous.manifest.get("retired_passages", {}), **{p.id: p.doc_id for p in previous.passages}}
    return {pid: doc for pid, doc in sorted(retired.items()) if pid not in current}


def documents_digest(docs: list[Document]) -> str:
    """A fingerprint of documents given in memory, recorded where a corpus's file hashes go."""
    h = hashlib.sha256()
    for d in docs:
        h.update(json.dumps(d.to_dict(), sort_keys=True, ensure_ascii=False).encode() + b"\n")
    return h.hexdigest()


def stale_reason(settings: Settings, documents: list[Document] | None = None) -> str | None:
    """Why the index must be rebuilt for this corpus (or these documents) and settings, or None."""
    try:
        manifest = storage.read_manifest(storage.current_build(settings.index_dir))
    except QAError as e:  # missing or unreadable: either way, build it
        return str(e)
    checks = [
        (manifest.get("format_version") == FORMAT_VERSION, "index format changed"),
        (manifest.get("model") == settings.model, "model changed"),
        (manifest.get("settings") == build_settings(settings), "passage settings changed"),
        (manifest.get("corpus_files") == _sources(settings, documents), "corpus changed"),
    ]
    return next((why for ok, why in checks if not ok), None)


def _sources(settings: Settings, documents: list[Document] | None) -> dict[str, str]:
    if documents is None:
        return file_hashes(settings.corpus_dir)
    return {IN_MEMORY: documents_digest(documents)}


def _distinct_sentences(passages: list[Passage]) -> tuple[list[str], list[list[int]]]:
    """Each sentence once (overlapping passages share sentences), and each passage's rows."""
    row_of: dict[tuple[str, int, int], int] = {}
    texts: list[str] = []
    rows = []
    for p in passages:
        mine = []
        for s, e in p.sentences:
            key = (p.doc_id, p.start + s, p.start + e)
            if key not in row_of:
                row_of[key] = len(texts)
                texts.append(normalize_for_embedding(p.text[s:e]) or p.text[s:e])
            mine.append(row_of[key])
        rows.append(mine)
    return texts, rows


def _content_version(model: str, passages: list[Passage], settings: Settings) -> str:
    h = hashlib.sha256(f"{FORMAT_VERSION}\0{model}\0{json.dumps(build_settings(settings))}".encode())
    for p in passages:
        h.update(p.id.encode())
    return h.hexdigest()[:12]


def _write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _read_jsonl(path: Path) -> Iterable[dict]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)
