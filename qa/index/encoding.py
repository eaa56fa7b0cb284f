"""Turning the documents a build adds into a segment: split into passages, each passage and each
distinct sentence encoded (vectors already known are reused, see `EmbeddingCache`; a terse
line in a block after its heading, see `ingest.terse`; a passage's token vectors for late
interaction kept too, see `encode.late`), tokenised for BM25. Also the texts that are
embedded, so a later build finds the vectors it may reuse."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..config import Settings
from ..encode import choice, late
from ..encode.cache import EmbeddingCache
from ..encode.embedder import Embedder, TokenEmbedder
from ..encode.onnx import ENCODERS
from ..encode.workers import bulk_encoder
from ..errors import ModelError
from ..ingest import terse
from ..ingest.cleaning import normalize_for_embedding
from ..ingest.documents import Document
from ..ingest.passages import Passage, passages_of
from .lexical import Tokens
from .manifest import keeps_token_vectors
from .segments import Segment
from .token_vectors import TokenVectors

Progress = Callable[[str, int, int], None]


def embedding_text(passage: Passage, title: str, with_title: bool) -> str:
    """What is embedded for a passage: its normalised text, after its document's title if asked."""
    text = normalize_for_embedding(passage.text)
    return f"{normalize_for_embedding(title)}. {text}" if with_title and title else text


def distinct_sentences(passages: list[Passage]) -> tuple[list[str], list[list[int]]]:
    """Each sentence once (overlapping passages share sentences) as it is embedded and tokenised
    (a terse line in a block after its heading, see `terse`), and each passage's rows. The
    passages of a document are all given, so its blocks are whole."""
    keys, texts, rows = plain_sentences(passages)
    raw = {(p.doc_id, p.start + s, p.start + e): p.text[s:e] for p in passages for s, e in p.sentences}
    by_doc: dict[str, list[int]] = {}
    for row, (doc_id, _, _) in enumerate(keys):
        by_doc.setdefault(doc_id, []).append(row)
    for mine in by_doc.values():
        mine.sort(key=lambda row: keys[row][1])  # document order
        for row, heading in zip(mine, terse.contexts([raw[keys[r]] for r in mine]), strict=True):
            texts[row] = terse.with_context(heading, texts[row])
    return texts, rows


def plain_sentences(passages: list[Passage]) -> tuple[list[tuple[str, int, int]], list[str], list[list[int]]]:
    """Each sentence once, as (document, start, end) and its normalised text, and each passage's rows."""
    row_of: dict[tuple[str, int, int], int] = {}
    keys: list[tuple[str, int, int]] = []
    texts: list[str] = []
    rows = []
    for p in passages:
        mine = []
        for s, e in p.sentences:
            key = (p.doc_id, p.start + s, p.start + e)
            if key not in row_of:
                row_of[key] = len(texts)
                keys.append(key)
                texts.append(normalize_for_embedding(p.text[s:e]) or p.text[s:e])
            mine.append(row_of[key])
        rows.append(mine)
    return keys, texts, rows


def encode_segment(
    settings: Settings, embedder: Embedder, docs: list[Document], cache: EmbeddingCache, progress: Progress | None
) -> Segment:
    """Split, encode and tokenise these documents (vectors in `cache` are not encoded again)."""
    passages = passages_of(docs, settings.passage_target_chars, settings.passage_max_chars, settings.passage_overlap_sentences)
    titles = {d.id: d.title for d in docs}
    texts = [embedding_text(p, titles[p.doc_id], settings.embed_title) for p in passages]
    sentence_texts, sentence_rows = distinct_sentences(passages)

    def report(stage: str) -> Callable[[int, int], None] | None:
        return (lambda done, total: progress(stage, done, total)) if progress else None

    with bulk_encoder(settings, embedder) as encoder:  # this process, or Ray actors (settings.build_workers)
        projection = late.projection(settings.model) if keeps_token_vectors(settings) else None
        vectors, late_tokens = cache.encode_with_tokens(encoder, texts, settings.batch_size, report("passages"), projection)
        sentence_vectors = cache.encode(encoder, sentence_texts, settings.batch_size, report("sentences"))
    blocks = None
    if late_tokens is not None and isinstance(embedder, TokenEmbedder):
        starts = embedder.token_starts(texts)
        blocks = [late_block(p, t, v, s) for p, t, v, s in zip(passages, texts, late_tokens, starts, strict=True)]
    return Segment(
        documents=docs,
        passages=passages,
        sentence_rows=sentence_rows,
        vectors=vectors,
        sentence_vectors=sentence_vectors,
        passage_tokens=Tokens.of([f"{titles[p.doc_id]}. {p.text}" for p in passages]),
        sentence_tokens=Tokens.of(sentence_texts),
        passage_late=None if blocks is None else TokenVectors.of(blocks),
    )


def late_block(passage: Passage, embedded: str, tokens: np.ndarray, starts: np.ndarray) -> late.Block:
    """A passage's token vectors (of its `embedded` text, title first) and where each of its
    sentences' tokens begin: a sentence's bounds are mapped into the normalised text (normalising
    is local, so the normalised prefix says where a character lands), then to the first token
    that starts there."""
    if len(starts) < len(tokens):
        raise ModelError(f"the tokenizer gave {len(starts)} tokens where the model gave {len(tokens)}")
    title = len(embedded) - len(normalize_for_embedding(passage.text))
    at = [title + len(normalize_for_embedding(passage.text[:a] + "X")) - 1 for a, _ in passage.sentences]  # no rule joins "X"
    return late.Block(tokens, np.searchsorted(starts[: len(tokens)], at).astype(np.int32))


PROBE_PASSAGES = 200  # the new segment's first passages, whose sentences check the question encoders


def query_encoder(settings: Settings, embedder: Embedder, fresh: Segment) -> dict:
    """The question encoders of this build (`choice.ensure`), checked on question-length
    texts of this corpus: sentences of the new segment's first passages."""
    return probed_query_encoder(settings, embedder, fresh.passages[:PROBE_PASSAGES])


def probed_query_encoder(settings: Settings, embedder: Embedder, passages: list[Passage]) -> dict:
    """`query_encoder`, given the new segment's first passages."""
    sentences = plain_sentences(passages[:PROBE_PASSAGES])[1]
    probe = sentences[:: max(len(sentences) // 64, 1)]
    return choice.ensure(settings.index_dir / ENCODERS, embedder, probe, max(settings.torch_threads, 0))
