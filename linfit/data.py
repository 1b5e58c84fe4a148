"""Reading delimited text tables into numeric matrices for training and prediction.

Everything a user can get wrong about a data file (path, encoding, delimiter, header,
non-numeric or missing or infinite values) is raised as :class:`~linfit.errors.DataError`
with a one-line message that names the offending file, line or column and says how to fix it.
"""

from __future__ import annotations

import functools
import io
import re
import sys
import warnings
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import DTypeLike
from pandas.api import types as pdt

from linfit.errors import DataError, OptionError

Encode = Literal["none", "onehot"]
Missing = Literal["error", "drop", "mean"]

__all__ = [
    "Dataset",
    "Encode",
    "Missing",
    "align_labels",
    "feature_matrix",
    "load_dataset",
    "load_features",
    "load_labeled",
    "read_table",
]

# One-hot encoding a column with more distinct values than this is almost always a mistake
# (an identifier, free text, or a number column with a typo) and would blow up memory.
MAX_CATEGORIES = 1000

_TAB_EXTENSIONS = {".tsv", ".tab"}
_COMPRESSION_EXTENSIONS = {".gz", ".bz2", ".xz", ".zst", ".zip"}
_MAX_LISTED = 10


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


# --------------------------------------------------------------------------- reading


class _Source:
    """A file path or standard input, readable more than once (stdin is buffered)."""

    def __init__(self, path: str | Path) -> None:
        self.is_stdin = str(path) == "-"
        if self.is_stdin:
            self.name = "standard input"
            stream = getattr(sys.stdin, "buffer", sys.stdin)
            if stream is None:
                raise DataError("no standard input to read data from; give a file path, not '-'")
            data = stream.read()
            self._data = data.encode("utf-8") if isinstance(data, str) else data
            self.path: Path | None = None
        else:
            self.path = Path(path)
            self.name = f"'{path}'"
            if not self.path.exists():
                raise DataError(f"data file {self.name} not found; check the path")
            if self.path.is_dir():
                raise DataError(f"{self.name} is a directory, not a data file; give a CSV/TSV file")

    def handle(self) -> str | io.BytesIO:
        return io.BytesIO(self._data) if self.is_stdin else str(self.path)


def _normalize_sep(sep: str | None, path: str | Path) -> str:
    if sep is None:
        if str(path) == "-":
            return ","
        suffixes = [s.lower() for s in Path(path).suffixes]
        if suffixes and suffixes[-1] in _COMPRESSION_EXTENSIONS:
            suffixes.pop()
        return "\t" if suffixes and suffixes[-1] in _TAB_EXTENSIONS else ","
    if sep.lower() in {"tab", "\\t"}:
        return "\t"
    if len(sep) != 1 or sep in {'"', "\n", "\r"}:
        raise OptionError(
            f"--sep must be a single character such as ',' ';' '|' or 'tab', got {sep!r}"
        )
    return sep


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _read_csv(source: _Source, sep: str, **kwargs: object) -> pd.DataFrame:
    """pd.read_csv with every user-fixable failure turned into a one-line DataError."""
    name = source.name
    kwargs.setdefault("header", 0)
    try:
        with warnings.catch_warnings():
            # With index_col=False pandas only *warns* (and drops data) when the first data
            # row has more fields than the header; that is a malformed file, so make it fatal.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            # Chunked parsing (pandas' default) reads a numeric table ~1.8x faster than
            # low_memory=False (measured); a column that mixes numbers and text across
            # chunks then arrives as objects, which the numeric check below rejects by name.
            warnings.simplefilter("ignore", pd.errors.DtypeWarning)
            return pd.read_csv(
                source.handle(), sep=sep, index_col=False, encoding="utf-8", engine="c", **kwargs
            )
    except FileNotFoundError:
        raise DataError(f"data file {name} not found; check the path") from None
    except IsADirectoryError:
        raise DataError(f"{name} is a directory, not a data file; give a CSV/TSV file") from None
    except PermissionError:
        raise DataError(
            f"cannot read {name}: permission denied; check the file's permissions"
        ) from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{name} is empty; expected a header row followed by data rows") from None
    except pd.errors.ParserWarning:
        raise DataError(
            f"{name}: data rows have more fields than the header; check the delimiter "
            "(use --sep) or remove trailing delimiters"
        ) from None
    except UnicodeDecodeError as exc:
        bad = exc.object[exc.start : exc.start + 1]
        byte = f" (byte 0x{bad[0]:02x})" if isinstance(bad, bytes) and bad else ""
        raise DataError(
            f"{name} is not UTF-8 text{byte}; re-encode it as UTF-8, "
            "e.g. iconv -f latin1 -t utf-8 FILE > FILE.utf8.csv"
        ) from None
    except pd.errors.ParserError as exc:
        msg = _one_line(str(exc))
        m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", msg)
        if m:
            expected, line, saw = m.groups()
            raise DataError(
                f"{name}: line {line} has {saw} fields but the header has {expected}; "
                "check the delimiter (use --sep) and quoting"
            ) from None
        raise DataError(
            f"cannot parse {name} as a table ({msg}); check the delimiter (use --sep) and quoting"
        ) from None
    except (OSError, EOFError, zlib.error, ValueError) as exc:
        # Corrupt compressed input, I/O errors and the odd pandas ValueError on garbage.
        raise DataError(
            f"cannot read {name}: {_one_line(str(exc)) or type(exc).__name__}"
        ) from None


def _check_duplicates(frame: pd.DataFrame, source: _Source, sep: str) -> None:
    columns = [str(c) for c in frame.columns]
    present = set(columns)
    # pandas silently renames a repeated 'a' to 'a.1'; only then is the raw header worth reading.
    mangled = any(
        (m := re.fullmatch(r"(.*)\.\d+", c)) is not None and m.group(1) in present for c in columns
    )
    if not mangled:
        return
    raw = _read_csv(source, sep, header=None, nrows=1, dtype=str, keep_default_na=False)
    names = [str(v) for v in raw.iloc[0].tolist()] if len(raw) else []
    if names:
        names[0] = names[0].removeprefix("\ufeff")
    dups = [n for n, k in Counter(names).items() if k > 1]
    if dups:
        listed = ", ".join(repr(d) for d in dups[:_MAX_LISTED])
        raise DataError(
            f"{source.name}: duplicate column name(s) {listed} in the header; "
            "rename the columns so that each name is unique"
        )


def _text_column(source: _Source, sep: str, column: str) -> pd.Series:
    """Column ``column`` of ``source`` read again as the raw text of its cells (NaN: empty)."""
    return _read_csv(source, sep, usecols=[column], dtype=str)[column]


def _read_frame(source: _Source, sep: str) -> pd.DataFrame:
    frame = _read_csv(source, sep)
    if not all(isinstance(c, str) for c in frame.columns):
        frame.columns = [str(c) for c in frame.columns]
    _check_duplicates(frame, source, sep)
    if len(frame) == 0:
        raise DataError(f"{source.name} has a header but no data rows; add rows of data")
    return frame


def read_table(path: str | Path, *, sep: str | None = None) -> pd.DataFrame:
    """Read a delimited text table whose first row is the header.

    Args:
        path: a file path, or ``"-"`` for standard input. ``.gz``/``.bz2``/``.xz``/``.zst``
            files are decompressed.
        sep: one-character delimiter (``"tab"`` or ``"\\t"`` mean a tab). Default: tab for
            ``.tsv``/``.tab`` files, comma otherwise.

    Returns:
        A DataFrame with (n_rows >= 1) rows and one column per header name; a UTF-8 BOM is
        stripped from the first name. Cells are parsed by pandas (numbers, or str/object).

    Raises:
        DataError: missing file, directory, empty file, header without rows, ragged rows,
            non-UTF-8 bytes, duplicate column names.
        OptionError: an unusable ``sep``.
    """
    sep_char = _normalize_sep(sep, path)
    return _read_frame(_Source(path), sep_char)


# --------------------------------------------------------------------------- columns


def _names_list(names: Sequence[str]) -> str:
    shown = ", ".join(repr(str(n)) for n in names[:_MAX_LISTED])
    more = len(names) - _MAX_LISTED
    return shown + (f", ... ({more} more)" if more > 0 else "")


def _delimiter_hint(frame: pd.DataFrame) -> str:
    """A suggestion for a table that came out as one column: probably the wrong delimiter."""
    if frame.shape[1] != 1:
        return ""
    header = str(frame.columns[0])
    counts = {d: header.count(d) for d in (";", "\t", "|", ",", " ")}
    best = max(counts, key=lambda d: counts[d])
    if counts[best] == 0:
        return ""
    shown = "tab" if best == "\t" else f"'{best}'"
    return f"; only 1 column found ({header!r}): wrong delimiter? use --sep {shown}"


def _numeric(series: pd.Series) -> np.ndarray | None:
    """(n,) float64 values with NaN for missing cells, or None if the column is not numeric."""
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
    try:
        parsed = np.asarray(series[present].to_numpy(dtype=object), dtype=str).astype(np.float64)
    except (ValueError, TypeError, OverflowError):
        return None
    if np.isnan(parsed).any():  # text such as ' nan' that pandas did not treat as missing
        return None
    values = np.full(len(series), np.nan)
    values[present] = parsed
    return values


def _bad_example(series: pd.Series) -> str:
    """The first cell of a non-numeric column that does not parse as a number."""
    present = series.dropna()
    parsed = pd.to_numeric(present, errors="coerce")
    bad = present[parsed.isna()]
    return str(bad.iloc[0]) if len(bad) else str(present.iloc[0]) if len(present) else ""


def _text(series: pd.Series) -> np.ndarray:
    """(n,) object array of str, NaN kept for missing cells."""
    missing = series.isna().to_numpy()
    out = np.full(len(series), np.nan, dtype=object)
    out[~missing] = series[~missing].astype(str).to_numpy(dtype=object)
    return out


def _indicators(text: np.ndarray, categories: Sequence[str]) -> np.ndarray:
    """(n, len(categories)) float64 0/1 block; rows whose cell is missing are all NaN."""
    missing = pd.isna(text)
    codes = pd.Index(list(categories), dtype=object).get_indexer(text)  # -1: unseen
    block = (codes[:, None] == np.arange(len(categories))[None, :]).astype(np.float64)
    block[missing] = np.nan
    return block


@dataclass
class _Columns:
    values: list[np.ndarray]  # each (n,) float64, NaN marks a missing cell
    names: list[str]
    origin: list[str]  # the file column each feature came from, for error messages
    indicator: list[bool]  # True for a one-hot feature 'c=value'


def _non_numeric_error(bad: list[tuple[str, str]], source_name: str, training: bool) -> DataError:
    listed = ", ".join(f"{n!r} (e.g. {v!r})" for n, v in bad[:5])
    more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
    fix = (
        "use --encode onehot to turn categories into indicator columns, or fix the values"
        if training
        else "the model was trained on numbers there; fix the values"
    )
    return DataError(f"non-numeric feature column(s) {listed}{more} in {source_name}; {fix}")


def _check_generated_names(cols: _Columns, columns: Sequence[str], source_name: str) -> None:
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


def _train_columns(
    frame: pd.DataFrame,
    encode: Encode,
    source_name: str,
    other_columns: Sequence[str] = (),
) -> _Columns:
    """Features of a training table: numeric columns as they are, the rest one-hot or refused.

    ``other_columns`` are the file's columns that are not features (the target): one-hot
    names must not clash with them either.
    """
    cols = _Columns([], [], [], [])
    bad: list[tuple[str, str]] = []
    for name in frame.columns:
        series = frame[name]
        values = _numeric(series)
        if values is not None:
            cols.values.append(values)
            cols.names.append(name)
            cols.origin.append(name)
            cols.indicator.append(False)
        elif encode == "onehot":
            text = _text(series)
            categories = sorted(pd.unique(text[~pd.isna(text)]).tolist())
            if len(categories) > MAX_CATEGORIES:
                raise DataError(
                    f"column {name!r} in {source_name} has {len(categories)} distinct values, "
                    f"too many to one-hot encode (limit {MAX_CATEGORIES}); remove the column or "
                    f"fix its values (e.g. {_bad_example(series)!r})"
                )
            block = _indicators(text, categories)
            for j, category in enumerate(categories):
                cols.values.append(block[:, j])
                cols.names.append(f"{name}={category}")
                cols.origin.append(name)
                cols.indicator.append(True)
        else:
            bad.append((name, _bad_example(series)))
    if bad:
        raise _non_numeric_error(bad, source_name, training=True)
    _check_generated_names(cols, [*frame.columns, *other_columns], source_name)
    return cols


def _split_indicator(name: str, columns: set[str]) -> tuple[str, str] | None:
    """('c', 'v') for a one-hot feature name 'c=v' whose column c exists; names may contain '='."""
    for m in re.finditer("=", name):
        column = name[: m.start()]
        if column in columns:
            return column, name[m.end() :]
    return None


def _plan_features(
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
            f"the model needs: {_names_list(absent)}; give a file with these columns"
            + _delimiter_hint(frame)
        )
    return plan


def _predict_columns(
    frame: pd.DataFrame,
    plan: list[tuple[str, str | None]],
    feature_names: Sequence[str],
    source_name: str,
    text_column: Callable[[str], pd.Series] | None,
) -> _Columns:
    # column -> {category: position in that column's indicator block}
    categories: dict[str, dict[str, int]] = {}
    for column, category in plan:
        if category is not None:
            positions = categories.setdefault(column, {})
            positions.setdefault(category, len(positions))
    blocks: dict[str, np.ndarray] = {}
    for column, positions in categories.items():
        series = frame[column]
        if _numeric(series) is not None and text_column is not None:
            # pandas parsed the column as numbers here (e.g. '1', '' -> 1.0); indicators must
            # match the raw text the model saw at training, so read it again as text.
            series = text_column(column).loc[frame.index]
        blocks[column] = _indicators(_text(series), list(positions))

    cols = _Columns([], [], [], [])
    bad: list[tuple[str, str]] = []
    for (column, category), name in zip(plan, feature_names, strict=True):
        if category is None:
            values = _numeric(frame[column])
            if values is None:
                bad.append((column, _bad_example(frame[column])))
                continue
        else:
            values = blocks[column][:, categories[column][category]]
        cols.values.append(values)
        cols.names.append(name)
        cols.origin.append(column)
        cols.indicator.append(category is not None)
    if bad:
        raise _non_numeric_error(bad, source_name, training=False)
    return cols


def _keep_rows(
    frame: pd.DataFrame,
    columns: Sequence[str],
    target_name: str | None,
    missing: Missing,
    source_name: str,
) -> np.ndarray:
    """(n,) bool mask of the rows to use under the missing-value policy."""
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
        fix = "drop those rows with --dropna or fill the features with --impute mean"
        if target_na.any():
            listed.append(f"target {target_name!r} ({int(target_na.sum())})")
            if len(listed) == 1:
                fix = "drop those rows with --dropna"
        if listed:
            shown = ", ".join(listed[:_MAX_LISTED])
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
            + (" or use --impute mean" if missing == "drop" and not target_na.all() else "")
        )
    return keep


def _check_finite(values: np.ndarray, column: str, source_name: str) -> None:
    infinite = np.isinf(values)
    if infinite.any():
        raise DataError(
            f"column {column!r} in {source_name} has {int(infinite.sum())} infinite value(s) "
            "(inf, or a number too large for float64 such as 1e400); fix or remove them"
        )


def _fill_vector(fill_values: Sequence[float] | np.ndarray | None, k: int) -> np.ndarray | None:
    """``fill_values`` as a finite (k,) float64 array, or None; a wrong one is a ValueError."""
    if fill_values is None:
        return None
    fill = np.asarray(fill_values, dtype=np.float64)
    if fill.shape != (k,):
        raise ValueError(f"fill_values must have shape ({k},), one per feature, got {fill.shape}")
    if not np.isfinite(fill).all():
        raise ValueError("fill_values must be finite")
    return fill


def _matrix(
    cols: _Columns,
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
    # A narrower float would turn a finite float64 value into inf in the cast.
    limit = None if dtype.itemsize >= 8 else float(np.finfo(dtype).max)
    for j, (values, origin) in enumerate(zip(cols.values, cols.origin, strict=True)):
        _check_finite(values, origin, source_name)
        gaps = np.isnan(values)
        if gaps.any():
            if missing != "mean":
                raise AssertionError("missing cells should have been rejected or dropped")
            if fill is not None and not cols.indicator[j]:
                values = np.where(gaps, fill[j], values)
            else:
                if gaps.all():
                    raise DataError(
                        f"column {origin!r} in {source_name} has no values to take a mean of; "
                        "remove the column or fill it"
                    )
                values = np.where(gaps, values[~gaps].mean(), values)
        if limit is not None and values.size and np.abs(values).max() > limit:
            raise DataError(
                f"column {origin!r} in {source_name} has values too large for {X.dtype} "
                f"(over {limit:.3g}); use float64"
            )
        X[:, j] = values
    return X


def _check_dtype(dtype: DTypeLike) -> np.dtype:
    resolved = np.dtype(dtype)
    if resolved.kind != "f":
        raise ValueError(f"dtype must be a floating-point type, got {resolved}")
    return resolved


def _rows(frame: pd.DataFrame, keep: np.ndarray) -> pd.DataFrame:
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

    Returns:
        X of shape (n_kept, k), C-contiguous, and the k feature names.

    Raises:
        DataError: as :func:`load_dataset` and :func:`load_features`.
        ValueError: ``fill_values`` without ``feature_names``, or of the wrong shape.
    """
    resolved = _check_dtype(dtype)
    fill = None
    if feature_names is None:
        if fill_values is not None:
            raise ValueError("fill_values needs feature_names (it is for prediction)")
        keep = _keep_rows(frame, [str(c) for c in frame.columns], None, missing, source_name)
        cols = _train_columns(_rows(frame, keep), encode, source_name)
    else:
        names = list(feature_names)
        fill = _fill_vector(fill_values, len(names))
        plan = _plan_features(frame, names, encode, source_name)
        keep = _keep_rows(frame, [c for c, _ in plan], None, missing, source_name)
        cols = _predict_columns(_rows(frame, keep), plan, names, source_name, None)
    X = _matrix(cols, int(keep.sum()), missing, resolved, source_name, fill)
    return X, tuple(cols.names)


# --------------------------------------------------------------------------- datasets


def _resolve_target(columns: list[str], target: str | int | None, source_name: str) -> str:
    if target is None:
        return columns[-1]
    if isinstance(target, str):
        if target in columns:
            return target
        if not re.fullmatch(r"\s*[+-]?\d+\s*", target):
            raise DataError(
                f"target column {target!r} not found in {source_name}; columns are: "
                f"{_names_list(columns)}"
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


def _target_values(series: pd.Series) -> np.ndarray:
    """(n,) raw target: numbers keep their numeric dtype; labels become an object array of str.

    Booleans are labels ("True"/"False"), not numbers.
    """
    if pdt.is_bool_dtype(series) or pdt.infer_dtype(series, skipna=True) == "boolean":
        return _text(series)
    if pdt.is_numeric_dtype(series):
        return series.to_numpy()
    values = _numeric(series)
    return values if values is not None else _text(series)


def _target(frame: pd.DataFrame, target_name: str, source_name: str) -> np.ndarray:
    """(n,) target values of the (already row-filtered) frame; numbers must be finite."""
    y = _target_values(frame[target_name])
    if y.dtype != object:
        _check_finite(y.astype(np.float64), target_name, source_name)
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


def load_dataset(
    path: str | Path,
    *,
    target: str | int | None = None,
    sep: str | None = None,
    encode: Encode = "none",
    missing: Missing = "error",
    dtype: DTypeLike = np.float64,
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

    Returns:
        Dataset with X (n_kept, n_features) and y (n_kept,).

    Raises:
        DataError: any problem with the file or its values, in one line naming the culprit.
        OptionError: an unusable ``sep``.
    """
    resolved = _check_dtype(dtype)
    sep_char = _normalize_sep(sep, path)
    source = _Source(path)
    frame = _read_frame(source, sep_char)
    columns = [str(c) for c in frame.columns]
    target_name = _resolve_target(columns, target, source.name)
    if len(columns) < 2:
        raise DataError(
            f"{source.name} needs at least one feature column besides the target "
            f"{target_name!r}" + _delimiter_hint(frame)
        )
    feature_columns = [c for c in columns if c != target_name]
    keep = _keep_rows(frame, feature_columns, target_name, missing, source.name)
    frame = _rows(frame, keep)
    y = _target(frame, target_name, source.name)
    cols = _train_columns(frame[feature_columns], encode, source.name, [target_name])
    X = _matrix(cols, len(frame), missing, resolved, source.name)
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
) -> np.ndarray:
    """Read a table for prediction, lining its columns up with a trained model's features.

    Columns are matched by name in any order; extra columns (the target, ids) are ignored.
    With ``encode="onehot"`` a feature ``c=value`` is rebuilt from the text of column ``c``:
    1 where the cell equals ``value``, else 0 (a value unseen at training gives all zeros).

    Args:
        path: data file, or ``"-"`` for standard input.
        feature_names: the k feature names the model was trained on, in model order.
        sep, encode, dtype: as in :func:`load_dataset`.
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
    resolved = _check_dtype(dtype)
    names = list(feature_names)
    fill = _fill_vector(fill_values, len(names))
    sep_char = _normalize_sep(sep, path)
    source = _Source(path)
    frame = _read_frame(source, sep_char)
    plan = _plan_features(frame, names, encode, source.name)
    keep = _keep_rows(frame, [c for c, _ in plan], None, missing, source.name)
    text_column = functools.partial(_text_column, source, sep_char)
    cols = _predict_columns(_rows(frame, keep), plan, names, source.name, text_column)
    return _matrix(cols, int(keep.sum()), missing, resolved, source.name, fill)


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
) -> Dataset:
    """Read a labelled table for evaluation: a model's features (by name) and its target.

    As :func:`load_features` (including ``fill_values``), plus the column ``target_name``,
    read in the same single pass; rows dropped for missing values are dropped from both, and
    a row with a missing target is always dropped (a label cannot be imputed).

    Returns:
        A Dataset whose X is (n_kept, k) in ``feature_names`` order and whose y is the raw
        target as in :func:`load_dataset`; match class labels with :func:`align_labels`.
    """
    resolved = _check_dtype(dtype)
    fill = _fill_vector(fill_values, len(feature_names))
    sep_char = _normalize_sep(sep, path)
    source = _Source(path)
    frame = _read_frame(source, sep_char)
    if target_name not in frame.columns:
        raise DataError(
            f"{source.name} has no column {target_name!r}, the target the model was trained "
            "on; evaluation needs the true values (use predict for unlabelled data)"
        )
    names = list(feature_names)
    plan = _plan_features(frame, names, encode, source.name)
    keep = _keep_rows(frame, [c for c, _ in plan], target_name, missing, source.name)
    frame = _rows(frame, keep)
    text_column = functools.partial(_text_column, source, sep_char)
    cols = _predict_columns(frame, plan, names, source.name, text_column)
    X = _matrix(cols, len(frame), missing, resolved, source.name, fill)
    return Dataset(
        X=X,
        y=_target(frame, target_name, source.name),
        feature_names=tuple(names),
        target_name=target_name,
    )
