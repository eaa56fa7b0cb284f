"""BM25 over the indexed texts, with bm25s: English stemming and stopwords, saved beside the vectors.

Text is folded the same way as for embedding (NFKC, whitespace) before it is tokenised, so a
non-breaking space or a ligature in a scraped page does not hide a word. `plain=True` gives the
textbook baseline (no stemming, no stopwords) that `qa eval` reports for comparison.
"""

from __future__ import annotations

from pathlib import Path

import bm25s
import numpy as np
import Stemmer

from .cleaning import normalize_for_embedding

STOPWORDS = "en"
STEMMER = "english"
_stemmer = Stemmer.Stemmer(STEMMER)


def tokenize(texts: list[str], plain: bool = False) -> list[list[str]]:
    """Lower-cased word tokens: stemmed and without English stopwords unless `plain`."""
    folded = [normalize_for_embedding(t) for t in texts]
    return bm25s.tokenize(
        folded,
        stopwords=None if plain else STOPWORDS,
        stemmer=None if plain else _stemmer,
        return_ids=False,
        show_progress=False,
    )


class Lexical:
    """A BM25 index over a list of texts; scores come back in the order the texts were given."""

    def __init__(self, bm25: bm25s.BM25, plain: bool = False) -> None:
        self.bm25 = bm25
        self.plain = plain

    @classmethod
    def build(cls, texts: list[str], k1: float, b: float, plain: bool = False) -> "Lexical":
        bm25 = bm25s.BM25(k1=k1, b=b)
        bm25.index(tokenize(texts, plain), show_progress=False)
        return cls(bm25, plain)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every text for `query` (zeros when no query word is in the vocabulary)."""
        ids = self.bm25.get_tokens_ids(tokenize([query], self.plain)[0])
        if not ids:
            return np.zeros(self.size, dtype=np.float32)
        return self.bm25.get_scores_from_ids(ids)

    @property
    def size(self) -> int:
        return int(self.bm25.scores["num_docs"])

    def save(self, folder: Path, name: str) -> None:
        self.bm25.save(str(folder), show_progress=False, **_file_names(name))

    @classmethod
    def load(cls, folder: Path, name: str) -> "Lexical":
        return cls(bm25s.BM25.load(str(folder), show_progress=False, **_file_names(name)))


def _file_names(name: str) -> dict[str, str]:
    """bm25s writes several files; each gets `name` as its prefix, so they sit in the build folder."""
    return {
        "data_name": f"{name}.data.npy",
        "indices_name": f"{name}.indices.npy",
        "indptr_name": f"{name}.indptr.npy",
        "vocab_name": f"{name}.vocab.json",
        "params_name": f"{name}.params.json",
        "nnoc_name": f"{name}.nonoccurrence.npy",
    }
