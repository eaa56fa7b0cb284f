"""BM25 over the indexed texts, with bm25s: English stemming and stopwords.

An index stores each text's tokens (`Tokens`), not bm25s's score matrix: BM25 weights depend on
the whole collection (idf, average length), so they cannot be kept per segment and added to
(bm25s has no incremental update: xhluca/bm25s#5, #98). The matrix is made from the stored token
ids when an index is loaded, which costs a fraction of tokenising (no text is stemmed again).

Text is folded the same way as for embedding (NFKC, whitespace) before it is tokenised, so a
non-breaking space or a ligature in a scraped page does not hide a word. `plain=True` gives the
textbook baseline (no stemming, no stopwords) that `qa eval` reports for comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

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


@dataclass(frozen=True)
class Tokens:
    """The tokens of many texts as ids: text i's are `ids[offsets[i]:offsets[i + 1]]` into `vocab`."""

    vocab: list[str]
    ids: np.ndarray  # int32
    offsets: np.ndarray  # int64, one more than there are texts

    @classmethod
    def of(cls, texts: list[str], plain: bool = False) -> "Tokens":
        words = tokenize(texts, plain)
        index: dict[str, int] = {}
        flat = [index.setdefault(w, len(index)) for text in words for w in text]
        offsets = np.zeros(len(words) + 1, dtype=np.int64)
        np.cumsum([len(text) for text in words], out=offsets[1:])
        return cls(list(index), np.array(flat, dtype=np.int32), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def take(self, rows: np.ndarray) -> "Tokens":
        """The tokens of these texts, in this order."""
        starts, lengths = self.offsets[rows], self.offsets[rows + 1] - self.offsets[rows]
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        source = np.arange(offsets[-1], dtype=np.int64) + np.repeat(starts - offsets[:-1], lengths)
        return Tokens(self.vocab, self.ids[source], offsets)

    @staticmethod
    def concat(parts: Sequence["Tokens"]) -> "Tokens":
        """The texts of all parts in order, over one vocabulary."""
        index: dict[str, int] = {}
        ids, offsets, base = [], [np.zeros(1, dtype=np.int64)], 0
        for part in parts:
            remap = np.array([index.setdefault(w, len(index)) for w in part.vocab], dtype=np.int32)
            ids.append(remap[part.ids] if len(part.ids) else part.ids)
            offsets.append(part.offsets[1:] + base)
            base += int(part.offsets[-1])
        return Tokens(list(index), np.concatenate(ids or [np.zeros(0, np.int32)]), np.concatenate(offsets))

    def save(self, path: Path) -> None:
        """The vocabulary goes as one UTF-8 buffer of newline-separated words (a token never holds
        a line break), not a fixed-width array that one long word would inflate."""
        vocab = np.frombuffer("\n".join(self.vocab).encode("utf-8"), dtype=np.uint8)
        with open(path, "wb") as f:
            np.savez(f, vocab=vocab, words=np.array([len(self.vocab)]), ids=self.ids, offsets=self.offsets)

    @classmethod
    def load(cls, path: Path) -> "Tokens":
        with np.load(path) as data:
            words = data["vocab"].tobytes().decode("utf-8").split("\n") if int(data["words"][0]) else []
            return cls(words, data["ids"], data["offsets"])


class Lexical:
    """A BM25 index over a list of texts; scores come back in the order the texts were given."""

    def __init__(self, bm25: bm25s.BM25 | None, size: int, plain: bool = False) -> None:
        self.bm25 = bm25  # None when the texts hold no word at all (bm25s cannot index that)
        self.size = size
        self.plain = plain

    @classmethod
    def build(cls, texts: list[str], k1: float, b: float, plain: bool = False) -> "Lexical":
        return cls.of_tokens(Tokens.of(texts, plain), k1, b, plain)

    @classmethod
    def of_tokens(cls, tokens: Tokens, k1: float, b: float, plain: bool = False) -> "Lexical":
        if not len(tokens.ids):
            return cls(None, len(tokens), plain)
        bm25 = bm25s.BM25(k1=k1, b=b)
        ids = tokens.ids.tolist()
        bounds = tokens.offsets.tolist()
        corpus = [ids[a:z] for a, z in zip(bounds, bounds[1:])]
        bm25.index((corpus, {w: i for i, w in enumerate(tokens.vocab)}), show_progress=False)
        return cls(bm25, len(tokens), plain)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every text for `query` (zeros when no query word is in the vocabulary)."""
        ids = self.bm25.get_tokens_ids(tokenize([query], self.plain)[0]) if self.bm25 is not None else []
        if not ids:
            return np.zeros(self.size, dtype=np.float32)
        return self.bm25.get_scores_from_ids(ids)


