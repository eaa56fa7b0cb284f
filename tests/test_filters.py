"""Filters by document, source and date, applied before ranking; document metadata from sidecars."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from qa.errors import CorpusError, InvalidFilter
from qa.index.build import build_index
from qa.ingest.documents import iso_date, read_corpus
from qa.retrieve.filters import Filter
from qa.retrieve.searcher import Searcher
from qa.web import create_app

from .conftest import CORPUS, FakeEmbedder, fake_settings
from .openapi_check import checking_client
from .test_http import assert_error

SEPT_2022 = "004_ac4458f6c11ac45b.txt"


def test_a_filter_applies_before_ranking_so_k_results_come_back(real_searcher):
    question = "Which drones did Azerbaijan use in the 2020 war?"
    unfiltered = real_searcher.search(question, 5)
    assert sum(h.document.id == SEPT_2022 for h in unfiltered.hits) < 5  # post-filtering would return fewer
    filtered = real_searcher.search(question, 5, Filter.of([SEPT_2022]))
    assert len(filtered.hits) == 5 and {h.document.id for h in filtered.hits} == {SEPT_2022}
    assert [h.rank for h in filtered.hits] == [1, 2, 3, 4, 5]


def test_a_filter_matching_nothing_gives_no_hits_and_abstains(real_searcher):
    result = real_searcher.search("war", 3, Filter.of(["no-such-document"]))
    assert result.hits == [] and result.abstained


@pytest.fixture
def dated(tmp_path: Path) -> Searcher:
    shutil.copytree(CORPUS, tmp_path / "corpus")
    meta = {"000_abdca20c2aa4f4be.txt": "2020-07-20", "002_97eb6d87a007548f.txt": "2020-09-28", SEPT_2022: "2022-09-14"}
    for name, date in meta.items():
        (tmp_path / "corpus" / f"{name}.meta.json").write_text(
            json.dumps({"date": date, "source_url": f"https://news.example/{name}"})
        )
    settings = fake_settings(tmp_path, corpus=tmp_path / "corpus")
    build_index(settings, FakeEmbedder())
    return Searcher.open(settings, FakeEmbedder())


def test_sidecar_metadata_reaches_documents_and_results(dated):
    doc = dated.document(SEPT_2022)
    assert doc.date == "2022-09-14" and doc.source_url == f"https://news.example/{SEPT_2022}"
    hit = dated.search("September 2022 clashes", 1, Filter.of([SEPT_2022])).hits[0].to_dict()
    assert hit["document"]["date"] == "2022-09-14"


def test_date_and_source_filters(dated):
    in_2020 = dated.search("clashes between Armenia and Azerbaijan", 10, Filter.of(date_from="2020-01-01", date_to="2020-12-31"))
    assert {h.document.id for h in in_2020.hits} == {  # 003's date comes with the default corpus
        "000_abdca20c2aa4f4be.txt",
        "002_97eb6d87a007548f.txt",
        "003_d560007ba48ee34c.txt",
    }
    since = dated.search("clashes", 10, Filter.of(date_from="2022-01-01"))
    assert {h.document.id for h in since.hits} == {SEPT_2022}
    by_url = dated.search("clashes", 10, Filter.of(source="https://news.example/002"))
    assert {h.document.id for h in by_url.hits} == {"002_97eb6d87a007548f.txt"}


@pytest.mark.parametrize(
    "query, message",
    [
        ({"q": "war", "from": "yesterday"}, "from must be"),
        ({"q": "war", "to": ""}, "to must be"),
        ({"q": "war", "from": "2020-13-01"}, "from must be"),
        ({"q": "war", "from": "2020-01-01garbage"}, "from must be"),
        ({"q": "war", "to": "2020-01-01T25:99:99"}, "to must be"),
    ],
)
def test_bad_filters_in_the_query_string(dated, query, message):
    client = checking_client(create_app(dated.settings, dated))
    response = client.get("/api/search", query_string=query)
    assert_error(response, 400, "invalid_filter")
    assert message in response.get_json()["error"]["message"]


def test_filters_over_http(dated):
    client = checking_client(create_app(dated.settings, dated))
    got = client.get("/api/search", query_string=[("q", "clashes"), ("doc", SEPT_2022), ("doc", "002_97eb6d87a007548f.txt")])
    assert {h["document"]["id"] for h in got.get_json()["results"]} == {SEPT_2022, "002_97eb6d87a007548f.txt"}
    posted = client.post("/api/search", json={"q": "clashes", "k": 3, "filter": {"from": "2022-01-01"}})
    assert {h["document"]["id"] for h in posted.get_json()["results"]} == {SEPT_2022}
    batch = client.post("/api/search", json={"queries": ["clashes", "war"], "filter": {"doc_ids": [SEPT_2022]}})
    assert all(h["document"]["id"] == SEPT_2022 for r in batch.get_json()["responses"] for h in r["results"])
    assert_error(client.post("/api/search", json={"q": "war", "filter": ["x"]}), 400, "invalid_filter")
    assert_error(client.post("/api/search", json={"q": "war", "filter": {"doc_ids": "x"}}), 400, "invalid_filter")


@pytest.mark.parametrize(
    "where, message",
    [
        (["x"], '"filter" must be an object like {"doc_ids": [...]'),
        ("2020", '"filter" must be an object like {"doc_ids": [...]'),
        ({"doc_ids": "x"}, '"filter.doc_ids" must be a list'),
        ({"doc_ids": ["a", 7]}, '"filter.doc_ids[1]" must be a string'),
        ({"source": 7}, '"filter.source" must be a string'),
        ({"from": 20200101}, '"filter.from" must be a string'),
        ({"from": "yesterday"}, "from must be an ISO 8601 date"),
    ],
)
def test_a_bad_filter_in_a_body_says_what_is_wrong_in_words(dated, where, message):
    client = checking_client(create_app(dated.settings, dated))
    for body in ({"q": "war", "filter": where}, {"queries": ["war"], "filter": where}):
        response = client.post("/api/search", json=body)
        assert_error(response, 400, "invalid_filter")
        said = response.get_json()["error"]["message"]
        assert said.startswith(message), said
        assert "Input should" not in said and "pydantic" not in said  # not pydantic's own words


@pytest.mark.parametrize(
    "meta",
    [
        '{"date": 2020}',
        '{"date": "Sept 28, 2020"}',
        '{"date": "2020-9-28"}',
        "[1]",
        '{"date": "2020-09-28garbage<script>"}',
        '{"date": "2020-09-28T25:99:99"}',
    ],
)
def test_a_malformed_sidecar_is_a_corpus_error(tmp_path, meta):
    (tmp_path / "a.txt").write_text("A title\nSome prose about things.\n")
    (tmp_path / "a.txt.meta.json").write_text(meta)
    with pytest.raises(CorpusError, match=r"meta\.json"):
        read_corpus(tmp_path)


@pytest.mark.parametrize("date", ["2020-01-01garbage<script>", "2020-01-01T25:99:99", "2020-01-01x10:00", "20200101"])
def test_a_jsonl_record_with_a_malformed_date_is_a_corpus_error(tmp_path, date):
    (tmp_path / "a.jsonl").write_text(json.dumps({"id": "a", "text": "Some prose.", "date": date}) + "\n")
    with pytest.raises(CorpusError, match=r"a.jsonl:1: date"):
        read_corpus(tmp_path)


@pytest.mark.parametrize(
    "value, day",
    [
        ("2020-09-28", "2020-09-28"),
        ("2020-09-28T14:05", "2020-09-28"),
        ("2020-09-28 14:05:30.25Z", "2020-09-28"),
        ("2020-09-28T23:59:59+02:00", "2020-09-28"),
        ("2020-09-28T00:00:00-0530", "2020-09-28"),
        *(
            (bad, None)
            for bad in [
                "2020-01-01garbage<script>",
                "2020-01-01T25:99:99",
                "2020-01-01T10:00:61",
                "2020-02-30",
                "2020-01-01T10:00+25:00",
                "2020-01-01x10:00",
                "2020-01-01T10",
                "20200101",
                "2020-W01-1",
                " 2020-01-01",
                "2020-01-01\n",
                "\uff12\uff10\uff12\uff10-01-01",
                "",
            ]
        ),
    ],
)
def test_dates_are_strict_iso_8601(value, day):
    if day is None:
        with pytest.raises(ValueError):
            iso_date(value)
    else:
        assert iso_date(value) == day


def test_filter_of_checks_its_values():
    with pytest.raises(InvalidFilter):
        Filter.of("one-id-not-a-list")
    assert not Filter.of() and Filter.of(["a"])


def test_the_page_shows_the_date_and_links_only_web_urls(dated, tmp_path):
    (dated.settings.corpus_dir / "002_97eb6d87a007548f.txt.meta.json").write_text(
        json.dumps({"date": "2020-09-28", "source_url": "javascript:alert(1)"})
    )
    build_index(dated.settings, FakeEmbedder())
    searcher = Searcher.open(dated.settings, FakeEmbedder())
    client = create_app(dated.settings, searcher).test_client()
    page = client.get("/", query_string={"q": "September 2022 clashes", "k": 10}).get_data(as_text=True)
    assert '<span class="published" data-slot="date">2022-09-14</span>' in page
    assert f'href="https://news.example/{SEPT_2022}"' in page
    assert "javascript:" not in page
