"""Fits without an intercept: the bias held at zero on every path (closed forms, every
optimizer, the CLI, the scikit-learn estimators, a model file), each against an oracle."""

from __future__ import annotations

import numpy as np
import pytest
from cli_helpers import invoke, json_stdout
from sklearn.linear_model import LogisticRegression

from linfit import fit
from linfit.models import LeastSquares, SoftmaxClassifier
from linfit.optim import OPTIMIZERS
from linfit.sklearn import LeastSquaresRegressor
from linfit.sklearn import SoftmaxClassifier as SoftmaxEstimator
from linfit.storage import persist


def _regression(seed=0, n=200, d=4):
    rng = np.random.default_rng(seed)
    X = rng.normal(2.0, [1.0, 3.0, 0.5, 2.0][:d], (n, d))  # non-zero means: centring would matter
    return X, X @ rng.normal(size=d) + 0.3 * rng.normal(size=n)


@pytest.mark.parametrize(
    "solver", ["auto", "normal", "qr", "pinv", "lstsq", "lbfgs", "newton", "bfgs", "tron"]
)
@pytest.mark.parametrize("standardize", [False, True])
def test_least_squares_through_the_origin_equals_numpy(solver, standardize):
    """Every solver, standardized (scaled, not centred) or not: numpy's lstsq on X alone
    (closed forms 1e-10 relative, optimizers to gtol 1e-12: 1e-7, the smallest weight
    being ~10x less determined than the others), bias exactly zero."""
    X, y = _regression()
    expected = np.linalg.lstsq(X, y, rcond=None)[0]
    trained = fit(
        LeastSquares(reg=0.0, fit_intercept=False),
        X,
        y,
        solver=solver,
        standardize=standardize,
        gtol=1e-12,
    )
    W, b = trained.coefficients()
    rtol = 1e-10 if solver in ("auto", "normal", "qr", "pinv", "lstsq") else 1e-7
    np.testing.assert_allclose(W[:, 0], expected, rtol=rtol)
    assert b[0] == 0.0


@pytest.mark.parametrize(
    "optimizer", sorted(n for n in OPTIMIZERS if n != "gd" and not OPTIMIZERS[n].stochastic)
)
def test_softmax_without_intercept_equals_scikit_learn(optimizer):
    """Softmax with the bias off: scikit-learn's LogisticRegression(fit_intercept=False)
    with C = 1 / (2 n reg) on the same raw features, coefficients to 1e-5 relative."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 3)) + 1.0
    y = (X @ rng.normal(size=(3, 3))).argmax(axis=1)
    reg = 1e-2
    trained = fit(
        SoftmaxClassifier(reg=reg, fit_intercept=False),
        X,
        y,
        solver=optimizer,
        standardize=False,
        gtol=1e-10,
    )
    W, b = trained.coefficients()
    sk = LogisticRegression(
        C=1 / (2 * 300 * reg), fit_intercept=False, tol=1e-12, max_iter=10_000
    ).fit(X, y)
    # scikit-learn's multinomial weights are defined up to a common shift per feature
    ours, theirs = (
        W - W.mean(axis=1, keepdims=True),
        sk.coef_.T - sk.coef_.T.mean(axis=1, keepdims=True),
    )
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-7)
    assert np.all(b == 0.0)


def test_estimators_take_fit_intercept_and_files_keep_it(tmp_path):
    X, y = _regression(2)
    reg = LeastSquaresRegressor(reg=0.0, method="auto", fit_intercept=False).fit(X, y)
    np.testing.assert_allclose(reg.coef_, np.linalg.lstsq(X, y, rcond=None)[0], rtol=1e-10)
    assert reg.intercept_ == 0.0
    clf = SoftmaxEstimator(fit_intercept=False).fit(X, (y > np.median(y)).astype(int))
    assert np.all(clf.intercept_ == 0.0)
    trained = fit(LeastSquares(reg=0.0, fit_intercept=False), X, y, solver="auto")
    persist.save(trained, tmp_path / "m.linfit")
    loaded = persist.load(tmp_path / "m.linfit")
    assert loaded.model.fit_intercept is False
    np.testing.assert_array_equal(loaded.predict(X), trained.predict(X))


def test_train_no_intercept_on_the_command_line(tmp_path):
    X, y = _regression(3)
    path = tmp_path / "d.csv"
    np.savetxt(path, np.column_stack([X, y]), delimiter=",", header="a,b,c,d,target", comments="")
    out = tmp_path / "m.linfit"
    args = [
        "train",
        path,
        "--model",
        "least-squares",
        "--no-intercept",
        "--optimizer",
        "auto",
        "--reg",
        "0",
    ]
    run = json_stdout(invoke([*args, "--test-size", "0", "--out", out, "--json", "-q"]).stdout)
    assert run["intercept"] == 0.0
    np.testing.assert_allclose(
        list(run["coef"].values()), np.linalg.lstsq(X, y, rcond=None)[0], rtol=1e-8
    )
    ls = json_stdout(invoke(["solve-ls", path, "--no-intercept", "--json", "--quiet"]).stdout)
    assert ls["intercept"] == 0.0 and "(intercept)" not in ls["inference"]["coef"]


@pytest.mark.parametrize("intercept", [True, False])
def test_solve_ls_lists_the_intercept_only_when_it_is_fitted(tmp_path, intercept):
    """With a penalty there is no regression table: the plain coefficient table lists an
    ``(intercept)`` row exactly when the intercept is estimated (even if it comes out 0)."""
    path = tmp_path / "d.csv"
    X, y = _regression(4)
    y = y - y.mean()  # an intercept near 0 must still be listed when fitted
    np.savetxt(path, np.column_stack([X, y]), delimiter=",", header="a,b,c,d,target", comments="")
    flag = "--intercept" if intercept else "--no-intercept"
    shown = invoke(["solve-ls", path, "--reg", "0.1", flag]).stderr
    assert ("(intercept)" in shown) == intercept
