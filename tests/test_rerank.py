"""The learned reranker: its features, the order it gives, the shipped model and its training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qa.config import Settings
from qa.errors import ConfigError
from qa.eval import reranker
from qa.eval.datasets import Dataset, Question
from qa.index.build import build_index
from qa.ingest.documents import Document
from qa.retrieve import answers, rerank
from qa.retrieve.searcher import Searcher

from .conftest import FakeEmbedder, FakeTokenEmbedder, fake_settings

DOCS = [
    Document("drones", "Drones", "Azerbaijan used drones. The Bayraktar TB2 drone struck armoured columns.", "drones.txt"),
    Document("tanks", "Tanks", "Armoured columns of tanks crossed the river. Drones watched them.", "tanks.txt"),
    *(Document(f"f{n}", f"Report {n}", f"Troops held sector {n} of the line. Rain fell.", f"f{n}.txt") for n in range(12)),
]
QUESTION = "Which drone struck armoured columns?"


@pytest.fixture(scope="module")
def searcher(tmp_path_factory: pytest.TempPathFactory) -> Searcher:
    settings = fake_settings(tmp_path_factory.mktemp("rerank"))
    build_index(settings, FakeEmbedder(), DOCS)
    return Searcher.open(settings, FakeEmbedder())


def ranked(searcher: Searcher, question: str = QUESTION):
    vector = searcher.encoder.encode([question], 1000)[0]
    result = searcher.ranked(question, vector)
    assert result is not None
    return result


def features_of(searcher: Searcher, question: str = QUESTION) -> tuple[np.ndarray, list[str]]:
    """The features of the best passages, and those passages' texts."""
    scored, fused = ranked(searcher, question)
    top = rerank.top_of(fused)
    texts = [searcher.index.passage(scored.row(int(i))).text for i in top]
    return rerank.features(searcher.index, question, answers.asks_for(question), fused, scored, top), texts


def column(x: np.ndarray, name: str) -> np.ndarray:
    return x[:, rerank.FEATURES.index(name)]


def test_the_best_passages_are_taken_best_first(searcher):
    _, fused = ranked(searcher)
    top = rerank.top_of(fused)
    assert len(top) == rerank.DEPTH
    assert np.all(np.diff(fused[top]) <= 0) and fused[top[0]] == fused.max()


def test_features_describe_what_each_passage_holds_of_the_question(searcher):
    x, texts = features_of(searcher)
    assert x.shape == (rerank.DEPTH, len(rerank.FEATURES)) and np.isfinite(x).all()
    assert column(x, "rank").tolist() == list(range(rerank.DEPTH))
    drones = next(n for n, text in enumerate(texts) if "Bayraktar" in text)
    # "drone struck armoured columns": every question word in one sentence, both of its word pairs in order.
    assert column(x, "best_coverage")[drones] == pytest.approx(1.0)
    assert column(x, "best_pairs")[drones] == pytest.approx(1.0)
    assert column(x, "typed")[drones] == 1.0 and column(x, "kind_name")[drones] == 1.0
    filler = next(n for n, text in enumerate(texts) if text.startswith("Troops"))
    assert column(x, "coverage")[filler] == 0.0 and column(x, "pairs")[filler] == 0.0


def test_relative_features_measure_the_distance_to_the_best_in_the_list(searcher):
    x, _ = features_of(searcher)
    for name in rerank.RELATIVE:
        relative = column(x, f"{name}_to_best")
        assert relative.max() == pytest.approx(0.0)
        assert np.allclose(relative, column(x, name) - column(x, name).max())


def test_reranking_only_reorders_the_best_passages(searcher):
    scored, fused = ranked(searcher)
    top = rerank.top_of(fused)
    adjusted = rerank.rerank(searcher.index, QUESTION, "name", fused, scored)
    below = np.setdiff1d(np.arange(len(fused)), top)
    assert np.array_equal(adjusted[below], fused[below])  # every passage below keeps its score
    assert sorted(adjusted[top].tolist()) == sorted(fused[top].tolist())  # the same scores, handed out again
    assert adjusted[top].min() >= fused[below].max()
    order = top[np.argsort(-rerank.model().plain.score(features_of(searcher)[0]), kind="stable")]
    assert np.all(np.diff(adjusted[order]) <= 0)  # in the model's order


def test_the_setting_turns_reranking_off(searcher):
    scored, fused = ranked(searcher)
    top = rerank.top_of(fused)
    first_fused = searcher.index.passage(scored.row(int(top[0]))).id
    model_first = top[int(np.argmax(rerank.model().plain.score(features_of(searcher)[0])))]
    first_model = searcher.index.passage(scored.row(int(model_first))).id
    assert searcher.with_settings(rerank=False).search(QUESTION, 3).hits[0].passage.id == first_fused
    assert searcher.search(QUESTION, 3).hits[0].passage.id == first_model


def test_the_shipped_model_matches_its_checksum_and_features():
    models = rerank.model()
    for model, features in ((models.plain, rerank.FEATURES), (models.late, rerank.LATE_FEATURES)):
        assert model.coef.shape == model.mean.shape == model.scale.shape == (len(features),)
    text = rerank.MODEL.read_text(encoding="utf-8")
    assert rerank.checksum_file(rerank.MODEL).read_text().split() == [rerank.checksum(text), rerank.MODEL.name]


def test_a_model_that_does_not_match_its_checksum_is_refused(tmp_path: Path):
    copy = tmp_path / "reranker.json"
    copy.write_text(rerank.MODEL.read_text(encoding="utf-8").replace('"C"', '"C" ', 1), encoding="utf-8")
    rerank.checksum_file(copy).write_text(rerank.checksum_file(rerank.MODEL).read_text())
    with pytest.raises(ConfigError, match="checksum"):
        rerank.model(copy)


def test_a_model_trained_on_other_features_is_refused():
    data = json.loads(rerank.MODEL.read_text(encoding="utf-8"))
    for part in ("plain", "late"):
        with pytest.raises(ConfigError, match="other features"):
            rerank.Models.from_dict(data | {part: data[part] | {"features": data[part]["features"][:-1]}})
    with pytest.raises(ConfigError, match="not a reranker"):
        rerank.Models.from_dict(data["late"])  # one model, as an older qa wrote it


def questions() -> list[Question]:
    asked = [
        ("Which drone struck armoured columns?", "drones"),
        ("What crossed the river?", "tanks"),
        *((f"Who held sector {n}?", f"f{n}") for n in range(12)),
    ]
    return [Question(f"q{n}", text, {doc: 1}, (), group=n) for n, (text, doc) in enumerate(asked)]


def test_training_is_reproducible_and_writes_a_model_the_reranker_loads(tmp_path: Path, fake_projection):
    settings = Settings.load(env={}, index_dir=tmp_path / "index", model=FakeTokenEmbedder.name)
    build_index(settings, FakeTokenEmbedder(), DOCS)
    searcher = Searcher.open(settings, FakeTokenEmbedder())
    dataset = Dataset("tiny", questions(), groups=len(questions()))
    said: list[str] = []
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    reranker.train(searcher, dataset, "all", first, said.append)
    reranker.train(searcher, dataset, "all", second, said.append)
    assert first.read_text() == second.read_text()  # the same index and questions give the same file
    assert any(line.startswith("held out articles") and "(with MaxSim)" in line for line in said)
    models = rerank.model(first)
    examples = reranker.collect(searcher, questions())
    assert examples.x.shape[1] == len(rerank.LATE_FEATURES) and examples.gold.sum() >= 1
    everything = np.ones(len(examples.x), bool)
    for model in (models.late, models.plain):
        r1, _ = reranker.recall(examples, model.score(examples.x[:, : len(model.coef)]), everything)
        assert 0.0 <= r1 <= 1.0


def test_training_needs_an_index_with_token_vectors(searcher):
    with pytest.raises(ConfigError, match="token vectors"):
        reranker.collect(searcher, questions())


def test_recall_counts_the_gold_passage_in_the_first_one_and_five():
    examples = reranker.Examples(
        x=np.zeros((6, 1)),
        gold=np.array([False, True, False, False, False, False]),
        question=np.array([0, 0, 0, 1, 1, 1]),
        group=np.zeros(6, int),
        sentences=[],
    )
    scores = np.array([2.0, 1.0, 0.0, 3.0, 2.0, 1.0])
    assert reranker.recall(examples, scores, np.ones(6, bool)) == (0.0, 0.5)  # question 1 has no gold among them
    assert reranker.recall(examples, -scores, np.ones(6, bool)) == (0.0, 0.5)
    assert reranker.recall(examples, np.array([0.0, 1.0, 0.0, 0, 0, 0]), np.ones(6, bool)) == (0.5, 0.5)
