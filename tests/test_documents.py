"""Reading .txt, .md, .html and .jsonl corpora; titles, ids and citation offsets."""

from __future__ import annotations

import json

import pytest

from qa.errors import CorpusError
from qa.ingest.documents import read_corpus
from qa.ingest.passages import passages_of


def write(path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)


def test_every_format_is_read_with_its_title(tmp_path):
    write(tmp_path / "a.txt", "Plain title\r\nThe first sentence of a text file is here.\r\n")
    write(tmp_path / "sub/b.md", "# Markdown title\n\nA paragraph that is long enough to be prose.\n")
    write(
        tmp_path / "c.html",
        "<html><head><title>Page title</title><script>var x = 1;</script></head><body>"
        "<nav>Home | About</nav><p>The <b>first</b> paragraph has &amp; an entity.</p><p>Second one.</p></body></html>",
    )
    write(
        tmp_path / "d.jsonl",
        json.dumps({"id": "Doc#0007", "title": "Record title", "text": "A record's text, long enough to index."}) + "\n",
    )
    docs = {d.id: d for d in read_corpus(tmp_path)}
    assert set(docs) == {"a.txt", "sub/b.md", "c.html", "Doc#0007"}
    assert [docs[i].title for i in ["a.txt", "sub/b.md", "c.html", "Doc#0007"]] == [
        "Plain title",
        "Markdown title",
        "Page title",
        "Record title",
    ]
    assert "The first paragraph has & an entity." in docs["c.html"].text
    assert "var x" not in docs["c.html"].text and "Home" not in docs["c.html"].text
    assert docs["a.txt"].text.count("\r\n") == 2  # the original characters, untranslated


def test_citations_hold_for_jsonl_records(tmp_path):
    records = [
        {"id": f"r{i}", "title": "T", "text": f"Record {i} begins here. It says a second thing.\n\nAnd more."} for i in range(3)
    ]
    write(tmp_path / "c.jsonl", "\n".join(json.dumps(r) for r in records) + "\n")
    docs = read_corpus(tmp_path)
    by_id = {r["id"]: r for r in records}
    for p in passages_of(docs, 600, 1000, 1):
        assert by_id[p.doc_id]["text"][p.start : p.end] == p.text


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("bad.jsonl", "{not json}\n", "bad.jsonl:1: invalid JSON"),
        ("noid.jsonl", '{"text": "x"}\n', 'needs an "id"'),
        ("dup.jsonl", '{"id": "x", "text": "a"}\n{"id": "x", "text": "b"}\n', "duplicate document id 'x'"),
    ],
)
def test_bad_jsonl_gives_a_clear_error(tmp_path, name, content, message):
    write(tmp_path / name, content)
    with pytest.raises(CorpusError, match=message):
        read_corpus(tmp_path)


def test_bad_utf8_and_empty_folders_are_clear_errors(tmp_path):
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 au lait".encode("latin-1"))
    with pytest.raises(CorpusError, match=r"latin1\.txt: not valid UTF-8"):
        read_corpus(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="no documents"):
        read_corpus(tmp_path / "empty")
    with pytest.raises(CorpusError, match="not found"):
        read_corpus(tmp_path / "missing")
