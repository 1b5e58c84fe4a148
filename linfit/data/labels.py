"""The target column: finding it, reading its values, matching labels to a model's classes."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

from linfit.data.columns import numeric_values, text_values
from linfit.data.features import check_finite
from linfit.data.messages import delimiter_hint, names_list
from linfit.errors import DataError

if TYPE_CHECKING:
    import pandas as pd  # annotations only: a Series comes from a read through pandas


def resolve_target(columns: list[str], target: str | int | None, source_name: str) -> str:
    if target is None:
        return columns[-1]
    if isinstance(target, str):
        if target in columns:
            return target
        if not re.fullmatch(r"\s*[+-]?\d+\s*", target):
            raise DataError(
                f"target column {target!r} not found in {source_name}; columns are: "
                f"{names_list(columns)}"
            )
        index = int(target)
    elif isinstance(target, (int, np.integer)) and not isinstance(target, bool):
        index = int(target)
    else:
        raise TypeError(f"target must be a column name, an index or None, got {target!r}")
    if not -len(columns) <= index < len(columns):
        raise DataError(
            f"target index {index} is out of range for {source_name}, which has "
            f"{len(columns)} column(s); use 0..{len(columns) - 1}, or -1 for the last column"
        )
    return columns[index]


def training_target(frame: pd.DataFrame, target: str | int | None, source_name: str) -> str:
    """The name of a training table's target column (``target`` as
    :func:`~linfit.data.load.load_dataset` takes it); the table must hold a feature
    besides it."""
    columns = [str(c) for c in frame.columns]
    target_name = resolve_target(columns, target, source_name)
    if len(columns) < 2:
        raise DataError(
            f"{source_name} needs at least one feature column besides the target "
            f"{target_name!r}" + delimiter_hint(frame)
        )
    return target_name


def _target_values(series: pd.Series) -> np.ndarray:
    """(n,) raw target: numbers keep their numeric dtype; labels become an object array of str.

    Booleans are labels ("True"/"False"), not numbers.
    """
    from pandas.api import types as pdt  # a Series is in hand: pandas is loaded already

    if pdt.is_bool_dtype(series) or pdt.infer_dtype(series, skipna=True) == "boolean":
        return text_values(series)
    if pdt.is_numeric_dtype(series):
        return series.to_numpy()
    values = numeric_values(series)
    return values if values is not None else text_values(series)


def target_column(frame: pd.DataFrame, target_name: str, source_name: str) -> np.ndarray:
    """(n,) target values of the (already row-filtered) frame; numbers must be finite."""
    y = _target_values(frame[target_name])
    if y.dtype != object:
        check_finite(y.astype(np.float64), target_name, source_name)
    return y


def align_labels(y: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Codes of labels ``y`` in a model's ``classes``: (n,) int64, -1 where a label is unknown.

    A data file's labels and a model's saved classes can arrive as different types: a model
    trained on ``1, 2, x`` has the string classes "1", "2", "x", while a file holding only
    ``1, 2`` reads as integers; a model trained on ``1, 2`` has integer classes while a file
    holding ``1, 2, x`` reads as text. Labels are therefore compared the way the classes
    are:

    - string classes: as text. Numbers are spelt as pandas spells them (``1`` -> "1",
      ``1.5`` -> "1.5"); a whole float also matches its integer spelling (``1.0`` matches "1"
      if there is no class "1.0"), since a column with a gap is read as floats. Booleans
      read as "True"/"False", as at training.
    - numeric classes: as numbers; text is parsed (``pd.to_numeric``), and text that is not
      a number is unknown. ``1`` and ``1.0`` are the same label.

    Missing labels (None, NaN) are unknown (-1).

    Args:
        y: (n,) labels as read from a file (numbers, or an object array of str).
        classes: (K,) the model's class labels, unique: all strings or all numbers.

    Returns:
        (n,) int64 codes into ``classes``, -1 for a label not among them.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {y.shape}")
    exact = _equal_codes(y, np.asarray(classes))
    if exact is not None:
        return exact
    import pandas as pd  # labels and classes of different kinds: pandas' rules match them

    index = pd.Index(np.asarray(classes).tolist())
    if not index.is_unique:
        raise ValueError("classes must be unique")
    codes = np.full(y.shape[0], -1, dtype=np.int64)
    present = ~np.asarray(pd.isna(y), dtype=bool)
    values = y[present]
    if values.size == 0 or index.size == 0:
        return codes
    if index.inferred_type == "string":
        found = index.get_indexer(pd.Series(values).astype(str))
        if values.dtype.kind == "f":
            whole = (found < 0) & (values == np.round(values)) & (np.abs(values) < 2.0**63)
            if whole.any():
                spelt = pd.Series(values[whole].astype(np.int64)).astype(str)
                found[whole] = index.get_indexer(spelt)
    elif values.dtype.kind in "iuf":
        found = index.get_indexer(values)
    else:
        if values.dtype.kind == "b":
            values = values.astype(str)  # True is the label "True", never the number 1
        numbers = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
        found = index.get_indexer(numbers)
    codes[present] = found
    return codes


def _equal_codes(y: np.ndarray, classes: np.ndarray) -> np.ndarray | None:
    """:func:`align_labels` where labels and classes are all text, or all integers, and
    no label is missing; None for anything else, which pandas matches (or refuses).

    There the rules above come down to equality, which a dict (text) or a sorted search
    (integers) decides as pandas' index does. ``linfit train`` scores a model on the very
    labels it was trained on, which are of the classes' kind: read from the cache, it
    would import pandas for this alone.
    """
    if y.dtype.kind in "OU" and classes.dtype.kind in "OU":
        names = classes.tolist()
        values = y.tolist()
        if not all(isinstance(c, str) for c in names) or not all(
            isinstance(v, str) for v in values
        ):
            return None  # a number, a missing label (None, NaN): pandas' rules
        position = {name: i for i, name in enumerate(names)}
        if len(position) != len(names):
            return None  # repeated classes: refused by the general path
        return np.fromiter((position.get(v, -1) for v in values), np.int64, len(values))
    if y.dtype.kind == "i" and classes.dtype.kind == "i":
        order = np.argsort(classes, kind="stable")
        ranked = classes[order]
        if ranked.size == 0 or np.any(ranked[1:] == ranked[:-1]):
            return None  # no classes, or repeated ones: the general path
        at = np.minimum(np.searchsorted(ranked, y), ranked.size - 1)
        return np.where(ranked[at] == y, order[at], -1).astype(np.int64)
    return None
