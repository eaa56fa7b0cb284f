"""The HTML side: the search page (works without JavaScript), the document view, the original
PDF or DOCX file of a document, and the favicon."""

from __future__ import annotations

import functools
import itertools
import json
import logging
from pathlib import Path

from flask import Blueprint, redirect, render_template, request, send_file, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from ..errors import DocumentGone, DocumentNotFound, NotFound, OriginalNotFound, QAError
from ..retrieve.live import LiveSearcher
from ..retrieve.results import location_label
from ..retrieve.searcher import Searcher
from .display import original_kind, shown_source, source_prefix, text_parts, without_bidi_controls
from .models import parse_k
from .outcome import note_error, note_results

log = logging.getLogger(__name__)

MAX_EXAMPLES = 5
LISTED_DOCUMENTS = 8  # on the empty page; the rest are counted
STRONG_MARGIN = 0.2  # a hit this far above the abstention threshold is cued as a close match
MEDIA_TYPES = {"PDF": "application/pdf", "DOCX": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}


def relevance_cues(abstain_threshold: float) -> list[tuple[float, str, str]]:
    """(lowest similarity, level, label), best first: how a hit's match is shown to readers."""
    return [
        (round(abstain_threshold + STRONG_MARGIN, 4), "strong", "Close match"),
        (abstain_threshold, "fair", "Partial match"),
        (-1.0, "weak", "Weak match"),
    ]


def cue_of(cues: list[tuple[float, str, str]], similarity: float) -> tuple[str, str]:
    """(level, label) of a hit's similarity among `relevance_cues`."""
    return next((level, label) for lowest, level, label in cues if similarity >= lowest)


def is_web_url(value: object) -> bool:
    """Only http(s) links are shown (never javascript: or data:)."""
    return isinstance(value, str) and value.lower().startswith(("https://", "http://"))


def add_routes(bp: Blueprint, live: LiveSearcher) -> None:
    bp.add_app_template_test(is_web_url, "web_url")
    bp.add_app_template_filter(shown_source, "shown_source")
    bp.add_app_template_filter(without_bidi_controls, "without_bidi_controls")
    bp.add_app_template_filter(location_label, "location_label")
    bp.add_app_template_filter(original_kind, "original_kind")
    examples = ExampleQuestions()  # the served searcher's, read again after a rebuild or reload

    @bp.get("/")
    def page() -> tuple[str, int]:
        searcher = live.searcher
        cues = relevance_cues(searcher.settings.abstain_threshold)
        q = request.args.get("q", "")
        result, error, status = None, None, 200
        if q.strip():
            try:
                answer = searcher.search(q, parse_k(request.args.get("k")))
                note_results([answer])
                result = answer.to_dict()
            except QAError as e:
                error, status = e.message, e.status
                note_error(e.code)
        return render_template(
            "qa/search.html",
            q=q,
            result=result,
            error=error,
            examples=examples.of(searcher),
            documents=list(itertools.islice(searcher.index.documents.values(), LISTED_DOCUMENTS)),
            manifest=searcher.index.manifest,
            cue=functools.partial(cue_of, cues),
            cues_json=json.dumps(cues),
            max_query=searcher.settings.max_query_chars,
            source_prefix=source_prefix(searcher.settings.corpus_dir),
        ), status

    @bp.get("/documents/<doc_id:doc_id>")
    def document_page(doc_id: str) -> tuple[str, int]:
        return render_document(live.searcher, doc_id)

    @bp.get("/documents/<doc_id:doc_id>/original")
    def original_file(doc_id: str) -> Response | tuple[str, int]:
        searcher = live.searcher
        if doc_id not in searcher.index.documents and f"{doc_id}/original" in searcher.index.documents:
            return render_document(searcher, f"{doc_id}/original")  # a document whose id ends in "/original"
        return serve_original(searcher, doc_id)

    @bp.get("/favicon.ico")
    def favicon() -> Response:
        return redirect(url_for("qa.static", filename="favicon.svg"), 301)


def render_document(searcher: Searcher, doc_id: str) -> tuple[str, int]:
    """The read-in-context page: the document's text with the cited span (`start`, `end`) and
    its sentence marked, and a PDF's page markers."""
    try:
        doc = searcher.document(doc_id)
    except (DocumentNotFound, DocumentGone) as e:
        note_error(e.code)
        return render_template("qa/missing.html", message=e.message), e.status
    start, end = parse_span(request.args, "start", "end", len(doc.text))
    sentence = parse_span(request.args, "sentence_start", "sentence_end", len(doc.text))
    return render_template(
        "qa/document.html",
        doc=doc,
        start=start,
        end=end,
        location=doc.location(start, end).to_dict() if end > start else {},
        parts=text_parts(doc, (start, end), sentence),
        q=request.args.get("q", ""),
        source_prefix=source_prefix(searcher.settings.corpus_dir),
    ), 200


def serve_original(searcher: Searcher, doc_id: str) -> Response | tuple[str, int]:
    """The PDF (shown inline) or DOCX (downloaded) file a document was read from. For any other
    document, and a file that is not a regular file inside the corpus folder, a 404 (410 for a
    removed document): JSON, or the missing-document page for a browser."""
    try:
        path = searcher.original_file(doc_id)
    except (NotFound, DocumentGone) as e:  # DocumentNotFound, OriginalNotFound
        if not prefers_html():
            raise  # the JSON error, as from the API
        heading = "No original file to open" if isinstance(e, OriginalNotFound) else None
        note_error(e.code)
        return render_template("qa/missing.html", message=e.message, heading=heading), e.status
    kind = original_kind(path.name)
    return send_file(path, mimetype=MEDIA_TYPES[kind], as_attachment=kind != "PDF", download_name=path.name)


class ExampleQuestions:
    """The page's example questions, remembered for one served index and one version of the
    examples file: a rebuild, a reload or an edited file shows new ones."""

    def __init__(self) -> None:
        self._remembered: tuple[tuple[object, ...], list[str]] = ((), [])  # (what they were read for, questions)

    def of(self, searcher: Searcher) -> list[str]:
        key = (searcher.index.version, searcher.settings.examples_path, file_version(searcher.settings.examples_path))
        read_for, questions = self._remembered
        if read_for != key:
            questions = example_questions(searcher)
            self._remembered = (key, questions)  # one assignment: other threads see the old pair or the new
        return questions


def file_version(path: Path) -> tuple[int, int] | None:
    """(modification time, size) of a file, or None when there is none."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def example_questions(searcher: Searcher) -> list[str]:
    """The corpus's example questions (its examples file), or else its document titles to search for."""
    path = searcher.settings.examples_path
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        lines = [doc.title for doc in itertools.islice(searcher.index.documents.values(), MAX_EXAMPLES)]
    except (OSError, UnicodeDecodeError) as e:
        log.warning("cannot read example questions from %s: %s", path, e)
        lines = []
    questions = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    return questions[:MAX_EXAMPLES]


def prefers_html() -> bool:
    """True when the client asks for an HTML page before JSON (a browser following a link)."""
    return request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html"


def parse_span(args: MultiDict[str, str], start_key: str, end_key: str, limit: int) -> tuple[int, int]:
    """A non-empty (start, end) of the query string within `limit`; (0, 0) when missing or bad."""
    start, end = parse_offset(args.get(start_key), limit), parse_offset(args.get(end_key), limit)
    if start is None or end is None or end <= start:
        return 0, 0
    return start, end


def parse_offset(raw: str | None, limit: int) -> int | None:
    if raw is None or not (raw.isascii() and raw.isdigit()) or int(raw) > limit:
        return None
    return int(raw)
