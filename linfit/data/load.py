"""Loading a data file as a training Dataset, a prediction matrix or a labelled Dataset."""

from __future__ import annotations

import codecs
import io
from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import DTypeLike

from linfit.data import fastcsv
from linfit.data.columns import (
    REMEDIES,
    Encode,
    Remedy,
    plan_features,
    predict_columns,
    train_columns,
)
from linfit.data.features import (
    Missing,
    check_dtype,
    columns_matrix,
    fill_vector,
    keep_rows,
    take_rows,
)
from linfit.data.formats import read_frame, resolve_format, text_column_reader, text_separator
from linfit.data.labels import resolve_target, target_column
from linfit.data.libsvm import LIBSVM_TARGET, libsvm_features, libsvm_training
from linfit.data.messages import delimiter_hint
from linfit.data.read import Source, read_errors
from linfit.errors import DataError

if TYPE_CHECKING:
    import pandas as pd  # annotations only: a read that needs pandas imports it (formats, read)


@dataclass(frozen=True)
class Dataset:
    """A training table split into features and target.

    Attributes:
        X: (n_samples, n_features) C-contiguous matrix of the requested float dtype.
        y: (n_samples,) raw target values: float or int for numbers, object array of str for
            labels (booleans become the strings "True"/"False").
        feature_names: n_features names, one per column of X (``col=value`` for one-hot columns).
        target_name: name of the target column in the file.
    """

    X: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    target_name: str


def load_dataset(
    path: str | Path,
    *,
    target: str | int | None = None,
    sep: str | None = None,
    encode: Encode = "none",
    missing: Missing = "error",
    dtype: DTypeLike = np.float64,
    remedies: Collection[Remedy] = REMEDIES,
    file_format: str | None = None,
) -> Dataset:
    """Read a training table: every column but the target is a feature.

    Args:
        path: data file, or ``"-"`` for standard input (see :func:`read_table`).
        target: column name; or 0-based index as an int or a string of digits that is not a
            column name (negative counts from the end); default the last column.
        sep: delimiter (see :func:`read_table`).
        encode: ``"onehot"`` turns each non-numeric feature column ``c`` into indicator
            columns ``c=value`` (values sorted, at most MAX_CATEGORIES per column); a
            ``c=value`` name equal to another column's name (the target's too) or to another
            indicator's name is refused, since prediction could not tell them apart.
            ``"none"`` rejects non-numeric features.
        missing: ``"error"`` rejects missing cells; ``"drop"`` drops rows with a missing
            feature or target; ``"mean"`` fills a missing feature with its column's mean over
            the kept rows (a one-hot column's mean is the category's frequency). Rows with a
            missing *target* are dropped under ``"mean"`` too: a label or response cannot be
            imputed without inventing training signal.
        dtype: floating dtype of X (float64 default; float32 halves memory).
        remedies: the fixes the caller offers for a refused file, among ``"encode"``
            (``--encode onehot``), ``"dropna"`` and ``"impute"`` (``--impute mean``); an
            error message suggests only these (default: all three).
        file_format: ``"csv"``, ``"tsv"``, ``"parquet"`` or ``"libsvm"``; default by the
            file's ending (see :mod:`linfit.data.formats`). A LIBSVM file takes no
            ``target``, and ``encode`` and ``missing`` have nothing to act on there; one
            over ``DENSE_CELLS`` cells gives a sparse (CSR) X.

    Returns:
        Dataset with X (n_kept, n_features) and y (n_kept,).

    Raises:
        DataError: any problem with the file or its values, in one line naming the culprit.
        OptionError: an unusable ``sep``.
    """
    resolved = check_dtype(dtype)
    fmt = resolve_format(path, file_format)
    sep_char = text_separator(path, fmt, sep)
    source = Source(path)
    if fmt == "libsvm":
        X, y, features = libsvm_training(source, resolved, target)
        return Dataset(X=X, y=y, feature_names=features, target_name=LIBSVM_TARGET)
    if sep_char is not None:
        scanned = _scan_training(source, sep_char, target, resolved)
        if scanned is not None:
            return scanned
    frame = read_frame(source, fmt, sep_char)
    columns = [str(c) for c in frame.columns]
    target_name = resolve_target(columns, target, source.name)
    if len(columns) < 2:
        raise DataError(
            f"{source.name} needs at least one feature column besides the target "
            f"{target_name!r}" + delimiter_hint(frame)
        )
    return training_arrays(frame, target_name, encode, missing, resolved, source.name, remedies)


def _scan_training(
    source: Source, sep: str, target: str | int | None, dtype: np.dtype
) -> Dataset | None:
    """The Dataset of a clean numeric table read by the compiled scanner (see
    :mod:`linfit.data.fastcsv`); None for any other table, which pandas then reads (and
    whose problems, a bad ``target`` among them, it reports)."""
    head = fastcsv.header(source, sep)
    if head is None:
        return None
    try:
        target_name = resolve_target(head[0], target, source.name)
    except DataError:
        return None
    features = [c for c in head[0] if c != target_name]
    scanned = _scan_named(source, sep, head, features, target_name, dtype)
    if scanned is None:
        return None
    X, y = scanned
    return Dataset(X=X, y=y, feature_names=tuple(features), target_name=target_name)


def _scan_named(
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


def training_arrays(
    frame: pd.DataFrame,
    target_name: str,
    encode: Encode,
    missing: Missing,
    dtype: np.dtype,
    source_name: str,
    remedies: Collection[Remedy] = REMEDIES,
) -> Dataset:
    """The Dataset of a training table (or of one chunk of it): every column but
    ``target_name`` is a feature, under the ``encode`` and ``missing`` policies."""
    feature_columns = [c for c in frame.columns if c != target_name]
    clean = _clean_numeric(frame, feature_columns, target_name, dtype, source_name)
    if clean is not None:
        X, y = clean
        return Dataset(X=X, y=y, feature_names=tuple(feature_columns), target_name=target_name)
    keep = keep_rows(frame, feature_columns, target_name, missing, source_name, remedies)
    frame = take_rows(frame, keep)
    y = target_column(frame, target_name, source_name)
    cols = train_columns(frame[feature_columns], encode, source_name, [target_name], remedies)
    X = columns_matrix(cols, len(frame), missing, dtype, source_name)
    return Dataset(X=X, y=y, feature_names=tuple(cols.names), target_name=target_name)


def load_features(
    path: str | Path,
    feature_names: Sequence[str],
    *,
    sep: str | None = None,
    encode: Encode = "none",
    missing: Missing = "error",
    dtype: DTypeLike = np.float64,
    fill_values: Sequence[float] | np.ndarray | None = None,
    remedies: Collection[Remedy] = REMEDIES,
    file_format: str | None = None,
) -> np.ndarray:
    """Read a table for prediction, lining its columns up with a trained model's features.

    Columns are matched by name in any order; extra columns (the target, ids) are ignored.
    With ``encode="onehot"`` a feature ``c=value`` is rebuilt from the text of column ``c``:
    1 where the cell equals ``value``, else 0 (a value unseen at training gives all zeros).

    Args:
        path: data file, or ``"-"`` for standard input.
        feature_names: the k feature names the model was trained on, in model order.
        sep, encode, dtype, remedies, file_format: as in :func:`load_dataset`; a LIBSVM
            file's features are matched by index to a model's names ``f1, f2, ...``.
        missing: as in :func:`load_dataset`; note ``"drop"`` returns fewer rows than the
            file has, and ``"mean"`` fills from ``fill_values`` when given, else from this
            file's column means.
        fill_values: with ``missing="mean"``, the k values to fill the missing cells of
            each feature with, in ``feature_names`` order: normally the *training* means
            (``TrainedModel.feature_means``), so a row is imputed the same way whatever else
            the file holds. Only numeric features are filled from it; a missing cell of a
            one-hot column ``c`` makes all of that row's ``c=value`` features missing, and
            each is filled with this file's frequency of ``value`` (the mean of the indicator
            over rows where ``c`` is present). None (the default): every feature, numeric
            or one-hot, is filled with its mean over this file's rows. Ignored for the other
            ``missing`` policies. Must be finite, shape (k,).

    Returns:
        X of shape (n_kept, k), C-contiguous, columns in ``feature_names`` order.

    Raises:
        DataError: unreadable file, a feature column missing, non-numeric or missing values.
        OptionError: an unusable ``sep``.
        ValueError: ``fill_values`` of the wrong shape or not finite (a programming error).
    """
    resolved = check_dtype(dtype)
    names = list(feature_names)
    fill = fill_vector(fill_values, len(names))
    fmt = resolve_format(path, file_format)
    sep_char = text_separator(path, fmt, sep)
    source = Source(path)
    if fmt == "libsvm":
        return libsvm_features(source, names, resolved)[0]
    if sep_char is not None:
        head = fastcsv.header(source, sep_char)
        scanned = _scan_named(source, sep_char, head, names, None, resolved)
        if scanned is not None:
            return scanned[0]
    frame = read_frame(source, fmt, sep_char)
    plan = plan_features(frame, names, encode, source.name)
    if all(category is None for _, category in plan):
        clean = _clean_numeric(frame, names, None, resolved, source.name)
        if clean is not None:
            return clean[0]
    keep = keep_rows(frame, [c for c, _ in plan], None, missing, source.name, remedies)
    text_column = text_column_reader(source, fmt, sep_char)
    cols = predict_columns(take_rows(frame, keep), plan, names, source.name, text_column)
    return columns_matrix(cols, int(keep.sum()), missing, resolved, source.name, fill)


def load_labeled(
    path: str | Path,
    feature_names: Sequence[str],
    target_name: str,
    *,
    sep: str | None = None,
    encode: Encode = "none",
    missing: Missing = "error",
    dtype: DTypeLike = np.float64,
    fill_values: Sequence[float] | np.ndarray | None = None,
    remedies: Collection[Remedy] = REMEDIES,
    file_format: str | None = None,
) -> Dataset:
    """Read a labelled table for evaluation: a model's features (by name) and its target.

    As :func:`load_features` (including ``fill_values`` and ``remedies``), plus the column
    ``target_name``, read in the same single pass; rows dropped for missing values are
    dropped from both, and a row with a missing target is always dropped (a label cannot be
    imputed).

    Returns:
        A Dataset whose X is (n_kept, k) in ``feature_names`` order and whose y is the raw
        target as in :func:`load_dataset`; match class labels with :func:`align_labels`.
    """
    resolved = check_dtype(dtype)
    fill = fill_vector(fill_values, len(feature_names))
    fmt = resolve_format(path, file_format)
    sep_char = text_separator(path, fmt, sep)
    source = Source(path)
    if fmt == "libsvm":
        X, y = libsvm_features(source, feature_names, resolved)
        return Dataset(X=X, y=y, feature_names=tuple(feature_names), target_name=target_name)
    names = list(feature_names)
    if sep_char is not None:
        head = fastcsv.header(source, sep_char)
        scanned = _scan_named(source, sep_char, head, names, target_name, resolved)
        if scanned is not None:
            X, y = scanned
            return Dataset(X=X, y=y, feature_names=tuple(names), target_name=target_name)
    frame = read_frame(source, fmt, sep_char)
    if target_name not in frame.columns:
        raise DataError(
            f"{source.name} has no column {target_name!r}, the target the model was trained "
            "on; evaluation needs the true values (use predict for unlabelled data)"
            + delimiter_hint(frame)
        )
    plan = plan_features(frame, names, encode, source.name)
    if all(category is None for _, category in plan):
        clean = _clean_numeric(frame, names, target_name, resolved, source.name)
        if clean is not None:
            X, y = clean
            return Dataset(X=X, y=y, feature_names=tuple(names), target_name=target_name)
    keep = keep_rows(frame, [c for c, _ in plan], target_name, missing, source.name, remedies)
    frame = take_rows(frame, keep)
    text_column = text_column_reader(source, fmt, sep_char)
    cols = predict_columns(frame, plan, names, source.name, text_column)
    X = columns_matrix(cols, len(frame), missing, resolved, source.name, fill)
    return Dataset(
        X=X,
        y=target_column(frame, target_name, source.name),
        feature_names=tuple(names),
        target_name=target_name,
    )


# Rows of X filled together by _clean_numeric: 512 rows of 100 float64 features (400 kB
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


def _clean_numeric(
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
    same values the general path (:func:`keep_rows`, :func:`train_columns`,
    :func:`columns_matrix`) makes one column at a time, in one pass instead of several. Anything
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
