"""Sparse X (scipy.sparse CSR) stays sparse: every model's loss, gradient and Hessian
products, standardization (scaled, not centred), training, prediction and the command line.

Each sparse result is checked against the same computation on ``X.toarray()``; the large
problem (100,000 features, 2e9 cells: 16 GB dense) is checked by its memory high-water
mark, which a densified matrix would blow through, and by its test accuracy.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from cli_helpers import assert_one_error_line, invoke, json_stdout
from core_problems import center_bias
from sklearn.datasets import dump_svmlight_file

from linfit.fitting import fit
from linfit.models import LinearSVM, make_model
from linfit.preprocess import Scaler, split_xy
from linfit.storage import persist

MODELS = [
    make_model("softmax", reg=1e-3),
    make_model("svm", reg=1e-3),
    LinearSVM(reg=1e-3, variant="squared_hinge"),
    LinearSVM(reg=1e-3, variant="squared_hinge", multiclass="one-vs-rest"),
    make_model("least-squares", reg=1e-3),
    make_model("relu", reg=1e-3),
]


def small_problem(dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    X = sp.random(3000, 40, density=0.1, format="csr", random_state=seed, dtype=dtype)
    X.data *= 5  # values on another scale than 1, so scaling matters
    return X, rng.integers(0, 3, 3000), rng.standard_normal(3000)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.describe())
def test_loss_gradient_and_hessian_equal_the_dense_ones(model):
    """3000 rows span several row blocks, so the blocked sums are exercised too."""
    X, labels, values = small_problem()
    y = labels if model.is_classifier else values
    rng = np.random.default_rng(1)
    params = rng.standard_normal((X.shape[1] + 1) * model.n_outputs(y))
    dense = X.toarray()
    f, g = model.loss_gradient(params, X, y)
    f_dense, g_dense = model.loss_gradient(params, dense, y)
    assert f == pytest.approx(f_dense, rel=1e-13)
    np.testing.assert_allclose(g, g_dense, rtol=1e-12, atol=1e-14)
    assert model.loss(params, X, y) == pytest.approx(f_dense, rel=1e-13)
    if model.has_hessian:
        v = rng.standard_normal(params.size)
        np.testing.assert_allclose(
            model.hessp(params, X, y, v), model.hessp(params, dense, y, v), rtol=1e-12, atol=1e-14
        )
        np.testing.assert_allclose(
            model.hessian(params, X, y), model.hessian(params, dense, y), rtol=1e-12, atol=1e-14
        )
        assert model.objective(X, y).hess is None  # Newton uses products on sparse X
    for method in ("decision_function", "predict"):
        np.testing.assert_allclose(
            getattr(model, method)(params, X), getattr(model, method)(params, dense), rtol=1e-13
        )


def test_standardization_scales_without_centring():
    X, _, _ = small_problem()
    dense = X.toarray()
    scaler = Scaler.fit(X)
    assert not scaler.mean.any()
    np.testing.assert_allclose(scaler.scale, dense.std(axis=0), rtol=1e-13)
    scaled = scaler.transform(X)
    assert sp.issparse(scaled) and scaled.nnz == X.nnz
    np.testing.assert_allclose(scaled.toarray(), dense / dense.std(axis=0), rtol=1e-13)
    assert X.data.max() > 1  # the input is untouched
    with pytest.raises(ValueError, match="centring would make a sparse matrix dense"):
        Scaler.fit(dense).transform(X)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fit_on_sparse_equals_fit_on_the_dense_scaled_matrix(dtype):
    """Standardized sparse training is training on X / std (no centring): the dense
    path's optimum given that matrix, unstandardized (sums in another order take the
    iterations apart by rounding, so the optimum is compared at a tight tolerance)."""
    X, labels, _ = small_problem(dtype)
    model = make_model("softmax", reg=1e-3)
    trained = fit(model, X, labels, gtol=1e-10)
    result = trained.result
    scale = Scaler.fit(X).scale
    dense = (X.toarray() / scale).astype(dtype)
    # the same solver (sparse rows default to tron, dense ones to the model's lbfgs)
    solver = result.method
    expected = fit(model, dense, labels, standardize=False, gtol=1e-10, solver=solver).result
    assert result.fun == pytest.approx(expected.fun, rel=1e-12 if dtype == np.float64 else 1e-6)
    tight = dtype == np.float64
    # float32 products resolve the optimum to ~1e-4: a gradient rounded to ~1e-7 moves a
    # parameter by up to that over the weakest curvature, 2 reg = 2e-3, so ~5e-5 whatever
    # the parameter's size (measured on seeds 0-3: up to 2.5e-5, on parameters up to 0.1)
    # softmax's biases are defined up to a common shift, along which float32's rounding of
    # the gradient (not exactly zero there) lets tron's steps move: compared centred
    d = X.shape[1]
    np.testing.assert_allclose(
        center_bias(model, result.x, d), center_bias(model, expected.x, d),
        rtol=1e-6 if tight else 1e-2, atol=1e-8 if tight else 1e-4,
    )  # fmt: skip
    # prediction on sparse and on dense rows of the same data agrees
    np.testing.assert_array_equal(trained.predict(X), trained.predict(X.toarray()))
    np.testing.assert_allclose(
        trained.predict_proba(X),
        trained.predict_proba(X.toarray()),
        rtol=1e-10 if tight else 1e-5,
        atol=1e-12 if tight else 1e-6,
    )
    np.testing.assert_allclose(trained.feature_means, X.toarray().mean(axis=0), rtol=1e-5)


def test_newton_on_sparse_reaches_the_dense_optimum():
    X, _, values = small_problem()
    model = make_model("least-squares", reg=1e-3)
    sparse = fit(model, X, values, solver="newton", standardize=False, gtol=1e-10).result
    dense = fit(model, X.toarray(), values, solver="newton", standardize=False, gtol=1e-10).result
    assert sparse.nhev > 0  # conjugate gradient on Hessian products (dense: Cholesky)
    np.testing.assert_allclose(sparse.x, dense.x, rtol=1e-7, atol=1e-9)


def test_what_sparse_cannot_do_yet_is_one_line():
    X, _, values = small_problem()
    with pytest.raises(Exception, match="does not train on sparse data yet"):
        fit(make_model("relu"), X, values)
    with pytest.raises(Exception, match="not a sparse X"):
        fit(make_model("least-squares"), X, values, chunk_rows=100)


# ------------------------------------------------------------ 100,000 features


def wide_problem(n=20_000, d=100_000, seed=0):
    """CSR (n, d) with 20 stored values a row: 5 among 20 informative features, 15 among
    the other 99,980; labels from a softmax-style model on the informative ones."""
    rng = np.random.default_rng(seed)
    signal = rng.choice(20, size=(n, 5))
    noise = rng.integers(20, d, size=(n, 15))
    columns = np.sort(np.concatenate([signal, noise], axis=1), axis=1)
    X = sp.csr_matrix(
        (rng.standard_normal(columns.size), columns.ravel(), np.arange(0, columns.size + 1, 20)),
        shape=(n, d),
    )
    X.sum_duplicates()
    W = np.zeros((d, 3))
    W[:20] = rng.standard_normal((20, 3))
    y = np.argmax(X @ W + 0.3 * rng.standard_normal((n, 3)), axis=1)
    return X, y


@pytest.fixture(scope="module")
def wide():
    return wide_problem()


def test_training_on_100000_features_never_densifies(wide):
    X, y = wide
    assert X.shape[1] == 100_000 and X.shape[0] * X.shape[1] * 8 > 15e9  # 16 GB dense
    X_train, y_train, X_test, y_test = split_xy(X, y, test_size=0.2, seed=0, stratify=True)
    tracemalloc.start()
    try:
        trained = fit(make_model("softmax", reg=1e-4), X_train, y_train, standardize=False)
        result = trained.result
        accuracy = float(np.mean(trained.predict(X_test) == y_test))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.success, result.message
    assert peak < 300e6, f"peak {peak / 1e6:.0f} MB"  # measured ~80 MB
    assert accuracy > 0.85  # measured 0.93 (the informative features alone: 0.93)


def test_the_command_line_trains_on_a_100000_feature_libsvm_file(tmp_path, wide):
    """2e9 cells: over the limit made dense, so the file is read, split, trained on,
    saved, predicted from and scored as CSR."""
    X, y = wide
    svm = tmp_path / "wide.svm"
    dump_svmlight_file(X, y, str(svm), zero_based=False)
    model = tmp_path / "wide.linfit"
    args = ["train", svm, "--out", model, "--reg", "1e-4", "--no-standardize", "--json", "-q"]
    payload = json_stdout(invoke(args).stdout)
    assert payload["converged"] and payload["metrics"]["test_accuracy"] > 0.85
    assert persist.load(model).n_features == 100_000
    scores = json_stdout(invoke(["evaluate", model, svm, "--json", "-q"]).stdout)
    n_train, n_test = 16_000, 4_000
    expected = (
        n_train * payload["metrics"]["train_accuracy"]
        + n_test * payload["metrics"]["test_accuracy"]
    ) / (n_train + n_test)
    assert scores["metrics"]["eval_accuracy"] == pytest.approx(expected, abs=1e-12)
    result = invoke(["solve-ls", svm], ok=False)
    assert "solve-ls needs a dense matrix" in assert_one_error_line(result.stderr)
