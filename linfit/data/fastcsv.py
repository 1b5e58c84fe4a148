"""Reading a clean numeric CSV straight into a C-ordered matrix, on every core.

pandas reads any table: it tokenizes every field into a buffer, converts each column and
gathers the columns into a block, which the loader then copies into the C-ordered X the
models use. Most training files are simpler than that: a header, then rows of plain decimal
numbers. For those the compiled scanner :mod:`linfit.data._csvscan` parses each line once
and writes each number straight to its place in X, several ranges of lines at a time (the
GIL is released). Numbers are correctly rounded, as Python's ``float`` rounds them.

Everything here returns None for a file it does not read: a compressed file, a header with
quotes, an empty, quoted, NaN or inf cell, a blank line, a ragged row, a value too large
for the dtype, or no compiled scanner at all (linfit installed without a C compiler). The
loader then reads the file through pandas, which gives it its usual policies and messages,
so this module never decides what a messy file means. A header is split here when
pandas would read its names as they are spelt (:func:`plain_names`), else named by pandas:
a plain numeric CSV is then read without importing pandas at all.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from pathlib import Path

import numpy as np

from linfit.data import progress
from linfit.data.ranges import Ranges as _Ranges  # the name tests patch (its read)
from linfit.data.ranges import changed
from linfit.data.read import COMPRESSION_EXTENSIONS, Source, check_duplicates, read_csv
from linfit.errors import DataError, quote_path

try:
    from linfit.data import _csvscan
except ImportError:  # built without a C compiler: pandas reads every file
    _csvscan = None

# Roles of a file column in ``scan`` besides its index in X: the target (its text is
# returned), or a column nothing reads (its fields must be plain ASCII text).
TARGET = -1
SKIP = -2
# Delimiters that can be part of a number: with one of these pandas splits fields where
# the scanner would read on.
NUMBER_CHARS = frozenset("0123456789+-.eE")
# Files smaller than this are scanned as one range on the calling thread: below it the
# threads cost more than they save.
PARALLEL_BYTES = 1 << 20
# Ranges per thread: a thread that finishes early takes another range, so one slow range
# (another process on that core) does not hold the read up.
RANGES_PER_THREAD = 4
# A larger file is cut into more ranges, none longer than this, since progress is
# reported as each range is done (in file order): a report every few hundredths of a
# second. Cutting a 1.5 GB file into 92 ranges rather than 8 cost nothing measurable on
# 2 cores: scan() took 1.00x and 1.02x its time with 8 (medians of the per-round ratios,
# 21 and 9 interleaved rounds in one process, IQRs 0.92-1.16 and 0.97-1.05; a 305 MB
# file, 19 ranges rather than 8, 1.00x, IQR 0.98-1.06), with reports to a sink or without.
MAX_RANGE_BYTES = 16 << 20
# The share of a scan's work taken by its first pass, counting lines, in the bytes its
# progress reports: 2-4% with the file in the page cache (measured, 300 MB and 1.5 GB),
# more when the count is what reads it from disk.
COUNT_SHARE = 0.1


def available() -> bool:
    """Whether the compiled scanner was built (it needs a C compiler at install)."""
    return _csvscan is not None


def header(source: Source, sep: str) -> tuple[list[str], int] | None:
    """The column names pandas reads from ``source``'s header, and the byte offset where
    its first data row starts; None for a source the scanner does not read."""
    if _csvscan is None or source.path is None or sep in NUMBER_CHARS:
        return None
    if not source.path.is_file():
        return None  # a pipe (``<(...)``): reading its header here would take it from pandas
    suffix = source.path.suffix.lower()
    if suffix in COMPRESSION_EXTENSIONS or suffix == ".tar":
        return None  # pandas decompresses these
    try:
        with open(source.path, "rb") as stream:
            line = stream.readline()
        if not line.strip():
            return None  # pandas skips a blank first line and takes the next as the header
        if not line.endswith(b"\n") or b'"' in line or b"\r" in line[:-2]:
            return None  # no data rows, or a header only pandas can split
        columns = plain_names(line, sep)
        if columns is None:  # a header pandas may rename (or refuse): its names, by pandas
            names = read_csv(source, sep, nrows=0)
            check_duplicates(names, source, sep)
            columns = [str(c) for c in names.columns]
    except (OSError, DataError):
        return None  # the pandas read reports it
    if len(line.rstrip(b"\r\n").split(sep.encode())) != len(columns):
        return None
    return columns, len(line)


def plain_names(line: bytes, sep: str) -> list[str] | None:
    """The column names of a header ``line`` (ending in a newline, not blank) that pandas
    reads as they are spelt; None where pandas could name a column otherwise or refuse
    the header: a byte that is not UTF-8, a byte-order mark, a quote, a control
    character, an empty or repeated name (pandas makes ``Unnamed: 1`` and ``a.1`` of
    these). Splitting such a line at ``sep`` gives pandas' names: this spares reading
    the header through pandas, which a small plain file would otherwise import for it.
    """
    body = line[:-2] if line.endswith(b"\r\n") else line[:-1]
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if text.startswith("\ufeff") or '"' in text or any(c < " " and c != sep for c in text):
        return None
    names = text.split(sep)
    if "" in names or len(set(names)) != len(names):
        return None
    return names


def scan(
    path: Path,
    data_start: int,
    sep: str,
    roles: Sequence[int],
    n_features: int,
    dtype: np.dtype,
    name: str | None = None,
) -> tuple[np.ndarray, bytes | None] | None:
    """The rows after ``data_start`` in ``path``, parsed.

    Args:
        path: a plain (uncompressed) delimited text file.
        data_start: byte offset of the first data row (see :func:`header`).
        sep: the one-character delimiter.
        roles: for each column of the file, its index in X, ``TARGET`` or ``SKIP``.
        n_features: k, the columns of X.
        dtype: float64 or float32.
        name: the file as progress reports name it (default: ``path``, quoted).

    Returns:
        ``(X, target)``: X of shape (n_rows, k), C-contiguous; ``target`` the target
        column's fields, each followed by a newline (None without a target). None when a
        row is not plain numbers (see the module docstring).
    """
    roles_array = np.asarray(roles, dtype=np.int32)
    sep_byte = sep.encode()
    shown = name or quote_path(path)
    with open(path, "rb") as stream:
        fd = stream.fileno()
        before = os.fstat(fd)
        size = before.st_size
        if size <= data_start:
            return None
        with progress.track(shown, size - data_start) as read:
            scanned = _scan_ranges(
                _Ranges(fd, size, shown), data_start, sep_byte, roles_array, n_features, dtype,
                read,
            )  # fmt: skip
        after = os.fstat(fd)
    if _stamp(after) != _stamp(before):
        raise changed(shown, "its size or modification time changed")
    if scanned is None:
        return None
    X, parsed = scanned
    if len(X) == 0 or any(status != 0 for status, _ in parsed):
        return None
    if TARGET not in roles_array:
        return X, None
    return X, b"".join(text for _, text in parsed if text is not None)


def _stamp(st: os.stat_result) -> tuple[int, int, int]:
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _scan_ranges(
    data: _Ranges,
    data_start: int,
    sep: bytes,
    roles: np.ndarray,
    n_features: int,
    dtype: np.dtype,
    read: progress.Track,
) -> tuple[np.ndarray, list[tuple[int, bytes | None]]] | None:
    """X (n_rows, n_features) and each range's ``(status, target text)``, the ranges
    counted and then parsed on every core, up to the first range that fails (from there
    pandas reads the file); None when the rows are too short to be rows.

    Progress goes to ``read`` as each range is done, in file order, from this thread (the
    workers hold no context): bytes of ``data[data_start:]``, the counting pass weighing
    ``COUNT_SHARE`` of each byte and the parsing pass the rest, so the last report is the
    total."""
    size = data.size
    span = size - data_start
    ranges = _ranges(data, data_start, size)

    def count(i: int) -> int:
        start, end = ranges[i]
        return _csvscan.count_lines(data.read(start, end), 0, end - start)

    with ThreadPoolExecutor(min(_cores(), len(ranges))) as pool:
        counts = []
        lines = pool.map(count, range(len(ranges)))
        for (_, end), count_i in zip(ranges, lines, strict=True):
            counts.append(count_i)
            read.update(int(COUNT_SHARE * (end - data_start)))
        n_rows = sum(counts)
        if n_rows * (2 * len(roles) - 1) > span:
            return None  # rows this short are blank lines: don't allocate for them
        X = np.empty((n_rows, n_features), dtype=dtype)
        firsts = np.cumsum([0, *counts[:-1]]).tolist()

        def parse(i: int) -> tuple[int, bytes | None]:
            start, end = ranges[i]
            text = data.read(start, end)
            return _csvscan.parse(text, 0, end - start, sep, roles, X, firsts[i], counts[i])

        parsed = []
        results = pool.map(parse, range(len(ranges)))
        for (_, end), result in zip(ranges, results, strict=True):
            parsed.append(result)
            if result[0] != 0:
                break  # pandas reads this file: the ranges not started are cancelled
            read.update(span - int((1 - COUNT_SHARE) * (size - end)))
        results.close()
    return X, parsed


def _ranges(data: _Ranges, start: int, size: int) -> list[tuple[int, int]]:
    """Byte ranges covering ``data[start:size]``, each ending just after a newline (the
    last at the end of the file), ``RANGES_PER_THREAD`` per core or more, so that none is
    much longer than ``MAX_RANGE_BYTES``."""
    if size - start < PARALLEL_BYTES:
        return [(start, size)]
    parts = max(_cores() * RANGES_PER_THREAD, math.ceil((size - start) / MAX_RANGE_BYTES))
    cuts = [start]
    for i in range(1, parts):
        newline = data.find_newline(max(cuts[-1], start + (size - start) * i // parts))
        if newline < 0 or newline + 1 >= size:
            break
        cuts.append(newline + 1)
    cuts.append(size)
    return list(pairwise(cuts))


def _cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
