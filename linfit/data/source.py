"""Where a training table is read into: memory, or a binary copy on disk, via the cache.

``load_table`` is the one way the commands read a training table: whole into memory when
it fits the memory budget, else parsed a chunk at a time into a row file on disk (kept in
the cache, or in a temporary folder removed when the process exits), so that training
reads it a block at a time. LIBSVM files are read whole and stay sparse.
"""

from __future__ import annotations

import atexit
import dataclasses
import shutil
import tempfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from linfit.data import Dataset, Encode, Missing, load_dataset
from linfit.data.choice import ColumnChoice
from linfit.data.formats import TEXT_FORMATS, resolve_format, text_separator
from linfit.data.parquet import parquet_matrix_bytes
from linfit.data.stream import DEFAULT_CHUNK_ROWS, memory_budget, stream_dataset, too_big_for_memory
from linfit.errors import OptionError, OutputError, quote_path
from linfit.lazy import issparse
from linfit.storage.cache import cached, cached_on_disk


@dataclass(frozen=True)
class ReadOptions:
    """How to read a training table: the options the commands that read one share.

    ``target``, ``sep``, ``file_format``, ``encode``, ``dropna``, ``impute``, ``dtype``
    and ``cache`` as :func:`load_data` takes them; ``chunk_rows``, rows per chunk of a
    read out of core (None: :func:`load_table` decides by the memory budget);
    ``features`` (only these columns are features) or ``drop`` (every column but these),
    and ``weights`` (the column of sample weights, the Dataset's ``weights``), as
    :func:`linfit.data.load_dataset` takes them; ``reference``, ``(column, level)`` pairs
    (possibly none) to encode one-hot columns against reference levels (None: every level
    a feature), as ``load_dataset`` takes them, for a read in memory.
    """

    target: str | None = None
    sep: str | None = None
    file_format: str | None = None
    encode: str = "none"
    dropna: bool = False
    impute: str | None = None
    dtype: str = "float64"
    cache: bool = True
    chunk_rows: int | None = None
    features: tuple[str, ...] | None = None
    drop: tuple[str, ...] = ()
    weights: str | None = None
    reference: tuple[tuple[str, str], ...] | None = None


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


def load_table(data: Path, read: ReadOptions) -> Dataset:
    """The training table in memory, or with its matrix on disk (see ``out_of_core_rows``)."""
    chunk_rows = out_of_core_rows(data, read.chunk_rows, read.file_format)
    if chunk_rows is None:
        return load_data(data, read)
    return data_on_disk(data, read, chunk_rows=chunk_rows)


def data_on_disk(data: Path, read: ReadOptions, *, chunk_rows: int) -> Dataset:
    """The training table with its matrix on disk (a RowFile), parsed ``chunk_rows`` rows
    at a time: into the cache, so a second run parses nothing, or, with the cache off or
    unwritable, into a temporary folder removed when the process exits."""
    fmt = resolve_format(data, read.file_format)
    if fmt == "libsvm":
        raise OptionError(
            "`chunk_rows` reads CSV, TSV and Parquet files a chunk at a time; a LIBSVM file "
            "is read whole, into a sparse matrix; drop `chunk_rows`"
        )
    sep = text_separator(data, fmt, read.sep) if fmt in TEXT_FORMATS else None
    if encode_mode(read.encode) != "none":
        raise OptionError(
            "`encode` onehot needs every category before the first row is written, so it "
            "cannot train out of core; encode the file's columns first, or drop `chunk_rows`"
        )
    options = _load_options(read, sep)

    def stream(folder: Path) -> Dataset:
        return stream_dataset(
            data,
            folder,
            target=read.target,
            sep=sep,
            missing=options["missing"],
            dtype=dtype_of(read.dtype),
            chunk_rows=chunk_rows,
            file_format=fmt,
            **_choice(options),
        )

    use_cache = read.cache and read.weights is None  # an entry holds no weights
    dataset = cached_on_disk(data, {**options, "format": fmt}, stream) if use_cache else None
    if dataset is None:
        try:
            folder = Path(tempfile.mkdtemp(prefix="linfit-"))
            atexit.register(shutil.rmtree, folder, True)
            dataset = stream(folder)
        except OSError as exc:  # a full or read-only temporary folder
            reason = " ".join((exc.strerror or str(exc)).split())
            raise OutputError(
                f"cannot write the parsed copy of {quote_path(data)} in "
                f"{quote_path(tempfile.gettempdir())}: {reason}; free some disk space there, "
                "or point TMPDIR at a folder with room"
            ) from None
    return dataset


def _load_options(read: ReadOptions, sep: str | None) -> dict:
    """The options that shape a parse (``sep`` as resolved): the loader's arguments, and the
    cache's key. The columns chosen enter only when some are (a read of every column
    keeps the key it always had, and its entries); features and drop as sets, since
    the features keep the file's order whatever order names them."""
    ColumnChoice(read.features, read.drop, read.weights)  # both, or none: refused here
    chosen = {
        "features": None if read.features is None else sorted(set(read.features)),
        "drop": sorted(set(read.drop)),
        "weights": read.weights,
    }
    return {
        "target": read.target,
        "sep": sep,
        "encode": encode_mode(read.encode),
        "missing": missing_mode(read.dropna, read.impute),
        "dtype": read.dtype,
        **{key: value for key, value in chosen.items() if value not in (None, [])},
    }


def _choice(options: dict) -> dict:
    """The loaders' ``features``, ``drop`` and ``weights`` arguments among ``options``."""
    return {key: options[key] for key in ("features", "drop", "weights") if key in options}


def load_data(data: Path, read: ReadOptions) -> Dataset:
    """Read a training table whole, as ``read`` describes it, through the parsed-binary
    cache unless ``read.cache`` is false or reference levels are asked for: an entry holds
    the matrix dense (``X.bin``) or sparse (its CSR arrays), as the parse made it, the
    targets and the sample weights read."""
    fmt = resolve_format(data, read.file_format)
    # the separator as resolved, as data_on_disk keys it: one entry serves both reads
    options = _load_options(read, text_separator(data, fmt, read.sep))
    reference = None if read.reference is None else dict(read.reference)
    load = partial(
        load_dataset, data, **{**options, "dtype": dtype_of(read.dtype)}, file_format=fmt,
        reference=reference,
    )  # fmt: skip
    # an entry holds no reference levels, so a read with them parses
    if not read.cache or reference is not None:
        return load()
    if fmt == "libsvm":
        # a LIBSVM matrix made dense is mostly zeros: kept as CSR, it reads back faster
        return cached(data, {**options, "format": fmt}, load, _libsvm_layout, compact=True)
    return cached(data, {**options, "format": fmt}, load)


def _libsvm_layout(hit: Dataset) -> Dataset | None:
    """A cached LIBSVM matrix as a parse would give it now, or None (parse it again).

    Whether a parse keeps the matrix sparse depends on the memory budget
    (``libsvm.kept_sparse``), which is not part of the cache's key (the memory available,
    by default): a sparse entry is laid out as that parse would lay it out
    (``libsvm.as_parsed`` of the same CSR, so the same bits), and a dense entry that
    should now be sparse is a miss, rewritten sparse (its CSR cannot be told from X: a
    stored zero is dropped)."""
    from linfit.data import libsvm

    if issparse(hit.X):
        return dataclasses.replace(hit, X=libsvm.as_parsed(hit.X))
    return None if libsvm.kept_sparse(hit.X.shape, hit.X.dtype.itemsize) else hit


def missing_mode(dropna: bool, impute: str | None) -> Missing:
    """Map --dropna / --impute to the loader's ``missing`` argument."""
    if dropna and impute:
        raise OptionError("use either `dropna` or `impute`, not both")
    if impute is not None and impute != "mean":
        raise OptionError(f"`impute` takes 'mean', got {impute!r}")
    return "drop" if dropna else ("mean" if impute else "error")


def encode_mode(encode: str) -> Encode:
    if encode not in ("none", "onehot"):
        raise OptionError(f"`encode` takes 'none' or 'onehot', got {encode!r}")
    return encode


def dtype_of(name: str) -> type[np.floating]:
    dtypes = {"float64": np.float64, "float32": np.float32}
    if name not in dtypes:
        raise OptionError(f"`dtype` takes float64 or float32, got {name!r}")
    return dtypes[name]
