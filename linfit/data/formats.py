"""Which format a file is, and the reader each format takes.

A file's format is named by ``--format`` (``csv``, ``tsv``, ``parquet``, ``libsvm``) or
else by its ending (``.parquet``; ``.svm``, ``.libsvm``, ``.svmlight``; ``.tsv``/``.tab``;
anything else is CSV, as before). CSV and TSV are read by :mod:`~linfit.data.read` (and
the compiled scanner, :mod:`~linfit.data.fastcsv`), Parquet by
:mod:`~linfit.data.parquet`, LIBSVM by :mod:`~linfit.data.libsvm`, whose large files stay
sparse (see :func:`require_dense` for the commands that need a dense matrix).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from linfit.data import libsvm
from linfit.data.parquet import read_parquet
from linfit.data.read import (
    COMPRESSION_EXTENSIONS,
    Source,
    normalize_sep,
    read_delimited,
    read_text_column,
)
from linfit.errors import DataError, OptionError
from linfit.lazy import issparse

if TYPE_CHECKING:
    # Annotations only: pandas is imported by the reads that use it, and scipy by
    # scikit-learn's LIBSVM reader, so resolving a format or a separator needs neither.
    import numpy as np
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


def resolve_format(path: str | Path, file_format: str | None = None) -> Format:
    """The format named by ``file_format``, else by the file's ending (CSV by default)."""
    if file_format is not None:
        name = file_format.lower()
        if name not in FORMATS:
            raise OptionError(
                f"`file_format` takes one of {', '.join(FORMATS)}, got {file_format!r}"
            )
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
            raise OptionError(f"`sep` applies to CSV and TSV files, not to {file_format} files")
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
        return read_parquet(source)
    if file_format == "libsvm":
        raise ValueError("a LIBSVM file is not a table; use read_libsvm")
    return read_delimited(source, sep or ",")


def require_dense(X: np.ndarray | sp.spmatrix, what: str) -> None:
    """Refuse a sparse ``X`` (a LIBSVM file too large to make dense, or a one-hot table
    read sparse: ``features.table_matrix``) where ``what`` (a command, e.g.
    ``"solve-ls"``) needs a dense matrix."""
    if issparse(X):
        n, d = X.shape
        # else features.table_matrix read it sparse: one-hot columns, mostly zeros
        why = libsvm.kept_sparse((n, d), X.dtype.itemsize) or (
            f"{X.nnz / (n * d):.1%} of its cells stored: wide one-hot columns"
        )
        raise DataError(
            f"{what} needs a dense matrix, and this data is {n} x {d} ({why}), read sparse; "
            "train, predict and evaluate take it sparse"
        )
