"""Fitting late interaction's projection (`qa/encode/late.py`) for the default model, reproducibly.

    .venv/bin/python -m qa.eval.projection

Encodes every sentence of SQuAD's tune articles as the index encodes sentences (split by the
product's own passage rules, normalised), takes the model's token vectors, and writes their
first `late.DIMS` principal directions to `qa/encode/projections/<model>.npy` with its sha256.
Only tune articles: the held-out ones are never seen.
"""

from __future__ import annotations

import hashlib

import numpy as np

from ..config import Settings
from ..encode import late
from ..encode.embedder import SentenceTransformerEmbedder
from ..index.encoding import plain_sentences
from ..ingest.documents import Document
from ..ingest.passages import passages_of
from .datasets import load_dataset

MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def tune_sentences(settings: Settings) -> list[str]:
    """Each distinct sentence of the tune articles, normalised as the index embeds it."""
    dataset = load_dataset("squad")
    assert dataset.documents is not None
    tune = {doc_id for q in dataset.split("tune") for doc_id in q.relevant}
    docs = [Document(id=d["id"], title=d["title"], text=d["text"], source="") for d in dataset.documents if d["id"] in tune]
    passages = passages_of(docs, settings.passage_target_chars, settings.passage_max_chars, settings.passage_overlap_sentences)
    return plain_sentences(passages)[1]


def main() -> None:
    settings = Settings.load()
    texts = tune_sentences(settings)
    embedder = SentenceTransformerEmbedder(MODEL)
    _, tokens = embedder.encode_tokens(texts)
    projection = late.fit(tokens)
    path = late.projection_file(MODEL)
    assert path is not None
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, projection)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    path.with_name(f"{path.name}.sha256").write_text(f"{digest}  {path.name}\n", encoding="ascii")
    print(f"{len(texts)} sentences, {sum(len(t) - 2 for t in tokens)} tokens: wrote {path} ({digest[:12]})")


if __name__ == "__main__":
    main()
