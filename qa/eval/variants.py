"""Question variants for `qa eval --variant`: the same questions as a user might type them.

  keyword  the question cut to its (up to) three rarest content words, in their order
           ("Which NFL team represented the AFC at Super Bowl 50?" -> "AFC Super Bowl")
  typo     one content word of five letters or more with two inner letters swapped
           ("Nagorno-Karabakh" -> "Nagorno-Karabkah"), the word and the letters picked from a
           hash of the question id, so a run is reproducible

Answers and gold documents stay those of the original question.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re

from ..index.backend import IndexBackend
from ..retrieve import evidence
from .datasets import Question

VARIANTS = ("original", "keyword", "typo")
KEYWORD_WORDS = 3
_WORD = re.compile(r"[^\W_][\w'’-]*")


def vary(questions: list[Question], variant: str, index: IndexBackend) -> list[Question]:
    """The questions as this variant words them (`original`: unchanged)."""
    if variant == "original":
        return questions
    change = {"keyword": lambda q: keyword(q.text, index), "typo": lambda q: typo(q.text, q.id)}[variant]
    return [dataclasses.replace(q, text=change(q) or q.text) for q in questions]


def keyword(text: str, index: IndexBackend) -> str:
    """The question's (up to) KEYWORD_WORDS content words that the fewest passages hold."""
    words = [m.group(0) for m in _WORD.finditer(text) if m.group(0).casefold() not in evidence.NOT_CONTENT]
    stems = [index.words(w) for w in words]
    kept = [(w, s[0]) for w, s in zip(words, stems, strict=True) if s]
    if not kept:
        return text
    frequency = index.passage_frequency([s for _, s in kept])
    rarest = sorted(range(len(kept)), key=lambda i: (int(frequency[i]), i))[:KEYWORD_WORDS]
    return " ".join(kept[i][0] for i in sorted(rarest))


def typo(text: str, seed: str) -> str:
    """The text with two inner letters of one of its longer words swapped."""
    words = [m for m in _WORD.finditer(text) if len(m.group(0)) >= 5 and m.group(0).isalpha()]
    if not words:
        return text
    pick = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:4], "little")
    word = words[pick % len(words)]
    at = 1 + (pick // len(words)) % (len(word.group(0)) - 3)  # never the first or the last letter
    letters = list(word.group(0))
    letters[at], letters[at + 1] = letters[at + 1], letters[at]
    if letters[at] == letters[at + 1]:  # a double letter: swapping changes nothing, drop one
        del letters[at]
    return text[: word.start()] + "".join(letters) + text[word.end() :]
