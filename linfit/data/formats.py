"""Input formats besides delimited text: Parquet, and LIBSVM/svmlight sparse text.

A file's format is named by ``--format`` (``csv``, ``tsv``, ``parquet``, ``libsvm``) or
else by its ending (``.parquet``; ``.svm``, ``.libsvm``, ``.svmlight``; ``.tsv``/``.tab``;
anything else is CSV, as before).

- Parquet is read by pandas (with pyarrow, the ``parquet`` extra) into the same DataFrame
  a CSV file becomes, so every column rule applies unchanged: ``--target``, ``--encode``,
  missing values, matching a model's features by name. An index pandas stored in the file
  is not a column, and is ignored.
- LIBSVM lines are ``label index:value index:value ...`` with increasing indices; features
  left out are zeros. It is read by scikit-learn's ``load_svmlight_file`` into a CSR
  matrix. Features are named by their index in the file: ``f1, f2, ...`` (and ``f0``
  where a file counts from zero), so a model trained on one LIBSVM file finds its
  features in another whatever the largest index there. Past ``SPARSE_RANGE`` indices
  (f1 up to the largest), the features are only the indices the file uses (a feature no
  line holds gets weight 0 anyway). Indices go up to ``LIBSVM_MAX_INDEX``. The label is
  the first field (``--target`` does not apply), and there are no missing values. The matrix is made
  dense when it has at most ``DENSE_CELLS`` cells (BLAS on a dense block is fastest, and
  every command takes it); a larger one stays sparse (CSR), which training, prediction and
  evaluation take (see :func:`require_dense` for the commands that do not).
"""

from __future__ import annotations

import bz2
import contextlib
import functools
import gzip
import io
import os
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

import numpy as np

from linfit.data import progress
from linfit.data.messages import names_list, one_line
from linfit.data.read import (
    COMPRESSION_EXTENSIONS,
    Source,
    normalize_sep,
    read_delimited,
    read_text_column,
    tracked_file,
)
from linfit.errors import DataError, OptionError
from linfit.lazy import issparse
from linfit.memory import FLOOR_BYTES, budget_bytes
from linfit.optional import MissingExtraError, require

if TYPE_CHECKING:
    # Annotations only: pandas is imported by the reads that use it, and scipy by
    # scikit-learn's LIBSVM reader, so resolving a format or a separator needs neither.
    import pandas as pd
    import scipy.sparse as sp

Format = Literal["csv", "tsv", "parquet", "libsvm"]
FORMATS: tuple[Format, ...] = ("csv", "tsv", "parquet", "libsvm")
EXTENSIONS: dict[str, Format] = {
    ".parquet": "parquet",
    ".svm": "libsvm",
    ".libsvm": "libsvm",
    ".svmlight": "libsvm",
    ".tsv": "tsv",
    ".tab": "tsv",
}
TEXT_FORMATS = ("csv", "tsv")
# A LIBSVM matrix with more cells than this is not made dense (8e8 bytes in float64).
DENSE_CELLS = 10**8
# The read buffer of a LIBSVM file, read a line at a time: one progress report per MB.
LIBSVM_BUFFER_BYTES = 1 << 20
LIBSVM_TARGET = "target"  # the name a LIBSVM file's label gets in a model file
# The largest feature index scikit-learn's LIBSVM parser reads (a C int).
LIBSVM_MAX_INDEX = 2**31 - 1
# Past this many indices (f1 up to the largest), the features of a LIBSVM file are only
# the indices it uses: an index no line holds is a column of zeros, whose weight is 0 at
# every optimum (the penalty, and no data, act on it), so the model predicts the same,
# while a weight, a scale and a name for each of 50 million unused indices would take
# gigabytes (a file of 4 lines with index 50,000,000 did: issue 17).
SPARSE_RANGE = 1_000_000
_INDEX_NAME = re.compile(r"f(0|[1-9][0-9]*)")


def resolve_format(path: str | Path, file_format: str | None = None) -> Format:
    """The format named by ``file_format``, else by the file's ending (CSV by default)."""
    if file_format is not None:
        name = file_format.lower()
        if name not in FORMATS:
            raise OptionError(f"--format takes one of {', '.join(FORMATS)}, got {file_format!r}")
        return name  # type: ignore[return-value]
    if str(path) == "-":
        return "csv"
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] in COMPRESSION_EXTENSIONS:
        suffixes.pop()
    return EXTENSIONS.get(suffixes[-1], "csv") if suffixes else "csv"


def text_separator(path: str | Path, file_format: Format, sep: str | None) -> str | None:
    """The delimiter of a CSV/TSV file (``--sep`` wins over the format); None for the
    other formats, which take no ``--sep``."""
    if file_format not in TEXT_FORMATS:
        if sep is not None:
            raise OptionError(f"--sep applies to CSV and TSV files, not to {file_format} files")
        return None
    if sep is None and file_format == "tsv":
        return "\t"
    if sep is None and file_format == "csv":
        return ","
    return normalize_sep(sep, path)


def text_column_reader(
    source: Source, file_format: Format, sep: str | None
) -> Callable[[str], pd.Series] | None:
    """For prediction with one-hot features: reads one column again as raw text (CSV and
    TSV, whose parser may have read it as numbers); None for Parquet, whose columns keep
    the types they were written with."""
    if file_format not in TEXT_FORMATS:
        return None
    return functools.partial(read_text_column, source, sep or ",")


def read_frame(source: Source, file_format: Format, sep: str | None) -> pd.DataFrame:
    """The table of a CSV, TSV or Parquet file: at least one row, unique string names."""
    if file_format == "parquet":
        return _read_parquet(source)
    if file_format == "libsvm":
        raise ValueError("a LIBSVM file is not a table; use read_libsvm")
    return read_delimited(source, sep or ",")


def _read_parquet(source: Source) -> pd.DataFrame:
    import pandas as pd  # on first use: resolving a file's format needs no pandas

    # pyarrow decodes the columns on every core and says nothing meanwhile: the read is
    # reported when it starts and when it ends, in rows.
    with _parquet_errors(source), progress.track(source.name, None, "rows") as read:
        _check_parquet_names(source)
        frame = pd.read_parquet(source.handle(), engine="pyarrow")
        read.update(len(frame))
    frame = frame.reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    _check_parquet_shape(source, *frame.shape)
    return frame


def parquet_chunks(source: Source, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """The table of a Parquet file as DataFrames of at most ``chunk_rows`` rows, in file
    order, read a row group at a time (pyarrow's batches), with a whole read's errors."""
    with _parquet_errors(source):
        _check_parquet_names(source)
        import pyarrow.parquet as pq

        table = pq.ParquetFile(source.handle())
        batches = table.iter_batches(batch_size=chunk_rows)
    n_rows = table.metadata.num_rows
    _check_parquet_shape(source, n_rows, _data_columns(table.schema_arrow))
    with progress.track(source.name, n_rows, "rows") as read:
        done = 0
        while True:
            with _parquet_errors(source):  # decoding happens here, a batch at a time
                batch = next(batches, None)
            if batch is None:
                return
            frame = batch.to_pandas()
            frame.columns = [str(c) for c in frame.columns]
            done += len(frame)
            read.update(done)
            yield frame


def parquet_matrix_bytes(path: str | Path) -> int:
    """The bytes a Parquet file's table takes in float64 (rows x columns x 8), from its
    footer: its size on disk says little, since its columns are compressed."""
    require("pyarrow", "parquet", f"reading the Parquet file {path}")
    import pyarrow.parquet as pq

    try:
        meta = pq.read_metadata(path)
    except Exception:  # the loader reports a damaged file in its own words
        return 0
    return meta.num_rows * meta.num_columns * 8


def _data_columns(schema: Any) -> int:
    """How many columns a pyarrow schema holds besides those pandas wrote for its index
    (which ``to_pandas`` turns back into the index)."""
    index = (schema.pandas_metadata or {}).get("index_columns", [])
    return len(schema.names) - sum(isinstance(name, str) for name in index)


def _check_parquet_shape(source: Source, n_rows: int, n_columns: int) -> None:
    if n_columns == 0:
        raise DataError(f"{source.name} has no columns; expected a table of features and target")
    if n_rows == 0:
        raise DataError(f"{source.name} has columns but no rows; add rows of data")


def _check_parquet_names(source: Source) -> None:
    """Refuse repeated column names, and nested columns (a struct, list or map), whose
    values pandas would hand over as Python objects."""
    import pyarrow.parquet as pq
    from pyarrow import types

    schema = pq.read_schema(source.handle())
    names = [str(n) for n in schema.names]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise DataError(
            f"{source.name}: duplicate column name(s) {names_list(duplicates)}; "
            "rename the columns so that each name is unique"
        )
    nested = [(str(f.name), f.type) for f in schema if types.is_nested(f.type)]
    if nested:
        name, kind = nested[0]
        raise DataError(
            f"{source.name}: column(s) {names_list([n for n, _ in nested])} are nested "
            f"({name!r} is {one_line(str(kind))}); linfit reads columns of numbers or "
            "text: flatten them into columns of their own first"
        )


@contextlib.contextmanager
def _parquet_errors(source: Source) -> Iterator[None]:
    """pyarrow's and pandas' failures on a Parquet file as one-line errors."""
    require("pyarrow", "parquet", f"reading the Parquet file {source.name}")
    import pyarrow

    try:
        yield
    except ImportError as exc:  # pandas wants a newer pyarrow
        raise MissingExtraError(
            f"reading the Parquet file {source.name}: {one_line(str(exc))}; "
            "pip install 'linfit[parquet]'"
        ) from None
    except (OSError, ValueError, pyarrow.ArrowException) as exc:
        raise DataError(
            f"cannot read {source.name} as Parquet ({one_line(str(exc))}); check the file, "
            "or name its format with --format"
        ) from None


def read_libsvm(source: Source, dtype: np.dtype) -> tuple[sp.csr_matrix, np.ndarray]:
    """``(X, y)`` of a LIBSVM file: X (n, max index + 1) CSR in ``dtype``, column j holding
    index j; y (n,) labels, int64 where every label is a whole number, else float64.
    Progress is reported in bytes of the file as stored."""
    from sklearn.datasets import load_svmlight_file

    try:
        with (
            tracked_file(source, LIBSVM_BUFFER_BYTES) as (handle, _),
            _svmlight_stream(source, handle) as stream,
        ):
            X, y = load_svmlight_file(stream, dtype=dtype, zero_based=True)
    except OverflowError:  # scikit-learn's parser keeps an index in a C int
        raise DataError(
            f"{source.name} has a feature index too large to read (the largest a LIBSVM "
            f"file may use is {LIBSVM_MAX_INDEX:,}); renumber the features from 1"
        ) from None
    except (OSError, ValueError) as exc:
        if str(exc).startswith("could not convert string to float"):  # a label or value
            raise DataError(
                f"cannot read {source.name} as LIBSVM ({one_line(str(exc))}): its labels "
                "and values must be numbers; number the classes, or give a table with text "
                "labels as a CSV"
            ) from None
        raise DataError(
            f"cannot read {source.name} as LIBSVM ({one_line(str(exc))}); each line must "
            "be 'label index:value ...' with increasing indices, or name the file's format "
            "with --format"
        ) from None
    if X.shape[0] == 0:
        raise DataError(f"{source.name} has no data lines; expected 'label index:value ...'")
    for values, name in ((X.data, "feature values"), (y, "labels")):
        bad = ~np.isfinite(values)
        if bad.any():
            raise DataError(
                f"{source.name} has {int(bad.sum())} {name} that are NaN or infinite; fix or "
                "remove them"
            )
    whole = y == np.round(y)
    if whole.all() and np.abs(y).max() < 2.0**53:
        y = y.astype(np.int64)
    return X.tocsr(), y


def _svmlight_stream(source: Source, handle: io.BufferedReader) -> BinaryIO:
    """``handle`` decompressed as scikit-learn decompresses the file it is given by name
    (by its ending, ``.gz`` or ``.bz2`` as spelt, nothing else)."""
    ending = "" if source.path is None else os.path.splitext(str(source.path))[1]
    if ending == ".gz":
        return gzip.GzipFile(fileobj=handle, mode="rb")
    if ending == ".bz2":
        return bz2.BZ2File(handle, "rb")
    return handle


def libsvm_training(
    source: Source, dtype: np.dtype, target: str | int | None = None
) -> tuple[np.ndarray | sp.csr_matrix, np.ndarray, tuple[str, ...]]:
    """``(X, y, feature names)`` for training on a LIBSVM file: every index up to the
    largest is a feature (``f1``... or ``f0``... where the file uses index 0)."""
    if target is not None:
        raise OptionError(
            f"--target does not apply to {source.name}: the label of a LIBSVM line is its "
            "first field"
        )
    X, y = read_libsvm(source, dtype)
    first = 0 if (X.indices == 0).any() else 1
    if X.shape[1] <= first:
        raise DataError(f"{source.name} has labels but no features; expected 'label index:value'")
    if X.shape[1] - first > SPARSE_RANGE:
        used = np.unique(X.indices)  # a mostly empty range: only the indices in the file
        X = _used_columns(X, used)
        return _dense(X, source), y, tuple(f"f{i}" for i in used.tolist())
    X = X[:, first:]
    names = tuple(f"f{i}" for i in range(first, first + X.shape[1]))
    return _dense(X, source), y, names


def _used_columns(X: sp.csr_matrix, used: np.ndarray) -> sp.csr_matrix:
    """``X``'s columns ``used`` (sorted, unique, every stored index among them), in that
    order, found by a search in ``used`` rather than scipy's column indexing, which
    allocates as many entries as ``X`` has columns."""
    import scipy.sparse as sparse

    indices = np.searchsorted(used, X.indices).astype(X.indices.dtype, copy=False)
    return sparse.csr_matrix((X.data, indices, X.indptr), shape=(X.shape[0], used.size))


def libsvm_features(
    source: Source, feature_names: Sequence[str], dtype: np.dtype
) -> tuple[np.ndarray | sp.csr_matrix, np.ndarray]:
    """``(X, y)`` of a LIBSVM file for a model trained on ``feature_names``: X's columns
    are the model's features, in its order (an index the file never uses is zeros;
    indices the model does not know are ignored)."""
    indices, foreign = [], []
    for name in feature_names:
        match = _INDEX_NAME.fullmatch(name)
        if match is None:
            foreign.append(name)
        else:
            indices.append(int(match.group(1)))
    if foreign:
        raise DataError(
            f"the model's features are named {names_list(foreign)}, but a LIBSVM file's "
            f"features are indices (f1, f2, ...); give {source.name} as a table with these "
            "columns (CSV, TSV or Parquet)"
        )
    X, y = read_libsvm(source, dtype)
    return _dense(_model_columns(X, np.asarray(indices, dtype=np.int64)), source), y


def _model_columns(X: sp.csr_matrix, indices: np.ndarray) -> sp.csr_matrix:
    """``X``'s columns ``indices`` (unique), in that order: an index the file never uses
    is a column of zeros, and a stored index the model does not know is dropped. Found by
    a search in ``indices`` rather than scipy's column indexing, which allocates as many
    entries as the largest index."""
    import scipy.sparse as sparse

    order = np.argsort(indices, kind="stable")
    ranked = indices[order]
    at = np.minimum(np.searchsorted(ranked, X.indices), ranked.size - 1)
    known = ranked[at] == X.indices
    rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))[known]
    out = sparse.csr_matrix(
        (X.data[known], (rows, order[at[known]])), shape=(X.shape[0], indices.size)
    )
    out.sort_indices()
    return out


def _dense(X: sp.csr_matrix, source: Source) -> np.ndarray | sp.csr_matrix:
    """``X`` as a dense C-contiguous array when it has at most ``DENSE_CELLS`` cells and
    fits a quarter of the memory budget; otherwise as it is, sparse."""
    n, d = X.shape
    dense = n * d * X.dtype.itemsize
    if n * d > DENSE_CELLS or dense > max(budget_bytes() // 4, FLOOR_BYTES):
        return X  # a dense copy would take more than a quarter of the memory budget
    return np.ascontiguousarray(X.toarray())


def require_dense(X: np.ndarray | sp.spmatrix, what: str) -> None:
    """Refuse a sparse ``X`` (a LIBSVM file too large to make dense) where ``what`` (a
    command, e.g. ``"solve-ls"``) needs a dense matrix."""
    if issparse(X):
        n, d = X.shape
        raise DataError(
            f"{what} needs a dense matrix, and this LIBSVM data is {n} x {d} ({n * d:.3g} "
            f"cells, over the {DENSE_CELLS:.0e} made dense); train, predict and evaluate "
            "take it sparse"
        )
