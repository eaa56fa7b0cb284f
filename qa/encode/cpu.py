"""What this CPU is: its name, architecture and the features that decide which kernels run.

Encoders are chosen by measuring them on the CPU at hand (see `choice`); this module only
names the CPU, so that a choice measured on one kind of machine is measured again on another.
Every reader here is a plain function, so that tests can simulate another CPU by replacing
`flags` and `name`.
"""

from __future__ import annotations

import functools
import hashlib
import platform
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")
# Features that change which int8, bf16 or fp32 kernels ONNX Runtime and torch pick.
KERNEL_FLAGS = (
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx_vnni",
    "avx512_bf16",
    "amx_tile",
    "amx_int8",
    "amx_bf16",
    "asimd",
    "asimddp",
    "i8mm",
    "sve",
    "sve2",
    "bf16",
)


@functools.cache
def _cpuinfo() -> str:
    try:
        return CPUINFO.read_text()
    except OSError:
        return ""


def flags() -> frozenset[str]:
    """The CPU's feature flags (x86 `flags`, ARM `Features`); empty where /proc/cpuinfo is missing."""
    for line in _cpuinfo().splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def has(flag: str) -> bool:
    """Whether the CPU lists this feature."""
    return flag in flags()


def name() -> str:
    """The CPU's model name, e.g. "AMD EPYC 9B14" (or the architecture when it has none)."""
    for line in _cpuinfo().splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Model", "cpu model") and value.strip():
            return value.strip()
    return platform.machine() or "unknown CPU"


def kernel_flags() -> list[str]:
    """The features of KERNEL_FLAGS this CPU has, in that order."""
    have = flags()
    return [f for f in KERNEL_FLAGS if f in have]


def key() -> str:
    """Names a kind of CPU for the kernels it runs: two machines with the same key run the same
    code paths (so an encoder measured on one is as accurate on the other)."""
    text = "\0".join([platform.machine(), name(), *kernel_flags()])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def describe() -> str:
    """One line for logs and figures: name, architecture and the kernel features."""
    return f"{name()} ({platform.machine()}; {' '.join(kernel_flags()) or 'no SIMD flags listed'})"
