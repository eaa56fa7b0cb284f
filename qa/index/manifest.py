"""The manifest: what a build folder holds and how it was made (`manifest.json`), as a typed record.

One JSON object per build, written once by `storage.write_build`. `Manifest.from_json` reads it
(missing keys take the values an older build implied; a value of the wrong type is an
`IndexMismatchError`) and `to_json` gives back the same keys, in the same order, with the same
values, so a build's manifest reads and writes back equal.

`mismatch` is the one check of whether a build can serve (or lend its segments to) a model and
its build settings, and why not: the loader, an incremental build and `stale_reason` all ask it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..config import Settings
from ..encode import late
from ..errors import IndexMismatchError
from ..ingest import cleaning, terse
from . import lexical

FORMAT_VERSION = 5  # 5: passages' token vectors (late interaction)
BM25_K1, BM25_B = 0.9, 0.4  # the usual Anserini defaults for passage retrieval
BUILD_SETTINGS = ("passage_target_chars", "passage_max_chars", "passage_overlap_sentences", "embed_title", "build_precision")
IN_MEMORY = "<documents given in memory>"  # the corpus of a build from documents given in memory


def build_settings(settings: Settings) -> dict[str, Any]:
    """What decides the passages and their vectors besides the model (recorded in the manifest)."""
    return {name: getattr(settings, name) for name in BUILD_SETTINGS} | {
        "cleaning_rules": cleaning.RULES_VERSION,
        "terse_rules": terse.RULES_VERSION,
        "bm25": {"k1": BM25_K1, "b": BM25_B, "stemmer": lexical.STEMMER, "stopwords": lexical.STOPWORDS},
        "token_projection": late.projection_digest(settings.model),  # Milvus keeps none, but lends and borrows vectors
    }


def keeps_token_vectors(settings: Settings) -> bool:
    """Whether a build keeps passages' token vectors (`encode.late`): the segment store does,
    with a model that has a projection; Milvus has no place for them."""
    return settings.backend == "segments" and late.projection(settings.model) is not None


@dataclass(frozen=True)
class SegmentRecord:
    """One segment of a build (see `segments`): its name and how many rows it holds."""

    name: str
    documents: int
    passages: int
    sentences: int

    @classmethod
    def from_json(cls, data: object) -> SegmentRecord:
        if not isinstance(data, dict):
            raise IndexMismatchError("a segment is not a JSON object")
        return cls(
            _get(data, "name", str, None),
            _get(data, "documents", int, None),
            _get(data, "passages", int, None),
            _get(data, "sentences", int, None),
        )


@dataclass(frozen=True)
class Manifest:
    """A build's manifest. Field order is the key order of manifest.json."""

    format_version: int | None
    model: str
    dimension: int
    documents: int
    passages: int
    sentences: int
    settings: Mapping[str, Any]  # `build_settings` of the build, compared whole
    corpus_dir: str  # relative to the index folder, or IN_MEMORY (see `provenance`)
    corpus_files: Mapping[str, str]  # corpus file -> sha256 (or IN_MEMORY -> digest of the documents)
    skipped: Mapping[str, str]  # corpus file -> why it was not read
    file_limits: Mapping[str, Any]  # the per-file limits PDF and DOCX files were read under (`FileLimits.record`)
    index_version: str  # names the served content (same documents, model, settings: same version)
    built_at: str
    build_seconds: float
    encoded_texts: int
    reused_vectors: int
    precision: str  # what this build's new vectors were encoded in
    query_encoder: Mapping[str, Any]  # the encode layer's record of the question encoders (`encode.choice`)
    segments: tuple[SegmentRecord, ...]
    removed_documents: Mapping[str, str]  # document id -> when it went (for 410 Gone)
    retired_passages: Mapping[str, str]  # passage id -> its document, for passages no longer served
    checksums: Mapping[str, str] = field(default_factory=dict)  # file -> sha256, filled by `storage`

    @property
    def embed_title(self) -> bool:
        """Whether its passages were embedded with their document's title in front."""
        return bool(self.settings.get("embed_title", True))

    def segment_records(self) -> dict[str, SegmentRecord]:
        return {s.name: s for s in self.segments}

    def with_checksums(self, checksums: Mapping[str, str]) -> Manifest:
        return dataclasses.replace(self, checksums=dict(checksums))

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["segments"] = [dataclasses.asdict(s) for s in self.segments]
        return out

    @classmethod
    def from_json(cls, data: object) -> Manifest:
        """A manifest from its JSON object; `IndexMismatchError` when it is not an index manifest."""
        if not isinstance(data, dict):
            raise IndexMismatchError("not a JSON object")
        version = data.get("format_version")
        ours = version == FORMAT_VERSION  # another format's values are taken as they come, or not at all

        def get(key: str, kind: type | tuple[type, ...], default: Any) -> Any:
            return _get(data, key, kind, default, strict=ours)

        return cls(
            format_version=version if isinstance(version, int) else None,
            model=get("model", str, ""),
            dimension=get("dimension", int, 0),
            documents=get("documents", int, 0),
            passages=get("passages", int, 0),
            sentences=get("sentences", int, 0),
            settings=get("settings", dict, {}),
            corpus_dir=get("corpus_dir", str, IN_MEMORY),
            corpus_files=get("corpus_files", dict, {}),
            skipped=get("skipped", dict, {}),
            file_limits=get("file_limits", dict, {}),
            index_version=get("index_version", str, ""),
            built_at=get("built_at", str, ""),
            build_seconds=get("build_seconds", (int, float), 0.0),
            encoded_texts=get("encoded_texts", int, 0),
            reused_vectors=get("reused_vectors", int, 0),
            precision=get("precision", str, "fp32"),
            query_encoder=get("query_encoder", dict, {}) if data.get("query_encoder") is not None else {},
            segments=tuple(SegmentRecord.from_json(s) for s in get("segments", list, [])) if ours else (),
            removed_documents=get("removed_documents", dict, {}),
            retired_passages=get("retired_passages", dict, {}),
            checksums=get("checksums", dict, {}),
        )


def _get(data: dict, key: str, kind: type | tuple[type, ...], default: Any, strict: bool = True) -> Any:
    """data[key], checked to be of this kind (a bool is no int); `default` when it is missing (or,
    unless `strict`, of another kind). No `default`: the key must be there."""
    if key not in data and default is None:
        raise IndexMismatchError(f"no {key!r}")
    value = data.get(key, default)
    if isinstance(value, kind) and not (isinstance(value, bool) and kind is not bool):
        return value
    if strict or default is None:
        raise IndexMismatchError(f"its {key!r} is not {_name(kind)}")
    return default


def _name(kind: type | tuple[type, ...]) -> str:
    return " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))


@dataclass(frozen=True)
class Mismatch:
    """Why a build cannot serve (or lend its segments to) a model and build settings."""

    reason: str  # a few words, e.g. "model changed"
    detail: str  # what the build has against what is asked, e.g. "has format 3, this qa reads format 4"
    advice: str = "rebuild it with `qa build`"


def mismatch(manifest: Manifest, model: str | None, settings: Settings | None = None) -> Mismatch | None:
    """Why a build with this manifest does not fit `model` and the build settings of `settings`,
    or None when it does: the same index format, model, passage settings and cleaning rules.
    `model` or `settings` None: that one is not checked."""
    if manifest.format_version != FORMAT_VERSION:
        return Mismatch("index format changed", f"has format {manifest.format_version}, this qa reads format {FORMAT_VERSION}")
    if model is not None and manifest.model != model:
        return Mismatch(
            "model changed",
            f"was built with model {manifest.model!r}, but the configured model is {model!r}",
            "rebuild it with `qa build` (or set QA_MODEL to the index's model)",
        )
    if settings is not None and manifest.settings != build_settings(settings):
        return Mismatch("passage settings changed", "was built with other passage settings")
    return None
