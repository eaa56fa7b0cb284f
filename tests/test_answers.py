"""Answer types: what a question asks for, and which sentences hold a candidate of that kind."""

from __future__ import annotations

import numpy as np
import pytest

from qa.retrieve import answers


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Who was Armenia's defence minister in 2022?", "name"),
        ("Which drones did Azerbaijan use?", "name"),
        ("On what date did the fighting begin?", "date"),
        ("When was the ceasefire signed?", "date"),
        ("How many soldiers died?", "number"),
        ("Where was the ceasefire brokered?", "place"),
        ("In which city was it signed?", "place"),
        ("Why did the war start?", ""),
        ("Who fumbled the ball when tackled by Darian Stewart?", "name"),
        ("Where was Tesla studying when he started playing cards?", "place"),
        ("What is the name of the stadium where Super Bowl 50 was played?", "name"),
        ("The Last Glacial Maximum, which was how many years ago?", "number"),
        ("Bayraktar TB2", ""),
    ],
)
def test_what_a_question_asks_for(question, kind):
    assert answers.asks_for(question) == kind


TEXT = "Suren Papikyan (Minister of Defence)\nThe war began in September 2020. Armenia lost 3,800 soldiers."


def sentences_of(text: str) -> tuple[tuple[int, int], ...]:
    spans, start = [], 0
    for part in ("Suren Papikyan (Minister of Defence)", "The war began in September 2020.", "Armenia lost 3,800 soldiers."):
        start = text.index(part, start)
        spans.append((start, start + len(part)))
    return tuple(spans)


def test_a_name_is_a_capitalised_word_that_does_not_begin_its_sentence_nor_is_in_the_question():
    text = TEXT
    typed = answers.typed_sentences("Who was the Minister of Defence?", "name", text, sentences_of(text))
    assert typed.tolist() == [True, False, False]  # Papikyan; a month is no name; "Armenia" begins its sentence


def test_dates_and_numbers_are_found_in_their_sentence():
    text = TEXT
    spans = sentences_of(text)
    assert answers.typed_sentences("When did the war begin?", "date", text, spans).tolist() == [False, True, False]
    assert answers.typed_sentences("How many soldiers did Armenia lose?", "number", text, spans).tolist() == [False, True, True]
    assert not answers.typed_sentences("When did the war begin in 2020?", "date", "It began in 2020.", ((0, 17),))[0]


def test_a_question_without_a_kind_types_nothing():
    assert not answers.typed_sentences("Why?", "", "Papikyan spoke in 2022.", ((0, 23),)).any()


def test_a_typed_sentence_wins_a_close_highlight():
    scores = np.array([1.0, 0.9])
    assert int(np.argmax(answers.highlight_scores(np.array([False, True]), scores))) == 1


def test_months_and_lone_demonyms_are_no_names():
    question = "Who was Armenia's defence minister in 2022?"
    assert not answers.holds_candidate("A map of Azerbaijani strikes on Armenia in September 2022.", "name", question)
    assert not answers.holds_candidate("It struck Armenian air defences.", "name", question)
    assert answers.holds_candidate("It was led by Suren Papikyan in 2022.", "name", question)
    assert answers.holds_candidate("Troops of the Azerbaijani Armed Forces crossed.", "name", question)  # a run of names


def test_typed_sentences_are_remembered_and_read_only():
    first = answers.typed_sentences("Who spoke?", "name", "Then Papikyan spoke.", ((0, 20),))
    assert first.tolist() == [True] and not first.flags.writeable
    assert answers.typed_sentences("Who spoke?", "name", "Then Papikyan spoke.", ((0, 20),)) is first
    assert answers.typed_sentences("Who spoke?", "name", "Then Papikyan spoke.", ((0, 4),)).tolist() == [False]
