"""How well the question-language check (qa/language.py) tells English from other languages.

    .venv/bin/python bench/language.py [--index DIR]

English: the questions of SQuAD v1.1 dev and the seed set (../shared/eval, where present), the
off-topic questions (eval/off_topic.txt), English keyword queries, and every capitalised name
of one to four words in the default corpus (what someone may type as a keyword query). Other
languages: eval/other_languages.tsv. Counts how many of each are called foreign, and times the
detector's load and a call. With --index (a built index of the default corpus), also counts the
foreign questions the model would have answered without the check (confidence at or above the
threshold). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from pathlib import Path

from qa.config import Settings
from qa.eval.datasets import KNOWN, off_topic_questions
from qa.retrieve import language

REPO = Path(__file__).resolve().parent.parent  # the checkout: its corpus/ and eval/
KEYWORDS = [
    "Bayraktar TB2",
    "Lachin corridor",
    "OSCE Minsk Group",
    "ceasefire",
    "Shusha",
    "Ilham Aliyev",
    "Hadrut",
    "Aliyev Pashinyan Putin",
    "Stepanakert",
    "Nagorno-Karabakh",
    "Artsakh referendum 2017",
    "Zangezur corridor",
    "Harop loitering munition",
    "Russian peacekeepers",
    "Madrid Principles",
    "Tavush Tovuz clashes",
    "casualties",
    "Sergey Lavrov Kommersant interview",
    "Operation Iron Fist",
    "Karabakh war 2020 timeline",
]
NAME = re.compile(r"\b[A-Z][\w'-]+(?: (?:of |the |de )?[A-Z][\w'-]+){0,3}")


def english_sets() -> dict[str, list[str]]:
    sets = {"off-topic questions": [q.text for q in off_topic_questions("all")], "keyword queries": KEYWORDS}
    if KNOWN["squad"].exists():
        articles = json.loads(KNOWN["squad"].read_text())["data"]
        sets["SQuAD v1.1 dev questions"] = [q["question"] for a in articles for p in a["paragraphs"] for q in p["qas"]]
    if KNOWN["seed"].exists():
        sets["seed questions"] = [json.loads(line)["q"] for line in KNOWN["seed"].read_text().splitlines()]
    text = " ".join(path.read_text(encoding="utf-8") for path in sorted((REPO / "corpus").glob("*.txt")))
    sets["names in the corpus"] = sorted({m.group(0) for m in NAME.finditer(text) if len(m.group(0)) > 3})
    return sets


def other_languages() -> list[tuple[str, str]]:
    lines = (REPO / "eval" / "other_languages.tsv").read_text(encoding="utf-8").splitlines()
    pairs = (line.split("\t", 1) for line in lines if line and not line.startswith("#"))
    return [(language, text) for language, text in pairs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, help="A built index of the default corpus (for the confidence column).")
    args = parser.parse_args()
    started = time.perf_counter()
    language.detect("warm up", "en")
    print(f"detector load: {(time.perf_counter() - started) * 1000:.0f} ms\n")
    print("| texts | count | called foreign | ms per call |\n|---|---|---|---|")
    for name, texts in english_sets().items():
        began = time.perf_counter()
        flagged = [t for t in texts if language.detect(t, "en").foreign]
        ms = (time.perf_counter() - began) * 1000 / len(texts)
        print(f"| English: {name} | {len(texts)} | {len(flagged)} | {ms:.3f} |" + (f" {flagged[:5]}" if flagged else ""))
    others = other_languages()
    missed = [(code, text) for code, text in others if not language.detect(text, "en").foreign]
    wrong = [(c, t) for c, t in others if (c, t) not in missed and language.detect(t, "en").language != c]
    print(f"| other languages ({', '.join(sorted({c for c, _ in others}))}) | {len(others)} | {len(others) - len(missed)} | |")
    print(f"\nnot called foreign: {missed}\ncalled foreign with another code: {wrong}")
    if args.index:
        from qa.retrieve.searcher import Searcher

        searcher = Searcher.open(Settings.load(index_dir=args.index, model_language="any"))
        results = searcher.search_many([text for _, text in others], 1)
        threshold = searcher.settings.abstain_threshold
        answered = [r for r in results if r.confidence >= threshold]
        checked = searcher.with_settings(model_language="en").search_many([text for _, text in others], 1)
        print(
            f"\nwithout the check, {len(answered)} of {len(others)} would be answered (confidence >= {threshold}); "
            f"median confidence {statistics.median(r.confidence for r in results):.2f}, "
            f"highest {max(r.confidence for r in results):.2f}; with it, "
            f"{sum(not r.abstained for r in checked)} are: {[r.query for r in checked if not r.abstained]}"
        )


if __name__ == "__main__":
    main()
