"""The index backend seam: search talks to an index only through `IndexBackend`, so a second
backend (here a brute-force one in memory, written from the documents alone) answers exactly as
the segment store does, through the same `Searcher`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pytest

from qa.config import Settings
from qa.encode import late
from qa.errors import DocumentNotFound, PassageNotFound
from qa.index.backend import DocumentCondition, IndexBackend, LexicalCandidates, Placement
from qa.index.build import build_index
from qa.index.encoding import embedding_text
from qa.index.lexical import tokenize
from qa.index.load import load_index
from qa.index.manifest import BM25_B, BM25_K1
from qa.index.rows import SentenceMap
from qa.ingest.cleaning import normalize_for_embedding
from qa.ingest.documents import Document
from qa.ingest.passages import Passage, passages_of
from qa.retrieve.filters import Filter
from qa.retrieve.searcher import Searcher

from .conftest import FakeEmbedder, fake_settings

DOCUMENTS = [
    Document(
        "war",
        "The war",
        "The war lasted forty-four days. It ended with a ceasefire in November. "
        "Drones decided many battles. The ceasefire was signed in Moscow at night.",
        "news/war.txt",
        date="2020-11-10",
    ),
    Document(
        "drones",
        "Loitering munitions",
        "The Harop is a loitering munition. It circles before it strikes. "
        "Drones were bought from Israel and Turkey. The Bayraktar TB2 flew from bases in the south.",
        "news/drones.txt",
    ),
    Document(
        "talks",
        "Talks",
        "Lavrov gave an interview to Trud. He spoke about the Minsk Group. "
        "The Minsk Group has three co-chairs. France, Russia and the United States chair it.",
        "talks/trud.txt",
        date="2021-01-05",
    ),
    Document(
        "cease",
        "Ceasefire",
        "A ceasefire began at midnight. Peacekeepers arrived the next day. "
        "The corridor stayed open. Refugees returned slowly over the winter.",
        "news/cease.txt",
    ),
    Document("zebra", "Zebras", "A zebra crossing was painted in the town. Zebras are not found there.", "misc/zebra.txt"),
]
QUESTIONS = [
    "How long did the war last?",
    "Harop loitering munition",
    "Lavrov interview Trud",
    "Minsk Group co-chair",
    "When did the ceasefire begin?",
    "zebra",
    "nothing matches this xyzzy",
]


class BruteForce:
    """An `IndexBackend` over a handful of documents, everything scored by brute force in memory."""

    def __init__(self, documents: list[Document], settings: Settings, embedder: FakeEmbedder) -> None:
        self.docs = {d.id: d for d in documents}
        self.rows: list[Passage] = passages_of(
            documents, settings.passage_target_chars, settings.passage_max_chars, settings.passage_overlap_sentences
        )
        titles = {d.id: d.title for d in documents}
        self.vectors = embedder.encode([embedding_text(p, titles[p.doc_id], True) for p in self.rows])
        sentence_of: dict[tuple[str, int, int], int] = {}
        texts: list[str] = []
        per_passage: list[list[int]] = []
        for p in self.rows:  # each sentence once, as overlapping passages share sentences
            for s, e in p.sentences:
                if (p.doc_id, p.start + s, p.start + e) not in sentence_of:
                    sentence_of[(p.doc_id, p.start + s, p.start + e)] = len(texts)
                    texts.append(normalize_for_embedding(p.text[s:e]) or p.text[s:e])
            per_passage.append([sentence_of[(p.doc_id, p.start + s, p.start + e)] for s, e in p.sentences])
        self.sentences = SentenceMap.of(per_passage)
        self.sentence_vectors = embedder.encode(texts)
        self.passage_words = tokenize([f"{titles[p.doc_id]}. {p.text}" for p in self.rows])
        self.sentence_words = tokenize(texts)
        position = {doc_id: n for n, doc_id in enumerate(self.docs)}
        self.doc = np.array([position[p.doc_id] for p in self.rows])
        self.spans = np.array([(p.start, p.end) for p in self.rows], dtype=np.int64)

    version = "in-memory"
    candidates_only = False  # a filter is a list of rows, scored here

    @property
    def dimension(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def passage_count(self) -> int:
        return len(self.rows)

    @property
    def documents(self) -> Mapping[str, Document]:
        return self.docs

    def dense_candidates(self, q: np.ndarray, n: int, breadth: int, condition: DocumentCondition | None = None) -> np.ndarray:
        scores = np.where(self._allowed(condition), self.vectors @ q, -np.inf)
        return np.argsort(-scores, kind="stable")[: min(n, int(np.isfinite(scores).sum()))]

    def lexical_candidates(self, words: Sequence[str], n: int, condition: DocumentCondition | None = None) -> LexicalCandidates:
        scores = bm25(self.passage_words, list(words))
        held = np.flatnonzero((scores > 0) & self._allowed(condition))
        return LexicalCandidates(held[np.argsort(-scores[held], kind="stable")][:n], lambda rows: scores[rows])

    def _allowed(self, condition: DocumentCondition | None) -> np.ndarray:
        """Which rows the condition allows (all without one)."""
        if condition is None:
            return np.ones(len(self.rows), dtype=bool)
        return np.array([condition.allows(self.docs[p.doc_id]) for p in self.rows], dtype=bool)

    def words(self, query: str) -> list[str]:
        return tokenize([query])[0]

    def passage_frequency(self, words: Sequence[str]) -> np.ndarray:
        return np.array([sum(w in text for text in self.passage_words) for w in words], dtype=np.int64)

    def vectors_of(self, rows: np.ndarray | None) -> np.ndarray:
        return self.vectors if rows is None else self.vectors[rows]

    def sentence_vectors_of(self, rows: np.ndarray | None) -> np.ndarray:
        return self.sentence_vectors if rows is None else self.sentence_vectors[rows]

    def token_vectors(self, rows: np.ndarray) -> list[late.Block] | None:
        return None

    def bm25_of(self, query: str | Sequence[str], rows: np.ndarray | None) -> np.ndarray:
        scores = bm25(self.passage_words, self.words(query) if isinstance(query, str) else list(query))
        return scores if rows is None else scores[rows]

    def sentence_bm25_of(self, query: str | Sequence[str], rows: np.ndarray | None) -> np.ndarray:
        scores = bm25(self.sentence_words, self.words(query) if isinstance(query, str) else list(query))
        return scores if rows is None else scores[rows]

    def sentences_of(self, rows: np.ndarray | None) -> SentenceMap:
        return self.sentences if rows is None else SentenceMap.of([list(self.sentences[int(r)]) for r in rows])

    def passage(self, row: int) -> Passage:
        return self.rows[row]

    def row_of(self, passage_id: str) -> int | None:
        return next((n for n, p in enumerate(self.rows) if p.id == passage_id), None)

    def placement(self, rows: np.ndarray | None) -> Placement:
        return Placement(self.doc, self.spans) if rows is None else Placement(self.doc[rows], self.spans[rows])

    def corpus_file(self, doc_id: str) -> str:
        return ""  # documents given in memory

    def removed_document(self, doc_id: str) -> str | None:
        return None

    def retired_passage(self, passage_id: str) -> str | None:
        return None

    def allowed_rows(self, condition: DocumentCondition) -> np.ndarray:
        return np.array([n for n, p in enumerate(self.rows) if condition.allows(self.docs[p.doc_id])], dtype=np.int64)


def bm25(texts: list[list[str]], words: list[str]) -> np.ndarray:
    """bm25s's "lucene" BM25 of every text, term by term over the whole collection."""
    lengths = np.array([len(t) for t in texts], dtype=np.int64)
    norm = (BM25_K1 * ((1 - BM25_B) + BM25_B * lengths / float(lengths.mean()))).astype(np.float32)
    scores = np.zeros(len(texts), dtype=np.float32)
    for word in words:
        tf = np.array([t.count(word) for t in texts], dtype=np.float32)
        held = tf > 0
        idf = np.float32(np.log1p((len(texts) - held.sum() + 0.5) / (held.sum() + 0.5)))
        scores[held] += tf[held] / (tf[held] + norm[held]) * idf
    return scores


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> tuple[Searcher, Searcher]:
    settings = fake_settings(tmp_path_factory.mktemp("seam"), passage_target_chars=60, passage_max_chars=200)
    build_index(settings, FakeEmbedder(), DOCUMENTS)
    memory: IndexBackend = BruteForce(DOCUMENTS, settings, FakeEmbedder())
    return Searcher(load_index(settings.index_dir), FakeEmbedder(), settings), Searcher(memory, FakeEmbedder(), settings)


def answers(searcher: Searcher, question: str, filter: Filter | None = None) -> list[tuple]:
    result = searcher.search(question, 4, filter)
    hits = [(h.rank, h.passage, h.document, h.highlight, h.score, h.similarity) for h in result.hits]
    return [*hits, (result.abstained, result.abstain_reason, result.confidence)]


def test_the_corpus_has_enough_passages_to_rank(both):
    store, memory = both
    assert memory.index.passage_count == store.index.passage_count >= 8
    assert {p.id for p in store.index.passages} == {p.id for p in memory.index.rows}


def test_both_backends_count_the_passages_holding_a_word(both):
    store, memory = both
    words = store.index.words("drones ceasefire Moscow zebra Bayraktar")
    assert store.index.passage_frequency(words).tolist() == memory.index.passage_frequency(words).tolist()
    assert store.index.passage_frequency(["zebra"]).tolist() == [1]


@pytest.mark.parametrize("path", ["exact", "candidates"])
@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_a_second_backend_gives_the_segment_stores_hits(both, path, mode):
    store, memory = (s.with_settings(ranking=mode, ann_min_passages=1 if path == "candidates" else 10**6) for s in both)
    for question in QUESTIONS:
        expected, got = answers(store, question), answers(memory, question)
        assert [a[:4] for a in got[:-1]] == [a[:4] for a in expected[:-1]], question  # rank, passage, document, highlight
        assert np.array(got[-1][2]) == pytest.approx(expected[-1][2], abs=1e-6)
        assert np.array([a[4:] for a in got[:-1]]) == pytest.approx(np.array([a[4:] for a in expected[:-1]]), abs=1e-5)


@pytest.mark.parametrize("filter", [Filter(doc_ids=("talks", "war")), Filter(source="news/"), Filter(date_from="2021-01-01")])
def test_filters_and_citations_go_through_the_seam(both, filter):
    store, memory = both
    for question in QUESTIONS[:4]:
        assert [a[:4] for a in answers(memory, question, filter)] == [a[:4] for a in answers(store, question, filter)]
    assert memory.search("Harop", 3, Filter(doc_ids=("nobody",))).abstain_reason == "filter"
    passage = store.search("Harop loitering munition", 1).hits[0].passage
    assert memory.passage(passage.id) == store.passage(passage.id) == (passage, DOCUMENTS[1])
    with pytest.raises(PassageNotFound):
        memory.passage("no-such-passage")
    with pytest.raises(DocumentNotFound):
        memory.document("no-such-document")
    assert memory.index.corpus_file("war") == store.index.corpus_file("war") == ""  # given in memory: no file


def test_the_library_names_still_import_lazily():
    import qa
    from qa.retrieve import results, searcher

    assert (qa.Hit, qa.SearchResult, qa.Searcher) == (results.Hit, results.SearchResult, searcher.Searcher)
    assert (qa.Document, qa.Passage) == (Document, Passage)
    assert (searcher.Hit, searcher.SearchResult) == (results.Hit, results.SearchResult)  # where callers import them from


@pytest.mark.parametrize("filter", [Filter(doc_ids=("talks", "war")), Filter(source="news/"), Filter(date_from="2021-01-01")])
def test_a_backend_that_applies_filters_itself_gives_the_same_hits(both, filter, monkeypatch):
    """A remote engine (`candidates_only`) is handed the filter with each candidate search, never
    asked for every row a filter allows: a small corpus ranks the same either way."""
    store, memory = both
    monkeypatch.setattr(memory.index, "candidates_only", True)
    monkeypatch.setattr(memory.index, "allowed_rows", lambda condition: pytest.fail("rows listed for a remote filter"))
    for question in QUESTIONS[:4]:
        assert [a[:4] for a in answers(memory, question, filter)] == [a[:4] for a in answers(store, question, filter)]
    assert memory.search("Harop", 3, Filter(doc_ids=("nobody",))).abstain_reason == "filter"
