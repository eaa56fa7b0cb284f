"""Late interaction: token vectors kept per sentence by a build, served per row, and MaxSim in the reranker."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from qa.config import Settings
from qa.encode import late
from qa.encode.cache import EmbeddingCache
from qa.errors import ConfigError
from qa.index.build import build_index
from qa.index.encoding import embedding_text, late_block
from qa.index.load import load_index
from qa.index.token_vectors import Served, TokenVectors
from qa.ingest.documents import Document
from qa.ingest.passages import Passage
from qa.retrieve import rerank
from qa.retrieve.searcher import Searcher

from .conftest import FakeEmbedder, FakeTokenEmbedder

DOCS = [
    Document("drones", "Drones", "Azerbaijan used drones. The Bayraktar TB2 drone struck armoured columns.", "drones.txt"),
    Document("tanks", "Tanks", "Armoured columns of tanks crossed the river. Drones watched them.", "tanks.txt"),
    *(Document(f"f{n}", f"Report {n}", f"Troops held sector {n} of the line. Rain fell.", f"f{n}.txt") for n in range(12)),
]


def settings_for(tmp_path: Path, model: str = FakeTokenEmbedder.name) -> Settings:
    return Settings.load(env={}, corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index", model=model)


def stored_as(embedder: FakeTokenEmbedder, text: str, projection: np.ndarray) -> np.ndarray:
    return late.compact(embedder.encode_tokens([text])[1][0], projection)


# the vectors and MaxSim ---------------------------------------------------------------------


def test_stored_token_vectors_drop_the_special_tokens_and_are_unit_int8(fake_projection):
    tokens = FakeTokenEmbedder().encode_tokens(["Bayraktar drones struck"])[1][0]
    stored = late.compact(tokens, fake_projection)
    assert stored.dtype == np.int8 and stored.shape == (3, late.DIMS)
    norms = np.linalg.norm(stored.astype(np.float32) / late.SCALE, axis=1)
    assert np.allclose(norms, 1.0, atol=0.02)


def test_maxsim_averages_each_question_tokens_best_match(fake_projection):
    embedder = FakeTokenEmbedder()
    question = late.question_tokens(embedder.encode_tokens(["drones struck columns"])[1][0], fake_projection)
    holds_all = stored_as(embedder, "the drones struck armoured columns", fake_projection)
    holds_one = stored_as(embedder, "the drones flew home", fake_projection)
    assert late.maxsim(question, holds_all) == pytest.approx(1.0, abs=0.02)
    assert late.maxsim(question, holds_one) < late.maxsim(question, holds_all)
    assert late.maxsim(question, np.zeros((0, late.DIMS), dtype=np.int8)) == 0.0


def test_the_fitted_projection_does_not_depend_on_the_sign_a_machine_gives():
    rng = np.random.default_rng(3)
    tokens = [rng.normal(size=(12, 80)).astype(np.float32) for _ in range(40)]
    first = late.fit(tokens)
    assert first.shape == (80, late.DIMS)
    assert np.allclose(first.T @ first, np.eye(late.DIMS), atol=1e-4)  # orthonormal directions
    assert np.array_equal(first, late.fit(tokens))
    assert np.all(first[np.abs(first).argmax(axis=0), np.arange(late.DIMS)] > 0)


def test_the_shipped_projection_matches_its_checksum_and_the_model():
    projection = late.projection("sentence-transformers/all-MiniLM-L6-v2")
    assert projection is not None and projection.shape == (384, late.DIMS)
    assert late.projection("some/other-model") is None


def test_a_projection_that_does_not_match_its_checksum_is_refused(tmp_path, monkeypatch):
    folder = tmp_path / "projections"
    shutil.copytree(late.FOLDER, folder)
    name = late.PROJECTIONS["all-MiniLM-L6-v2"]
    data = bytearray((folder / name).read_bytes())
    data[-1] ^= 1
    (folder / name).write_bytes(bytes(data))
    monkeypatch.setattr(late, "FOLDER", folder)
    late.projection.cache_clear()
    try:
        with pytest.raises(ConfigError, match="checksum"):
            late.projection("all-MiniLM-L6-v2")
    finally:
        late.projection.cache_clear()


# how they are kept ---------------------------------------------------------------------------


def block(n: int, fill: int, starts: list[int]) -> late.Block:
    return late.Block(np.full((n, late.DIMS), fill, dtype=np.int8), np.array(starts, dtype=np.int32))


def test_token_vectors_round_trip_and_are_gathered_by_row(tmp_path):
    a, b, c = block(3, 1, [0, 2]), block(1, 2, [0]), block(0, 3, [])
    kept = TokenVectors.of([a, b, c])
    assert len(kept) == 3 and len(kept[2].tokens) == 0 and len(kept[2].starts) == 0
    assert np.array_equal(kept[0].tokens, a.tokens) and kept[0].starts.tolist() == [0, 2] and kept[1].starts.tolist() == [0]
    other = TokenVectors.of([block(2, 9, [0, 1])])
    gathered = TokenVectors.gather([kept, other], np.array([3, 1, 0]))  # rows of both, end to end
    assert [int(g.tokens[0, 0]) for g in (gathered[0], gathered[1], gathered[2])] == [9, 2, 1]
    assert [gathered[i].starts.tolist() for i in range(3)] == [[0, 1], [0], [0, 2]]
    kept.save(tmp_path / "seg")
    loaded = TokenVectors.load(tmp_path / "seg")
    assert loaded is not None and np.array_equal(loaded.offsets, kept.offsets)
    assert [loaded[i].starts.tolist() for i in range(3)] == [[0, 2], [0], []] and np.array_equal(loaded[0].tokens, a.tokens)
    assert TokenVectors.load(tmp_path / "other") is None


def test_a_block_reads_its_passage_and_each_sentence():
    kept = late.Block(np.arange(5 * late.DIMS, dtype=np.int8).reshape(5, late.DIMS), np.array([1, 3], dtype=np.int32))
    assert np.array_equal(kept.passage(), kept.tokens[1:])  # token 0 is the title's
    assert [len(s) for s in kept.sentences()] == [2, 2]


def test_served_rows_find_their_segment():
    first = TokenVectors.of([block(1, n, [0]) for n in range(3)])
    second = TokenVectors.of([block(2, 10 + n, [0, 1]) for n in range(2)])
    served = Served.of([first, second], np.array([4, 0, 2, 3]))  # served row -> row among both, end to end
    assert served is not None
    assert [int(served[r].tokens[0, 0]) for r in range(4)] == [11, 0, 2, 10]
    assert Served.of([first, None], np.array([0])) is None


def test_each_sentence_begins_at_its_first_token_after_the_title():
    embedder = FakeTokenEmbedder()
    text = "Drones  struck[12] columns. Tanks crossed\nthe river."
    passage = Passage("p", "d", 0, len(text), text, ((0, 27), (28, len(text))))
    embedded = embedding_text(passage, "War reports", True)
    starts = embedder.token_starts([embedded])[0]
    made = late_block(passage, embedded, np.zeros((len(starts), late.DIMS), dtype=np.int8), starts)
    words = re.findall(r"\w+", embedded)
    assert [words[int(s)] for s in made.starts] == ["Drones", "Tanks"]  # "War reports" before them is the title


def test_a_build_keeps_each_passages_token_vectors(tmp_path, fake_projection):
    embedder = FakeTokenEmbedder()
    build_index(settings_for(tmp_path), embedder, DOCS)
    index = load_index(tmp_path / "index", model=embedder.name)
    blocks = index.token_vectors(np.arange(index.passage_count))
    assert blocks is not None and len(blocks) == index.passage_count
    for row, kept in enumerate(blocks):
        passage = index.passage(row)
        text = embedding_text(passage, index.documents[passage.doc_id].title, True)
        assert np.array_equal(kept.tokens, stored_as(embedder, text, fake_projection))
        assert len(kept.starts) == len(passage.sentences) and kept.starts[0] > 0  # after the title


def test_an_update_reuses_token_vectors_and_serves_every_segment(tmp_path, fake_projection):
    embedder = FakeTokenEmbedder()
    settings = settings_for(tmp_path)
    build_index(settings, embedder, DOCS)
    tanks = Document("tanks", "Tanks", "Tanks crossed the river at dawn. Drones watched them.", "tanks.txt")
    build_index(settings, embedder, [DOCS[0], tanks, *DOCS[2:]])
    index = load_index(tmp_path / "index", model=embedder.name)
    assert len(index.manifest.segments) == 2  # the kept segment and the new one: both serve token vectors
    searcher = Searcher.open(settings, embedder)
    result = searcher.search("What crossed the river at dawn?", 3)
    assert result.hits[0].document.id == "tanks"
    blocks = index.token_vectors(np.arange(index.passage_count))
    assert blocks is not None
    for row, kept in enumerate(blocks):
        passage = index.passage(row)
        text = embedding_text(passage, index.documents[passage.doc_id].title, True)
        assert np.array_equal(kept.tokens, stored_as(embedder, text, fake_projection))


def test_the_cache_encodes_a_text_once_and_again_only_for_its_tokens(fake_projection):
    embedder = FakeTokenEmbedder()
    cache = EmbeddingCache({"known text": embedder.encode(["known text"])[0]})
    vectors, tokens = cache.encode_with_tokens(embedder, ["known text", "new text", "new text"], 8, None, fake_projection)
    assert tokens is not None and len(tokens) == 3 and cache.encoded == 2  # known had no tokens yet
    assert np.array_equal(tokens[1], tokens[2]) and np.allclose(vectors[1], embedder.encode(["new text"])[0])
    cache.encode_with_tokens(embedder, ["new text"], 8, None, fake_projection)
    assert cache.encoded == 2 and cache.reused == 2
    plain = EmbeddingCache().encode_with_tokens(FakeEmbedder(), ["a text"], 8, None, fake_projection)
    assert plain[1] is None  # a model without token vectors: only vectors


def test_an_index_without_token_vectors_reranks_without_maxsim(tmp_path, fake_projection):
    build_index(settings_for(tmp_path, FakeEmbedder.name), FakeEmbedder(), DOCS)
    index = load_index(tmp_path / "index", model=FakeEmbedder.name)
    assert index.token_vectors(np.array([0, 1])) is None
    searcher = Searcher.open(settings_for(tmp_path, FakeEmbedder.name), FakeEmbedder())
    vector = searcher.encode(["Which drone struck armoured columns?"])[0][0]
    ranked = searcher.ranked("Which drone struck armoured columns?", vector)
    assert ranked is not None
    question = np.ones((2, late.DIMS), dtype=np.float32) / np.sqrt(late.DIMS)
    assert rerank.late_features(searcher.index, ranked[0], rerank.top_of(ranked[1]), question) is None


# in the ranking ------------------------------------------------------------------------------


def test_the_reranker_reads_maxsim_where_the_index_keeps_token_vectors(tmp_path, fake_projection, monkeypatch):
    embedder = FakeTokenEmbedder()
    build_index(settings_for(tmp_path), embedder, DOCS)
    searcher = Searcher.open(settings_for(tmp_path), embedder)
    question = "Which drone struck armoured columns?"
    vectors, tokens = searcher.encode([question])
    assert tokens[0] is not None and tokens[0].shape == (5, late.DIMS)
    ranked = searcher.ranked(question, vectors[0])
    assert ranked is not None
    scored, fused = ranked
    top = rerank.top_of(fused)
    maxsim = rerank.late_features(searcher.index, scored, top, tokens[0])
    assert maxsim is not None and maxsim.shape == (len(top), 2) and maxsim[:, 1].max() == 0.0
    best = searcher.index.passage(scored.row(int(top[int(np.argmax(maxsim[:, 0]))])))
    assert "struck armoured columns" in best.text
    used: list[bool] = []
    shipped = rerank.late_features
    monkeypatch.setattr(rerank, "late_features", lambda *a: used.append(shipped(*a) is not None) or shipped(*a))
    searcher.search(question, 3)
    assert used == [True]


def test_the_highlight_weighs_each_sentences_maxsim_where_token_vectors_are_at_hand(fake_projection):
    embedder = FakeTokenEmbedder()
    embedded = "War. Azerbaijan used drones in the war. Notably the Bayraktar TB2 drones struck."
    question = late.question_tokens(embedder.encode_tokens(["Which Bayraktar drones struck"])[1][0], fake_projection)
    tokens = late.compact(embedder.encode_tokens([embedded])[1][0], fake_projection)
    kept = late.Block(tokens, np.array([1, 7], dtype=np.int32))  # after "War", the two sentences' first words
    even = np.zeros(2)  # the fused scores and answer types say nothing
    assert rerank.model().highlight[rerank.HIGHLIGHT_FEATURES.index("maxsim")] > 0
    assert int(np.argmax(rerank.highlight_scores(even, even, kept, question))) == 1
    fused = np.array([1.0, 0.0])
    assert int(np.argmax(rerank.highlight_scores(fused, even, None, question))) == 0  # no token vectors: the rule


def test_a_passage_cut_at_the_models_length_is_highlighted_by_the_rule(fake_projection):
    """Its last sentences have no tokens, so their MaxSim would say nothing: the rule decides."""
    question = np.ones((2, late.DIMS), dtype=np.float32) / np.sqrt(late.DIMS)
    cut = late.Block(np.ones((4, late.DIMS), dtype=np.int8), np.array([0, 2, 4], dtype=np.int32))  # the third starts at the end
    fused = np.array([0.0, 0.1, 0.9])
    assert int(np.argmax(rerank.highlight_scores(fused, np.zeros(3), cut, question))) == 2


def test_a_sentence_after_a_hyphen_at_a_line_end_begins_at_its_own_first_token():
    text = "Items sold: pre-\nOwned cars. Owned cars sold well."
    passage = Passage("p", "d", 0, len(text), text, ((0, 27), (28, len(text))))
    embedded = embedding_text(passage, "", True)
    starts = np.array([m.start() for m in re.finditer(r"\w+|[^\w\s]", embedded)])  # punctuation is a token too
    made = late_block(passage, embedded, np.zeros((len(starts), late.DIMS), dtype=np.int8), starts)
    assert [embedded[starts[int(s)] :].split()[0] for s in made.starts] == ["Items", "Owned"]


class CountingTokenEmbedder(FakeTokenEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.token_texts: list[str] = []

    def encode_tokens(self, texts, batch_size=32, progress=None, projection=None):
        self.token_texts += list(texts)
        return super().encode_tokens(texts, batch_size, progress, projection)


def test_token_vectors_are_reused_and_stay_right_through_updates_and_merges(tmp_path, fake_projection):
    settings = settings_for(tmp_path)
    build_index(settings, FakeTokenEmbedder(), DOCS)
    longer = [
        Document(d.id, d.title, d.text + " Later reports followed.", d.source) if n % 2 or not n else d
        for n, d in enumerate(DOCS)
    ]  # 8 of 14 documents change: the old segment, with fewer than half its documents left, is merged
    counting = CountingTokenEmbedder()
    build_index(settings, counting, longer)
    index = load_index(tmp_path / "index", model=counting.name)
    assert len(index.manifest.segments) == 1  # merged: fewer than half of the first segment's documents were left
    passages = [index.passage(r) for r in range(index.passage_count)]
    served = {embedding_text(p, index.documents[p.doc_id].title, True) for p in passages}
    assert len(counting.token_texts) == 8 and set(counting.token_texts) < served  # the merged rows' tokens were copied
    blocks = index.token_vectors(np.arange(index.passage_count))
    assert blocks is not None
    for row, kept in enumerate(blocks):
        passage = index.passage(row)
        text = embedding_text(passage, index.documents[passage.doc_id].title, True)
        assert np.array_equal(kept.tokens, stored_as(FakeTokenEmbedder(), text, fake_projection))
        assert len(kept.starts) == len(passage.sentences)
