"""Sample and class weights through ``linfit.fit``: every model, solver and engine.

Oracles: the data themselves (integer weights are repeated rows, zero weights dropped
rows: the same optimum, 1e-8 relative on the objective), scikit-learn's weighted
``LinearRegression`` for least squares (an independent solver), and the in-memory fit
for the out-of-core engine.
"""

from __future__ import annotations

import numpy as np
import pytest
from core_problems import data_for
from sklearn.linear_model import LinearRegression

import linfit
from linfit.errors import DataError, OptionError
from linfit.fitting import SOLVERS
from linfit.models import CLOSED_FORMS, LeastSquares, LinearSVM, ReLURegressor, SoftmaxClassifier

# the optimum's objective when weights are counts and when they are repeated rows
OBJECTIVE_RTOL = 1e-8
TIGHT = {"gtol": 1e-10, "ftol": 0.0, "max_iter": 5000}

MODELS = {
    "softmax": SoftmaxClassifier(reg=1e-2),
    "svm-squared": LinearSVM(reg=1e-2, variant="squared_hinge"),
    "svm-hinge": LinearSVM(reg=1e-2),
    "least-squares": LeastSquares(reg=1e-3),
    "relu": ReLURegressor(reg=1e-3),
}


def _problem(model, seed=0, n=120):
    rng = np.random.default_rng(seed)
    X, y = data_for(model, rng, n_samples=n, n_features=4, n_classes=3)
    X = X * [1.0, 3.0, 0.5, 2.0] + [0.0, 1.0, -2.0, 5.0]  # unequal moments: scaling matters
    counts = rng.integers(0, 4, size=n)
    counts[:3] = 1  # every class keeps a row
    return X, y, counts


def _repeat(X, y, counts):
    rows = np.repeat(np.arange(len(y)), counts)
    return X[rows], y[rows]


def _solver_for(model):
    return "bfgs" if not model.differentiable and model.convex else None


@pytest.mark.parametrize("name", list(MODELS))
def test_integer_weights_train_as_repeated_rows(name):
    model = MODELS[name]
    X, y, counts = _problem(model)
    options = {**TIGHT, "solver": _solver_for(model)}
    weighted = linfit.fit(model, X, y, sample_weight=counts, **options)
    repeated = linfit.fit(model, *_repeat(X, y, counts), **options)
    np.testing.assert_allclose(weighted.scaler.mean, repeated.scaler.mean, rtol=1e-12)
    np.testing.assert_allclose(weighted.scaler.scale, repeated.scaler.scale, rtol=1e-12)
    assert weighted.result.fun == pytest.approx(repeated.result.fun, rel=OBJECTIVE_RTOL)
    # the same model: its scores on the data agree (the optima to the optimizers' tolerance)
    X_rep, _ = _repeat(X, y, counts)
    np.testing.assert_allclose(
        weighted.decision_function(X_rep), repeated.decision_function(X_rep), rtol=1e-4, atol=1e-4
    )


@pytest.mark.parametrize("name", ["softmax", "least-squares"])
def test_zero_weights_train_as_dropped_rows(name):
    model = MODELS[name]
    X, y, counts = _problem(model, seed=1)
    keep = counts > 0
    weighted = linfit.fit(model, X, y, sample_weight=keep.astype(float), **TIGHT)
    dropped = linfit.fit(model, X[keep], y[keep], **TIGHT)
    assert weighted.result.fun == pytest.approx(dropped.result.fun, rel=OBJECTIVE_RTOL)
    np.testing.assert_allclose(weighted.params, dropped.params, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("method", CLOSED_FORMS)
def test_weighted_closed_forms_equal_scikit_learn(method):
    """Weighted least squares by every closed form: scikit-learn's weighted
    ``LinearRegression`` to 1e-9, in raw units; and repeated rows to 1e-10."""
    X, y, counts = _problem(LeastSquares(), seed=2)
    w = counts * np.random.default_rng(3).uniform(0.5, 2.0, counts.size)  # not integers
    trained = linfit.fit(LeastSquares(reg=0.0), X, y, solver=method, sample_weight=w)
    coef, intercept = trained.coefficients()
    oracle = LinearRegression().fit(X, y, sample_weight=w)
    np.testing.assert_allclose(coef.ravel(), oracle.coef_, rtol=1e-9, atol=1e-10)
    assert float(np.ravel(intercept)[0]) == pytest.approx(oracle.intercept_, rel=1e-9)
    rep = linfit.fit(LeastSquares(reg=1e-3), *_repeat(X, y, counts), solver=method)
    cnt = linfit.fit(LeastSquares(reg=1e-3), X, y, solver=method, sample_weight=counts)
    np.testing.assert_allclose(cnt.params, rep.params, rtol=1e-10, atol=1e-12)


@pytest.mark.filterwarnings("ignore::linfit.errors.ConvergenceWarning")  # sgd at max_iter
@pytest.mark.parametrize("solver", [s for s in SOLVERS if s not in ("dcd",)])
def test_every_solver_weighs_rows(solver):
    """Every solver of least squares reaches the weighted optimum (closed forms and the
    deterministic optimizers to 1e-6 of the objective's minimum; sgd to 1e-2)."""
    X, y, counts = _problem(LeastSquares(), seed=4)
    model = LeastSquares(reg=1e-3)
    exact = linfit.fit(model, X, y, solver="qr", sample_weight=counts)
    stochastic = SOLVERS[solver].stochastic
    options = {"max_iter": 200, "seed": 0} if stochastic else TIGHT
    got = linfit.fit(model, X, y, solver=solver, sample_weight=counts, **options)
    rel = 1e-2 if stochastic else 1e-6
    assert got.result.fun == pytest.approx(exact.result.fun, rel=rel)


@pytest.mark.parametrize("name", ["softmax", "least-squares", "relu"])
def test_out_of_core_weights_equal_in_memory(name):
    model = MODELS[name]
    X, y, counts = _problem(model, seed=5)
    memory = linfit.fit(model, X, y, sample_weight=counts, **TIGHT)
    chunked = linfit.fit(
        model, X, y, sample_weight=counts, engine="out-of-core", chunk_rows=17, **TIGHT
    )
    np.testing.assert_allclose(chunked.scaler.mean, memory.scaler.mean, rtol=1e-12)
    assert chunked.result.fun == pytest.approx(memory.result.fun, rel=OBJECTIVE_RTOL)
    np.testing.assert_allclose(chunked.feature_means, X.mean(axis=0), rtol=1e-12)


def test_balanced_class_weight_is_n_over_k_counts():
    model = SoftmaxClassifier(reg=1e-2)
    X, y, _ = _problem(model, seed=6)
    y = np.where(np.arange(y.size) % 5 == 0, 2, y % 2)  # class 2 rarer
    counts = np.bincount(y)
    per_row = y.size / (3 * counts[y])
    balanced = linfit.fit(model, X, y, class_weight="balanced", **TIGHT)
    by_rows = linfit.fit(model, X, y, sample_weight=per_row, **TIGHT)
    np.testing.assert_allclose(balanced.params, by_rows.params, rtol=1e-10, atol=1e-12)
    mapped = linfit.fit(
        model, X, y, class_weight={"2": 5.0}, sample_weight=np.ones(y.size), **TIGHT
    )
    by_map = linfit.fit(model, X, y, sample_weight=np.where(y == 2, 5.0, 1.0), **TIGHT)
    np.testing.assert_allclose(mapped.params, by_map.params, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"sample_weight": -np.ones(120)}, DataError, "negative"),
        ({"sample_weight": np.zeros(120)}, DataError, "zero on every row"),
        ({"sample_weight": np.full(120, np.nan)}, DataError, "missing"),
        ({"sample_weight": np.full(120, np.inf)}, DataError, "infinite"),
        ({"sample_weight": np.ones(7)}, OptionError, "one weight per row"),
        ({"class_weight": {"nope": 2.0}}, DataError, "not among the labels"),
        ({"class_weight": "heavy"}, OptionError, "balanced"),
        ({"class_weight": {0: 0.0, 1: 0.0, 2: 0.0}}, DataError, "every row weighs zero"),
    ],
)
def test_bad_weights_are_refused_in_one_line(kwargs, error, message):
    X, y, _ = _problem(SoftmaxClassifier())
    with pytest.raises(error, match=message) as caught:
        linfit.fit(SoftmaxClassifier(), X, y, **kwargs)
    assert "\n" not in str(caught.value)


def test_class_weight_is_for_classifiers():
    X, y, _ = _problem(LeastSquares())
    with pytest.raises(OptionError, match="for classifiers"):
        linfit.fit(LeastSquares(), X, y, class_weight="balanced")
