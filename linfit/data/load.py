"""Loading a data file as a training Dataset, a prediction matrix or a labelled Dataset."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import DTypeLike

from linfit.data import fastcsv
from linfit.data.choice import ColumnChoice, read_chosen
from linfit.data.columns import (
    REMEDIES,
    Encode,
    Remedy,
    plan_features,
    predict_columns,
    train_columns,
)
from linfit.data.dataset import Dataset
from linfit.data.fast_paths import clean_numeric, scan_named
from linfit.data.features import (
    Missing,
    check_dtype,
    fill_vector,
    keep_rows,
    table_matrix,
    take_rows,
)
from linfit.data.formats import read_frame, resolve_format, text_column_reader, text_separator
from linfit.data.labels import resolve_target, target_column
from linfit.data.libsvm import LIBSVM_TARGET, libsvm_features, libsvm_training
from linfit.data.messages import delimiter_hint
from linfit.data.read import Source
from linfit.data.weights import check_weights, weight_rows, weight_values
from linfit.errors import DataError

if TYPE_CHECKING:
    import pandas as pd  # annotations only: a read that needs pandas imports it (formats, read)


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
    features: Sequence[str] | None = None,
    drop: Sequence[str] = (),
    weights: str | None = None,
    reference: Mapping[str, str] | None = None,
) -> Dataset:
    """Read a training table: every column but the target (and the weights) is a feature.

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
        features, drop, weights: the columns read (see :mod:`linfit.data.choice`): only
            ``features``, or all but ``drop`` (in the file's order, before encoding and
            missing values); ``weights`` names the column of sample weights. None for LIBSVM.
        reference: with ``encode="onehot"``, encode each categorical column against a
            reference level left out (the one named for it, else its first; see
            ``linfit.data.columns.train_columns``), as a model with an intercept needs;
            None keeps every level.

    Returns:
        Dataset with X (n_kept, n_features), y (n_kept,) and weights (n_kept,) or None.

    Raises:
        DataError: any problem with the file or its values, in one line naming the culprit.
        OptionError: an unusable ``sep``.
    """
    resolved = check_dtype(dtype)
    fmt = resolve_format(path, file_format)
    sep_char = text_separator(path, fmt, sep)
    choice = ColumnChoice.of(features, drop, weights)
    source = Source(path)
    if fmt == "libsvm":
        choice.refuse_libsvm(source.name)
        X, y, names = libsvm_training(source, resolved, target)
        return Dataset(X=X, y=y, feature_names=names, target_name=LIBSVM_TARGET)
    # the compiled scanner reads numbers only: a reference names a categorical column
    dataset = None if reference else _scan_training(source, sep_char, target, resolved, choice)
    if dataset is None:
        frame, target_name = read_chosen(source, fmt, sep_char, target, choice)
        dataset = training_arrays(
            frame, target_name, encode, missing, resolved, source.name, remedies, weights,
            reference,
        )  # fmt: skip
    if weights is not None:  # the whole file's: a chunk may hold only zero weights
        check_weights(dataset.weights, weights, source.name)
    return dataset


def _scan_training(
    source: Source,
    sep: str | None,
    target: str | int | None,
    dtype: np.dtype,
    choice: ColumnChoice,
) -> Dataset | None:
    """The Dataset of a clean numeric table read by the compiled scanner (see
    :mod:`linfit.data.fastcsv`); None for any other table (or a Parquet file, ``sep``
    None), which pandas then reads (and whose problems, a bad ``target`` among them, it
    reports)."""
    if sep is None:
        return None
    head = fastcsv.header(source, sep)
    weights = choice.weights
    if head is None or (weights is not None and dtype != np.float64):
        return None  # float32 would round the weights, which are float64: pandas reads them
    try:
        target_name = resolve_target(head[0], target, source.name)
    except DataError:
        return None
    features = choice.feature_columns(head[0], target_name, source.name)
    read = features if weights is None else [*features, weights]
    scanned = scan_named(source, sep, head, read, target_name, dtype)
    if scanned is None:
        return None
    X, y = scanned
    w = None
    if weights is not None:  # scanned as X's last column: split off (a copy of X, once)
        w, X = X[:, -1].copy(), np.ascontiguousarray(X[:, :-1])
    return Dataset(X=X, y=y, feature_names=tuple(features), target_name=target_name, weights=w)


def training_arrays(
    frame: pd.DataFrame,
    target_name: str,
    encode: Encode,
    missing: Missing,
    dtype: np.dtype,
    source_name: str,
    remedies: Collection[Remedy] = REMEDIES,
    weights: str | None = None,
    reference: Mapping[str, str] | None = None,
) -> Dataset:
    """The Dataset of a training table (or of one chunk of it): every column but
    ``target_name`` and ``weights`` (the sample weights' column, read as the Dataset's
    weights) is a feature, under the ``encode`` and ``missing`` policies, categorical
    columns against their ``reference`` levels (``load_dataset``)."""
    feature_columns = [c for c in frame.columns if c not in (target_name, weights)]
    if weights is not None:  # a row without its weight is dropped (dropna) or refused
        frame = take_rows(frame, weight_rows(frame, weights, missing, source_name))
    clean = None if reference else clean_numeric(frame, feature_columns, target_name, dtype,
                                                 source_name)  # fmt: skip
    references: dict[str, str] = {}
    if clean is not None:
        X, y = clean
        names = tuple(feature_columns)
    else:
        keep = keep_rows(frame, feature_columns, target_name, missing, source_name, remedies)
        frame = take_rows(frame, keep)
        y = target_column(frame, target_name, source_name)
        reserved = [target_name, *([weights] if weights is not None else [])]
        cols = train_columns(
            frame[feature_columns], encode, source_name, reserved, remedies, reference
        )
        X = table_matrix(cols, len(frame), missing, dtype, source_name)
        names, references = tuple(cols.names), cols.references
    w = None if weights is None else weight_values(frame[weights], weights, source_name)
    return Dataset(X=X, y=y, feature_names=names, target_name=target_name, weights=w,
                   reference_levels=references)  # fmt: skip


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
    X, _ = _read_for_model(
        path, feature_names, None, sep=sep, encode=encode, missing=missing, dtype=dtype,
        fill_values=fill_values, remedies=remedies, file_format=file_format,
    )  # fmt: skip
    return X


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
    X, y = _read_for_model(
        path, feature_names, target_name, sep=sep, encode=encode, missing=missing,
        dtype=dtype, fill_values=fill_values, remedies=remedies, file_format=file_format,
    )  # fmt: skip
    return Dataset(X=X, y=y, feature_names=tuple(feature_names), target_name=target_name)


def _read_for_model(
    path: str | Path,
    feature_names: Sequence[str],
    target_name: str | None,
    *,
    sep: str | None,
    encode: Encode,
    missing: Missing,
    dtype: DTypeLike,
    fill_values: Sequence[float] | np.ndarray | None,
    remedies: Collection[Remedy],
    file_format: str | None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """``(X, y)`` of a table read for a model (:func:`load_features`, and with
    ``target_name`` :func:`load_labeled`); y is None without ``target_name``."""
    resolved = check_dtype(dtype)
    names = list(feature_names)
    fill = fill_vector(fill_values, len(names))
    fmt = resolve_format(path, file_format)
    sep_char = text_separator(path, fmt, sep)
    source = Source(path)
    if fmt == "libsvm":
        X, y = libsvm_features(source, names, resolved)
        return X, None if target_name is None else y
    if sep_char is not None:
        head = fastcsv.header(source, sep_char)
        scanned = scan_named(source, sep_char, head, names, target_name, resolved)
        if scanned is not None:
            return scanned
    frame = read_frame(source, fmt, sep_char)
    if target_name is not None and target_name not in frame.columns:
        raise DataError(
            f"{source.name} has no column {target_name!r}, the target the model was trained "
            "on; evaluation needs the true values (use predict for unlabelled data)"
            + delimiter_hint(frame)
        )
    plan = plan_features(frame, names, encode, source.name)
    if all(category is None for _, category in plan):
        clean = clean_numeric(frame, names, target_name, resolved, source.name)
        if clean is not None:
            return clean
    keep = keep_rows(frame, [c for c, _ in plan], target_name, missing, source.name, remedies)
    frame = take_rows(frame, keep)
    text_column = text_column_reader(source, fmt, sep_char)
    cols = predict_columns(frame, plan, names, source.name, text_column)
    X = table_matrix(cols, len(frame), missing, resolved, source.name, fill)
    return X, None if target_name is None else target_column(frame, target_name, source.name)
