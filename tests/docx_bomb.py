"""A DOCX zip bomb for tests: a real DOCX whose word/document.xml holds a run of spaces that
inflates far past its size on disk (written by streaming, so a test stays fast and small)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import docx


def write_docx_bomb(path: Path, spaces: int = 64 << 20) -> None:
    """A DOCX saved by python-docx whose body holds `spaces` spaces (a multiple of 1 MiB)."""
    seed = io.BytesIO()
    document = docx.Document()
    document.add_paragraph("Tide tables of the harbour")
    document.save(seed)
    with zipfile.ZipFile(seed) as original:
        parts = {name: original.read(name) for name in original.namelist()}
    head, tail = parts.pop("word/document.xml").split(b"<w:body>", 1)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in parts.items():
            out.writestr(name, data)
        with out.open("word/document.xml", "w") as xml:
            xml.write(head + b"<w:body>")
            chunk = b" " * (1 << 20)
            for _ in range(spaces >> 20):
                xml.write(chunk)
            xml.write(tail)
