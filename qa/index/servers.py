"""The servers serving an index folder, as each says of itself: its address and the build it serves.

`qa serve` registers in `<index>/.servers/<pid>.json` and updates the file at every swap, so
that `qa status` can tell the build on disk (CURRENT) from the builds being served, and `qa add`
can say who will pick up its build. A file whose process is gone is ignored and removed.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

FOLDER = ".servers"
WATCH_SECONDS = 1.0  # how often a server compares CURRENT with the build it serves


def register(index_dir: Path, url: str, build: str, version: str) -> None:
    """Say (again) that this process serves `build` at `url` (best effort: a read-only index is fine)."""
    folder = index_dir / FOLDER
    record = {
        "pid": os.getpid(),
        "url": url,
        "build": build,
        "index_version": version,
        "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{os.getpid()}.{uuid.uuid4().hex[:6]}.tmp"
        tmp.write_text(json.dumps(record) + "\n")
        os.replace(tmp, folder / f"{os.getpid()}.json")
    except OSError:
        pass


def unregister(index_dir: Path) -> None:
    (index_dir / FOLDER / f"{os.getpid()}.json").unlink(missing_ok=True)


def running(index_dir: Path) -> list[dict]:
    """The servers of this index whose process is alive, by pid."""
    out = []
    for path in sorted((index_dir / FOLDER).glob("*.json")):
        try:
            record = json.loads(path.read_text())
            os.kill(int(record["pid"]), 0)
        except ProcessLookupError:
            path.unlink(missing_ok=True)
            continue
        except (OSError, ValueError, KeyError, TypeError):
            continue
        out.append(record)
    return out
