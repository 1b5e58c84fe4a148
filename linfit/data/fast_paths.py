"""The fast paths of a table with nothing to repair: every feature a finite number.

``scan_named`` has the compiled scanner (:mod:`linfit.data.fastcsv`) read a plain numeric
CSV straight into X; ``clean_numeric`` copies a table pandas has read from its column block
into X in one pass. Each returns None for any other table, and the loaders then take the
general path (:func:`~linfit.data.features.keep_rows`,
:func:`~linfit.data.columns.train_columns`, :func:`~linfit.data.features.columns_matrix`),
which reports the table's problems or repairs them under the caller's policies.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np

from linfit.data import fastcsv
from linfit.data.labels import target_column
from linfit.data.read import Source, read_errors
from linfit.errors import DataError

if TYPE_CHECKING:
    import pandas as pd  # annotations only: a frame comes from a read through pandas


def scan_named(
    source: Source,
    sep: str,
    head: tuple[list[str], int] | None,
    features: Sequence[str],
    target_name: str | None,
    dtype: np.dtype,
) -> tuple[np.ndarray, np.ndarray | None] | None:
    """``(X, y)`` of the named columns of a clean numeric table read by the compiled scanner:
    X (n, len(features)) in ``features`` order, y the column ``target_name`` (None without
    one); other columns are skipped. None when the table is left to pandas: no scannable
    ``head`` (:func:`fastcsv.header`), a name that is not a column, a row or the target
    that only pandas can read."""
    if head is None or not features or target_name in features:
        return None
    if len(set(features)) != len(features):
        return None  # a repeated name: pandas' path copies the column twice
    columns, data_start = head
    if not {*features, *([target_name] if target_name else [])} <= set(columns):
        return None  # the general path says which are missing
    position = {c: i for i, c in enumerate(features)}
    roles = [position.get(c, fastcsv.TARGET if c == target_name else fastcsv.SKIP) for c in columns]
    scanned = fastcsv.scan(
        source.path, data_start, sep, roles, len(features), dtype, name=source.name
    )
    if scanned is None:
        return None
    X, text = scanned
    if target_name is None:
        return X, None
    y = _scanned_target(text or b"", target_name, sep, len(X), source.name)
    return None if y is None else (X, y)


def _scanned_target(
    text: bytes, name: str, sep: str, n_rows: int, source_name: str
) -> np.ndarray | None:
    """(n_rows,) target from the scanner's text of its column, typed by pandas as in a whole
    read of the file; None where that read would need the general path (a missing label)
    or might type it otherwise."""
    import pandas as pd  # types a target as a whole read would: the scanner reads no text

    if text.startswith(codecs.BOM_UTF8):
        return None  # pandas strips a BOM at the start of its input, not inside a file
    try:
        with read_errors(source_name):
            column = pd.read_csv(
                io.BytesIO(text), sep=sep, header=None, names=[name], encoding="utf-8"
            )
    except DataError:
        return None
    if len(column) != n_rows or column[name].isna().any():
        return None
    if (
        not pd.api.types.is_numeric_dtype(column[name])
        and pd.to_numeric(column[name], errors="coerce").notna().any()
    ):
        # Numbers among text: a whole read types them chunk by chunk ("007" or 7), and its
        # chunks hold other rows than a read of this one column.
        return None
    try:
        y = target_column(column, name, source_name)
    except DataError:
        return None
    if y.dtype.kind == "u" or (y.dtype.kind == "f" and np.any(np.signbit(y) & (y == 0))):
        # A whole read's chunks may type these otherwise: uint64 rows among int64 or float
        # rows; -0, which is 0 in an integer chunk and -0.0 in a float one.
        return None
    return y


# Rows of X filled together by clean_numeric: 512 rows of 100 float64 features (400 kB
# read from the frame's column block, 400 kB written) stay in cache; 512 to 8192 rows
# measured alike, within noise.
CLEAN_ROWS = 512
# A matrix of at least this many cells is filled by CLEAN_THREADS threads, each taking a
# share of the rows (numpy releases the GIL for the copies and checks). Measured on the
# 2-core bench machine, 300,000 x 100 (305 MB CSV), medians of 39 interleaved rounds with
# the machine otherwise idle: load_dataset took 1.48x pandas.read_csv with the general
# per-column path, 1.15x with this path on one thread, 1.08x on two. (A plain numeric file
# now takes the compiled scanner, 0.5x; this path serves the tables pandas must read,
# quoted cells say, and each chunk of a streamed file. Building X from pandas' block needs
# its transposing copy: an F-ordered X would need none, but Dataset promises C order.)
CLEAN_THREADED_CELLS = 1 << 22
CLEAN_THREADS = 2


def clean_numeric(
    frame: pd.DataFrame,
    features: Sequence[str],
    target_name: str | None,
    dtype: np.dtype,
    source_name: str,
) -> tuple[np.ndarray, np.ndarray | None] | None:
    """``(X, y)`` of a table with nothing to repair, straight from pandas' column block;
    None when the table needs the general path.

    The common case: every feature column is float64 or int64 (as pandas parsed it), every
    value finite (no missing cell, no inf), and the target (if any) complete and, when
    numeric, finite. Then no missing-value policy, one-hot encoding or imputation has
    anything to do, and X is the feature columns copied into a C-ordered matrix a block
    of rows at a time, each block checked just before its copy reads it from cache: the
    same values the general path (``keep_rows``, ``train_columns``,
    ``columns_matrix``) makes one column at a time, in one pass instead of several. Anything
    else (a missing or infinite value, a text or boolean column, a float32 overflow)
    returns None, and the general path on the same frame reports it, with its messages,
    or repairs it under the caller's policy. ``y`` is None when ``target_name`` is None.
    """
    n = len(frame)
    if n == 0 or not features:
        return None
    dtypes = frame.dtypes
    if not all(dtypes[c] == np.float64 or dtypes[c] == np.int64 for c in features):
        return None
    if target_name is not None and frame[target_name].isna().any():
        return None
    A = frame[list(features)].to_numpy(dtype=np.float64, copy=False)  # (n, k), any order
    X = np.empty(A.shape, dtype=dtype)
    limit = None if dtype.itemsize >= 8 else float(np.finfo(dtype).max)

    def fill(rows: range) -> bool:
        for start in rows:
            block = A[start : min(start + CLEAN_ROWS, rows.stop)]
            if not np.isfinite(block).all():
                return False  # NaN (missing) or inf: the general path's policies, messages
            if limit is not None and np.abs(block).max() > limit:
                return False  # the cast would overflow: the general path names the column
            X[start : start + len(block)] = block  # from cache, after the checks read it
        return True

    if A.size < CLEAN_THREADED_CELLS:
        filled = fill(range(0, n, CLEAN_ROWS))
    else:
        cuts = [n * i // CLEAN_THREADS // CLEAN_ROWS * CLEAN_ROWS for i in range(CLEAN_THREADS)]
        shares = [range(lo, hi, CLEAN_ROWS) for lo, hi in zip(cuts, [*cuts[1:], n], strict=True)]
        with ThreadPoolExecutor(CLEAN_THREADS) as pool:
            filled = all(list(pool.map(fill, shares)))
    if not filled:
        return None
    if target_name is None:
        return X, None
    try:
        return X, target_column(frame, target_name, source_name)
    except DataError:
        return None
