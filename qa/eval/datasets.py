"""Evaluation datasets: SQuAD v1.1 JSON, seed questions (JSONL) and BEIR folders, in one shape.

SQuAD: one document per paragraph (id `<title>#<n>`), each question's gold document is its
paragraph, and its group is its article's position, so splits are made by article.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from ..ingest.documents import jsonl_lines

# Relative to the working directory: the repository's root, where `scripts/test` and `qa eval` run.
SHARED_EVAL = Path("..") / "shared" / "eval"
KNOWN = {
    "squad": SHARED_EVAL / "squad-v1.1-dev" / "dev-v1.1.json",
    "seed": SHARED_EVAL / "seed_dev.jsonl",
}
OFF_TOPIC = Path("eval") / "off_topic.txt"
SPLITS = ("tune", "test", "all")


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    relevant: dict[str, int]  # document id -> graded relevance; empty when off-topic
    answers: tuple[str, ...] = ()
    group: int = 0  # questions of one group (a SQuAD article) are never split apart

    @property
    def off_topic(self) -> bool:
        return not self.relevant


@dataclass(frozen=True)
class Dataset:
    name: str
    questions: list[Question]
    documents: list[dict] | None = None  # None: the configured corpus folder
    groups: int = 1
    has_answers: bool = field(default=True)

    def split(self, which: str) -> list[Question]:
        """`tune`: the first half of the groups, `test`: the second half, `all`: every question.
        A dataset without groups (seed, BEIR) has no held-out part: every split is all of it."""
        if which == "all" or self.groups < 2:
            return self.questions
        half = self.groups // 2
        return [q for q in self.questions if (q.group < half) == (which == "tune")]


def load_dataset(name_or_path: str) -> Dataset:
    path = KNOWN.get(name_or_path, Path(name_or_path))
    if not path.exists():
        raise ConfigError(f"no dataset at {path} (give a path, or one of: {', '.join(KNOWN)})")
    if path.is_dir():
        return beir(path)
    if path.suffix == ".json":
        return squad(path)
    return seed(path)


def squad(path: Path) -> Dataset:
    articles = json.loads(path.read_text(encoding="utf-8"))["data"]
    documents, questions = [], []
    for group, article in enumerate(articles):
        for n, paragraph in enumerate(article["paragraphs"]):
            doc_id = f"{article['title']}#{n}"
            documents.append({"id": doc_id, "title": article["title"].replace("_", " "), "text": paragraph["context"]})
            for qa in paragraph["qas"]:
                answers = tuple(a["text"] for a in qa["answers"])
                questions.append(Question(qa["id"], qa["question"], {doc_id: 1}, answers, group))
    return Dataset(path.stem, questions, documents, groups=len(articles))


def seed(path: Path) -> Dataset:
    """JSONL of {"q", "answers", "docs", "unanswerable"?} asked against the configured corpus."""
    questions = []
    for n, line in enumerate(jsonl_lines(path.read_text(encoding="utf-8"))):
        if line.strip():
            row = json.loads(line)
            relevant = {} if row.get("unanswerable") else {d: 1 for d in row["docs"]}
            questions.append(Question(f"q{n}", row["q"], relevant, tuple(row.get("answers", ()))))
    return Dataset(path.stem, questions)


def beir(folder: Path) -> Dataset:
    """A BEIR folder: corpus.jsonl, queries.jsonl, qrels/test.tsv (query-id, corpus-id, score)."""
    try:
        documents = [
            {"id": str(r["_id"]), "title": r.get("title", ""), "text": r["text"]} for r in _jsonl(folder / "corpus.jsonl")
        ]
        texts = {str(r["_id"]): r["text"] for r in _jsonl(folder / "queries.jsonl")}
        relevant: dict[str, dict[str, int]] = {}
        with open(folder / "qrels" / "test.tsv", encoding="utf-8") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                if int(row["score"]) > 0:
                    relevant.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])
    except (OSError, KeyError, ValueError) as e:
        raise ConfigError(f"{folder} is not a BEIR folder (corpus.jsonl, queries.jsonl, qrels/test.tsv): {e}") from None
    questions = [Question(qid, texts[qid], rel) for qid, rel in relevant.items() if qid in texts]
    return Dataset(folder.name, questions, documents, has_answers=False)


def off_topic_questions(which: str, path: Path = OFF_TOPIC) -> list[Question]:
    """Everyday questions no evaluation corpus answers; alternate lines form the tune/test halves."""
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    lines = [line for line in lines if line and not line.startswith("#")]
    picked = {"tune": lines[0::2], "test": lines[1::2], "all": lines}[which]
    return [Question(f"off{n}", text, {}) for n, text in enumerate(picked)]


def _jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
