"""`qa eval`: datasets in three formats, the metrics, and the command on the real corpus."""

from __future__ import annotations

import json
from pathlib import Path

import ir_measures
import pytest
from click.testing import CliRunner

from qa.cli import main
from qa.errors import ConfigError
from qa.eval import measure as evaluation
from qa.eval.datasets import KNOWN, beir, load_dataset, off_topic_questions, squad
from qa.index.build import build_index
from qa.retrieve.searcher import Searcher

from .conftest import fake_settings

DOCS = {
    "d1": ("Drones", "Bayraktar TB2 drones struck armoured columns near the border."),
    "d2": ("Ceasefire", "A ceasefire brokered in Moscow ended the fighting in November."),
    "d3": ("Oil", "The pipeline carries oil from Baku to the Black Sea coast."),
}


def write_beir(folder: Path) -> Path:
    (folder / "qrels").mkdir(parents=True)
    corpus = [{"_id": i, "title": t, "text": x} for i, (t, x) in DOCS.items()]
    (folder / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in corpus))
    queries = [
        {"_id": "q1", "text": "Which drones struck the columns?"},
        {"_id": "q2", "text": "Where was the ceasefire brokered?"},
    ]
    (folder / "queries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in queries))
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t2\nq2\td3\t0\n")
    return folder


def test_beir_folder_is_read_with_graded_relevance(tmp_path):
    data = load_dataset(str(write_beir(tmp_path / "mini")))
    assert [q.relevant for q in data.questions] == [{"d1": 1}, {"d2": 2}]
    assert {d["id"] for d in data.documents} == set(DOCS) and not data.has_answers


def test_a_broken_beir_folder_is_a_clear_error(tmp_path):
    (tmp_path / "broken").mkdir()
    with pytest.raises(ConfigError, match="not a BEIR folder"):
        beir(tmp_path / "broken")
    with pytest.raises(ConfigError, match="no dataset"):
        load_dataset(str(tmp_path / "absent.json"))


def test_squad_is_one_document_per_paragraph_split_by_article(tmp_path):
    articles = [
        {
            "title": f"Article_{a}",
            "paragraphs": [
                {
                    "context": f"Paragraph {a}.",
                    "qas": [{"id": f"{a}", "question": f"What is {a}?", "answers": [{"text": f"{a}", "answer_start": 10}]}],
                }
            ],
        }
        for a in range(4)
    ]
    path = tmp_path / "mini.json"
    path.write_text(json.dumps({"data": articles}))
    data = squad(path)
    assert data.documents[0] == {"id": "Article_0#0", "title": "Article 0", "text": "Paragraph 0."}
    assert [q.id for q in data.split("tune")] == ["0", "1"] and [q.id for q in data.split("test")] == ["2", "3"]
    assert data.questions[2].relevant == {"Article_2#0": 1} and data.questions[2].answers == ("2",)


def test_off_topic_halves_do_not_overlap():
    tune, test = off_topic_questions("tune"), off_topic_questions("test")
    assert len(tune) >= 25 and len(test) >= 25
    assert not {q.text for q in tune} & {q.text for q in test}
    assert all(q.off_topic for q in tune + test)


def test_compare_scores_every_mode_with_ir_measures(tmp_path, fake_embedder):
    data = load_dataset(str(write_beir(tmp_path / "mini")))
    settings = fake_settings(tmp_path)
    build_index(settings, fake_embedder, data.documents)
    reports = evaluation.compare(Searcher.open(settings, fake_embedder), data, "all")
    assert [r.mode.split(" ")[0] for r in reports] == ["bm25", "bm25", "dense", "hybrid,", "hybrid,"]
    for report in reports:
        assert report.metrics["R@1"] == 1.0  # both questions share words with their document only
        assert 0 < report.metrics["nDCG@10"] <= 1 and report.metrics["R@100"] == 1.0
        assert "Ans@1" not in report.metrics  # BEIR has no answer strings
    assert "| mode | R@1 | R@5 |" in evaluation.table(reports)


def test_answer_recall_and_highlight_are_counted_by_folded_strings(tmp_path, fake_embedder):
    data = load_dataset(str(write_beir(tmp_path / "mini")))
    settings = fake_settings(tmp_path)
    build_index(settings, fake_embedder, data.documents)
    searcher = Searcher.open(settings, fake_embedder)
    question = data.questions[0]
    right = type(question)("a", question.text, question.relevant, ("BAYRAKTAR  tb2",))
    wrong = type(question)("b", question.text, question.relevant, ("tanks",))
    metrics = evaluation.evaluate(searcher, [right, wrong], [])
    assert metrics["Ans@1"] == 0.5 and metrics["Highlight"] == 1.0
    # "Which drones ...?" asks for a name: the sentence's only new one, "Bayraktar TB2", is the span
    assert searcher.search(question.text, 1).hits[0].answer is not None
    assert metrics["AnsCov"] == 1.0 and metrics["AnsEM"] == 0.5 and metrics["AnsPrec"] == 0.5


def test_span_exact_match_is_squad_normalised():
    assert evaluation.squad_normal("The  Bayraktar-TB2, drones!") == "bayraktartb2 drones"
    assert evaluation.squad_normal("an Apple a day") == "apple day"


@pytest.mark.skipif(not KNOWN["seed"].exists(), reason="../shared/eval/seed_dev.jsonl is not beside the checkout")
def test_qa_eval_seed_on_the_default_corpus(real_settings, tmp_path):
    out = tmp_path / "seed.json"
    result = CliRunner().invoke(
        main,
        ["eval", "seed", "--index", str(real_settings.index_dir), "--json", str(out)],
        env={"QA_CORPUS_DIR": str(real_settings.corpus_dir)},
    )
    assert result.exit_code == 0, result.output
    assert "| mode | R@1 |" in result.output
    default = json.loads(out.read_text())["results"][-1]
    assert default["mode"] == "hybrid, default settings"
    assert default["Ans@3"] == 1.0  # every answerable seed question has its answer in the top 3
    assert default["WrongAbstain"] == 0.0 and default["OffTopicAnswered"] <= 0.1


def test_qa_eval_with_an_unknown_dataset_is_one_clear_line(tmp_path):
    result = CliRunner().invoke(main, ["eval", str(tmp_path / "nothing-here")])
    assert result.exit_code == 1
    assert result.output.startswith("Error: no dataset at ") and result.output.count("\n") == 1


def test_a_repeated_document_takes_a_slot_in_the_ranking():
    from qa.ingest.documents import Document
    from qa.ingest.passages import Passage
    from qa.retrieve.searcher import Hit

    def hit(rank, doc):
        return Hit(rank, 1.0, Passage(f"p{rank}", doc, 0, 1, "x", ((0, 1),)), Document(doc, doc, "x", ""), (0, 1))

    run = {"q": evaluation._passage_run([hit(1, "a"), hit(2, "a"), hit(3, "b")])}
    values = {str(m): v for m, v in ir_measures.calc_aggregate(evaluation.RANK_MEASURES, {"q": {"b": 1}}, run).items()}
    assert values["R@1"] == 0 and values["RR@10"] == pytest.approx(1 / 3)
    assert values["R@5"] == 1


def test_datasets_without_articles_have_no_held_out_split(tmp_path):
    data = load_dataset(str(write_beir(tmp_path / "mini")))
    assert data.split("tune") == data.split("test") == data.questions


def test_tuning_chooses_every_constant_on_a_split(tmp_path, fake_embedder):
    from qa.eval import tuning

    data = load_dataset(str(write_beir(tmp_path / "mini")))
    settings = fake_settings(tmp_path)
    build_index(settings, fake_embedder, data.documents)
    choices = {c.name: c.value for c in tuning.choose(Searcher.open(settings, fake_embedder), data, "all")}
    assert set(choices) == {"ranking.WEIGHTS['hybrid']", "source_diversity", "abstain_threshold"}  # no answers: no highlight
    assert set(choices["ranking.WEIGHTS['hybrid']"]) == set(tuning.ranking.SIGNALS)
    assert choices["source_diversity"] in tuning.DIVERSITY_GRID


def test_keyword_queries_need_answers_grouped_by_article(tmp_path):
    result = CliRunner().invoke(main, ["eval", str(write_beir(tmp_path / "mini")), "--keywords"])
    assert result.exit_code == 2
    assert "--keywords needs a SQuAD-format dataset" in result.output


def test_qa_eval_asks_a_variant_of_the_questions(real_settings):
    result = CliRunner().invoke(
        main,
        ["eval", "seed", "--index", str(real_settings.index_dir), "--modes", "hybrid", "--variant", "typo"],
        env={"QA_CORPUS_DIR": str(real_settings.corpus_dir)},
    )
    assert result.exit_code == 0, result.output
    assert "seed_dev, split test, asked as typo:" in result.output
    assert "| hybrid, default settings |" in result.output
