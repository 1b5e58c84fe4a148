"""Reading a large LIBSVM file (issue 16): linfit's reader against scikit-learn's.

The file is the text-like matrix of :mod:`bench.sparse` (Zipf feature popularity, tf-idf
values) written by scikit-learn's ``dump_svmlight_file``: one-based indices, values with
16 significant digits, integer labels. linfit's ``read_libsvm`` parses it with the
compiled scanner (linfit/data/_libsvmscan.c); the baseline is ``load_svmlight_file``,
which linfit used before and still uses for any file the scanner leaves. A third row is a
repeated read of the file as ``linfit train`` reads it (``source.load_data``), served by
the parsed-data cache (an entry of this run's own, filled by an untimed first read): a
CSR entry at the rcv1-like size, a dense one at the quick size (its matrix has at most
``DENSE_CELLS`` cells, so a parse makes it dense), against ``load_svmlight_file`` and
against the same read without the cache (``read_libsvm``, then the columns named and
chosen, and the matrix made dense where it is), timed in the same rounds.
"""

from __future__ import annotations

import os
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import dump_svmlight_file, load_svmlight_file

from bench.harness import Row, interleaved_times, median_ratio
from bench.sparse import text_like
from linfit.data import Dataset, load_dataset
from linfit.data.libsvm import read_libsvm
from linfit.data.read import Source
from linfit.data.source import ReadOptions, load_data
from linfit.lazy import issparse

WORKLOAD = "LIBSVM read"
# Rounds of the interleaved timing: a round reads the file once with each reader, in an
# order reversed every other round (bench.harness.interleaved_times).
ROUNDS = 5
SKLEARN, LINFIT = "sklearn load_svmlight_file", "linfit read_libsvm"
CACHED = "linfit, repeated read (parsed-data cache)"
UNCACHED = "linfit, a read without the cache"


def libsvm_read(n_samples: int, n_features: int, nnz_per_row: float) -> list[Row]:
    """The rows of ``read_rows`` on a ``text_like(n_samples, n_features, nnz_per_row)``
    file (train and test rows, n_samples in all)."""
    data = text_like(n_samples=n_samples, n_features=n_features, nnz_per_row=nnz_per_row)
    X = sp.vstack([data.X_train, data.X_test]).tocsr()
    y = np.concatenate([data.y_train, data.y_test])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "text_like.svm"
        dump_svmlight_file(X, y, str(path), zero_based=False)
        return read_rows(path)


def read_rows(path: Path) -> list[Row]:
    """Three rows on the LIBSVM file ``path``: ``load_svmlight_file``'s median time;
    ``read_libsvm``'s against it, the target a third of its time with the same matrix;
    a repeated read through the cache against it, the target a tenth of its time with the
    dataset a fresh parse gives, and (in words) against a read without the cache."""
    size_mb = path.stat().st_size / 1e6
    previous = os.environ.get("LINFIT_CACHE_DIR")
    with tempfile.TemporaryDirectory() as cache:
        os.environ["LINFIT_CACHE_DIR"] = cache  # this run's own cache
        try:
            runs = _readers(path)
            same = _same(runs[LINFIT](), runs[SKLEARN]())
            parsed = load_dataset(path)
            first = runs[CACHED]()  # the first read fills the cache
            hit = runs[CACHED]()
            whole = _same_dataset(first, parsed) and _same_dataset(hit, parsed)
            times = interleaved_times(runs, ROUNDS, warm_up=False)
        finally:
            if previous is None:
                os.environ.pop("LINFIT_CACHE_DIR")
            else:
                os.environ["LINFIT_CACHE_DIR"] = previous
    median = {name: statistics.median(t) for name, t in times.items()}
    ratio = median_ratio(times[LINFIT], times[SKLEARN])
    cached_ratio = median_ratio(times[CACHED], times[SKLEARN])
    vs_first = median_ratio(times[CACHED], times[UNCACHED])
    layout = "CSR" if issparse(hit.X) else "dense"
    quality = f"{'identical' if same else '**different**'} matrix, {size_mb:.0f} MB file"
    cached_quality = (
        f"{'the' if whole else '**not the**'} dataset a parse gives ({layout} entry); "
        f"{vs_first:.3f}x the time of a read without the cache ({median[UNCACHED]:.3g} s)"
    )
    return [
        Row(WORKLOAD, SKLEARN, median[SKLEARN]),
        Row(
            WORKLOAD,
            LINFIT,
            median[LINFIT],
            baseline=SKLEARN,
            ratio=ratio,
            quality=quality,
            target="<= 1/3x, identical matrix",
            holds=same and ratio <= 1 / 3,
        ),
        Row(
            WORKLOAD,
            CACHED,
            median[CACHED],
            baseline=SKLEARN,
            ratio=cached_ratio,
            quality=cached_quality,
            target="<= 0.1x (>= 10x faster), the same dataset",
            holds=whole and cached_ratio <= 0.1,
        ),
    ]


def _readers(path: Path) -> dict[str, Callable[[], object]]:
    return {
        SKLEARN: lambda: load_svmlight_file(str(path), dtype=np.float64, zero_based=True),
        LINFIT: lambda: read_libsvm(Source(path), np.dtype(np.float64)),
        CACHED: lambda: load_data(path, ReadOptions()),
        UNCACHED: lambda: load_data(path, ReadOptions(cache=False)),
    }


def _same_dataset(read: Dataset, parsed: Dataset) -> bool:
    """The same matrix (its class, shape and arrays by dtype and bytes), labels and names."""
    X, X0 = read.X, parsed.X
    if type(X) is not type(X0) or X.shape != X0.shape:
        return False
    arrays = ("data", "indices", "indptr") if issparse(X) else ()
    same = all(_same_array(getattr(X, name), getattr(X0, name)) for name in arrays)
    return (
        (same if arrays else _same_array(X, X0))
        and _same_array(read.y, parsed.y)
        and read.feature_names == parsed.feature_names
    )


def _same_array(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _same(
    read: tuple[sp.csr_matrix, np.ndarray], baseline: tuple[sp.csr_matrix, np.ndarray]
) -> bool:
    """The same CSR arrays (dtype and bytes), shape and labels (read_libsvm's are made
    integers where every label is whole: compared by value)."""
    (X, y), (X0, y0) = read, baseline
    arrays = all(
        getattr(X, name).dtype == getattr(X0, name).dtype
        and np.array_equal(getattr(X, name), getattr(X0, name))
        for name in ("data", "indices", "indptr")
    )
    return arrays and X.shape == X0.shape and np.array_equal(y, y0)
