"""Parquet files, read by pandas (with pyarrow, the ``parquet`` extra) into the same
DataFrame a CSV file becomes, so every column rule applies unchanged: ``--target``,
``--encode``, missing values, matching a model's features by name. An index pandas stored
in the file is not a column, and is ignored.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from linfit.data import progress
from linfit.data.messages import names_list, one_line
from linfit.data.read import Source
from linfit.errors import DataError
from linfit.optional import MissingExtraError, require

if TYPE_CHECKING:
    import pandas as pd  # annotations only: a read imports pandas when it runs


def read_parquet(source: Source, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The table of a Parquet file: at least one row, unique string names; only the
    ``columns`` named (None: all), the others never decoded."""
    import pandas as pd  # on first use: resolving a file's format needs no pandas

    # pyarrow decodes the columns on every core and says nothing meanwhile: the read is
    # reported when it starts and when it ends, in rows.
    with _parquet_errors(source), progress.track(source.name, None, "rows") as read:
        _checked_schema(source)
        chosen = None if columns is None else list(columns)
        frame = pd.read_parquet(source.handle(), engine="pyarrow", columns=chosen)
        read.update(len(frame))
    frame = frame.reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    _check_parquet_shape(source, *frame.shape)
    return frame


def parquet_chunks(
    source: Source, chunk_rows: int, columns: Sequence[str] | None = None
) -> Iterator[pd.DataFrame]:
    """The table of a Parquet file as DataFrames of at most ``chunk_rows`` rows, in file
    order, read a row group at a time (pyarrow's batches), with a whole read's errors;
    only the ``columns`` named (None: all)."""
    with _parquet_errors(source):
        import pyarrow.parquet as pq

        table = pq.ParquetFile(source.handle())
        _checked_schema(source, table.schema_arrow)  # the footer just read, not read again
        chosen = None if columns is None else list(columns)
        batches = table.iter_batches(batch_size=chunk_rows, columns=chosen)
    n_rows = table.metadata.num_rows
    _check_parquet_shape(source, n_rows, len(_data_names(table.schema_arrow)))
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


def parquet_names(source: Source) -> list[str]:
    """The column names of a Parquet file, from its footer, without those pandas wrote
    for its index (which a read makes the index, not a column)."""
    with _parquet_errors(source):
        return _data_names(_checked_schema(source))


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


def _data_names(schema: Any) -> list[str]:
    """The names of a pyarrow schema's columns but those pandas wrote for its index
    (which ``to_pandas`` turns back into the index)."""
    index = {
        n for n in (schema.pandas_metadata or {}).get("index_columns", []) if isinstance(n, str)
    }
    return [str(n) for n in schema.names if n not in index]


def _check_parquet_shape(source: Source, n_rows: int, n_columns: int) -> None:
    if n_columns == 0:
        raise DataError(f"{source.name} has no columns; expected a table of features and target")
    if n_rows == 0:
        raise DataError(f"{source.name} has columns but no rows; add rows of data")


def _checked_schema(source: Source, schema: Any = None) -> Any:
    """The pyarrow schema of a Parquet file (read from its footer unless given), with
    repeated column names refused, and nested columns (a struct, list or map), whose
    values pandas would hand over as Python objects."""
    import pyarrow.parquet as pq
    from pyarrow import types

    if schema is None:
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
    return schema


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
            "or name its format with `file_format`"
        ) from None
