"""Options shared by several commands, declared once."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from linfit.cache import cached, cached_on_disk
from linfit.data import Dataset, Encode, Missing, load_dataset
from linfit.data.formats import (
    FORMATS,
    TEXT_FORMATS,
    parquet_matrix_bytes,
    resolve_format,
    text_separator,
)
from linfit.data.stream import (
    DEFAULT_CHUNK_ROWS,
    memory_budget,
    stream_dataset,
    too_big_for_memory,
)
from linfit.errors import OptionError
from linfit.models import MODELS
from linfit.optim import OPTIMIZERS

DataArg = Annotated[
    Path,
    typer.Argument(
        metavar="DATA",
        help="CSV or TSV file with a header row, Parquet, or LIBSVM (see --format); - reads stdin.",
    ),
]
ModelOpt = Annotated[
    str,
    typer.Option(
        "--model", "-m", help=f"Model: {', '.join(MODELS)}.", autocompletion=lambda: list(MODELS)
    ),
]
OptimizerOpt = Annotated[
    str | None,
    typer.Option(
        help=f"Optimizer: {', '.join(OPTIMIZERS)} (default: the model's, lbfgs).",
        autocompletion=lambda: list(OPTIMIZERS),
    ),
]
RegOpt = Annotated[float, typer.Option(help="L2 penalty: objective = mean loss + reg * ||W||^2.")]
TargetOpt = Annotated[
    str | None, typer.Option(help="Target column, by name or 0-based index (default: the last).")
]
SepOpt = Annotated[
    str | None, typer.Option(help="Field separator (default: by extension, , or tab).")
]
FormatOpt = Annotated[
    str | None,
    typer.Option(
        "--format",
        help="DATA's format: csv, tsv, parquet or libsvm (default: by extension: .parquet; "
        ".svm, .libsvm, .svmlight; .tsv, .tab; else csv).",
        autocompletion=lambda: list(FORMATS),
    ),
]
EncodeOpt = Annotated[
    str, typer.Option(help="Non-numeric features: 'none' (an error) or 'onehot'.")
]
DropnaOpt = Annotated[bool, typer.Option("--dropna", help="Drop rows with missing values.")]
ImputeOpt = Annotated[
    str | None, typer.Option(help="Fill missing feature values: 'mean' (the column's mean).")
]
DtypeOpt = Annotated[str, typer.Option(help="Floating type for the data: float64 or float32.")]
SeedOpt = Annotated[
    int, typer.Option(min=0, help="Seed of the train/test split (and of sgd's shuffles).")
]
TestSizeOpt = Annotated[
    float, typer.Option(help="Fraction held out for testing, in [0, 1); 0 trains on everything.")
]
StandardizeOpt = Annotated[
    bool, typer.Option(help="Scale features to zero mean and unit variance (kept in the model).")
]
CacheOpt = Annotated[
    bool,
    typer.Option(help="Reuse the parsed copy of an unchanged file (see README: the cache)."),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No tables or progress on stderr.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


ChunksizeOpt = Annotated[
    int | None,
    typer.Option(
        help="Train out of core: parse DATA this many rows at a time into a binary copy on "
        "disk and read it a block at a time (automatic for files over a quarter of RAM).",
    ),
]


def out_of_core_rows(data: Path, chunk_rows: int | None, file_format: str | None) -> int | None:
    """Rows per chunk to read DATA out of core: ``--chunksize`` when given, the default for
    a CSV/TSV file bigger than the memory budget or a Parquet file whose table would be,
    else None (read it whole; LIBSVM files are always read whole, and stay sparse)."""
    if chunk_rows is not None:
        return chunk_rows
    fmt = resolve_format(data, file_format)
    if fmt in TEXT_FORMATS and too_big_for_memory(data):
        return DEFAULT_CHUNK_ROWS
    if fmt == "parquet" and str(data) != "-" and parquet_matrix_bytes(data) > memory_budget():
        return DEFAULT_CHUNK_ROWS
    return None


def load_table(data: Path, chunk_rows: int | None = None, **load: Any) -> Dataset:
    """The training table in memory, or with its matrix on disk (see ``out_of_core_rows``)."""
    chunk_rows = out_of_core_rows(data, chunk_rows, load.get("file_format"))
    if chunk_rows is None:
        return load_data(data, **load)
    return data_on_disk(data, chunk_rows=chunk_rows, **load)


def data_on_disk(
    data: Path,
    *,
    chunk_rows: int,
    target: str | None,
    sep: str | None,
    encode: str = "none",
    dropna: bool = False,
    impute: str | None = None,
    dtype: str = "float64",
    cache: bool = True,
    file_format: str | None = None,
) -> Dataset:
    """The training table with its matrix on disk (a RowFile), parsed ``chunk_rows`` rows
    at a time: into the cache, so a second run parses nothing, or, with the cache off or
    unwritable, into a temporary folder removed when the process exits."""
    fmt = resolve_format(data, file_format)
    if fmt == "libsvm":
        raise OptionError(
            "--chunksize reads CSV, TSV and Parquet files a chunk at a time; a LIBSVM file "
            "is read whole, into a sparse matrix; drop --chunksize"
        )
    sep = text_separator(data, fmt, sep) if fmt in TEXT_FORMATS else None
    if encode_mode(encode) != "none":
        raise OptionError(
            "--encode onehot needs every category before the first row is written, so it "
            "cannot train out of core; encode the file's columns first, or drop --chunksize"
        )
    options = _load_options(target, sep, encode, dropna, impute, dtype)

    def stream(folder: Path) -> Dataset:
        return stream_dataset(
            data,
            folder,
            target=target,
            sep=sep,
            missing=options["missing"],
            dtype=dtype_of(dtype),
            chunk_rows=chunk_rows,
            file_format=fmt,
        )

    dataset = cached_on_disk(data, {**options, "format": fmt}, stream) if cache else None
    if dataset is None:
        folder = Path(tempfile.mkdtemp(prefix="linfit-"))
        atexit.register(shutil.rmtree, folder, True)
        dataset = stream(folder)
    return dataset


def _load_options(
    target: str | None, sep: str | None, encode: str, dropna: bool, impute: str | None, dtype: str
) -> dict:
    """The options that shape a parse: the loader's arguments, and the cache's key."""
    return {
        "target": target,
        "sep": sep,
        "encode": encode_mode(encode),
        "missing": missing_mode(dropna, impute),
        "dtype": dtype,
    }


def load_data(
    data: Path,
    *,
    target: str | None,
    sep: str | None,
    encode: str = "none",
    dropna: bool = False,
    impute: str | None = None,
    dtype: str = "float64",
    cache: bool = True,
    file_format: str | None = None,
) -> Dataset:
    """Read a training table as the shared options describe it, through the parsed-binary
    cache unless ``cache`` is false (a LIBSVM file, parsed quickly, is never cached)."""
    options = _load_options(target, sep, encode, dropna, impute, dtype)
    fmt = resolve_format(data, file_format)
    load = partial(load_dataset, data, **{**options, "dtype": dtype_of(dtype)}, file_format=fmt)
    use_cache = cache and fmt != "libsvm"
    return cached(data, {**options, "format": fmt}, load) if use_cache else load()


def missing_mode(dropna: bool, impute: str | None) -> Missing:
    """Map --dropna / --impute to the loader's ``missing`` argument."""
    if dropna and impute:
        raise OptionError("use either --dropna or --impute, not both")
    if impute is not None and impute != "mean":
        raise OptionError(f"--impute takes 'mean', got {impute!r}")
    return "drop" if dropna else ("mean" if impute else "error")


def encode_mode(encode: str) -> Encode:
    if encode not in ("none", "onehot"):
        raise OptionError(f"--encode takes 'none' or 'onehot', got {encode!r}")
    return encode


def dtype_of(name: str) -> type[np.floating]:
    dtypes = {"float64": np.float64, "float32": np.float32}
    if name not in dtypes:
        raise OptionError(f"--dtype takes float64 or float32, got {name!r}")
    return dtypes[name]
