"""The numeric feature matrix: missing-value policy, finiteness checks, imputation, dtype."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import DTypeLike

from linfit.data.columns import (
    ABSENT,
    REMEDIES,
    UNSEEN,
    Columns,
    Encode,
    Indicator,
    Remedy,
    plan_features,
    predict_columns,
    train_columns,
)
from linfit.data.messages import MAX_LISTED
from linfit.errors import DataError

if TYPE_CHECKING:
    import pandas as pd  # annotations only: the frames come from the callers
    from scipy.sparse import csr_matrix

Missing = Literal["error", "drop", "mean"]


def keep_rows(
    frame: pd.DataFrame,
    columns: Sequence[str],
    target_name: str | None,
    missing: Missing,
    source_name: str,
    remedies: Collection[Remedy] = REMEDIES,
) -> np.ndarray:
    """(n,) bool mask of the rows to use under the missing-value policy.

    A refusal suggests only the ``remedies`` the caller offers.
    """
    columns = list(dict.fromkeys(columns))
    feature_na = frame[columns].isna().to_numpy()  # (n, len(columns))
    target_na = (
        frame[target_name].isna().to_numpy()
        if target_name is not None
        else np.zeros(len(frame), dtype=bool)
    )
    if missing == "error":
        counts = feature_na.sum(axis=0)
        listed = [f"column {c!r} ({int(k)})" for c, k in zip(columns, counts, strict=True) if k]
        fixes = ["drop those rows with `dropna`"] if "dropna" in remedies else []
        if listed and "impute" in remedies:  # a missing target cannot be imputed
            fixes.append("fill the features with `impute` mean")
        if target_na.any():
            listed.append(f"target {target_name!r} ({int(target_na.sum())})")
        if listed:
            shown = ", ".join(listed[:MAX_LISTED])
            fix = " or ".join(fixes) or "fill in or remove those cells in the file"
            raise DataError(f"missing values in {source_name}: {shown}; {fix}")
        return np.ones(len(frame), dtype=bool)
    if missing == "drop":
        keep = ~(feature_na.any(axis=1) | target_na)
    elif missing == "mean":
        keep = ~target_na
    else:
        raise ValueError(f"unknown missing-value policy {missing!r}")
    if not keep.any():
        raise DataError(
            f"no rows left in {source_name} after dropping rows with missing values; "
            "fill the gaps in the file"
            + (
                " or use `impute` mean"
                if missing == "drop" and not target_na.all() and "impute" in remedies
                else ""
            )
        )
    return keep


def check_finite(values: np.ndarray, column: str, source_name: str) -> None:
    infinite = np.isinf(values)
    if infinite.any():
        raise DataError(
            f"column {column!r} in {source_name} has {int(infinite.sum())} infinite value(s) "
            "(inf, or a number too large for float64 such as 1e400); fix or remove them"
        )


def fill_vector(fill_values: Sequence[float] | np.ndarray | None, k: int) -> np.ndarray | None:
    """``fill_values`` as a finite (k,) float64 array, or None; a wrong one is a ValueError."""
    if fill_values is None:
        return None
    fill = np.asarray(fill_values, dtype=np.float64)
    if fill.shape != (k,):
        raise ValueError(f"fill_values must have shape ({k},), one per feature, got {fill.shape}")
    if not np.isfinite(fill).all():
        raise ValueError("fill_values must be finite")
    return fill


FILL_ROWS = 2048  # rows of X written together: a block of X stays in cache

# A table with one-hot features is read as a CSR matrix when its dense matrix would hold at
# least SPARSE_MIN_CELLS cells of which at most SPARSE_MAX_DENSITY are stored: the shape of
# a few text columns of hundreds of categories (600,000 rows x 3,000 one-hot columns is
# 14 GB dense, 0.2 GB as CSR). Below it a dense matrix is small and BLAS is fastest on it.
SPARSE_MIN_CELLS = 10**7
SPARSE_MAX_DENSITY = 0.25


def table_matrix(
    cols: Columns,
    n: int,
    missing: Missing,
    dtype: np.dtype,
    source_name: str,
    fill: np.ndarray | None = None,
) -> np.ndarray | csr_matrix:
    """The (n, k) matrix of the columns, as ``columns_matrix`` fills it: CSR when its
    one-hot features make it mostly zeros (``SPARSE_MIN_CELLS``, ``SPARSE_MAX_DENSITY``),
    else dense and C-contiguous."""
    k = len(cols.values)
    blocks = {id(v.codes) for v in cols.values if isinstance(v, Indicator)}
    numeric = sum(not isinstance(v, Indicator) for v in cols.values)
    stored = numeric + len(blocks)  # per row (a row with a missing category stores more)
    if blocks and n * k >= SPARSE_MIN_CELLS and stored <= SPARSE_MAX_DENSITY * k:
        return sparse_columns_matrix(cols, n, missing, dtype, source_name, fill)
    return columns_matrix(cols, n, missing, dtype, source_name, fill)


def _filled(
    values: np.ndarray,
    j: int,
    cols: Columns,
    missing: Missing,
    dtype: np.dtype,
    source_name: str,
    fill: np.ndarray | None,
) -> np.ndarray:
    """Feature j's (n,) ``values`` checked and with its missing cells imputed: with
    ``fill[j]`` for a numeric feature when ``fill`` is given, else with the mean of the
    present cells (a one-hot feature always takes that mean, the category's frequency)."""
    origin = cols.origin[j]
    check_finite(values, origin, source_name)
    gaps = np.isnan(values)
    if gaps.any():
        if missing != "mean":
            raise AssertionError("missing cells should have been rejected or dropped")
        if fill is not None and not cols.indicator[j]:
            values = np.where(gaps, fill[j], values)
        else:
            if gaps.all():
                raise _nothing_to_average(origin, source_name)
            values = np.where(gaps, values[~gaps].mean(), values)
    # A narrower float would turn a finite float64 value into inf in the cast.
    limit = None if dtype.itemsize >= 8 else float(np.finfo(dtype).max)
    if limit is not None and values.size and np.abs(values).max() > limit:
        raise DataError(
            f"column {origin!r} in {source_name} has values too large for {dtype} "
            f"(over {limit:.3g}); use float64"
        )
    return values


def _nothing_to_average(origin: str, source_name: str) -> DataError:
    return DataError(
        f"column {origin!r} in {source_name} has no values to take a mean of; "
        "remove the column or fill it"
    )


def columns_matrix(
    cols: Columns,
    n: int,
    missing: Missing,
    dtype: np.dtype,
    source_name: str,
    fill: np.ndarray | None = None,
) -> np.ndarray:
    """(n, k) C-contiguous matrix of the columns, with mean imputation if asked.

    A missing cell of a numeric feature j is filled with ``fill[j]`` when ``fill`` is given,
    else with the mean of the column's present cells; one-hot features always take the mean.
    """
    X = np.empty((n, len(cols.values)), dtype=dtype)
    columns = []
    for j, values in enumerate(cols.values):
        dense = values.dense() if isinstance(values, Indicator) else values
        columns.append(_filled(dense, j, cols, missing, dtype, source_name, fill))
    # Written a block of rows at a time: a whole column written into a C-ordered matrix
    # strides over every row's cache line (measured 5x slower on 300k x 100).
    for start in range(0, n, FILL_ROWS):
        rows = slice(start, min(start + FILL_ROWS, n))
        for j, values in enumerate(columns):
            X[rows, j] = values[rows]
    return X


def sparse_columns_matrix(
    cols: Columns,
    n: int,
    missing: Missing,
    dtype: np.dtype,
    source_name: str,
    fill: np.ndarray | None = None,
) -> csr_matrix:
    """``columns_matrix``'s (n, k) values as a CSR matrix, never dense: a one-hot block
    stores one value a row (its category's 1; none for an unseen value), or on a row whose
    cell is missing, under ``missing="mean"``, each category's frequency. Every row stores
    every numeric feature, zeros included, so that centring one (``Scaler``) shifts the
    stored values and fills nothing in."""
    import scipy.sparse as sp  # a table this wide is worth its import

    rows: list[np.ndarray] = []
    columns: list[np.ndarray] = []
    data: list[np.ndarray] = []
    every_row = np.arange(n)
    blocks: dict[int, list[tuple[int, Indicator]]] = {}
    for j, values in enumerate(cols.values):
        if isinstance(values, Indicator):
            blocks.setdefault(id(values.codes), []).append((j, values))
            continue
        rows.append(every_row)
        columns.append(np.full(n, j))
        data.append(_filled(values, j, cols, missing, dtype, source_name, fill))
    for features in blocks.values():
        codes = features[0][1].codes
        # each code's feature column, -1 for none (an unseen value, a missing cell, a
        # category that is not a feature): UNSEEN and ABSENT index the two padding cells
        size = max(int(codes.max(initial=-1)), max(v.position for _, v in features)) + 1
        column_of = np.full(size + 2, -1)
        for j, v in features:
            column_of[v.position] = j
        found = column_of[codes]
        hit = np.flatnonzero(found >= 0)
        rows.append(hit)
        columns.append(found[hit])
        data.append(np.ones(hit.size))
        absent = np.flatnonzero(codes == ABSENT)
        if absent.size:
            if missing != "mean":
                raise AssertionError("missing cells should have been rejected or dropped")
            if absent.size == n:
                raise _nothing_to_average(cols.origin[features[0][0]], source_name)
            # each category's frequency among the present cells: one count of them all
            present = codes[codes != ABSENT]
            counts = np.bincount(present[present != UNSEEN], minlength=size)
            for j, v in features:
                rows.append(absent)
                columns.append(np.full(absent.size, j))
                data.append(np.full(absent.size, counts[v.position] / present.size))
    return sp.csr_matrix(
        (np.concatenate(data).astype(dtype), (np.concatenate(rows), np.concatenate(columns))),
        shape=(n, len(cols.values)),
    )


def check_dtype(dtype: DTypeLike) -> np.dtype:
    resolved = np.dtype(dtype)
    if resolved.kind != "f":
        raise ValueError(f"dtype must be a floating-point type, got {resolved}")
    return resolved


def take_rows(frame: pd.DataFrame, keep: np.ndarray) -> pd.DataFrame:
    return frame if keep.all() else frame[keep]


def feature_matrix(
    frame: pd.DataFrame,
    feature_names: Sequence[str] | None = None,
    *,
    encode: Encode = "none",
    missing: Missing = "error",
    dtype: DTypeLike = np.float64,
    source_name: str = "the data",
    fill_values: Sequence[float] | np.ndarray | None = None,
    remedies: Collection[Remedy] = REMEDIES,
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Turn a table of features into a numeric matrix.

    Args:
        frame: (n_rows, n_columns) table holding only feature columns when ``feature_names``
            is None; otherwise any columns, of which the named ones are used.
        feature_names: None to use every column (training: non-numeric ones are one-hot
            encoded if ``encode == "onehot"``, categories sorted); or the k names a model was
            trained on (prediction: matched by name, one-hot names ``c=v`` rebuilt from the
            text of column ``c``).
        encode: ``"onehot"`` to encode non-numeric columns as ``c=value`` indicators (names
            that clash are refused, as in :func:`load_dataset`).
        missing: ``"error"``, ``"drop"`` (drop rows with any missing feature) or ``"mean"``
            (fill with the column mean over the rows, or from ``fill_values``).
        dtype: floating dtype of the result.
        source_name: how messages refer to the data (e.g. the quoted file name).
        fill_values: prediction only (``feature_names`` given), as in :func:`load_features`.
        remedies: as in :func:`load_dataset`.

    Returns:
        X of shape (n_kept, k), C-contiguous, and the k feature names.

    Raises:
        DataError: as :func:`load_dataset` and :func:`load_features`.
        ValueError: ``fill_values`` without ``feature_names``, or of the wrong shape.
    """
    resolved = check_dtype(dtype)
    fill = None
    if feature_names is None:
        if fill_values is not None:
            raise ValueError("fill_values needs feature_names (it is for prediction)")
        columns = [str(c) for c in frame.columns]
        keep = keep_rows(frame, columns, None, missing, source_name, remedies)
        cols = train_columns(take_rows(frame, keep), encode, source_name, remedies=remedies)
    else:
        names = list(feature_names)
        fill = fill_vector(fill_values, len(names))
        plan = plan_features(frame, names, encode, source_name)
        keep = keep_rows(frame, [c for c, _ in plan], None, missing, source_name, remedies)
        cols = predict_columns(take_rows(frame, keep), plan, names, source_name, None)
    X = columns_matrix(cols, int(keep.sum()), missing, resolved, source_name, fill)
    return X, tuple(cols.names)
