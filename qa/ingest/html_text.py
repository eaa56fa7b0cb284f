"""Visible text of an HTML page, with one line per block element (BeautifulSoup does the parsing)."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup

DROPPED = ["script", "style", "noscript", "template", "head", "nav", "footer", "aside", "form", "svg"]
BLOCKS = [
    "p",
    "div",
    "section",
    "article",
    "main",
    "header",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "table",
    "tr",
    "td",
    "th",
    "br",
    "hr",
    "blockquote",
    "pre",
    "figure",
    "figcaption",
    "caption",
]


def html_to_text(html: str) -> tuple[str, str]:
    """(title, text): `<title>` (or the first h1) and the page's visible text."""
    soup = BeautifulSoup(html, "html.parser")
    title_tag = soup.find("title") or soup.find("h1")
    title = " ".join(title_tag.get_text().split()) if title_tag else ""
    for tag in soup.find_all(DROPPED):
        tag.decompose()
    for tag in soup.find_all(BLOCKS):
        tag.insert_before("\n")
        tag.insert_after("\n")
    text = soup.get_text()
    lines = (" ".join(line.split()) for line in text.splitlines())
    text = "\n".join(line for line in lines if line)
    return title, re.sub(r"\n{2,}", "\n", text).strip() + "\n"
