"""Rows of a large index's vectors (and postings), read from disk when a question needs them.

An index large enough for HNSW graphs does not score every passage: a question needs the
vectors of about a thousand candidate passages and their sentences. Reading those rows with
`preadv` keeps the process's memory at what one question needs, whatever the size of the
index; the operating system's page cache keeps the hot rows fast and is shared by every worker.
(Memory-mapping the files instead would count every page ever touched, and the pages the
kernel maps around each one, in each worker's resident memory.)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt


class RowFile:
    """A 2-d .npy file whose rows are read on demand."""

    def __init__(self, path: Path) -> None:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            if version not in ((1, 0), (2, 0)):
                raise ValueError(f"{path.name} has .npy format {version}")
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read_header(f)
            self.offset = f.tell()
        if fortran or len(shape) != 2:
            raise ValueError(f"{path.name} is not a C-ordered matrix")
        self.shape, self.dtype = shape, np.dtype(dtype)
        self.row_bytes = shape[1] * self.dtype.itemsize
        self._fd = os.open(path, os.O_RDONLY)

    def __del__(self) -> None:
        if hasattr(self, "_fd"):
            os.close(self._fd)

    def range(self, start: int, stop: int) -> np.ndarray:
        """Rows [start, stop), in one read."""
        out = np.empty((max(stop - start, 0), self.shape[1]), dtype=self.dtype)
        self.read(np.arange(start, stop), out)
        return out

    def read(self, rows: np.ndarray, out: np.ndarray) -> None:
        """Rows `rows` (sorted) into `out`, one read per run of consecutive rows."""
        if not len(rows):
            return
        breaks = np.flatnonzero(np.diff(rows) != 1) + 1
        starts, ends = np.r_[0, breaks], np.r_[breaks, len(rows)]
        buffer = out.data.cast("B")
        for a, z in zip(starts.tolist(), ends.tolist(), strict=True):
            want = (z - a) * self.row_bytes
            at = self.offset + int(rows[a]) * self.row_bytes
            got = os.preadv(self._fd, [buffer[a * self.row_bytes : z * self.row_bytes]], at)
            if got != want:
                raise OSError(f"short read of index vectors ({got} of {want} bytes)")


class DiskRows:
    """Served rows of several segments' row files, in served order: `rows[i]` is row `rows[i]`
    of the files put end to end."""

    def __init__(self, files: Sequence[RowFile], rows: np.ndarray) -> None:
        self.files, self.rows = list(files), rows
        self.bases = np.cumsum([0] + [f.shape[0] for f in self.files])
        width = {f.shape[1] for f in self.files} or {0}
        if len(width) != 1 or len({f.dtype for f in self.files}) > 1:
            raise ValueError("segments of one index hold vectors of different shapes")
        self.shape = (len(rows), width.pop())
        self.dtype = self.files[0].dtype if self.files else np.dtype(np.float32)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, served: np.ndarray) -> np.ndarray:
        """These served rows (an array of row numbers), in this order."""
        stacked = self.rows[np.asarray(served, dtype=np.int64)]
        order = np.argsort(stacked, kind="stable")
        wanted = stacked[order]
        out = np.empty((len(wanted), self.shape[1]), dtype=self.dtype)
        edges = np.searchsorted(wanted, self.bases)
        for n, f in enumerate(self.files):
            a, z = edges[n], edges[n + 1]
            f.read(wanted[a:z] - self.bases[n], out[a:z])
        result = np.empty_like(out)
        result[order] = out
        return result

    def __array__(self, dtype: npt.DTypeLike | None = None, copy: bool | None = None) -> np.ndarray:
        whole = self[np.arange(len(self))]
        return whole if dtype is None else whole.astype(dtype)

    def __matmul__(self, other: np.ndarray) -> np.ndarray:
        return np.asarray(self) @ other
