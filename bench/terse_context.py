"""Terse lines: how many sentences get a context, and what a context does to a short line's vector.

    .venv/bin/python bench/terse_context.py

Prints, for the default corpus and for SQuAD dev (when /work/shared/eval holds it), how many
distinct sentences `ingest.terse` embeds after a block heading; then the cosine of a question to
an infobox line bare, after its heading (what is embedded) and after its document's title and
heading (what is not: the title outweighs the line), with the bundled model in torch fp32.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TITLE = "September 2022 Armenia–Azerbaijan clashes"
PAIRS = [  # (question, line, its block heading)
    ("Who was Armenia's defence minister in 2022?", "80 servicemen killed", "Casualties and losses"),
    ("Who was Armenia's defence minister in 2022?", "Suren Papikyan (Minister of Defence)", "Commanders and leaders"),
    ("Who was the chief of the general staff?", "Edvard Asryan (Chief of the General Staff)", "Commanders and leaders"),
    ("Which units were involved in the clashes?", "Azerbaijani Armed Forces Armed Forces of Armenia", "Units involved"),
]


def counts(name: str, docs: list) -> None:
    from qa.index.encoding import distinct_sentences, plain_sentences
    from qa.ingest.passages import passages_of

    passages = passages_of(docs, 600, 1000, 1)
    texts, plain = distinct_sentences(passages)[0], plain_sentences(passages)[1]
    print(f"{name}: {sum(t != p for t, p in zip(texts, plain, strict=True))} of {len(texts)} sentences get a context")


def main() -> None:
    from qa.config import Settings
    from qa.encode.embedder import SentenceTransformerEmbedder
    from qa.eval.datasets import KNOWN
    from qa.ingest.documents import documents_from, read_corpus

    counts("default corpus", read_corpus(ROOT / "corpus"))
    if KNOWN["squad"].exists():
        from qa.eval.datasets import load_dataset

        counts("SQuAD dev", documents_from(load_dataset("squad").documents or []))
    embedder = SentenceTransformerEmbedder(Settings.load(env={}).model, 0, "fp32")
    print("\ncosine: bare | after heading | after title and heading")
    for question, line, heading in PAIRS:
        texts = [question, line, f"{heading}. {line}", f"{TITLE}. {heading}. {line}"]
        v = embedder.encode(texts)
        print(" | ".join(f"{float(v[0] @ x):.3f}" for x in v[1:]), f"  {question!r} ~ {line!r}")


if __name__ == "__main__":
    main()
