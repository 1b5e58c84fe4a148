"""Feature columns of a table: numeric conversion, one-hot encoding, matching a model's names.

Training turns each file column into numeric features (one-hot ``c=value`` indicators for
text columns when asked); prediction finds each of a model's feature names in a file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

from linfit.data.messages import delimiter_hint, names_list
from linfit.errors import DataError

if TYPE_CHECKING:
    # Annotations only: each function given a frame imports pandas itself, so the loaders
    # can import this module (for its names and constants) on a read that needs no pandas.
    import pandas as pd

Encode = Literal["none", "onehot"]

# What a caller offers for getting past a data problem, named after the command-line option
# that does it: "encode" (--encode onehot), "dropna" (--dropna), "impute" (--impute mean).
# Error messages suggest only the offered ones: ``linfit predict``, for one, can impute but
# not drop rows (each row needs its prediction). The loaders offer all three by default.
Remedy = Literal["encode", "dropna", "impute"]
REMEDIES: frozenset[Remedy] = frozenset(("encode", "dropna", "impute"))

# One-hot encoding a column with more distinct values than this is almost always a mistake
# (an identifier, free text, or a number column with a typo) and would blow up memory.
MAX_CATEGORIES = 1000


def numeric_values(series: pd.Series) -> np.ndarray | None:
    """(n,) float64 values with NaN for missing cells, or None if the column is not numeric."""
    from pandas.api import types as pdt  # a Series is in hand: pandas is loaded already

    if pdt.is_bool_dtype(series) or pdt.is_numeric_dtype(series):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    if not (pdt.is_object_dtype(series) or pdt.is_string_dtype(series)):
        return None
    # A boolean column with empty cells arrives as object: True/False/NaN.
    if pdt.infer_dtype(series, skipna=True) == "boolean":
        return series.astype(np.float64).to_numpy()
    # pandas < 3 leaves a column holding an overflowing literal such as 1e400 as text; numpy
    # parses it (to inf, caught later), so such a column is still numbers, not categories.
    present = series.notna().to_numpy()
    cells = series[present].to_numpy(dtype=object)
    try:
        parsed = np.asarray(cells, dtype=str).astype(np.float64)
    except (ValueError, TypeError, OverflowError):
        return None
    # numpy's str arrays drop trailing NUL characters, so '2\x00' parsed as 2 above: a NUL
    # byte is not part of any number, and a cell holding one is text.
    if any("\x00" in str(cell) for cell in cells):
        return None
    if np.isnan(parsed).any():  # text such as ' nan' that pandas did not treat as missing
        return None
    values = np.full(len(series), np.nan)
    values[present] = parsed
    return values


def _bad_example(series: pd.Series) -> str:
    """The first cell of a non-numeric column that does not parse as a number."""
    import pandas as pd  # a Series is in hand: pandas is loaded already

    present = series.dropna()
    parsed = pd.to_numeric(present, errors="coerce")
    bad = present[parsed.isna()]
    return str(bad.iloc[0]) if len(bad) else str(present.iloc[0]) if len(present) else ""


def text_values(series: pd.Series) -> np.ndarray:
    """(n,) object array of str, NaN kept for missing cells."""
    missing = series.isna().to_numpy()
    out = np.full(len(series), np.nan, dtype=object)
    out[~missing] = series[~missing].astype(str).to_numpy(dtype=object)
    return out


# Codes of a one-hot block's cells that are none of its categories (negative: see
# sparse_columns_matrix, which indexes a table padded by two with them).
UNSEEN = -1  # a value not among the categories (only at prediction): every indicator 0
ABSENT = -2  # a missing cell: every indicator missing (NaN)


def category_codes(text: np.ndarray, categories: Sequence[str]) -> np.ndarray:
    """(n,) int64: each cell's position in ``categories``, ``UNSEEN`` for another value,
    ``ABSENT`` for a missing cell. A text column's one-hot block is kept as these codes
    (n integers) rather than as its (n, len(categories)) 0/1 values, which at 1,000
    categories would take 1,000 times the memory."""
    import pandas as pd  # one-hot columns come from a table pandas read

    codes = pd.Index(list(categories), dtype=object).get_indexer(text).astype(np.int64)
    codes[pd.isna(text)] = ABSENT
    return codes


@dataclass(frozen=True)
class Indicator:
    """The one-hot feature ``c=value``: cell i is 1 where ``codes[i] == position``, NaN
    where the cell is missing, else 0. The indicators of one column share ``codes``."""

    codes: np.ndarray  # (n,) int64, as category_codes gives them
    position: int

    def dense(self) -> np.ndarray:
        """(n,) float64 0/1 values, NaN for a missing cell."""
        values = (self.codes == self.position).astype(np.float64)
        values[self.codes == ABSENT] = np.nan
        return values


@dataclass
class Columns:
    # each (n,) float64 with NaN marking a missing cell, or a one-hot feature's Indicator
    values: list[np.ndarray | Indicator]
    names: list[str]
    origin: list[str]  # the file column each feature came from, for error messages
    indicator: list[bool]  # True for a one-hot feature 'c=value'
    # each encoded column's reference level, whose indicator is left out (train_columns)
    references: dict[str, str] = field(default_factory=dict)


def _non_numeric_error(
    bad: list[tuple[str, str]],
    source_name: str,
    training: bool,
    remedies: Collection[Remedy] = REMEDIES,
) -> DataError:
    listed = ", ".join(f"{n!r} (e.g. {v!r})" for n, v in bad[:5])
    more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
    if not training:
        fix = "the model was trained on numbers there; fix the values"
    elif "encode" in remedies:
        fix = "use `encode` onehot to turn categories into indicator columns, or fix the values"
    else:
        fix = "fix the values, or remove the column(s) from the file"
    return DataError(f"non-numeric feature column(s) {listed}{more} in {source_name}; {fix}")


def _check_generated_names(cols: Columns, columns: Sequence[str], source_name: str) -> None:
    """Refuse a one-hot name 'c=value' equal to a column's name or to another one-hot name.

    Either would give two features one name, and a prediction file would then feed both
    from the same column.
    """
    taken = {str(c): f"the column {str(c)!r}" for c in columns}
    for name, origin, generated in zip(cols.names, cols.origin, cols.indicator, strict=True):
        if not generated:
            continue
        clash = taken.get(name)
        if clash is not None:
            raise DataError(
                f"one-hot feature {name!r} (from column {origin!r}) in {source_name} has the "
                f"same name as {clash}; rename one of the columns so the names differ"
            )
        taken[name] = f"the one-hot feature {name!r} from column {origin!r}"


def train_columns(
    frame: pd.DataFrame,
    encode: Encode,
    source_name: str,
    other_columns: Sequence[str] = (),
    remedies: Collection[Remedy] = REMEDIES,
    reference: Mapping[str, str] | None = None,
) -> Columns:
    """Features of a training table: numeric columns as they are, the rest one-hot or refused.

    ``other_columns`` are the file's columns that are not features (the target): one-hot
    names must not clash with them either. ``remedies``: what a refusal may suggest.
    ``reference`` (None: every level gets its indicator) encodes each one-hot column
    against a reference level, whose indicator is left out, as R's and statsmodels'
    treatment contrasts do beside an intercept: the level it names for that column, else
    the column's first (sorted); they are kept in ``Columns.references``.
    """
    import pandas as pd  # a DataFrame is in hand: pandas is loaded already

    cols = Columns([], [], [], [])
    bad: list[tuple[str, str]] = []
    for name in frame.columns:
        series = frame[name]
        values = numeric_values(series)
        if values is not None:
            cols.values.append(values)
            cols.names.append(name)
            cols.origin.append(name)
            cols.indicator.append(False)
        elif encode == "onehot":
            text = text_values(series)
            categories = sorted(pd.unique(text[~pd.isna(text)]).tolist())
            if len(categories) > MAX_CATEGORIES:
                raise DataError(
                    f"column {name!r} in {source_name} has {len(categories)} distinct values, "
                    f"too many to one-hot encode (limit {MAX_CATEGORIES}); remove the column or "
                    f"fix its values (e.g. {_bad_example(series)!r})"
                )
            codes = category_codes(text, categories)
            skip = None
            if reference is not None:
                skip = _reference_level(name, categories, reference, source_name)
                cols.references[name] = skip
            for j, category in enumerate(categories):
                if category == skip:
                    continue
                cols.values.append(Indicator(codes, j))
                cols.names.append(f"{name}={category}")
                cols.origin.append(name)
                cols.indicator.append(True)
        else:
            bad.append((name, _bad_example(series)))
    if bad:
        raise _non_numeric_error(bad, source_name, training=True, remedies=remedies)
    unused = [c for c in (reference or {}) if c not in cols.references]
    if unused:
        raise DataError(
            f"`reference` names {', '.join(map(repr, unused))}, not a categorical feature "
            f"column of {source_name} (those: {', '.join(cols.references) or 'none'})"
        )
    _check_generated_names(cols, [*frame.columns, *other_columns], source_name)
    return cols


def _reference_level(
    name: str, categories: list[str], reference: Mapping[str, str], source_name: str
) -> str:
    """Column ``name``'s reference level: the one ``reference`` gives, which must be one of
    its ``categories`` (sorted), else the first."""
    if name not in reference:
        return categories[0]
    level = reference[name]
    if level not in categories:
        shown = ", ".join(map(repr, categories[:10])) + (", ..." if len(categories) > 10 else "")
        raise DataError(
            f"`reference` level {level!r} is not a value of column {name!r} in {source_name}; "
            f"its values: {shown}"
        )
    return level


def _split_indicator(name: str, columns: set[str]) -> tuple[str, str] | None:
    """('c', 'v') for a one-hot feature name 'c=v' whose column c exists; names may contain '='."""
    for m in re.finditer("=", name):
        column = name[: m.start()]
        if column in columns:
            return column, name[m.end() :]
    return None


def plan_features(
    frame: pd.DataFrame, feature_names: Sequence[str], encode: Encode, source_name: str
) -> list[tuple[str, str | None]]:
    """For each wanted feature: (file column, category for a one-hot feature or None)."""
    columns = {str(c) for c in frame.columns}
    plan: list[tuple[str, str | None]] = []
    absent: list[str] = []
    for name in feature_names:
        if name in columns:
            plan.append((name, None))
        elif encode == "onehot" and (split := _split_indicator(name, columns)) is not None:
            plan.append(split)
        else:
            absent.append(name)
    if absent:
        raise DataError(
            f"{source_name} lacks {len(absent)} of the {len(feature_names)} feature column(s) "
            f"the model needs: {names_list(absent)}; give a file with these columns"
            + delimiter_hint(frame)
        )
    return plan


def predict_columns(
    frame: pd.DataFrame,
    plan: list[tuple[str, str | None]],
    feature_names: Sequence[str],
    source_name: str,
    text_column: Callable[[str], pd.Series] | None,
) -> Columns:
    # column -> {category: position in that column's indicator block}
    categories: dict[str, dict[str, int]] = {}
    for column, category in plan:
        if category is not None:
            positions = categories.setdefault(column, {})
            positions.setdefault(category, len(positions))
    blocks: dict[str, np.ndarray] = {}  # column -> its cells' codes
    for column, positions in categories.items():
        series = frame[column]
        if numeric_values(series) is not None and text_column is not None:
            # pandas parsed the column as numbers here (e.g. '1', '' -> 1.0); indicators must
            # match the raw text the model saw at training, so read it again as text.
            series = text_column(column).loc[frame.index]
        blocks[column] = category_codes(text_values(series), list(positions))

    cols = Columns([], [], [], [])
    bad: list[tuple[str, str]] = []
    for (column, category), name in zip(plan, feature_names, strict=True):
        if category is None:
            values = numeric_values(frame[column])
            if values is None:
                bad.append((column, _bad_example(frame[column])))
                continue
        else:
            values = Indicator(blocks[column], categories[column][category])
        cols.values.append(values)
        cols.names.append(name)
        cols.origin.append(column)
        cols.indicator.append(category is not None)
    if bad:
        raise _non_numeric_error(bad, source_name, training=False)
    return cols
