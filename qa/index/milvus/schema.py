"""What the Milvus collections hold, and how each record is laid out in them.

`{prefix}_passages`: one row per passage (pk `row`, a 63-bit hash of its id: `row_key`): its id,
document, span, text (verbatim, so the citation invariant holds), sentence spans and token
counts, title/source/date for filters, the passage's BM25 tokens (`terms`: qa's own tokens
joined by spaces, so the engine's `standard` analyzer gives back exactly qa's stemmed words; a
BM25 function turns them into `sparse`) and its unit vector. `{prefix}_sentences`: one row per
distinct sentence (pk `sentence_row`, a hash of its document and span) with its tokens, sparse
BM25 and vector. `{prefix}_documents`: each document's metadata row (chunk 0, written last: it
is the record that the document is committed) and its text in chunks under the engine's
65,535-byte VARCHAR limit. `{prefix}_state`: the manifest, the version, the BM25 counts and
tombstones. `{prefix}_terms`: each word's document frequency among passages and sentences.
A replica reads rows by these keys for the candidates of a question only: nothing per passage.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ..manifest import BM25_B, BM25_K1
from .engine import Engine, pymilvus

MAX_VARCHAR = 65_535
TEXT_CHUNK_BYTES = 60_000  # a document's text is stored in chunks of at most this many UTF-8 bytes
ID_LENGTH = 1024
ANALYZER = {"tokenizer": "standard"}  # \w+ and lower-case: qa's tokens, joined by spaces, come back as they are
DUMMY = [1.0, 0.0]  # Milvus wants a vector in every collection: the records' is a constant


def row_key(text: str) -> int:
    """A 63-bit key for an id (blake2b): a passage's row, a document's number in placements."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big") >> 1


def sentence_row(doc_id: str, start: int, end: int) -> int:
    """A sentence's primary key: its document and its span in the document's text, hashed."""
    return row_key(f"{doc_id}\0{start}\0{end}")


def create(engine: Engine, dimension: int) -> None:
    """Create the collections that do not exist yet (with their indexes)."""
    builds = (("passages", _passages), ("sentences", _sentences), ("documents", _records), ("state", _records), ("terms", _terms))
    made = {part: engine.call("has_collection", engine.name(part)) for part, _ in builds}
    for part, build in builds:
        if not made[part]:
            schema, index = build(engine, dimension)
            engine.call("create_collection", engine.name(part), schema=schema, index_params=index)


def drop(engine: Engine, parts: tuple[str, ...]) -> None:
    for part in parts:
        engine.call("drop_collection", engine.name(part))


def _schema(engine: Engine, keyed: bool = False) -> Any:
    """A collection keyed by a string `id`, or (`keyed`) by an int64 `row`; each row names its `doc`."""
    m = pymilvus()
    schema = m.MilvusClient.create_schema(auto_id=False)
    if keyed:
        schema.add_field("row", m.DataType.INT64, is_primary=True)
    else:
        schema.add_field("id", m.DataType.VARCHAR, is_primary=True, max_length=ID_LENGTH)
    schema.add_field("doc", m.DataType.VARCHAR, max_length=ID_LENGTH)
    return schema


def _lexical(schema: Any, engine: Engine, dimension: int) -> Any:
    """The BM25 tokens, their sparse vector (a BM25 function) and the dense vector, indexed."""
    m = pymilvus()
    schema.add_field("terms", m.DataType.VARCHAR, max_length=MAX_VARCHAR, enable_analyzer=True, enable_match=True,
                     analyzer_params=ANALYZER)  # fmt: skip
    schema.add_field("sparse", m.DataType.SPARSE_FLOAT_VECTOR)
    schema.add_field("vector", m.DataType.FLOAT_VECTOR, dim=dimension)
    schema.add_function(
        m.Function(name="bm25", function_type=m.FunctionType.BM25, input_field_names=["terms"], output_field_names=["sparse"])
    )
    index = pymilvus().MilvusClient.prepare_index_params()
    index.add_index("vector", index_type="AUTOINDEX", metric_type="IP")
    index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                    params={"bm25_k1": BM25_K1, "bm25_b": BM25_B})  # fmt: skip
    return index


def _passages(engine: Engine, dimension: int) -> tuple[Any, Any]:
    m = pymilvus()
    schema = _schema(engine, keyed=True)
    schema.add_field("id", m.DataType.VARCHAR, max_length=ID_LENGTH)
    for name in ("start", "end", "length"):
        schema.add_field(name, m.DataType.INT64)
    for name in ("text", "sentences", "title", "source", "source_url", "day"):
        schema.add_field(name, m.DataType.VARCHAR, max_length=MAX_VARCHAR)
    return schema, _lexical(schema, engine, dimension)


def _sentences(engine: Engine, dimension: int) -> tuple[Any, Any]:
    schema = _schema(engine, keyed=True)
    schema.add_field("length", pymilvus().DataType.INT64)
    return schema, _lexical(schema, engine, dimension)


def _records(engine: Engine, dimension: int) -> tuple[Any, Any]:
    """Documents and state: a key, a JSON or text value, a constant vector."""
    m = pymilvus()
    schema = _schema(engine)
    schema.add_field("chunk", m.DataType.INT64)
    schema.add_field("value", m.DataType.VARCHAR, max_length=MAX_VARCHAR)
    schema.add_field("vector", m.DataType.FLOAT_VECTOR, dim=len(DUMMY))
    index = pymilvus().MilvusClient.prepare_index_params()
    index.add_index("vector", index_type="AUTOINDEX", metric_type="IP")
    return schema, index


def _terms(engine: Engine, dimension: int) -> tuple[Any, Any]:
    """Words (pk): how many passages and how many distinct sentences hold each."""
    m = pymilvus()
    schema = m.MilvusClient.create_schema(auto_id=False)
    schema.add_field("id", m.DataType.VARCHAR, is_primary=True, max_length=ID_LENGTH)
    schema.add_field("passages", m.DataType.INT64)
    schema.add_field("sentences", m.DataType.INT64)
    schema.add_field("vector", m.DataType.FLOAT_VECTOR, dim=len(DUMMY))
    index = m.MilvusClient.prepare_index_params()
    index.add_index("vector", index_type="AUTOINDEX", metric_type="IP")
    return schema, index


def term_key(word: str) -> str:
    """A word's key in the terms collection (a very long word by its hash)."""
    return word if len(word.encode()) <= ID_LENGTH - 64 else "#" + hashlib.sha256(word.encode()).hexdigest()


def chunks(text: str, limit: int = TEXT_CHUNK_BYTES) -> list[str]:
    """A text cut into pieces of at most `limit` UTF-8 bytes each, never inside a character."""
    out: list[str] = []
    piece: list[str] = []
    size = 0
    for ch in text:
        n = len(ch.encode())
        if size + n > limit:
            out.append("".join(piece))
            piece, size = [], 0
        piece.append(ch)
        size += n
    out.append("".join(piece))
    return out
