"""A wide one-hot table read as CSR (never dense), scaled without filling in, and trained on.

Every sparse result is held against the dense path's on the same file: the same values,
the same optimum, the same predictions.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import linfit.data.features as features
from linfit.data import load_dataset, load_features
from linfit.data.source import ReadOptions
from linfit.fitting.workflow import train_file
from linfit.models import SoftmaxClassifier
from linfit.preprocess import Scaler


def one_hot_table(path: Path, n: int, levels: tuple[int, ...], seed: int = 0) -> Path:
    """A CSV of ``n`` rows: two numeric columns off centre, one text column per entry of
    ``levels`` (that many categories), a 3-class target from a linear model plus noise."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x1": rng.normal(5, 2, n), "x2": rng.normal(-3, 0.5, n)})
    score = frame["x1"].to_numpy() - 5
    for c, k in enumerate(levels):
        codes = rng.integers(0, k, n)
        frame[f"c{c}"] = [f"v{code}" for code in codes]
        score = score + rng.normal(0, 1, k)[codes]
    frame["y"] = np.digitize(score + rng.normal(0, 0.5, n), np.quantile(score, [1 / 3, 2 / 3]))
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def always_sparse(monkeypatch):
    """Any table with a one-hot feature read as CSR, however small."""
    monkeypatch.setattr(features, "SPARSE_MIN_CELLS", 0)


def dense_and_sparse(monkeypatch, read):
    """``read()`` with the dense path forced, then with the sparse one."""
    monkeypatch.setattr(features, "SPARSE_MIN_CELLS", 10**18)
    dense = read()
    monkeypatch.setattr(features, "SPARSE_MIN_CELLS", 0)
    return dense, read()


def with_gaps(tmp_path: Path) -> Path:
    path = one_hot_table(tmp_path / "t.csv", 300, (4, 12))
    frame = pd.read_csv(path)
    frame.loc[[3, 10], "c0"] = None
    frame.loc[[5], "x1"] = None
    frame.loc[[7], "x2"] = None
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("missing", ["drop", "mean"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sparse_read_holds_the_dense_values(tmp_path, monkeypatch, missing, dtype):
    path = with_gaps(tmp_path)
    dense, sparse = dense_and_sparse(
        monkeypatch, lambda: load_dataset(path, encode="onehot", missing=missing, dtype=dtype)
    )
    assert isinstance(dense.X, np.ndarray) and sp.issparse(sparse.X)
    assert sparse.X.dtype == dtype and sparse.feature_names == dense.feature_names
    np.testing.assert_array_equal(sparse.X.toarray(), dense.X)
    np.testing.assert_array_equal(sparse.y, dense.y)
    # one value a row per one-hot column and every numeric one (2 numeric, 2 text), except
    # on a row whose category is missing, which stores every category's frequency (mean)
    extra = 2 * (4 - 1) if missing == "mean" else 0
    assert sparse.X.nnz == 4 * sparse.X.shape[0] + extra
    assert sparse.X.shape[0] == (300 if missing == "mean" else 300 - 4)


def test_sparse_prediction_read_holds_the_dense_values(tmp_path, monkeypatch):
    path = with_gaps(tmp_path)
    # any order, a category that is not in the file, another not asked for (c0=v2)
    names = (*(f"c1=v{i}" for i in range(12)), "x2", "c0=v1", "c0=unseen", "c0=v0", "c0=v3")
    fill = np.zeros(len(names))
    fill[12] = 7.0  # x2's, for its missing cell
    dense, sparse = dense_and_sparse(
        monkeypatch,
        lambda: load_features(path, names, encode="onehot", missing="mean", fill_values=fill),
    )
    assert sp.issparse(sparse)
    np.testing.assert_array_equal(sparse.toarray(), dense)


def test_default_rule_reads_a_wide_table_without_a_dense_matrix(tmp_path):
    """20,000 rows x 1,002 columns: 160 MB dense; the read's peak stays under a tenth."""
    path = one_hot_table(tmp_path / "wide.csv", 20_000, (1000,))
    tracemalloc.start()
    try:
        X = load_dataset(path, encode="onehot").X
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    n, k = X.shape
    assert sp.issparse(X) and k == 1002 and X.nnz == 3 * n
    assert peak < n * k * 8 / 10


def test_scaler_centres_only_the_columns_stored_in_every_row():
    rng = np.random.default_rng(0)
    n = 500
    numeric = rng.normal(4, 2, (n, 2))
    hot = np.eye(6)[rng.integers(0, 6, n)]
    dense = np.hstack([numeric, hot])
    X = sp.csr_matrix(dense)
    scaler = Scaler.fit(X)
    np.testing.assert_allclose(scaler.mean[:2], numeric.mean(axis=0), rtol=1e-13)
    assert not scaler.mean[2:].any()  # centring an indicator would fill in its zeros
    np.testing.assert_allclose(scaler.scale, dense.std(axis=0), rtol=1e-12)
    expected = (dense - scaler.mean) / scaler.scale
    scaled = scaler.transform(X)
    assert sp.issparse(scaled) and scaled.nnz == X.nnz
    np.testing.assert_allclose(scaled.toarray(), expected, rtol=1e-13, atol=1e-15)
    # a matrix lacking a centred column in some rows (zeros not stored) gets them stored
    gaps = dense.copy()
    gaps[:10, 0] = 0.0
    lacking = sp.csr_matrix(gaps)
    assert lacking.nnz == X.nnz - 10
    filled = scaler.transform(lacking)
    assert filled.nnz == X.nnz
    np.testing.assert_allclose(
        filled.toarray(), (gaps - scaler.mean) / scaler.scale, rtol=1e-13, atol=1e-15
    )


def test_sparse_training_reaches_the_dense_optimum(tmp_path, monkeypatch):
    """Centring the numeric columns alone (sparse) or every column (dense) moves only the
    bias: the penalized weights, the objective and the predictions are the same."""
    path = one_hot_table(tmp_path / "t.csv", 2_000, (5, 30))
    read = ReadOptions(encode="onehot", cache=False)

    def run():
        return train_file(
            path, SoftmaxClassifier(reg=1e-3), read=read, solver="lbfgs", gtol=1e-10, ftol=0.0
        )

    dense, sparse = dense_and_sparse(monkeypatch, run)
    assert not sparse.trained.scaler.mean[2:].any()  # the indicators were not centred
    assert sparse.trained.result.fun == pytest.approx(dense.trained.result.fun, rel=1e-10)
    # both stop at max |gradient| ~ 3e-9 (ftol 0: no stall on a flat objective); the
    # objective is 2 reg = 2e-3 strongly convex in W, so each optimum is within ~1.5e-6 of
    # the true one, which bounds the probabilities' difference (measured 3e-7)
    X = load_features(path, sparse.trained.feature_names, encode="onehot")
    assert sp.issparse(X)
    np.testing.assert_allclose(
        sparse.trained.predict_proba(X), dense.trained.predict_proba(X.toarray()), atol=1e-6
    )


def test_commands_needing_a_dense_matrix_say_why_a_one_hot_table_is_sparse(tmp_path, always_sparse):
    from linfit.data.formats import require_dense
    from linfit.errors import DataError

    X = load_dataset(one_hot_table(tmp_path / "t.csv", 300, (4, 12)), encode="onehot").X
    with pytest.raises(DataError) as refused:
        require_dense(X, "compare")
    message = str(refused.value)
    assert "compare needs a dense matrix" in message
    assert "300 x 18 (22.2% of its cells stored: wide one-hot columns), read sparse" in message
