"""Terse lines in a block (an infobox's, a list's) are embedded and matched after their block's
heading; prose is embedded as it is, and citations stay verbatim."""

from __future__ import annotations

import shutil

from qa.index.build import build_index, stale_reason
from qa.index.encoding import distinct_sentences, plain_sentences
from qa.index.load import load_index
from qa.ingest import terse
from qa.ingest.documents import Document, read_corpus
from qa.ingest.passages import passages_of
from qa.retrieve.searcher import Searcher

from .conftest import CORPUS, FakeEmbedder, fake_settings

TITLE = "September 2022 Armenia–Azerbaijan clashes"
INFOBOX = """Belligerents
\xa0Azerbaijan \xa0Armenia
Commanders and leaders
Ilham Aliyev
(President, Commander-in-Chief)
Zakir Hasanov
(Minister of Defence)
Nikol Pashinyan (Prime Minister, Commander-in-Chief)
Suren Papikyan (Minister of Defence)
Units involved
Azerbaijani Armed Forces Armed Forces of Armenia
Casualties and losses

Per Azerbaijan:
80 servicemen killed
281 servicemen wounded

Azerbaijani forces attacked military and civilian positions in Vardenis, Goris and Jermuk.
Zakir Hasanov
"""
PROSE = (
    "Super Bowl 50 was an American football game to determine the champion of the National Football League "
    "for the 2015 season. The American Football Conference champion Denver Broncos defeated the National "
    'Football Conference champion Carolina Panthers 24–10 to earn their third Super Bowl title. He stated: "We won." '
    "The game was played on February 7, 2016, at Levi's Stadium in the San Francisco Bay Area at Santa Clara, "
    "California [citation needed]. As this was the 50th Super Bowl, the league emphasized the golden anniversary"
)

OXYGEN = (  # SQuAD's "Oxygen" breaks a line at each subscript: terse fragments, in no block
    " Oxygen is present in the atmosphere in trace quantities in the form of carbon dioxide (CO\n2). The crust is "
    "composed of oxides of silicon (silica SiO\n2, as found in granite and quartz), aluminium (aluminium oxide Al\n"
    "2O\n3, in bauxite and corundum). Concentrated O\n2 will allow combustion to proceed rapidly."
)


def embedded(text: str, title: str = TITLE) -> dict[str, str]:
    """Each sentence of a one-document corpus, as cited, and what is embedded for it."""
    doc = Document("d", title, text, "")
    passages = passages_of([doc], 600, 1000, 1)
    keys, _, _ = plain_sentences(passages)
    return dict(zip((text[s:e] for _, s, e in keys), distinct_sentences(passages)[0], strict=True))


def test_an_infobox_line_is_embedded_after_its_block_heading():
    texts = embedded(INFOBOX)
    assert texts["Suren Papikyan (Minister of Defence)"] == "Commanders and leaders. Suren Papikyan (Minister of Defence)"
    assert texts["(Minister of Defence)"] == "Commanders and leaders. (Minister of Defence)"
    assert texts["Azerbaijani Armed Forces Armed Forces of Armenia"].startswith("Units involved. ")
    assert texts["80 servicemen killed"] == "Casualties and losses. 80 servicemen killed"
    assert texts["Per Azerbaijan:"] == "Per Azerbaijan:"  # a label is embedded as it is, in its block
    assert texts["Commanders and leaders"] == "Commanders and leaders"  # a heading alone holds no answer
    assert texts["Belligerents\n\xa0Azerbaijan \xa0Armenia"] == "Belligerents Azerbaijan Armenia"  # opens a block


def test_prose_ends_a_block_and_no_side_is_guessed():
    texts = embedded(INFOBOX)
    prose = "Azerbaijani forces attacked military and civilian positions in Vardenis, Goris and Jermuk."
    assert texts[prose] == prose
    assert texts["Zakir Hasanov"] == "Zakir Hasanov"  # after prose: in no block, so as it is
    assert not any("Armenia." in t or "Azerbaijan." in t for t in texts.values())  # the side is not in the text
    assert not any(TITLE in t for t in texts.values())  # the title would outweigh a short line


def test_prose_and_the_lines_a_formula_breaks_are_embedded_as_they_are():
    doc = Document("d", "Super Bowl 50", PROSE + OXYGEN, "")
    passages = passages_of([doc], 600, 1000, 1)
    plain = plain_sentences(passages)[1]
    assert len(plain) >= 5
    assert distinct_sentences(passages)[0] == plain  # normalised, no context


def test_the_terse_and_heading_rules():
    for line in ["Suren Papikyan (Minister of Defence)", "80 servicemen killed", "Units involved", "• 450 servicemen killed"]:
        assert terse.is_terse(line), line
    for line in ["The war lasted for 44 days.", "[citation needed]", ":245", "Tesla stated,", "Oxygen gas (O", "he said: [3]"]:
        assert not terse.is_terse(line), line
    assert terse.is_terse("• " + "word " * 30)  # a list item, at any length
    assert not terse.is_terse("word " * 13)
    assert [terse.heading_of(s) for s in ["Casualties and losses", "Strength", "Belligerents\n Azerbaijan Armenia"]] == [
        "Casualties and losses",
        "Strength",
        "Belligerents",
    ]
    for line in ["Zakir Hasanov", "NATO", "Per Azerbaijan:", "(2 days)", "Date12–14 September 2022"]:
        assert terse.heading_of(line) is None, line


def test_the_default_corpus_prose_documents_are_embedded_as_they_are():
    docs = [d for d in read_corpus(CORPUS) if not d.id.startswith("004")]  # 004 has the infobox
    passages = passages_of(docs, 600, 1000, 1)
    assert distinct_sentences(passages)[0] == plain_sentences(passages)[1]


def test_citations_stay_verbatim_while_the_embedded_text_has_context(tmp_path):
    settings = fake_settings(tmp_path)
    embedder = FakeEmbedder()
    build_index(settings, embedder)
    index = load_index(settings.index_dir)
    assert index.manifest.settings["terse_rules"] == terse.RULES_VERSION
    searcher = Searcher(index, embedder, settings)
    hits = searcher.search("Suren Papikyan Minister of Defence", 5).hits
    hit = next(h for h in hits if "Suren Papikyan" in h.passage.text)
    doc = index.documents[hit.passage.doc_id]
    assert doc.text[hit.passage.start : hit.passage.end] == hit.passage.text
    s, e = hit.highlight
    assert hit.passage.text[s:e] == "Suren Papikyan (Minister of Defence)"  # the line as it is, no context


def test_a_change_of_terse_rules_makes_the_index_stale_and_encodes_again(tmp_path, monkeypatch):
    shutil.copytree(CORPUS, tmp_path / "corpus")
    settings = fake_settings(tmp_path, corpus=tmp_path / "corpus")
    build_index(settings, FakeEmbedder())
    assert stale_reason(settings) is None
    monkeypatch.setattr("qa.ingest.terse.RULES_VERSION", "changed-for-the-test")
    assert stale_reason(settings) == "passage settings changed"
    build_index(settings, FakeEmbedder())
    assert load_index(settings.index_dir).manifest.reused_vectors == 0
