"""The question's language: the detector's rule on its own, then what a search, the API, the page
and `qa ask` make of a question the model cannot read."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from qa.cli import main
from qa.config import Settings
from qa.errors import ConfigError
from qa.eval.datasets import KNOWN, off_topic_questions
from qa.retrieve import language

from .conftest import CORPUS

FOREIGN = {
    "ru": ["Сколько длилась Вторая карабахская война?", "Где начались столкновения в июле 2020 года?", "прекращение огня"],
    "fr": ["Combien de temps a duré la deuxième guerre du Haut-Karabakh ?", "Qui a signé le cessez-le-feu ?"],
    "de": ["Wie lange dauerte der Zweite Bergkarabach-Krieg?", "Wer hat den Waffenstillstand unterzeichnet?"],
    "es": ["¿Cuánto duró la segunda guerra de Nagorno Karabaj?", "¿Quién firmó el alto el fuego?"],
    "hy": ["Որքա՞ն տևեց Արցախյան երկրորդ պատերազմը:", "Ղարաբաղ"],
    "az": ["İkinci Qarabağ müharibəsi nə qədər davam etdi?", "Atəşkəs sazişini kim imzaladı?"],
}
ENGLISH_QUESTIONS = [
    "How long did the Second Nagorno-Karabakh War last?",
    "Which newspaper interviewed Lavrov?",
    "Who was the Russian co-chair of the OSCE Minsk Group?",
    "Can dogs eat grapes?",
    "Who won?",
    "Did Pashinyan sign the ceasefire?",
    "Is Stepanakert the capital of Artsakh?",
]
ENGLISH_KEYWORDS = [
    "Bayraktar TB2",
    "Lachin corridor",
    "OSCE Minsk Group",
    "ceasefire",
    "Shusha",
    "Ilham Aliyev",
    "Hadrut",
    "Aliyev Pashinyan Putin",
    "Nagorno-Karabakh",
    "Artsakh referendum 2017",
    "Zangezur corridor",
    "Madrid Principles",
    "Tavush Tovuz clashes",
    "Sergey Lavrov Kommersant interview",
    "Karabakh war 2020 timeline",
]
RUSSIAN = FOREIGN["ru"][1]  # answered with confidence above the threshold when the language is not checked
FRENCH = FOREIGN["fr"][0]


@pytest.mark.parametrize("code, text", [(code, text) for code, texts in FOREIGN.items() for text in texts])
def test_questions_in_other_languages_are_foreign(code, text):
    detected = language.detect(text, "en")
    assert detected.foreign and detected.language == code, detected


@pytest.mark.parametrize("text", ENGLISH_QUESTIONS + ENGLISH_KEYWORDS)
def test_english_questions_and_keyword_queries_are_not(text):
    detected = language.detect(text, "en")
    assert not detected.foreign, detected
    assert detected.language in ("en", ""), detected  # a short name is not said to be Turkish or Swahili


@pytest.mark.parametrize("text", ["le corridor de Latchine", "Waffenstillstand", "Wo liegt Stepanakert?", "Dəmir Yumruq"])
def test_short_latin_script_text_is_never_called_foreign(text):
    assert not language.detect(text, "en").foreign  # names and keywords are spelled alike in many languages


def test_every_english_question_we_evaluate_on_passes():
    """SQuAD v1.1 dev, the seed questions, the off-topic questions and the example questions."""
    questions = [q.text for q in off_topic_questions("all")]
    questions += [line for line in (CORPUS / ".examples.txt").read_text().splitlines() if not line.startswith("#")]
    if KNOWN["seed"].exists():
        questions += [json.loads(line)["q"] for line in KNOWN["seed"].read_text().splitlines()]
    if KNOWN["squad"].exists():
        articles = json.loads(KNOWN["squad"].read_text())["data"]
        questions += [q["question"] for a in articles for p in a["paragraphs"] for q in p["qas"]]
    flagged = [q for q in questions if language.detect(q, "en").foreign]
    assert not flagged and len(questions) > 30


def test_the_model_language_decides_what_is_foreign():
    assert not language.detect(FOREIGN["ru"][0], "ru").foreign
    assert language.detect("What did Lavrov say caused the border clashes?", "ru").foreign


def test_an_unknown_model_language_is_a_config_error():
    with pytest.raises(ConfigError, match="not a language the detector knows"):
        language.detect("war", "qq")
    for wrong in ("english", "", "EN"):
        with pytest.raises(ConfigError, match="ISO 639-1"):
            Settings.load(env={}, model_language=wrong)
    assert Settings.load(env={"QA_MODEL_LANGUAGE": "any"}).model_language == "any"


def test_the_explanation_names_both_languages():
    message = language.explain(language.detect(RUSSIAN, "en"), "en")
    assert "Russian" in message and "English only" in message


def test_russian_and_french_questions_abstain_with_the_language_reason(real_searcher):
    results = real_searcher.search_many([RUSSIAN, FRENCH], 3)
    for result, code in zip(results, ["ru", "fr"], strict=True):
        assert result.abstained and result.abstain_reason == "language", result.query
        assert result.language == code and len(result.hits) == 3  # the nearest passages are still listed
        assert "English only" in result.abstain_message
    assert results[0].confidence >= real_searcher.settings.abstain_threshold  # what this check is for


def test_english_questions_and_keywords_are_answered_as_before(real_searcher):
    for result in real_searcher.search_many(ENGLISH_QUESTIONS[:3] + ENGLISH_KEYWORDS[:8], 2):
        assert result.abstain_reason != "language", result.query
        assert result.language in ("en", "")
    answered = real_searcher.search("How long did the Second Nagorno-Karabakh War last?")
    assert not answered.abstained and answered.abstain_reason == "" and answered.abstain_message == ""
    assert answered.language == "en" or answered.language == ""
    off_topic = real_searcher.search("What is the recipe for chocolate cake?")
    assert off_topic.abstain_reason == "confidence" and "below 0.39" in off_topic.abstain_message
    assert off_topic.language == "en"


def test_any_model_language_turns_the_check_off(real_searcher):
    result = real_searcher.with_settings(model_language="any").search(RUSSIAN, 2)
    assert result.language == "" and result.abstain_reason != "language"


def test_a_filter_that_allows_nothing_says_so(fake_searcher):
    from qa.retrieve.filters import Filter

    result = fake_searcher.search(RUSSIAN, 2, Filter.of(["no-such-document"]))
    assert result.abstained and result.abstain_reason == "filter" and result.hits == []
    assert result.to_dict()["abstain_message"] == "No passage matches the filter."


def test_the_api_reports_language_and_reason_in_its_documented_shape(client):
    data = client.get("/api/search", query_string={"q": RUSSIAN, "k": 2}).get_json()
    assert data["abstained"] is True and data["abstain_reason"] == "language" and data["language"] == "ru"
    assert len(data["results"]) == 2 and "Russian" in data["abstain_message"]
    batch = client.post("/api/search", json={"queries": [FRENCH, "Bayraktar TB2"], "k": 1}).get_json()
    assert next(r["abstain_reason"] for r in batch["responses"]) == "language"
    assert batch["responses"][1]["abstain_reason"] != "language"
    assert client.checked == 2  # both answers validated against /openapi.json


def test_the_page_says_why_it_did_not_answer(client):
    page = client.get("/", query_string={"q": RUSSIAN}).get_data(as_text=True)
    assert "No confident answer in these documents." in page
    assert "seems to be in Russian, but the model understands English only" in page
    assert page.count('<li class="hit">') == 5 + 1  # five results and the card <template>


def test_qa_ask_prints_a_clear_line(real_settings):
    result = CliRunner().invoke(main, ["ask", FRENCH, "-k", "1", "--index", str(real_settings.index_dir)])
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert first.startswith("Not answered: The question seems to be in French") and "Ask in English." in first
    assert "1. [" in result.output  # the nearest passage is still shown
