"""A training table larger than memory: parsed once, a chunk of rows at a time, into a
binary matrix on disk that training then reads a block at a time. CSV and TSV files are
parsed by pandas' chunked reader, Parquet files decoded a batch of rows at a time.
(pyarrow's streaming CSV reader, ``open_csv``, was measured against pandas' on a 305 MB
numeric CSV, to float64 chunks on 2 cores: 2.96x pandas' time with 16 MB blocks, 5.0x
with 64 MB.)

Each chunk goes through the same checks as a whole-file read (numeric features, missing
values, a finite target), so a file is accepted or refused the same way either way; the
refusal names the column, as always. Memory holds one chunk of text and its rows.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import DTypeLike

from linfit.data.choice import ColumnChoice, parquet_choice
from linfit.data.columns import Remedy
from linfit.data.features import Missing, check_dtype
from linfit.data.formats import Format
from linfit.data.labels import training_target
from linfit.data.load import Dataset, training_arrays
from linfit.data.parquet import parquet_chunks
from linfit.data.read import Source, check_duplicates, normalize_sep, read_chunks
from linfit.data.rowfile import RowWriter
from linfit.data.weights import check_weights
from linfit.errors import DataError, OptionError
from linfit.memory import BUDGET_VARIABLE, budget_bytes

if TYPE_CHECKING:
    import pandas as pd  # annotations only: the chunks come from pandas

# 65,536 rows of 100 float64 features is 52 MB: big enough that pandas parses at full
# speed, small enough that the text and the parsed rows of a chunk stay well under 1 GB.
DEFAULT_CHUNK_ROWS = 65_536
# A whole read holds the parsed frame and the matrix, each about the file's size in float64
# or more; past a quarter of the memory available, a file is read out of core instead.
MEMORY_FRACTION = 0.25


def memory_budget() -> int:
    """Bytes a whole read may take: ``$LINFIT_MEMORY_BUDGET`` (checked: a value that is
    not a positive number is one line), else a quarter of the memory available now, the
    budget that also bounds the training run (``linfit.memory.budget_bytes``): one measure
    for both, where the read took physical memory and training the memory available."""
    if os.environ.get(BUDGET_VARIABLE):
        return budget_bytes()
    return int(MEMORY_FRACTION * budget_bytes())


def too_big_for_memory(path: str | Path) -> bool:
    """True when ``path`` is a file larger than ``memory_budget()`` (stdin never is)."""
    if str(path) == "-":
        return False
    try:
        return Path(path).stat().st_size > memory_budget()
    except OSError:
        return False  # the loader reports a missing file


def stream_dataset(
    path: str | Path,
    folder: Path,
    *,
    target: str | int | None = None,
    sep: str | None = None,
    missing: Missing = "error",
    dtype: DTypeLike = np.float64,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    remedies: Collection[Remedy] = ("dropna",),
    file_format: Format = "csv",
    features: Sequence[str] | None = None,
    drop: Sequence[str] = (),
    weights: str | None = None,
) -> Dataset:
    """Parse the training table ``path`` (CSV/TSV, or Parquet) into ``folder/X.bin``,
    ``chunk_rows`` rows at a time.

    Args and checks as :func:`linfit.data.load_dataset`, except that features must be
    numeric (one-hot encoding needs every category before the first row is written) and
    ``missing="mean"`` is refused (it needs the whole file's means first). ``features``,
    ``drop`` and ``weights`` choose each chunk's columns as they choose a whole read's (a
    Parquet file's other columns are never decoded).

    Returns:
        A Dataset whose ``X`` is a :class:`~linfit.data.rowfile.RowFile` of shape
        (n_kept, n_features) in ``folder``, read a block at a time, and ``y`` (n_kept,)
        and ``weights`` (n_kept,) or None in memory.
    """
    if missing == "mean":
        raise OptionError(
            "`impute` mean needs the whole file's means before the first row is written, "
            "so it cannot stream; fill the gaps in the file, or use `dropna`"
        )
    if chunk_rows < 1:
        raise OptionError(f"`chunk_rows` must be at least 1 row, got {chunk_rows}")
    resolved = check_dtype(dtype)
    choice = ColumnChoice.of(features, drop, weights)
    source = Source(path)
    sep_char = None if file_format == "parquet" else normalize_sep(sep, path)
    writer = RowWriter(Path(folder) / "X.bin", resolved)
    labels: list[np.ndarray] = []
    weight_parts: list[np.ndarray] = []
    names: tuple[str, ...] = ()
    target_name: str | None = None
    try:
        for frame, target_name in _chosen_chunks(source, sep_char, chunk_rows, target, choice):
            part = training_arrays(
                frame, target_name, "none", missing, resolved, source.name, remedies, weights
            )
            writer.append(part.X)
            labels.append(part.y)
            if part.weights is not None:
                weight_parts.append(part.weights)
            names = part.feature_names
    finally:
        X = writer.close()
    if target_name is None or X.shape[0] == 0:
        raise DataError(f"{source.name} has a header but no data rows; add rows of data")
    w = None
    if weights is not None:  # the whole file's: a chunk may hold only zero weights
        w = np.concatenate(weight_parts)
        check_weights(w, weights, source.name)
    return Dataset(X=X, y=_merge_labels(labels), feature_names=names, target_name=target_name,
                   weights=w)  # fmt: skip


def _chosen_chunks(
    source: Source,
    sep: str | None,
    chunk_rows: int,
    target: str | int | None,
    choice: ColumnChoice,
) -> Iterator[tuple[pd.DataFrame, str]]:
    """Each chunk of a CSV/TSV (``sep``) or Parquet (``sep`` None) table, narrowed to the
    chosen columns, with the target's name. The header is checked once, on the first
    chunk; a Parquet file's choice is made from its footer, so that its other columns
    are never decoded."""
    needed, target_name = parquet_choice(source, target, choice) if sep is None else (None, None)
    if sep is None:
        chunks = parquet_chunks(source, chunk_rows, needed)
    else:
        chunks = read_chunks(source, sep, chunk_rows)
    for frame in chunks:
        frame.columns = [str(c) for c in frame.columns]
        if target_name is None:  # the first chunk: the header's checks, once
            if sep is not None:
                check_duplicates(frame, source, sep)
            target_name = training_target(frame, target, source.name)
            needed = choice.narrowing(list(frame.columns), target_name, source.name)
        if needed is not None and len(needed) < frame.shape[1]:
            frame = frame[needed]
        yield frame, target_name


def _merge_labels(parts: list[np.ndarray]) -> np.ndarray:
    """One target array from the chunks'. A chunk whose labels all read as numbers comes
    as numbers; if any chunk held text, every label is text, spelt as pandas spells it."""
    import pandas as pd  # the chunks came from pandas: it is loaded already

    if any(part.dtype == object for part in parts) and not all(p.dtype == object for p in parts):
        parts = [pd.Series(part).astype(str).to_numpy(dtype=object) for part in parts]
    return np.concatenate(parts)
