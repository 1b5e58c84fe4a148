"""Reading a table into a dask.distributed cluster: a file, a glob or a folder of CSV or
Parquet files, as dask arrays with known row chunks (one per partition)."""

from __future__ import annotations

import glob
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from linfit.data.choice import ColumnChoice
from linfit.data.features import Missing
from linfit.data.formats import resolve_format, text_separator
from linfit.data.labels import resolve_target
from linfit.data.weights import check_weight_counts
from linfit.errors import DataError, OptionError
from linfit.optional import require
from linfit.preprocess import check_test_size

PATTERN_CHARS = "*?["
TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".parquet")


def require_dask() -> Any:
    """``dask.dataframe`` (with distributed), or the one-line error naming the extra."""
    require("distributed", "dask", "`engine` dask")
    return require("dask.dataframe", "dask", "`engine` dask")


@dataclass(frozen=True)
class DaskTable:
    """A table on the cluster: raw features ``X`` (n, d) and target ``y`` (n,), dask
    arrays whose row chunks are known; ``y`` keeps the file's values (labels or numbers);
    ``weights`` (n,) float64 sample weights chunked as ``y`` (None: none asked for)."""

    X: Any
    y: Any
    feature_names: tuple[str, ...]
    target_name: str
    weights: Any = None

    @property
    def n_rows(self) -> int:
        return int(self.X.shape[0])


def table_files(source: str | Path) -> list[str]:
    """The files ``source`` names: itself, a glob's matches, or a folder's tables, sorted."""
    text = str(source)
    if Path(text).is_dir():
        files = [str(p) for p in sorted(Path(text).iterdir()) if p.suffix in TABLE_SUFFIXES]
    elif any(c in text for c in PATTERN_CHARS):
        files = sorted(glob.glob(text))
    else:
        files = [text] if Path(text).is_file() else []
    if not files:
        raise DataError(f"{text}: no such file, or no CSV or Parquet file matches it")
    return files


def read_table(
    source: str | Path,
    *,
    target: str | int | None = None,
    sep: str | None = None,
    file_format: str | None = None,
    blocksize: str | int = "64MB",
    missing: Missing = "error",
    dtype: DTypeLike = np.float64,
    features: Sequence[str] | None = None,
    drop: Sequence[str] = (),
    weights: str | None = None,
) -> DaskTable:
    """Read ``source`` on the cluster and persist it there: every column but the target
    (by name or 0-based index, default the last) is a feature, and must be numeric;
    ``features``, ``drop`` and ``weights`` choose the columns as
    :func:`linfit.data.load_dataset` does (the others are never read from a Parquet file:
    dask pushes the choice into its reader).

    ``missing`` as in :func:`linfit.data.load_dataset`: ``"error"`` leaves missing cells to
    be refused when the blocks are loaded; ``"drop"`` drops rows with a missing feature or
    target; ``"mean"`` drops rows with a missing target and fills each missing feature with
    its column's mean over the kept rows (computed on the cluster); a missing weight is
    refused but under ``"drop"``. Features come as ``dtype`` (float64 or float32)."""
    choice = ColumnChoice.of(features, drop, weights)
    frame = _lazy_frame(source, sep, file_format, blocksize)
    name = Path(str(source)).name
    columns = [str(c) for c in frame.columns]
    target_name = resolve_target(columns, target, name)
    if not choice.everything:
        frame = frame[choice.needed(columns, target_name, name)]
    features = choice.feature_columns(columns, target_name, name)
    if not features:
        raise DataError(f"{name} needs at least one feature column besides {target_name!r}")
    text = [c for c in features if frame[c].dtype.kind not in "iufb"]
    if text:
        raise DataError(
            f"{name}: `engine` dask needs numeric features, but column {text[0]!r} is "
            f"{frame[text[0]].dtype}; encode it first, or use `engine` memory `encode` onehot"
        )
    if missing == "drop":
        frame = frame.dropna()
    elif missing == "mean":
        # held on the workers first, so the means and the fill read the files once
        frame = frame.dropna(subset=[target_name]).persist()
        frame = frame.fillna(frame[features].mean().compute().to_dict())
    frame = frame.persist()  # read once; lost partitions are read again from the files
    lengths = tuple(frame.map_partitions(len).compute())  # X's, y's and w's row chunks
    X = frame[features].astype(np.dtype(dtype).name).to_dask_array(lengths=lengths)
    labels = frame[target_name]
    if labels.dtype.kind not in "iufb":  # text labels: plain object arrays, as in memory
        labels = labels.astype(object)
    y = labels.to_dask_array(lengths=lengths)
    w = None if weights is None else _weights(frame[weights], weights, name, lengths)
    return DaskTable(X, y, tuple(features), target_name, w)


def _weights(column: Any, name: str, source_name: str, lengths: tuple[int, ...]) -> Any:
    """(n,) float64 dask array of the weights ``column``, checked as a read in memory
    checks them (its NaN, inf, negative and positive counts, in one pass on the workers)."""
    import dask

    if column.dtype.kind not in "iuf":
        raise DataError(
            f"{source_name}: `weights` column {name!r} is {column.dtype}, not numeric; "
            "sample weights are numbers >= 0"
        )
    w = column.astype("float64").to_dask_array(lengths=lengths)
    counts = dask.compute((w != w).sum(), (abs(w) == np.inf).sum(), (w < 0).sum(), (w > 0).sum())
    missing, infinite, negative, positive = (int(c) for c in counts)
    check_weight_counts(
        name, source_name, missing=missing, infinite=infinite, negative=negative,
        positive=positive,
    )  # fmt: skip
    return w


def _lazy_frame(
    source: str | Path, sep: str | None, file_format: str | None, blocksize: str | int
) -> Any:
    """The dask DataFrame of the files ``source`` names, not read yet (so that a choice
    of its columns reaches the Parquet reader)."""
    dd = require_dask()
    files = table_files(source)
    fmt = resolve_format(files[0], file_format)
    if fmt == "parquet":
        return dd.read_parquet(files)
    if fmt in ("csv", "tsv"):
        separator = text_separator(files[0], fmt, sep) or ","
        return dd.read_csv(files, sep=separator, blocksize=blocksize)
    raise OptionError(f"`engine` dask reads CSV, TSV and Parquet files, not {fmt}")


def split_table(table: DaskTable, test_size: float, seed: int) -> tuple[DaskTable, DaskTable]:
    """``(train, test)``: each row held out with probability ``test_size``, drawn on the
    workers block by block (seeded by ``seed`` and the block's index), never gathered."""
    import dask.array as da

    check_test_size(test_size)
    held = da.map_blocks(_held_out, table.y, test_size, seed, dtype=bool)
    parts = []
    for keep in (~held, held):
        X, y = table.X[keep], table.y[keep]
        X.compute_chunk_sizes()
        y.compute_chunk_sizes()
        w = None
        if table.weights is not None:  # the same rows as X and y
            w = table.weights[keep]
            w.compute_chunk_sizes()
        parts.append(DaskTable(X, y, table.feature_names, table.target_name, w))
    if parts[0].n_rows == 0:
        raise OptionError(f"`test_size` {test_size} leaves no training rows; use a smaller one")
    return parts[0], parts[1]


def _held_out(y_block: Any, test_size: float, seed: int, block_info: Any = None) -> Any:
    index = block_info[0]["chunk-location"][0] if block_info else 0
    return np.random.default_rng([seed, index]).random(len(y_block)) < test_size
