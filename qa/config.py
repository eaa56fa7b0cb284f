"""The one settings object: typed defaults, one line of help each, `QA_` environment overrides.

This is the only module that reads the environment. Relative folders (the default `corpus` and
`index` too) are relative to the working directory, never to where the package is installed. Explicit arguments override the
environment, which overrides the defaults: ``Settings.load(index_dir="x")``.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

from .errors import ConfigError

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
ENV_PREFIX = "QA_"
Ranking = Literal["hybrid", "dense", "bm25"]
BuildPrecision = Literal["auto", "fp32", "bf16"]
LogFormat = Literal["text", "json"]
Backend = Literal["segments", "milvus"]
QueryEncoder = Literal["auto", "onnx", "int8", "int8-u8", "fp32", "torch"]  # tiers: see encode/onnx.TIERS
RANKING_MODES: tuple[str, ...] = get_args(Ranking)
QUERY_ENCODERS: tuple[str, ...] = get_args(QueryEncoder)
ANY_LANGUAGE = "any"  # model_language of a multilingual model: questions' language is not checked


def _setting(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Settings:
    corpus_dir: Path = _setting(Path("corpus"), "Folder of source documents (.txt, .md, .html, .jsonl, .pdf, .docx).")
    index_dir: Path = _setting(Path("index"), "Folder where the built index lives.")
    model: str = _setting(DEFAULT_MODEL, "Sentence-transformers model name or local path (loaded offline).")
    passage_target_chars: int = _setting(600, "A passage closes once it reaches this many characters.")
    passage_max_chars: int = _setting(1000, "A passage never exceeds this; only a longer single sentence is cut.")
    passage_overlap_sentences: int = _setting(1, "Sentences repeated at the start of the next passage.")
    embed_title: bool = _setting(True, "Prefix each embedded passage with its document title.")
    batch_size: int = _setting(32, "Texts per encoder batch while building.")
    build_workers: str = _setting(
        "local", "Who encodes a build: local (this process), ray (a local Ray) or ray://host:port (a Ray cluster)."
    )
    ray_actors: int = _setting(0, "Encoder actors of a Ray build (0: one per GPU of the cluster, else one per CPU).")
    build_precision: BuildPrecision = _setting(
        "auto", "Precision passages are encoded in: auto (bf16 where the CPU has AMX, else fp32), fp32 or bf16."
    )
    default_k: int = _setting(5, "Results returned when k is not given.")
    max_k: int = _setting(50, "Largest k a caller may ask for.")
    max_query_chars: int = _setting(1000, "Longest question accepted, in characters.")
    max_body_bytes: int = _setting(1 << 20, "Largest request body accepted, in bytes (larger: 413).")
    max_json_depth: int = _setting(8, "Deepest nesting of arrays and objects accepted in a JSON body.")
    max_batch: int = _setting(32, "Most questions one batch request (`queries`) may hold.")
    ranking: Ranking = _setting("hybrid", "How passages are ranked: hybrid (dense + BM25), dense or bm25.")
    rerank: bool = _setting(
        True,
        "Reorder the best hybrid passages with the learned reranker, and pick each passage's highlight with its learned "
        "weights (late interaction where the index keeps token vectors; qa/retrieve/reranker.json).",
    )
    source_diversity: float = _setting(0.5, "Rank penalty per result already taken from the same document (0: off).")
    abstain_threshold: float = _setting(0.39, "Abstain when the top hit's best cosine (passage or sentence) is below this.")
    abstain_lexical: bool = _setting(
        True, "Answer below the threshold when the top passage holds the question's words, one of them rare (off: cosine alone)."
    )
    model_language: str = _setting(
        "en", "Language the model understands (ISO 639-1); a question confidently in another abstains. `any`: no check."
    )
    examples_file: Path = _setting(
        Path(".examples.txt"),
        "Example questions for the empty search page, one per line; relative to the corpus folder.",
    )
    cors_origins: str = _setting("", "Origins allowed to call the API from browsers, comma-separated; `*` any; empty: off.")
    rate_limit: str = _setting(
        "", "Cost units one client address may spend, e.g. `60/minute;1000/hour` (a short question: 1); empty: no limit."
    )
    cost_chars: int = _setting(
        100, "A question costs one unit per started this many characters; a batch, the sum over its questions."
    )
    max_inflight: int = _setting(2, "Requests answered at once; others wait for a turn (searches share one model).")
    max_heavy_cost: int = _setting(
        320,
        "Cost units of heavy requests (costing more than one longest question) answered at once; "
        "they never take the last free turn.",
    )
    queue_timeout: float = _setting(0.5, "Seconds a request may wait for a turn before 503 `overloaded`.")
    proxy_hops: int = _setting(0, "Reverse proxies in front that set X-Forwarded-For/-Proto (0: none; trust no header).")
    admin_token: str = _setting("", "Bearer token for the /admin endpoints (reload, rebuild, documents, status); empty: off.")
    admin_failures: str = _setting(
        "10/minute", "Wrong admin tokens one client address may send before /admin answers it 429; empty: no limit."
    )
    max_document_bytes: int = _setting(
        256 << 10, "Largest document text an admin PUT accepts, in UTF-8 bytes (larger: 413; add big files with `qa add`)."
    )
    index_wait: float = _setting(
        10.0,
        "Seconds an admin PUT or DELETE waits for its change to be searchable; later it answers 202 (the change is on disk).",
    )
    host: str = _setting("127.0.0.1", "Address `qa serve` listens on.")
    port: int = _setting(8000, "Port `qa serve` listens on.")
    threads: int = _setting(64, "Request threads of the production (waitress) server.")
    drain_seconds: float = _setting(20.0, "On SIGTERM, how long `qa serve` lets requests in progress finish.")
    metrics: bool = _setting(False, "Serve Prometheus metrics at GET /metrics (off: that path is a 404 like any unknown one).")
    metrics_port: int = _setting(0, "Port `qa serve` also serves the metrics on, on its own listener off the API (0: none).")
    log_format: LogFormat = _setting("text", "Log lines as text, or as JSON objects (one a line), one per request and the rest.")
    torch_threads: int = _setting(1, "Threads torch uses to encode questions (0: one per core); builds use every core.")
    file_max_seconds: float = _setting(
        300.0, "Seconds one PDF or DOCX may take to read; longer: the file is skipped (a guard against files that hang)."
    )
    pdf_max_pages: int = _setting(2000, "Most pages a PDF may have; more: the file is skipped.")
    file_max_bytes: int = _setting(
        512 << 20,
        "Most bytes one PDF or DOCX may unpack to (its zip members, its PDF streams inflated); more: skipped.",
    )
    file_max_memory: int = _setting(
        2 << 30, "Most memory, in bytes, the process reading a PDF or DOCX may take; more: the file is skipped."
    )
    ann_min_passages: int = _setting(
        50_000,
        "From this many passages, a search ranks candidates (HNSW and BM25) instead of every passage; "
        "segments this large get an HNSW graph when built, and an index with one reads its candidates' vectors from disk.",
    )
    ann_ef_search: int = _setting(128, "HNSW search breadth (efSearch): larger finds more of the true nearest, slower.")
    query_encoder: QueryEncoder = _setting(
        "auto",
        "Question encoder: auto (the fastest ONNX tier that passes its check against torch on this CPU, else "
        "torch), onnx (the same, but torch is an error), a tier (int8, int8-u8, fp32) or torch.",
    )

    backend: Backend = _setting(
        "segments", "Where the index lives: segments (files in the index folder) or milvus (a Milvus engine, see milvus_uri)."
    )
    milvus_uri: str = _setting(
        "", "Milvus to use with backend milvus: http://host:19530, or a Milvus Lite file; empty: milvus.db in the index folder."
    )
    milvus_token: str = _setting("", "Milvus token (user:password or an API key); empty: none.")
    milvus_database: str = _setting("", "Milvus database; empty: the default one.")
    milvus_collection: str = _setting("qa", "Prefix of the Milvus collections (PREFIX_passages, PREFIX_sentences, ...).")
    milvus_timeout: float = _setting(10.0, "Seconds one Milvus call may take before the engine counts as unavailable (503).")
    reload_interval: float = _setting(
        2.0, "Seconds between a server's checks of a remote index's version (another replica's write shows within this)."
    )

    # Not a setting: the names given by the environment or by the caller, not left at their default
    # (an index's recorded corpus folder is used when `corpus_dir` is not among them).
    given: frozenset[str] = field(default=frozenset(), compare=False, repr=False, metadata={"internal": True})

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then `QA_*` environment variables, then explicit non-None overrides."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in settings_fields():
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is not None and raw != "":
                values[f.name] = _parse(f, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(values) - {f.name for f in settings_fields()}
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        settings = cls(**{k: _coerce(cls, k, v) for k, v in values.items()}, given=frozenset(values))
        settings.validate()
        return settings

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]

    @property
    def collects_metrics(self) -> bool:
        """Whether the web layer counts requests for Prometheus (at /metrics, or on `metrics_port`)."""
        return self.metrics or self.metrics_port > 0

    @property
    def engine_uri(self) -> str:
        """The Milvus to use: `milvus_uri`, or a Milvus Lite file in the index folder."""
        return self.milvus_uri or str(self.index_dir / "milvus.db")

    @property
    def examples_path(self) -> Path:
        return self.corpus_dir / self.examples_file

    def replace(self, **changes: Any) -> Settings:
        settings = dataclasses.replace(self, **changes, given=self.given | frozenset(changes))
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.passage_target_chars < 50 or self.passage_max_chars < self.passage_target_chars:
            raise ConfigError("passage sizes: need 50 <= passage_target_chars <= passage_max_chars")
        if self.passage_overlap_sentences < 0:
            raise ConfigError("passage_overlap_sentences must be >= 0")
        if not 1 <= self.default_k <= self.max_k:
            raise ConfigError("need 1 <= default_k <= max_k")
        for name, choices in enumerated_settings().items():
            if getattr(self, name) not in choices:
                raise ConfigError(f"{name} must be one of {', '.join(choices)}, not {getattr(self, name)!r}")
        if self.model_language != ANY_LANGUAGE and not re.fullmatch(r"[a-z]{2}", self.model_language):
            raise ConfigError(f"model_language must be an ISO 639-1 code such as en, or any, not {self.model_language!r}")
        if self.source_diversity < 0 or self.index_wait < 0:
            raise ConfigError("source_diversity and index_wait must be >= 0")
        if not 0 <= self.metrics_port <= 65535:
            raise ConfigError(f"metrics_port must be a port (1-65535), or 0 for none, not {self.metrics_port}")
        if not (self.milvus_timeout > 0 and self.reload_interval > 0):
            raise ConfigError("milvus_timeout and reload_interval must be > 0")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,200}", self.milvus_collection):
            raise ConfigError(f"milvus_collection: letters, digits and _ (no digit first), not {self.milvus_collection!r}")
        if min(getattr(self, name) for name in AT_LEAST_ONE) < 1 or self.proxy_hops < 0:
            raise ConfigError("sizes, counts and limits (batch_size, threads, max_*) must be >= 1")
        if self.ray_actors < 0:
            raise ConfigError("ray_actors must be >= 0")
        if self.build_workers not in ("local", "ray") and not re.fullmatch(r"ray://\S+", self.build_workers):
            raise ConfigError(f"build_workers must be local, ray or ray://host:port, not {self.build_workers!r}")
        if not self.file_max_seconds > 0 or self.file_max_memory < MIN_FILE_MEMORY:
            raise ConfigError(f"need file_max_seconds > 0 and file_max_memory >= {MIN_FILE_MEMORY} (bytes)")

    @classmethod
    def describe(cls) -> list[tuple[str, str, str]]:
        """(environment variable, default, help) for every setting: for docs and --help."""
        return [(ENV_PREFIX + f.name.upper(), str(f.default), f.metadata["help"]) for f in settings_fields()]


AT_LEAST_ONE = (
    "batch_size",
    "threads",
    "max_query_chars",
    "max_batch",
    "max_body_bytes",
    "max_document_bytes",
    "max_json_depth",
    "max_inflight",
    "max_heavy_cost",
    "cost_chars",
    "ann_min_passages",
    "ann_ef_search",
    "pdf_max_pages",
    "file_max_bytes",
)
MIN_FILE_MEMORY = 256 << 20  # the process that reads PDF and DOCX files takes about 60 MB before it reads one


def settings_fields() -> list[dataclasses.Field]:
    """The fields of `Settings` that are settings."""
    return [f for f in fields(Settings) if not f.metadata.get("internal")]


@functools.cache
def enumerated_settings() -> dict[str, tuple[str, ...]]:
    """The settings typed as a `Literal`, with their allowed values: checked when settings are loaded."""
    hints = get_type_hints(Settings)
    return {f.name: get_args(hints[f.name]) for f in settings_fields() if get_origin(hints[f.name]) is Literal}


def _parse(f: dataclasses.Field, raw: str) -> Any:
    kind = f.type if isinstance(f.type, str) else f.type.__name__
    try:
        if kind == "bool":
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
    except ValueError:
        raise ConfigError(f"{ENV_PREFIX}{f.name.upper()}={raw!r} is not a valid {kind}") from None
    return raw


def _coerce(cls: type, name: str, value: Any) -> Any:
    kind = next(f.type for f in settings_fields() if f.name == name)
    if kind == "Path" and not isinstance(value, Path):
        return Path(value)
    return value
