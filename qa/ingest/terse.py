"""Terse lines, and the context they are embedded and matched with.

An infobox-like line such as "Suren Papikyan (Minister of Defence)" says little on its own: it
belongs to the block it is listed under ("Commanders and leaders"). A build embeds and
BM25-tokenises such a line after its block's heading (`contexts`, `with_context`); what is cited
and shown is still the line itself, verbatim (only the texts a build encodes change).

- A sentence is *terse* when it has no sentence-final punctuation and at most `MAX_WORDS` words
  or opens with a bullet (a line of an infobox, a list or a caption, not a sentence of prose).
- A terse sentence is a *heading* when it, or its first line, reads like a label (`heading_of`):
  "Casualties and losses", "Units involved", "Strength"; a name ("Zakir Hasanov") is not.
- A short line ending in a colon ("Per Azerbaijan:") is a *label*: embedded as it is, and it
  does not end the block it is in.
- A run of terse sentences is a block: each terse sentence after a heading, up to the next
  heading or the next sentence of prose, is in that heading's block.

The context of a terse sentence in a block is its block's heading, not its document's title: a
title in front of a line of a few words outweighs it in the vector (with "September 2022
Armenia–Azerbaijan clashes. Casualties and losses." in front, "80 servicemen killed" has a cosine
of 0.65 to "Who was Armenia's defence minister in 2022?", against 0.13 bare and 0.14 after its
heading alone), and passages are embedded and matched with their title already. A terse line
outside any block (a caption, or a fragment of prose that a line break cut, as around chemical
formulas in SQuAD's "Oxygen") is embedded as it is. What is not written in the text is not
guessed: an infobox's columns (which side a commander led) are lost in its plain text, so no
side is added.
"""

from __future__ import annotations

import re

RULES_VERSION = 1  # recorded in each build's settings: a change of these rules is a rebuild
MAX_WORDS = 12
HEADING_MAX_WORDS = 4
# Sentence-final punctuation, maybe followed by closing quotes or brackets and reference marks.
FINAL = re.compile(r"[.!?…][\"'”’»)\]]*(?:\s*\[[^\]]*\])*\s*$")
BULLET = re.compile(r"[•◦▪‣∙*–-]\s")  # a list item: in its block at any length
REFERENCE = re.compile(r"\[[^\]]*\]|:[\d–-]+(?=\s|:|$)")  # "[citation needed]", ":245" (a page)
LETTER = re.compile(r"[^\W\d_]{2}")
WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")  # letters only, inner hyphens or apostrophes


def is_terse(sentence: str) -> bool:
    """A short line, or an item of a bulleted list, that is whole (its brackets closed, not
    ended by a comma) and has words besides reference marks but no sentence-final punctuation."""
    bare = REFERENCE.sub(" ", sentence).strip()
    words = bare.split()
    return (
        0 < (len(words) if not BULLET.match(sentence) else 1) <= MAX_WORDS
        and any(LETTER.search(w) for w in words)
        and not FINAL.search(sentence)
        and not bare.endswith((",", ";", ":"))
        and all(sentence.count(o) == sentence.count(c) for o, c in ("()", "[]"))
    )


def is_label(sentence: str) -> bool:
    """A short line that introduces what follows ("Per Azerbaijan:", "As he remembers:"): embedded
    as it is, in the block it is in."""
    bare = REFERENCE.sub(" ", sentence).strip()
    return bare.endswith(":") and len(bare.split()) <= MAX_WORDS


def heading_of(sentence: str) -> str | None:
    """The label a line gives its block, or None: the whole line when it reads like a label
    ("Commanders and leaders"; one to `HEADING_MAX_WORDS` words of letters, the first capitalised
    and the rest in lower case, as Wikipedia's infobox labels are; not a name, "Zakir Hasanov"),
    else its first line when that does ("Belligerents" above the sides it lists)."""
    for candidate in (sentence, sentence.split("\n", 1)[0]):
        words = candidate.split()
        if (
            0 < len(words) <= HEADING_MAX_WORDS
            and all(WORD.fullmatch(w) for w in words)
            and words[0][0].isupper()
            and all(w.islower() for w in words[1:])
            and (len(words) > 1 or words[0][1:].islower())  # one word: "Strength", not "NATO"
        ):
            return " ".join(words)
    return None


def contexts(sentences: list[str]) -> list[str | None]:
    """For each of a document's sentences (as in its text, in order): its block's heading if it
    is a terse line in a block, else None (prose, labels, headings and terse lines outside any
    block are embedded as they are)."""
    out: list[str | None] = []
    heading: str | None = None
    for sentence in sentences:
        if is_label(sentence):
            out.append(None)
        elif not is_terse(sentence):
            heading = None  # prose ends a block
            out.append(None)
        elif (label := heading_of(sentence)) is not None:
            heading = label  # opens a block; alone, a label holds no answer
            out.append(None)
        else:
            out.append(heading)
    return out


def with_context(heading: str | None, text: str) -> str:
    """What is embedded and tokenised for a sentence whose (normalised) text is `text`: after its
    block's heading when it is in a block (`heading` not None), else as it is."""
    return text if heading is None else f"{heading}. {text}"
