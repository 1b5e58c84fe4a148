"""The column of sample weights (``weights``): read from the table, checked, aligned.

Sample weights are finite numbers >= 0, not all zero. A missing weight is refused,
unless ``dropna`` drops its row (a weight cannot be imputed: it would invent how much a
row counts). Each refusal names the file and the column in one line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from linfit.data.features import Missing
from linfit.errors import DataError

if TYPE_CHECKING:
    import pandas as pd  # annotations only: a frame comes from a read through pandas


def weight_rows(frame: pd.DataFrame, name: str, missing: Missing, source_name: str) -> np.ndarray:
    """(n,) bool mask of the rows of ``frame`` whose weight (column ``name``) is present;
    a missing weight is refused unless ``missing`` is ``"drop"``."""
    present = frame[name].notna().to_numpy()
    if missing != "drop" and not present.all():
        raise DataError(
            f"{source_name}: `weights` column {name!r} has {int((~present).sum())} missing "
            "value(s); drop those rows with `dropna`, or fill in the weights"
        )
    if not present.any():
        raise DataError(
            f"no rows left in {source_name} after dropping rows with a missing weight "
            f"(column {name!r}); fill in the weights"
        )
    return present


def weight_values(column: pd.Series, name: str, source_name: str) -> np.ndarray:
    """(n,) float64 weights of a column with no missing cell, each finite and >= 0."""
    from pandas.api import types as pdt  # a Series is in hand: pandas is loaded already

    if pdt.is_bool_dtype(column) or not pdt.is_numeric_dtype(column):
        example = next((v for v in column if not _is_number(v)), column.iloc[0])
        raise DataError(
            f"{source_name}: `weights` column {name!r} is not numeric (e.g. {str(example)!r}); "
            "sample weights are numbers >= 0"
        )
    values = column.to_numpy(dtype=np.float64)
    check_weights(values, name, source_name, total=False)
    return values


def check_weights(
    values: np.ndarray, name: str, source_name: str, *, total: bool = True,
    subject: str | None = None,
) -> None:  # fmt: skip
    """Refuse (n,) weights with a NaN, an infinite or a negative value, and (``total``:
    the whole file's weights, not a chunk's) weights that are zero on every row;
    ``subject`` names them in the message instead of the file's column (e.g. an array
    passed from Python)."""
    infinite, negative = np.isinf(values), values < 0
    check_weight_counts(
        name,
        source_name,
        missing=int(np.isnan(values).sum()),
        infinite=int(infinite.sum()),
        negative=int(negative.sum()),
        positive=int((values > 0).sum()) if total else 1,
        examples=(values[infinite][:1], values[negative][:1]),
        subject=subject,
    )


def check_weight_counts(
    name: str,
    source_name: str,
    *,
    missing: int,
    infinite: int,
    negative: int,
    positive: int,
    examples: tuple[np.ndarray, np.ndarray] | None = None,
    subject: str | None = None,
) -> None:
    """Refuse weights by their counts of missing, infinite, negative and positive values
    (``examples``: an infinite and a negative value shown, where known)."""
    shown = ["", ""]
    for i, example in enumerate(examples or ()):
        shown[i] = f" (e.g. {example[0]:g})" if len(example) else ""
    column = subject or f"{source_name}: `weights` column {name!r}"
    if missing:
        raise DataError(
            f"{column} has {missing} missing value(s); drop those rows with `dropna`, or fill "
            "in the weights"
        )
    if infinite:
        raise DataError(
            f"{column} has {infinite} infinite value(s){shown[0]}; sample weights must be finite"
        )
    if negative:
        raise DataError(
            f"{column} has {negative} negative value(s){shown[1]}; sample weights must be >= 0"
        )
    if not positive:
        raise DataError(f"{column} is zero on every row; at least one row needs a positive weight")


def _is_number(value: object) -> bool:
    try:
        float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return True
