"""What a search returns: ranked hits, each a passage with its answering sentence and citation."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..ingest.documents import Document, Location
from ..ingest.passages import Passage

# Why a result abstained ("" when it did not): no hit close enough, a question confidently not in
# the model's language (settings.model_language), or a filter that allows no passage.
ABSTAIN_REASONS = ("", "confidence", "language", "filter")
SECTION_SEPARATOR = " › "  # between the headings of a section path, as people read it


def location_label(fields: Mapping) -> str:
    """Where a cited passage is in its original file, as people read it: "p. 12", "pp. 12–13",
    "3 Results › 3.2 Costs"; "" when it has no place there. `fields` holds the `page`,
    `page_end` and `section` a hit's or a passage's JSON carries (`Location.to_dict`)."""
    page, page_end = fields.get("page"), fields.get("page_end")
    if page:
        return f"pp. {page}–{page_end}" if page_end and page_end != page else f"p. {page}"
    return SECTION_SEPARATOR.join(fields.get("section") or ())


@dataclass(frozen=True)
class Hit:
    rank: int
    score: float  # the ranking score: higher is better, comparable within one question only
    passage: Passage
    document: Document
    highlight: tuple[int, int]  # the answering sentence, as offsets inside passage.text
    similarity: float = 0.0  # best cosine of the question and the passage or one of its sentences
    answer: tuple[int, int] | None = None  # the answer inside the highlight (`spans`), offsets in passage.text

    def to_dict(self) -> dict:
        """The HTTP result shape (also what `qa ask --json` prints); `answer` is left out when
        the hit has none."""
        return {
            "rank": self.rank,
            "score": round(self.score, 4),
            "passage_id": self.passage.id,
            "text": self.passage.text,
            "document": self.document.ref(),
            "start": self.passage.start,
            "end": self.passage.end,
            "highlight": {"start": self.highlight[0], "end": self.highlight[1]},
            "similarity": round(self.similarity, 4),
            **self.location().to_dict(),
            **({"answer": {"start": self.answer[0], "end": self.answer[1]}} if self.answer else {}),
        }

    def location(self) -> Location:
        """The passage's pages (PDF) or section (DOCX) in its original file."""
        return self.document.location(self.passage.start, self.passage.end)


@dataclass(frozen=True)
class SearchResult:
    query: str
    hits: list[Hit]
    abstained: bool
    confidence: float = field(default=0.0)  # the top hit's best cosine, what abstention is decided on
    took_ms: float = field(default=0.0)
    language: str = ""  # the question's language (ISO 639-1), "" when unsure or not checked
    abstain_reason: str = ""  # one of ABSTAIN_REASONS
    abstain_message: str = ""  # the reason, in a sentence for people

    def without_answers(self) -> SearchResult:
        """The same result with no answer span on any hit (an abstained result claims no answer)."""
        return dataclasses.replace(self, hits=[dataclasses.replace(h, answer=None) for h in self.hits])

    def to_dict(self) -> dict:
        return {
            "query": self.query,
            "results": [h.to_dict() for h in self.hits],
            "abstained": self.abstained,
            "abstain_reason": self.abstain_reason,
            "abstain_message": self.abstain_message,
            "confidence": round(self.confidence, 4),
            "language": self.language,
            "took_ms": round(self.took_ms, 2),
        }
