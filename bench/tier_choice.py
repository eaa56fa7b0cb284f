"""Measure the question-encoder tiers of an index's ONNX export on this CPU, as `qa` does on a
CPU it has not seen, and print the choice (nothing is written).

    .venv/bin/python bench/tier_choice.py [INDEX]            # this CPU
    qemu-x86_64 -cpu Haswell .venv/bin/python bench/tier_choice.py [INDEX]
                                                             # ONNX Runtime's AVX2 kernels (no AVX-512, no VNNI)

Debian's qemu-user runs the process on an emulated CPU, so ONNX Runtime picks the kernels of
that CPU: the cosines are those of an AVX2-only machine, the milliseconds are the emulator's
(meaningless). bench/results/tier-choice-avx2-emulated.json is one such run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from qa.encode.choice import choose
from qa.encode.onnx import ENCODERS, RECIPE, read_export


def main() -> None:
    index = Path(sys.argv[1] if len(sys.argv) > 1 else "index")
    folder = next((index / ENCODERS).glob(f"*-r{RECIPE}"))
    choice = choose(folder, read_export(folder))
    print(
        json.dumps(
            {"export": folder.name, "tier": choice.tier, "why": choice.why, "checks": choice.checks}, indent=1, ensure_ascii=False
        )
    )


if __name__ == "__main__":
    main()
