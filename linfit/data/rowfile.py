"""A matrix kept on disk, row-major, and read a block of rows at a time.

Out-of-core training reads the data once per optimizer evaluation, so it must not map
the whole file into the process (a memmap's touched pages count as resident memory):
each read copies just the asked rows into a fresh array, and memory holds one block.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class RowFile:
    """An ``(n_rows, n_cols)`` array of ``dtype`` stored row-major in ``path``, no header.

    Indexing with a slice of rows, ``X[a:b]``, reads those rows from disk; ``subset``
    selects rows (a train/test split) without reading anything.
    """

    path: Path
    shape: tuple[int, int]
    dtype: np.dtype

    @property
    def ndim(self) -> int:
        return 2

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows: slice) -> np.ndarray:
        start, stop, step = rows.indices(self.shape[0])
        if step != 1:
            raise ValueError("RowFile reads contiguous rows only")
        count = max(stop - start, 0)
        row_bytes = self.shape[1] * self.dtype.itemsize
        block = np.fromfile(
            self.path, dtype=self.dtype, count=count * self.shape[1], offset=start * row_bytes
        )
        return block.reshape(count, self.shape[1])

    def subset(self, rows: np.ndarray) -> RowSubset:
        """The rows ``rows`` (sorted indices) as a matrix of their own."""
        return RowSubset(self, np.asarray(rows, dtype=np.intp))


@dataclass(frozen=True)
class RowSubset:
    """Rows ``rows`` (sorted, increasing) of a ``RowFile``: ``X[a:b]`` reads the span of
    the file that holds the subset's rows a..b-1 and keeps those."""

    source: RowFile
    rows: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return (self.rows.size, self.source.shape[1])

    @property
    def dtype(self) -> np.dtype:
        return self.source.dtype

    @property
    def ndim(self) -> int:
        return 2

    def __len__(self) -> int:
        return self.rows.size

    def __getitem__(self, rows: slice) -> np.ndarray:
        wanted = self.rows[rows]
        if wanted.size == 0:
            return np.empty((0, self.source.shape[1]), dtype=self.dtype)
        first = int(wanted[0])
        span = self.source[first : int(wanted[-1]) + 1]
        return span[wanted - first]


class RowWriter:
    """Appends blocks of rows to a new RowFile at ``path``; ``close`` returns it."""

    def __init__(self, path: Path, dtype: np.dtype) -> None:
        self.path, self.dtype = Path(path), np.dtype(dtype)
        self.n_rows, self.n_cols = 0, None
        self._fh = open(self.path, "wb")  # noqa: SIM115 (closed by close())

    def append(self, block: np.ndarray) -> None:
        """Write ``block`` (m, d); every block has the first one's d."""
        block = np.ascontiguousarray(block, dtype=self.dtype)
        if self.n_cols is None:
            self.n_cols = block.shape[1]
        elif block.shape[1] != self.n_cols:
            raise ValueError(f"a block has {block.shape[1]} columns, not {self.n_cols}")
        self._fh.write(block.data)
        self.n_rows += block.shape[0]

    def close(self) -> RowFile:
        self._fh.close()
        return RowFile(self.path, (self.n_rows, self.n_cols or 0), self.dtype)
