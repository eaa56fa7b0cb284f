"""A search's document condition (`DocumentCondition`) as a Milvus filter expression over the
passages' fields, so the engine applies it in each request (never after ranking)."""

from __future__ import annotations

from ..backend import DocumentCondition
from .engine import quoted


def of(condition: DocumentCondition | None) -> str:
    """The expression for a condition ("" for none): ids, a source or source-URL prefix, a date range."""
    if condition is None:
        return ""
    parts = []
    if condition.doc_ids:
        parts.append(f"doc in [{', '.join(quoted(i) for i in dict.fromkeys(condition.doc_ids))}]")
    if condition.source:
        prefix = quoted(like_prefix(condition.source))
        parts.append(f"(source like {prefix} or source_url like {prefix})")
    if condition.date_from or condition.date_to:
        parts.append('day != ""')
        if condition.date_from:
            parts.append(f"day >= {quoted(condition.date_from)}")
        if condition.date_to:
            parts.append(f"day <= {quoted(condition.date_to)}")
    return " and ".join(parts)


def like_prefix(prefix: str) -> str:
    """A LIKE pattern matching strings that start with `prefix` (its own % and _ taken literally)."""
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
