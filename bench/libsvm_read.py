"""Reading a large LIBSVM file (issue 16): linfit's reader against scikit-learn's.

The file is the text-like matrix of :mod:`bench.sparse` (Zipf feature popularity, tf-idf
values) written by scikit-learn's ``dump_svmlight_file``: one-based indices, values with
16 significant digits, integer labels. linfit's ``read_libsvm`` parses it with the
compiled scanner (linfit/data/_libsvmscan.c); the baseline is ``load_svmlight_file``,
which linfit used before and still uses for any file the scanner leaves.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import dump_svmlight_file, load_svmlight_file

from bench.harness import Row, paired_times
from bench.sparse import text_like
from linfit.data.libsvm import read_libsvm
from linfit.data.read import Source

WORKLOAD = "LIBSVM read"
# Rounds of the paired timing: a round reads the file once with each reader, in an
# order reversed every other round (bench.harness.paired_times).
ROUNDS = 5


def libsvm_read(n_samples: int, n_features: int, nnz_per_row: float) -> list[Row]:
    """One row: ``read_libsvm``'s median time on a ``text_like(n_samples, n_features,
    nnz_per_row)`` file (train and test rows, n_samples in all) against
    ``load_svmlight_file``'s, the target a third of its time with the same matrix."""
    data = text_like(n_samples=n_samples, n_features=n_features, nnz_per_row=nnz_per_row)
    X = sp.vstack([data.X_train, data.X_test]).tocsr()
    y = np.concatenate([data.y_train, data.y_test])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "text_like.svm"
        dump_svmlight_file(X, y, str(path), zero_based=False)
        size_mb = path.stat().st_size / 1e6

        def linfit() -> tuple[sp.csr_matrix, np.ndarray]:
            return read_libsvm(Source(path), np.dtype(np.float64))

        def sklearn() -> tuple[sp.csr_matrix, np.ndarray]:
            return load_svmlight_file(str(path), dtype=np.float64, zero_based=True)

        same = _same(linfit(), sklearn())
        t_linfit, t_sklearn, ratio = paired_times(linfit, sklearn, repeat=ROUNDS)
    quality = f"{'identical' if same else '**different**'} matrix, {size_mb:.0f} MB file"
    return [
        Row(WORKLOAD, "sklearn load_svmlight_file", t_sklearn),
        Row(
            WORKLOAD,
            "linfit read_libsvm",
            t_linfit,
            baseline="sklearn load_svmlight_file",
            ratio=ratio,
            quality=quality,
            target="<= 1/3x, identical matrix",
            holds=same and ratio <= 1 / 3,
        ),
    ]


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
