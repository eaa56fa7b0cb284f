"""BM25 over the indexed texts, with bm25s: English stemming and stopwords.

A segment stores each text's tokens (`Tokens`, for merges) and their postings (`Postings`), not
a score matrix: BM25 weights depend on the whole collection (idf, average length), so they
cannot be kept per segment and added to (bm25s has no incremental update: xhluca/bm25s#5, #98).
`Lexical` weighs a question's words' postings when it is asked; no text is stemmed again.

Text is folded the same way as for embedding (NFKC, whitespace) before it is tokenised, so a
non-breaking space or a ligature in a scraped page does not hide a word. `plain=True` gives the
textbook baseline (no stemming, no stopwords) that `qa eval` reports for comparison.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import bm25s
import numpy as np
import Stemmer

from ..ingest.cleaning import normalize_for_embedding
from .row_files import RowFile
from .rows import best_rows

STOPWORDS = "en"
STEMMER = "english"
_threads = threading.local()


def _stemmer() -> Stemmer.Stemmer:
    """This thread's stemmer: PyStemmer's must not run in two threads at once, so that a build
    and the searches served meanwhile never share one."""
    if not hasattr(_threads, "stemmer"):
        _threads.stemmer = Stemmer.Stemmer(STEMMER)
    return _threads.stemmer


def tokenize(texts: list[str], plain: bool = False) -> list[list[str]]:
    """Lower-cased word tokens: stemmed and without English stopwords unless `plain`."""
    folded = [normalize_for_embedding(t) for t in texts]
    return bm25s.tokenize(
        folded,
        stopwords=None if plain else STOPWORDS,
        stemmer=None if plain else _stemmer(),
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
    def of(cls, texts: list[str], plain: bool = False) -> Tokens:
        words = tokenize(texts, plain)
        index: dict[str, int] = {}
        flat = [index.setdefault(w, len(index)) for text in words for w in text]
        offsets = np.zeros(len(words) + 1, dtype=np.int64)
        np.cumsum([len(text) for text in words], out=offsets[1:])
        return cls(list(index), np.array(flat, dtype=np.int32), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def take(self, rows: np.ndarray) -> Tokens:
        """The tokens of these texts, in this order."""
        starts, lengths = self.offsets[rows], self.offsets[rows + 1] - self.offsets[rows]
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        source = np.arange(offsets[-1], dtype=np.int64) + np.repeat(starts - offsets[:-1], lengths)
        return Tokens(self.vocab, self.ids[source], offsets)

    @staticmethod
    def concat(parts: Sequence[Tokens]) -> Tokens:
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
    def load(cls, path: Path) -> Tokens:
        with np.load(path) as data:
            return cls(_vocabulary(data), data["ids"], data["offsets"])


def _counted(tokens: Tokens, first: int, last: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (word, text) pairs of texts [first, last), each once, by word then text, with its count."""
    lengths = np.diff(tokens.offsets[first : last + 1])
    texts = np.repeat(np.arange(first, last, dtype=np.int64), lengths)
    words = tokens.ids[tokens.offsets[first] : tokens.offsets[last]].astype(np.int64)
    pairs, tf = np.unique(words * max(len(tokens), 1) + texts, return_counts=True)
    return pairs // max(len(tokens), 1), (pairs % max(len(tokens), 1)).astype(np.int32), tf.astype(np.int32)


def _vocabulary(data: Mapping[str, np.ndarray]) -> list[str]:
    """The words of a saved `Tokens` (see `Tokens.save`)."""
    return data["vocab"].tobytes().decode("utf-8").split("\n") if int(data["words"][0]) else []


@dataclass(frozen=True)
class Postings:
    """An inverted index of some texts' tokens: the texts holding word `vocab[w]`, with its count
    in each, are `entries[starts[w]:starts[w + 1]]` (columns: row, term frequency), by row.

    A segment stores its own (`save`) beside its tokens; once loaded, a search reads only its
    words' postings from the file (`RowFile`), and opening an index computes nothing per text."""

    vocab: dict[str, int]
    starts: np.ndarray  # int64, one more than there are words
    entries: np.ndarray | RowFile  # int32 (postings, 2); a stored segment's are read per word
    lengths: np.ndarray  # tokens per text

    def of_word(self, w: int) -> np.ndarray:
        """Word w's entries (row, term frequency), by row."""
        start, stop = int(self.starts[w]), int(self.starts[w + 1])
        return self.entries[start:stop] if isinstance(self.entries, np.ndarray) else self.entries.range(start, stop)

    @classmethod
    def of(cls, tokens: Tokens, texts_at_a_time: int = 1 << 16) -> Postings:
        """Counted `texts_at_a_time` texts at a time, so that what it holds besides the tokens
        is the postings themselves (a term-frequency matrix of a corpus at once is several times that)."""
        lengths = np.diff(tokens.offsets)
        bounds = [(a, min(a + texts_at_a_time, len(tokens))) for a in range(0, len(tokens), texts_at_a_time)]
        per_word = np.zeros(len(tokens.vocab), dtype=np.int64)
        for a, z in bounds:  # counted twice (here, then placed), not kept: memory is one chunk's
            per_word += np.bincount(_counted(tokens, a, z)[0], minlength=len(tokens.vocab))
        starts = np.zeros(len(tokens.vocab) + 1, dtype=np.int64)
        np.cumsum(per_word, out=starts[1:])
        entries = np.empty((int(starts[-1]), 2), dtype=np.int32)
        filled = starts[:-1].copy()
        for a, z in bounds:  # each chunk's rows follow the last's: a word's rows stay in order
            words, rows, tf = _counted(tokens, a, z)
            first = np.searchsorted(words, words)  # where each word's run starts in this chunk
            at = filled[words] + np.arange(len(words)) - first
            entries[at, 0], entries[at, 1] = rows, tf
            filled += np.bincount(words, minlength=len(tokens.vocab))
        return cls({w: i for i, w in enumerate(tokens.vocab)}, starts, entries, lengths)

    def save(self, base: str) -> None:
        """Writes <base>-postings.npy and <base>-postings-starts.npy (the words are its tokens')."""
        if not isinstance(self.entries, np.ndarray):
            raise TypeError("only postings built in memory are saved; a stored segment's are linked")
        np.save(f"{base}-postings.npy", self.entries)
        np.save(f"{base}-postings-starts.npy", self.starts)

    @classmethod
    def load(cls, base: str) -> Postings:
        """From <base>-tokens.npz (only its vocabulary and offsets are read) and the postings files."""
        with np.load(f"{base}-tokens.npz") as data:
            words, lengths = _vocabulary(data), np.diff(data["offsets"])
        entries = RowFile(Path(f"{base}-postings.npy"))
        return cls({w: i for i, w in enumerate(words)}, np.load(f"{base}-postings-starts.npy"), entries, lengths)


class Lexical:
    """BM25 (bm25s's default "lucene" variant) over texts stored in one or more `Postings`;
    scores come back by served row.

    bm25s tokenises (`tokenize`), but scores are computed here with numpy from the postings of
    the question's words: bm25s keeps one score matrix for a whole collection, built in a
    Python loop over documents (9.9 s of a 13 s load at 95,000 passages and 310,000 sentences),
    and its weights depend on the whole collection (idf, average length), so it cannot be kept
    per segment. The weights are bm25s's own, idf = ln(1 + (N - df + 0.5) / (df + 0.5)) times
    tf / (tf + k1 (1 - b + b |d| / avgdl)), with N, df and avgdl over the served texts only,
    and a test checks them against bm25s."""

    def __init__(
        self, parts: Sequence[tuple[Postings, np.ndarray | None]], size: int, k1: float, b: float, plain: bool = False
    ) -> None:
        """`parts`: each `Postings` with the served row of each of its rows (-1: not served;
        None: its rows are served as they are)."""
        identity = [served is None or (len(served) == size and np.array_equal(served, np.arange(size))) for _, served in parts]
        self.parts = [(p, None if same else served) for (p, served), same in zip(parts, identity, strict=True)]
        self.size, self.plain = size, plain
        lengths = np.zeros(size, dtype=np.int64)
        for postings, served in self.parts:
            if served is None:
                lengths[: len(postings.lengths)] = postings.lengths
            else:
                live = served >= 0
                lengths[served[live]] = postings.lengths[live]
        average = float(lengths.mean()) if size else 0.0
        self.norm = (k1 * ((1 - b) + b * lengths / average) if average else np.full(size, k1)).astype(np.float32)
        self._where: tuple[np.ndarray, np.ndarray] | None = None  # each served row's part and row in it

    @classmethod
    def build(cls, texts: list[str], k1: float, b: float, plain: bool = False) -> Lexical:
        return cls.of_tokens(Tokens.of(texts, plain), k1, b, plain)

    @classmethod
    def of_tokens(cls, tokens: Tokens, k1: float, b: float, plain: bool = False) -> Lexical:
        return cls([(Postings.of(tokens), None)], len(tokens), k1, b, plain)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every text for `query` (zeros when no query word is in the vocabulary);
        a word repeated in the query counts each time, as in bm25s."""
        return self.ranked(query, 0)[0]

    def words(self, query: str) -> list[str]:
        """The query's tokens as this index has them."""
        return tokenize([query], self.plain)[0]

    def ranked(self, query: str | list[str], n: int) -> tuple[np.ndarray, np.ndarray]:
        """Every text's score for a query (or its `words`), and the rows of the (up to) n best
        among those holding a query word, in no particular order."""
        scores = np.zeros(self.size, dtype=np.float32)
        weighed: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for word in self.words(query) if isinstance(query, str) else query:
            if word not in weighed:
                weighed[word] = self._weights(word)
            rows, weights = weighed[word]
            scores[rows] += weights  # a word's rows are distinct, so += adds each once
        if not n or not weighed:
            return scores, np.zeros(0, dtype=np.int64)
        touched = np.concatenate([rows for rows, _ in weighed.values()])  # a row once per word holding it
        if len(touched) * 4 > self.size:  # most rows hold a word: partition them all
            return scores, best_rows(scores, min(n, int(np.count_nonzero(scores)))).astype(np.int64)
        if len(touched) > n * len(weighed):  # the n best rows are among the n x words best entries
            touched = touched[np.argpartition(-scores[touched], n * len(weighed) - 1)[: n * len(weighed)]]
        touched = np.unique(touched)
        return scores, touched[best_rows(scores[touched], n)].astype(np.int64)

    def _weights(self, word: str) -> tuple[np.ndarray, np.ndarray]:
        """The served rows holding `word` and its BM25 weight in each."""
        rows, tf = [np.zeros(0, np.int64)], [np.zeros(0, np.int32)]
        for postings, served in self.parts:
            w = postings.vocab.get(word)
            if w is None:
                continue
            entries = postings.of_word(w)
            if served is None:  # its rows are served as they are
                rows.append(entries[:, 0])
                tf.append(entries[:, 1])
                continue
            mapped = served[entries[:, 0]]
            live = mapped >= 0
            rows.append(mapped[live])
            tf.append(entries[live, 1])
        found, counts = (np.concatenate(rows), np.concatenate(tf)) if len(rows) > 2 else (rows[-1], tf[-1])
        return found, self._weigh(counts.astype(np.float32), found, len(found))

    def _weigh(self, counts: np.ndarray, rows: np.ndarray, df: int) -> np.ndarray:
        """BM25 weights of a word held `counts` times by these rows and by `df` rows in all."""
        idf = np.float32(np.log1p((self.size - df + 0.5) / (df + 0.5)))
        return counts / (counts + self.norm[rows]) * idf

    def scores_of(self, words: list[str], rows: np.ndarray) -> np.ndarray:
        """BM25 of these served rows only, equal to `ranked(words, 0)[0][rows]`: each row is looked
        up in the words' postings (sorted by row), so the cost follows len(rows), not the index."""
        out = np.zeros(len(rows), dtype=np.float32)
        looked: dict[str, np.ndarray] = {}
        for word in words:
            if word not in looked:
                looked[word] = self._lookup(word, rows)
            out += looked[word]  # in query order, as `ranked` adds them
        return out

    def frequency(self, word: str) -> int:
        """How many served texts hold `word` (a token as `words` gives it): its document frequency."""
        df = 0
        for postings, served in self.parts:
            w = postings.vocab.get(word)
            if w is not None:
                entries = postings.of_word(w)
                df += len(entries) if served is None else int(np.count_nonzero(served[entries[:, 0]] >= 0))
        return df

    def _lookup(self, word: str, rows: np.ndarray) -> np.ndarray:
        if self._where is None:
            self._where = self._served_where()
        part_of, local_of = self._where
        counts, df = np.zeros(len(rows), dtype=np.float32), 0
        for k, (postings, served) in enumerate(self.parts):
            w = postings.vocab.get(word)
            if w is None:
                continue
            entries = postings.of_word(w)
            df += len(entries) if served is None else int(np.count_nonzero(served[entries[:, 0]] >= 0))
            if not len(entries):
                continue
            mine = rows if served is None else np.where(part_of[rows] == k, local_of[rows], -1)
            at = np.minimum(np.searchsorted(entries[:, 0], mine), len(entries) - 1)
            found = (mine >= 0) & (entries[at, 0] == mine)
            counts[found] = entries[at[found], 1]
        weights = np.zeros(len(rows), dtype=np.float32)
        held = counts > 0
        weights[held] = self._weigh(counts[held], rows[held], df)
        return weights

    def _served_where(self) -> tuple[np.ndarray, np.ndarray]:
        """For each served row: which part holds it and at which row (parts served as they are
        need no entry)."""
        part_of = np.full(self.size, -1, dtype=np.int16)
        local_of = np.full(self.size, -1, dtype=np.int64)
        for k, (_, served) in enumerate(self.parts):
            if served is not None:
                live = served >= 0
                part_of[served[live]] = k
                local_of[served[live]] = np.flatnonzero(live)
        return part_of, local_of
