"""What keeping passages' token vectors (late interaction) costs a full build of the default corpus.

    .venv/bin/python bench/late_build_cost.py [--rounds N]

Builds corpus/ from scratch into temporary folders N rounds, each round once without token vectors
(the model's projection hidden, as for a model without one) and once with them, with the passage
encoder `qa build` would use here (the question encoders copied from index/encoders, so no round
exports them). Prints each way's build times and their medians.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from qa.config import Settings
from qa.encode import late
from qa.encode.embedder import passage_encoder
from qa.encode.onnx import ENCODERS
from qa.index.build import build_index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    settings, shipped = Settings.load(), late.projection
    took: dict[str, list[float]] = {"without": [], "with": []}
    for _ in range(args.rounds):
        for way in took:
            late.projection = shipped if way == "with" else (lambda model: None)  # type: ignore[assignment]
            folder = Path(tempfile.mkdtemp())
            try:
                if (settings.index_dir / ENCODERS).is_dir():
                    shutil.copytree(settings.index_dir / ENCODERS, folder / ENCODERS)
                here = settings.replace(index_dir=folder)
                started = time.perf_counter()
                build_index(here, passage_encoder(here))
                took[way].append(time.perf_counter() - started)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
    late.projection = shipped  # type: ignore[assignment]
    for way, times in took.items():
        print(f"{way} token vectors: {[round(t, 1) for t in times]} s, median {statistics.median(times):.1f} s")


if __name__ == "__main__":
    main()
