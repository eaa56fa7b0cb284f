"""Hostile and broken PDF and DOCX files: none may hang or exhaust a build.

Every file is made here: the hostile PDFs written byte by byte (a PDF is text with an xref table
of offsets), the others drawn with reportlab or saved with python-docx. Each build runs over a
folder with one such file and a plain text document, with the fake embedder; the build must
succeed, index the text document and list the file as skipped, with its reason. Every build
has `file_max_seconds` set, so a reader that hangs ends the test, at worst after that time.
The last tests drive the reader process itself with stand-ins for a reader (tests/reader_tasks.py):
one worker reads file after file, a killed or endless one is replaced, none outlives its build.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from reportlab.lib import pdfencrypt
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

from qa.index.build import build_index
from qa.index.load import load_index
from qa.ingest.extracted import Unreadable
from qa.ingest.reader_process import FileLimits, ReaderProcess

from .conftest import REPO, FakeEmbedder, fake_settings
from .docx_bomb import write_docx_bomb
from .reader_tasks import reader_fails, worker_killed, worker_pid, worker_sleeps

GUARD_SECONDS = 30.0  # file_max_seconds of every build but the one about it: no read outlives it
NORMAL = (
    "Harbour tides\n\nThe harbour master counts the tides every morning. She writes the heights in a ledger kept "
    "since 1890. Ships wait outside the breakwater when the water is low."
)
BOMB_BYTES = 300 << 20  # a PDF stream and a DOCX part of this many spaces: about 300 KB compressed


def pdf_of(objects: list[bytes]) -> bytes:
    """A PDF whose objects 1..n are `objects` (object 1 the catalog), with a correct xref table."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def stream(data: bytes, flate: bool = False) -> bytes:
    return b"<< /Length %d%s >>\nstream\n%s\nendstream" % (len(data), b" /Filter /FlateDecode" * flate, data)


PAGE = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>"
HELVETICA = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
HELLO = b"BT /F1 12 Tf 72 720 Td (Tide tables of the harbour) Tj ET"


def one_page(content: bytes, font: bytes = HELVETICA, kids: bytes = b"[3 0 R]") -> bytes:
    """A one-page PDF: catalog, page tree (`kids`), page, its content stream (4) and its font (5)."""
    pages = b"<< /Type /Pages /Kids %s /Count 1 >>" % kids
    return pdf_of([b"<< /Type /Catalog /Pages 2 0 R >>", pages, PAGE, content, font])


def write_pdf_bomb(path: Path) -> None:
    """One page whose content stream inflates to BOMB_BYTES: a line of text, then spaces."""
    deflate = zlib.compressobj(9)
    parts = [deflate.compress(HELLO + b"\n")]
    spaces = b" " * (1 << 20)
    parts += [deflate.compress(spaces) for _ in range(BOMB_BYTES >> 20)]
    parts.append(deflate.flush())
    path.write_bytes(one_page(stream(b"".join(parts), flate=True)))


def write_deep_array(path: Path) -> None:
    """A font whose /Widths is an array nested 100000 deep (pdfminer resolves it by recursion; not
    for a standard font such as Helvetica, whose widths it knows)."""
    font = b"<< /Type /Font /Subtype /Type1 /BaseFont /Harbour /FirstChar 32 /Widths %s%s >>" % (
        b"[" * 100_000,
        b"]" * 100_000,
    )
    path.write_bytes(one_page(stream(HELLO), font=font))


def write_deep_page_tree(path: Path, depth: int = 20_000) -> None:
    """A page tree of `depth` /Pages nodes, each the only kid of the one before, then the page."""
    nodes = [b"<< /Type /Pages /Kids [%d 0 R] /Count 1 >>" % (n + 1) for n in range(2, depth + 2)]
    contents, font = depth + 3, depth + 4  # the page is object depth + 2
    leaf = b"<< /Type /Page /MediaBox [0 0 612 792] /Contents %d 0 R /Resources << /Font << /F1 %d 0 R >> >> >>"
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", *nodes, leaf % (contents, font), stream(HELLO), HELVETICA]
    assert len(objects) == font
    path.write_bytes(pdf_of(objects))


def write_page_tree_loop(path: Path) -> None:
    """A page tree whose root lists itself among its kids, besides its one page."""
    path.write_bytes(one_page(stream(HELLO), kids=b"[2 0 R 3 0 R 2 0 R]"))


def write_scattered_words(path: Path, words: int = 3000) -> None:
    """One page of `words` tiny words at random places: pdfminer's layout analysis of it takes
    minutes (9 s for 1000 words, 200 s for 3000 on the machine this was written on)."""
    place = random.Random(7)
    shows = [b"1 0 0 1 %d %d Tm (w%d) Tj" % (place.randrange(600), place.randrange(780), i) for i in range(words)]
    content = b"BT /F1 3 Tf\n" + b"\n".join(shows) + b"\nET"
    path.write_bytes(one_page(stream(zlib.compress(content), flate=True)))


def draw_pages(path: Path, pages: int, **options) -> None:
    """A PDF of `pages` pages of text drawn with reportlab (`options` go to the canvas)."""
    c = canvas.Canvas(str(path), **options)
    for page in range(1, pages + 1):
        c.drawString(72, 720, f"Page {page} of the harbour report: tides were measured at dawn.")
        c.showPage()
    c.save()


def draw_scan(path: Path) -> None:
    """A page with an image on it and no text, as a scanner makes."""
    from PIL import Image, ImageDraw

    image = Image.new("L", (400, 200), 255)
    ImageDraw.Draw(image).rectangle((40, 40, 360, 160), outline=0, width=6)
    c = canvas.Canvas(str(path))
    c.drawImage(ImageReader(image), 72, 500, width=400, height=200)
    c.save()


def skipped_by_a_build(tmp_path: Path, name: str, write: Callable[[Path], None], **limits) -> dict[str, str]:
    """Build over the text document and the file `write` makes; the build must index the text
    document alone. Returns the manifest's skipped files."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "harbour.txt").write_text(NORMAL, encoding="utf-8")
    write(corpus / name)
    settings = fake_settings(tmp_path, corpus, **({"file_max_seconds": GUARD_SECONDS} | limits))
    build_index(settings, FakeEmbedder())
    index = load_index(settings.index_dir)
    assert list(index.documents) == ["harbour.txt"]
    return dict(index.manifest.skipped)


@pytest.fixture(scope="module")
def pdf_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bomb") / "bomb.pdf"
    write_pdf_bomb(path)
    assert path.stat().st_size < 1 << 20
    return path


def test_a_pdf_bomb_is_skipped_once_its_streams_inflate_past_file_max_bytes(tmp_path: Path, pdf_bomb: Path) -> None:
    skipped = skipped_by_a_build(tmp_path, "bomb.pdf", lambda path: shutil.copy(pdf_bomb, path), file_max_bytes=16 << 20)
    assert skipped == {"bomb.pdf": "inflates to more than 16777216 bytes (the file_max_bytes setting)"}


def test_a_pdf_bomb_under_file_max_bytes_is_stopped_by_the_memory_limit(tmp_path: Path, pdf_bomb: Path) -> None:
    skipped = skipped_by_a_build(
        tmp_path,
        "bomb.pdf",
        lambda path: shutil.copy(pdf_bomb, path),
        file_max_bytes=1 << 30,
        file_max_memory=256 << 20,
    )
    assert skipped == {"bomb.pdf": "needed more than 256 MB to read (the file_max_memory setting)"}


@pytest.mark.parametrize("write", [write_deep_array, write_deep_page_tree], ids=["array", "page tree"])
def test_objects_nested_too_deeply_are_skipped(tmp_path: Path, write: Callable[[Path], None]) -> None:
    assert skipped_by_a_build(tmp_path, "nested.pdf", write) == {
        "nested.pdf": "not a readable PDF (its objects are nested too deeply)"
    }


def test_more_pages_than_pdf_max_pages_are_skipped(tmp_path: Path) -> None:
    skipped = skipped_by_a_build(tmp_path, "long.pdf", lambda path: draw_pages(path, 60), pdf_max_pages=50)
    assert skipped == {"long.pdf": "more than 50 pages (the pdf_max_pages setting)"}


def test_a_file_that_takes_longer_than_file_max_seconds_is_skipped(tmp_path: Path) -> None:
    skipped = skipped_by_a_build(tmp_path, "slow.pdf", write_scattered_words, file_max_seconds=0.5)
    assert skipped == {"slow.pdf": "took more than 0.5 s to read (the file_max_seconds setting)"}


def test_a_docx_zip_bomb_is_skipped(tmp_path: Path) -> None:
    skipped = skipped_by_a_build(tmp_path, "bomb.docx", write_docx_bomb, file_max_bytes=16 << 20)
    assert skipped == {"bomb.docx": "unzips to more than 16777216 bytes (the file_max_bytes setting)"}


def test_a_pdf_that_needs_a_password_is_skipped(tmp_path: Path) -> None:
    def locked(path: Path) -> None:
        draw_pages(path, 2, encrypt=pdfencrypt.StandardEncryption("user", "owner"))

    assert skipped_by_a_build(tmp_path, "locked.pdf", locked) == {"locked.pdf": "encrypted PDF: it needs a password to be read"}


def test_a_scanned_pdf_is_skipped_as_one_without_a_text_layer(tmp_path: Path) -> None:
    skipped = skipped_by_a_build(tmp_path, "scan.pdf", draw_scan)
    assert skipped == {"scan.pdf": "no text layer: scanned? (1 page of images only)"}


@pytest.mark.parametrize(
    "write",
    [
        # an owner password alone (empty user password) restricts printing or copying, not reading
        lambda path: draw_pages(path, 2, encrypt=pdfencrypt.StandardEncryption("", "owner")),
        write_page_tree_loop,
    ],
    ids=["owner password only", "page tree loop"],
)
def test_files_that_only_look_hostile_are_read(tmp_path: Path, write: Callable[[Path], None]) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "harbour.txt").write_text(NORMAL, encoding="utf-8")
    write(corpus / "report.pdf")
    settings = fake_settings(tmp_path, corpus, file_max_seconds=GUARD_SECONDS)
    build_index(settings, FakeEmbedder())
    index = load_index(settings.index_dir)
    assert sorted(index.documents) == ["harbour.txt", "report.pdf"] and index.manifest.skipped == {}
    assert "harbour" in index.documents["report.pdf"].text.lower()


def test_raising_a_limit_reads_the_skipped_file_again(tmp_path: Path) -> None:
    skipped = skipped_by_a_build(tmp_path, "long.pdf", lambda path: draw_pages(path, 60), pdf_max_pages=50)
    assert "long.pdf" in skipped
    settings = fake_settings(tmp_path, tmp_path / "corpus", pdf_max_pages=60, file_max_seconds=GUARD_SECONDS)
    build_index(settings, FakeEmbedder())  # the file did not change: only the limit did
    index = load_index(settings.index_dir)
    assert sorted(index.documents) == ["harbour.txt", "long.pdf"] and index.manifest.skipped == {}
    assert index.manifest.file_limits == FileLimits.of(settings).record()


def test_one_worker_reads_file_after_file_and_a_killed_one_is_replaced(tmp_path: Path) -> None:
    limits = FileLimits(seconds=GUARD_SECONDS, memory=512 << 20)
    with ReaderProcess(limits, read=worker_pid) as reader:
        first = reader.read(tmp_path / "a.pdf").text
        assert reader.read(tmp_path / "b.pdf").text == first != str(os.getpid())
        reader.read_with = worker_killed
        with pytest.raises(Unreadable) as died:
            reader.read(tmp_path / "c.pdf")
        assert str(died.value) == (
            "needed more than 512 MB to read? (the file_max_memory setting; the reading process died of SIGKILL)"
        )
        reader.read_with = worker_pid
        assert reader.read(tmp_path / "d.pdf").text not in ("", first)


def test_a_read_that_never_ends_is_killed_after_file_max_seconds(tmp_path: Path) -> None:
    with ReaderProcess(FileLimits(seconds=0.2), read=worker_sleeps) as reader:
        with pytest.raises(Unreadable, match=r"^took more than 0\.2 s to read \(the file_max_seconds setting\)$"):
            reader.read(tmp_path / "a.pdf")
        reader.read_with = worker_pid
        assert reader.read(tmp_path / "b.pdf").text.isdigit()  # a fresh worker reads the next file


def test_a_reader_that_fails_on_a_file_skips_that_file_only(tmp_path: Path) -> None:
    with ReaderProcess(FileLimits(seconds=GUARD_SECONDS), read=reader_fails) as reader:
        with pytest.raises(Unreadable, match=r"^could not be read: its reader failed \(IndexError: list index out of range\)$"):
            reader.read(tmp_path / "a.pdf")
        reader.read_with = worker_pid
        assert reader.read(tmp_path / "b.pdf").text.isdigit()


def children_of(pid: int) -> dict[int, str]:
    """The processes whose parent is `pid`, with their command lines (Linux's /proc)."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found[int(stat.parent.name)] = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):  # a process that ended meanwhile
            continue
    return found


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def wait_for(condition: Callable[[], object], seconds: float = GUARD_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not within the guard's time"
        time.sleep(0.05)


def test_a_killed_build_leaves_no_reader_behind(tmp_path: Path) -> None:
    """A build killed while its worker is busy with a file: the kernel ends the worker too."""
    write_scattered_words(tmp_path / "slow.pdf")
    code = (
        "import sys; from pathlib import Path; from qa.ingest.reader_process import FileLimits, ReaderProcess; "
        "ReaderProcess(FileLimits(seconds=600)).read(Path(sys.argv[1]))"
    )
    build = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "slow.pdf")], env=os.environ | {"PYTHONPATH": str(REPO)})
    try:
        wait_for(lambda: [pid for pid, line in children_of(build.pid).items() if "spawn_main" in line])
        worker = next(pid for pid, line in children_of(build.pid).items() if "spawn_main" in line)
        wait_for(lambda: cpu_seconds(worker) > 1.0)  # past its start: laying the page out
    finally:
        build.kill()
        build.wait()
    wait_for(lambda: not Path(f"/proc/{worker}").exists() or "Z" in Path(f"/proc/{worker}/stat").read_text().split()[2])
