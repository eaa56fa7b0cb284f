"""The index folder on disk: versioned build folders, an atomic CURRENT pointer, checksums.

    index/
      CURRENT                 name of the build being served (replaced atomically)
      build-20261122T101500.123456789/
        manifest.json         format version, model, counts, settings, file checksums
        catalog.npz           each document's segment and rows, as columns (see catalog.py)
        seg-….vectors.npy  seg-….passages.jsonl  …   the files of its segments (see segments.py);
                              a kept segment's files are hard links to the earlier build's

A build is written into a hidden temporary folder, fsynced, renamed into place, and only then
is CURRENT switched (write, fsync, rename, fsync the folder). A crash at any moment leaves the
previous CURRENT and its build untouched.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from pathlib import Path

from ..durable import fsync_path
from ..errors import IndexMismatchError, IndexMissingError, StorageError
from .manifest import Manifest

CURRENT = "CURRENT"
MANIFEST = "manifest.json"
KEEP_BUILDS = 2  # the served build and the one before it


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    buffer = bytearray(1 << 20)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buffer):
            h.update(view[:n])  # (hashlib lets other threads run meanwhile)
    return h.hexdigest()


@contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """One build at a time per index folder."""
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        lock = os.open(index_dir / ".lock", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    except OSError as e:
        raise StorageError(f"cannot write the index in {index_dir} ({e.strerror or e})") from e
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    finally:
        os.close(lock)


def write_build(index_dir: Path, write_files: Callable[[Path], Manifest], locked: bool = False) -> Path:
    """Atomically add a build: `write_files(tmp)` writes artifacts and returns the manifest (with
    the checksums of any files it linked from an earlier build already in it).

    A failure to write (a full disk, permissions) is a `StorageError`; the served index is unchanged."""
    try:
        with nullcontext() if locked else build_lock(index_dir):  # `locked`: the caller holds it
            name = _write_folder(index_dir, write_files)
            _point_current(index_dir, name)
            clear_leftovers(index_dir, served=name)
            return index_dir / name
    except OSError as e:
        raise StorageError(
            f"cannot write the index in {index_dir} ({e.strerror or e}); the index being served is unchanged"
        ) from e


def _write_folder(index_dir: Path, write_files: Callable[[Path], Manifest]) -> str:
    """Write a complete build folder under a temporary name, fsync it, rename it; return its name."""
    _clear_temporary(index_dir)
    tmp = index_dir / f".tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        manifest = write_files(tmp)
        known = manifest.checksums  # of files linked from an earlier build
        manifest = manifest.with_checksums(
            {p.name: known.get(p.name) or sha256_file(p) for p in sorted(tmp.iterdir()) if p.name != MANIFEST}
        )
        (tmp / MANIFEST).write_text(json.dumps(manifest.to_json(), ensure_ascii=False) + "\n")  # no indent: C speed
        for p in tmp.iterdir():
            fsync_path(p)
        fsync_path(tmp)
        name = f"build-{time.strftime('%Y%m%dT%H%M%S')}.{time.time_ns() % 10**9:09d}"
        os.rename(tmp, index_dir / name)
        fsync_path(index_dir)
        return name
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def current_build(index_dir: Path) -> Path:
    """The folder of the build being served, or a clear error saying how to make one."""
    pointer = index_dir / CURRENT
    if not pointer.is_file():
        raise IndexMissingError(f"no index in {index_dir}: build it with `qa build`")
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        name = ""
    build = index_dir / name
    if not name.startswith("build-") or "/" in name or not (build / MANIFEST).is_file():
        raise IndexMismatchError(f"{pointer} does not name a complete build: rebuild it with `qa build`")
    return build


def read_manifest(build: Path) -> Manifest:
    try:
        data = json.loads((build / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise IndexMismatchError(f"unreadable manifest in {build} ({e}): rebuild with `qa build`") from None
    try:
        return Manifest.from_json(data)
    except IndexMismatchError as e:
        raise IndexMismatchError(
            f"the manifest in {build} is not an index manifest ({e.message}): rebuild with `qa build`"
        ) from None


def verify_checksums(build: Path, manifest: Manifest, names: list[str] | None = None) -> None:
    """Every artifact (or these) is present and has the checksum the manifest recorded. Files
    are hashed in parallel, one thread per core (a large index holds gigabytes)."""
    recorded = manifest.checksums
    wanted = [(n, recorded.get(n)) for n in names] if names is not None else list(recorded.items())
    for name, _ in wanted:
        if not (build / name).is_file():
            raise IndexMismatchError(f"index file {name} is missing in {build}: rebuild with `qa build --full`")
    by_size = sorted(wanted, key=lambda item: -(build / item[0]).stat().st_size)  # the largest first
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        digests = dict(zip((n for n, _ in by_size), pool.map(lambda item: sha256_file(build / item[0]), by_size), strict=True))
    for name, digest in wanted:
        if digests[name] != digest:
            raise IndexMismatchError(f"index file {name} in {build} is damaged (checksum): rebuild with `qa build --full`")


def _point_current(index_dir: Path, name: str) -> None:
    tmp = index_dir / f".{CURRENT}.{uuid.uuid4().hex[:6]}"
    with open(tmp, "w") as f:
        f.write(name + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, index_dir / CURRENT)
    fsync_path(index_dir)


def clear_leftovers(index_dir: Path, served: str) -> None:
    """Remove what killed builds left (temporary folders, build folders never served) and builds
    older than the one before `served`. Called with the build lock held, so no build is in flight."""
    _clear_temporary(index_dir)
    builds = sorted(p for p in index_dir.glob("build-*") if p.is_dir() and p.name != served)
    never_served = [p for p in builds if p.name > served]  # renamed, then killed before CURRENT moved
    older = [p for p in builds if p.name < served]
    for old in never_served + older[: max(len(older) - (KEEP_BUILDS - 1), 0)]:
        shutil.rmtree(old, ignore_errors=True)


def _clear_temporary(index_dir: Path) -> None:
    for stale in index_dir.glob(".tmp-*"):  # what a killed build left behind
        shutil.rmtree(stale, ignore_errors=True)
    for stale in index_dir.glob(f".{CURRENT}.*"):
        stale.unlink(missing_ok=True)
