"""BM25 over the indexed texts, with bm25s: English stemming and stopwords.

An index stores each text's tokens (`Tokens`), not a score matrix: BM25 weights depend on the
whole collection (idf, average length), so they cannot be kept per segment and added to
(bm25s has no incremental update: xhluca/bm25s#5, #98). The matrix is made from the stored token
ids when an index is loaded (see `Lexical`); no text is stemmed again.

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
from scipy import sparse

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
    """BM25 (bm25s's default "lucene" variant) over a list of texts; scores come back in the order
    the texts were given.

    bm25s tokenises (`tokenize`), but the score matrix is computed here with numpy and scipy
    from the stored token ids: bm25s builds it in a Python loop over documents (9.9 s of a 13 s
    load at 95,000 passages and 310,000 sentences), and has no way to take it from token ids
    in bulk. The weights are bm25s's own, idf = ln(1 + (N - df + 0.5) / (df + 0.5)) times
    tf / (tf + k1 (1 - b + b |d| / avgdl)), and a test checks them against bm25s."""

    def __init__(self, matrix: sparse.csc_matrix, vocab: dict[str, int], plain: bool = False) -> None:
        self.matrix = matrix  # texts x words, float32
        self.vocab = vocab
        self.size = matrix.shape[0]
        self.plain = plain

    @classmethod
    def build(cls, texts: list[str], k1: float, b: float, plain: bool = False) -> "Lexical":
        return cls.of_tokens(Tokens.of(texts, plain), k1, b, plain)

    @classmethod
    def of_tokens(cls, tokens: Tokens, k1: float, b: float, plain: bool = False) -> "Lexical":
        n, words = len(tokens), len(tokens.vocab)
        lengths = np.diff(tokens.offsets)
        texts = np.repeat(np.arange(n, dtype=np.int64), lengths)
        tf = sparse.coo_matrix(
            (np.ones(len(tokens.ids), dtype=np.float32), (texts, tokens.ids.astype(np.int64))), shape=(n, words)
        ).tocsc()  # duplicates summed: term frequencies
        tf.sum_duplicates()
        df = np.diff(tf.indptr)
        idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
        average = float(lengths.mean()) if n else 0.0
        norm = (k1 * ((1 - b) + b * lengths / average) if average else np.full(n, k1)).astype(np.float32)
        weights = tf.data / (tf.data + norm[tf.indices]) * np.repeat(idf, df)
        matrix = sparse.csc_matrix((weights.astype(np.float32), tf.indices, tf.indptr), shape=(n, words))
        return cls(matrix, {w: i for i, w in enumerate(tokens.vocab)}, plain)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every text for `query` (zeros when no query word is in the vocabulary);
        a word repeated in the query counts each time, as in bm25s."""
        ids = [self.vocab[w] for w in tokenize([query], self.plain)[0] if w in self.vocab]
        if not ids:
            return np.zeros(self.size, dtype=np.float32)
        scores = np.zeros(self.size, dtype=np.float32)
        indptr, rows, weights = self.matrix.indptr, self.matrix.indices, self.matrix.data
        for word in ids:  # a column's rows are distinct, so += adds each once
            scores[rows[indptr[word] : indptr[word + 1]]] += weights[indptr[word] : indptr[word + 1]]
        return scores
