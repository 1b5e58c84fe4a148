"""Reading a plain LIBSVM file straight into CSR arrays with the compiled scanner.

scikit-learn's ``load_svmlight_file`` splits every line into Python bytes objects and
converts each token with ``int`` and ``float``: a few hundred nanoseconds a stored value.
The compiled scanner :mod:`linfit.data._libsvmscan` parses the file a block of lines at a
time, in C with the GIL released, writing each label, index and value to its place in
arrays grown as they fill. It reads a line exactly as scikit-learn does with
``zero_based=True`` (comments, blank lines, the whitespace ``bytes.split`` splits at), and
numbers are correctly rounded, as ``float`` rounds them, so the matrix is the same.

Everything here returns None for a file it does not read with certainty: a compressed
file (``.gz``, ``.bz2``: scikit-learn decompresses them), a pipe (the general reader could
not read it again), a ``qid:`` token, NaN or inf, a number spelt in a way the scanner
does not take, an index out of order or beyond a C int, a value that overflows, another
dtype than float64 or float32, or no compiled scanner at all (linfit installed without a
C compiler). :func:`linfit.data.libsvm.read_libsvm` then reads the file through
scikit-learn, which gives it its usual errors, so this module never decides what a messy
file means.
"""

from __future__ import annotations

import io
import os
import stat
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from linfit.data import progress
from linfit.data.ranges import changed
from linfit.data.read import Source

if TYPE_CHECKING:
    import scipy.sparse as sp

try:
    from linfit.data import _libsvmscan
except ImportError:  # built without a C compiler: scikit-learn reads every file
    _libsvmscan = None

# _libsvmscan.parse's statuses: every line parsed; the arrays are full (grow them and go
# on); anything else is a reason the file goes to scikit-learn.
OK = 0
FULL = 1
# Bytes read and parsed at a time: progress is reported after each block, and the block
# stays in cache while it is parsed (4 MB and 16 MB read a 491 MB file equally fast).
BLOCK_BYTES = 4 << 20
# The arrays' first capacity; past it they grow to what the file's size predicts.
FIRST_ROWS = 1 << 12
FIRST_VALUES = 1 << 16
# Room above that prediction, so that a file of even rows is not grown a second time.
GROWTH_MARGIN = 1.1
# Endings scikit-learn decompresses (as spelt, as libsvm._svmlight_stream does).
COMPRESSED = (".gz", ".bz2")


def available() -> bool:
    """Whether the compiled scanner was built (it needs a C compiler at install)."""
    return _libsvmscan is not None


def read(source: Source, dtype: np.dtype) -> tuple[sp.csr_matrix, np.ndarray] | None:
    """``(X, y)`` of a LIBSVM file as ``load_svmlight_file(..., zero_based=True)`` reads
    it: X (n, max index + 1, at least 1 column) CSR in ``dtype``, column j holding index
    j, rows in file order; y (n,) float64 labels. None for a file the scanner does not
    read (see the module docstring); a file changed while read is refused in one line.
    Progress is reported in bytes of the file."""
    if _libsvmscan is None or np.dtype(dtype) not in (np.float64, np.float32):
        return None
    if source.path is None:
        stream: BinaryIO = io.BytesIO(source._data)
        return _read_stream(stream, len(source._data), source.name, dtype)
    if os.path.splitext(str(source.path))[1] in COMPRESSED:
        return None
    if not source.path.is_file():
        return None  # a pipe: even opening it here would take its writer from the general reader
    try:
        stream = open(source.path, "rb", buffering=0)  # noqa: SIM115 (closed below)
    except OSError:
        return None  # the general reader tells why
    with stream:
        before = os.fstat(stream.fileno())
        if not stat.S_ISREG(before.st_mode):
            return None  # replaced by a pipe since: the same
        result = _read_stream(stream, before.st_size, source.name, dtype)
        after = os.fstat(stream.fileno())
    if _stamp(after) != _stamp(before):
        raise changed(source.name, "its size or modification time changed")
    return result


def _stamp(st: os.stat_result) -> tuple[int, int, int]:
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _read_stream(
    stream: BinaryIO, size: int, name: str, dtype: np.dtype
) -> tuple[sp.csr_matrix, np.ndarray] | None:
    """The file read from ``stream`` (``size`` bytes) a block of whole lines at a time,
    each parsed as soon as it is read; None as soon as a line is not plainly valid."""
    builder = _Builder(size, np.dtype(dtype))
    buffer = bytearray(BLOCK_BYTES)
    held = 0  # bytes at the start of buffer: a line not yet ended
    with progress.track(name, size) as report:
        while True:
            if held == len(buffer):  # a line longer than the buffer
                buffer.extend(bytes(len(buffer)))
            with memoryview(buffer) as view:
                got = stream.readinto(view[held:]) or 0
                end = held + got
                cut = buffer.rfind(b"\n", held, end) + 1 if got else end  # the last line
                if cut and not builder.parse(view[:cut]):
                    return None
            if not got:
                break
            buffer[: end - cut] = buffer[cut:end]
            held = end - cut
            report.update(builder.consumed + held)
    return builder.matrix()


class _Builder:
    """The CSR arrays of the lines parsed so far, grown as they fill."""

    def __init__(self, size: int, dtype: np.dtype) -> None:
        self.size = size  # bytes in the file: what the arrays' growth is predicted from
        self.consumed = 0  # bytes parsed
        self.row = self.nnz = 0
        self.max_index = -1
        self.labels = np.empty(FIRST_ROWS, np.float64)
        self.indptr = np.zeros(FIRST_ROWS + 1, np.int64)
        self.indices = np.empty(FIRST_VALUES, np.int64)
        self.values = np.empty(FIRST_VALUES, dtype)

    def parse(self, lines: memoryview) -> bool:
        """Parse ``lines`` (whole lines, the last possibly without its newline) onto the
        arrays; False where a line is not certainly valid."""
        offset = 0
        while True:
            status, offset, self.row, self.nnz, self.max_index = _libsvmscan.parse(
                lines, offset, self.labels, self.indptr, self.indices, self.values,
                self.row, self.nnz, self.max_index,
            )  # fmt: skip
            if status != FULL:
                break
            self._grow(self.consumed + offset)
        self.consumed += len(lines)
        return status == OK

    def _grow(self, parsed: int) -> None:
        """Larger arrays: room for the whole file at the density of the ``parsed`` bytes
        so far, and never less than 1.5 times the present room (so growing is linear)."""
        scale = GROWTH_MARGIN * self.size / parsed if parsed else 2.0
        rows = max(int(self.row * scale), len(self.labels) * 3 // 2) + FIRST_ROWS
        values = max(int(self.nnz * scale), len(self.indices) * 3 // 2) + FIRST_VALUES
        self.labels = _grown(self.labels, self.row, rows)
        self.indptr = _grown(self.indptr, self.row + 1, rows + 1)
        self.indices = _grown(self.indices, self.nnz, values)
        self.values = _grown(self.values, self.nnz, values)

    def matrix(self) -> tuple[sp.csr_matrix, np.ndarray]:
        """``(X, y)`` of the lines parsed, the arrays cut to what they hold."""
        import scipy.sparse as sparse

        for array, used in (
            (self.labels, self.row),
            (self.indptr, self.row + 1),
            (self.indices, self.nnz),
            (self.values, self.nnz),
        ):
            array.resize(used, refcheck=False)  # shrinks in place: nothing is copied
        # As scikit-learn sizes it: the largest index + 1, one column where there is none.
        shape = (self.row, self.max_index + 1 if self.max_index >= 0 else 1)
        # Built as scikit-learn builds it (a csr_array made a csr_matrix): int64 indices
        # and pointers, which csr_matrix((data, indices, indptr)) would narrow to int32.
        X = sparse.csr_array((self.values, self.indices, self.indptr), shape=shape)
        return sparse.csr_matrix(X), self.labels


def _grown(array: np.ndarray, used: int, size: int) -> np.ndarray:
    """A new array of ``size`` items starting with ``array[:used]`` (the rest unset, so
    pages past the data are not touched until parsed into)."""
    grown = np.empty(size, array.dtype)
    grown[:used] = array[:used]
    return grown
