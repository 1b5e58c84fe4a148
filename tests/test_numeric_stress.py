"""Numerical stress: huge scores, huge features, nearly singular normal equations.

Each gives a correct result (within the tolerance stated at the test) or an explicit
error, never a silent NaN model. The model-level checks live elsewhere
(``test_corrections.py``: softmax's loss and gradient at scores of 1e4;
``test_models.py``: the normal equations' refusal threshold); these go through training,
saved model files and the commands.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helpers import invoke, json_stdout

from linfit.fitting import TrainedModel, fit
from linfit.fitting.solve_ls import solve_least_squares
from linfit.models import make_model
from linfit.storage import persist

SCALE = 1e12


def _regression(rng: np.random.Generator, n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    X = rng.normal(size=(n, 4))
    return X, X @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.3 + 0.1 * rng.normal(size=n)


def _target_for(model: str, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    if model in ("softmax", "svm"):
        return np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))  # 3 classes
    return np.maximum(y, 0.0) if model == "relu" else y


def _fit(model: str, X: np.ndarray, y: np.ndarray, **kwargs) -> TrainedModel:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # svm's kinks stop it at max_iter: that is reported
        trained = fit(make_model(model), X, y, max_iter=300, **kwargs)
    return trained


# --------------------------------------------------------------------------- 1e12 features


@pytest.mark.parametrize("model", ["least-squares", "softmax", "svm", "relu"])
def test_features_on_a_1e12_scale_train_the_same_model(model: str) -> None:
    """Standardization (the default) makes the scale irrelevant: the raw coefficients
    scale by 1e-12 and the predictions agree. Measured differences: ~1e-14 relative
    (rounding in the scaler), tolerance 1e-8; for the hinge SVM, whose kinked objective
    stops at max_iter, rounding moves the path further (measured 6e-6), tolerance 1e-4."""
    X, y = _regression(np.random.default_rng(1))
    y = _target_for(model, X, y)
    small, big = _fit(model, X, y), _fit(model, X * SCALE, y)
    (W1, b1), (W2, b2) = small.coefficients(), big.coefficients()
    tol = 1e-4 if model == "svm" else 1e-8
    np.testing.assert_allclose(W2 * SCALE, W1, rtol=tol, atol=tol * np.abs(W1).max())
    np.testing.assert_allclose(b2, b1, rtol=tol, atol=tol * np.abs(b1).max())
    if small.classes is None:
        np.testing.assert_allclose(big.predict(X * SCALE), small.predict(X), rtol=1e-8)
    else:
        assert (big.predict(X * SCALE) == small.predict(X)).all()


@pytest.mark.parametrize("model", ["least-squares", "softmax", "svm", "relu"])
def test_unstandardized_1e12_features_never_give_a_silent_nan_model(model: str) -> None:
    """Without standardization the problem is conditioned ~1e24 and may not converge:
    the parameters stay finite and the summary says whether it converged, and why."""
    X, y = _regression(np.random.default_rng(2))
    y = _target_for(model, X, y)
    trained = _fit(model, X * SCALE, y, standardize=False)
    assert np.isfinite(trained.params).all()
    assert isinstance(trained.summary["converged"], bool) and trained.summary["message"]
    predictions = trained.predict(X * SCALE)
    if trained.classes is None:
        assert np.isfinite(predictions).all()


def test_least_squares_on_1e12_features() -> None:
    """Every closed form gives the unit-scale solution scaled by 1e-12 (measured at most
    3.1e-15 relative, lstsq; tolerance 1e-13, a few dozen roundings of a problem whose
    column-scaled condition is 1.2),
    with the same residual: cond(X^T X) ~ 1e24 in raw units,
    but the normal equations, the QR and their rank decisions work on the
    column-equilibrated problem, and the SVDs are invariant to a uniform scale."""
    X, y = _regression(np.random.default_rng(3))
    for method in ("auto", "normal", "qr", "pinv", "lstsq"):
        unit, big = (solve_least_squares(A, y, method=method) for A in (X, X * SCALE))
        np.testing.assert_allclose(big.coef * SCALE, unit.coef, rtol=1e-13)
        assert big.intercept == pytest.approx(unit.intercept, rel=1e-13)
        assert big.residual_norm == pytest.approx(unit.residual_norm, rel=1e-13)


# --------------------------------------------------------------------------- softmax 1e4


def test_softmax_scores_of_1e4_through_a_model_file(tmp_path: Path) -> None:
    """A saved softmax model whose scores reach ±1e5: ``predict --proba`` gives finite
    probabilities that sum to 1 (within 1e-12) and agree with the predicted class."""
    rng = np.random.default_rng(4)
    X = rng.normal(size=(60, 3))
    y = np.repeat(["a", "b", "c"], 20)
    trained = _fit("softmax", X, y)
    huge = TrainedModel(**{**trained.__dict__, "params": trained.params * 1e4})
    scores = huge.decision_function(X)
    assert np.abs(scores).max() > 1e4
    model = tmp_path / "huge.linfit"
    persist.save(huge, model)
    data = tmp_path / "x.csv"
    pd.DataFrame(X, columns=list(huge.feature_names)).to_csv(data, index=False)

    result = invoke(["predict", model, data, "--proba", "--json"])
    proba = np.array(json.loads(result.stdout)["predictions"], dtype=float)
    assert proba.shape == (60, 3) and np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    labels = np.array(json_stdout(invoke(["predict", model, data, "--json"]).stdout)["predictions"])
    assert (huge.classes[proba.argmax(axis=1)] == labels).all()
    assert (labels == huge.classes[scores.argmax(axis=1)]).all()


def test_softmax_on_separable_data_without_penalty_stays_finite() -> None:
    """reg=0 on separable classes: the optimum is at infinity, yet training ends with
    finite parameters and a stated status."""
    rng = np.random.default_rng(5)
    centres = np.array([[8.0, 0.0], [-8.0, 0.0], [0.0, 8.0]])
    X = np.vstack([rng.normal(size=(30, 2)) + c for c in centres])
    y = np.repeat([0, 1, 2], 30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trained = fit(make_model("softmax", reg=0.0), X, y, max_iter=2000)
    assert np.isfinite(trained.params).all() and trained.summary["message"]
    assert (trained.predict(X) == y).all()
    assert np.isfinite(trained.predict_proba(X)).all()


# --------------------------------------------------------------------------- near-singular


@pytest.fixture
def near_singular_csv(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """x4 = x0 + 1e-7 z: cond(Xh^T Xh) ~ 4e14, past the 1e12 the normal equations accept."""
    rng = np.random.default_rng(6)
    X, y = _regression(rng)
    X = np.column_stack([X, X[:, 0] + 1e-7 * rng.normal(size=len(y))])
    path = tmp_path / "near_singular.csv"
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])]).assign(y=y)
    frame.to_csv(path, index=False, float_format="%.17g")
    return path, X, y


@pytest.mark.parametrize("method", ["auto", "normal", "pinv"])
def test_nearly_singular_normal_equations_through_solve_ls(near_singular_csv, method) -> None:
    """solve-ls: no method refuses; the normal equations hand the problem to qr (and say
    so), every answer has the least-squares residual (within 1e-9 relative of numpy's
    lstsq) and reports the equilibrated condition (~1e7)."""
    path, X, y = near_singular_csv
    payload = json_stdout(invoke(["solve-ls", path, "--method", method, "--json"]).stdout)
    Xh = np.column_stack([X, np.ones(len(y))])
    best = np.linalg.norm(Xh @ np.linalg.lstsq(Xh, y, rcond=None)[0] - y)
    assert payload["residual_norm"] == pytest.approx(best, rel=1e-9)
    scaled = Xh / np.linalg.norm(Xh, axis=0)
    assert payload["cond"] == pytest.approx(np.linalg.cond(scaled), rel=1e-6)
    if method != "pinv":
        assert payload["solved_by"] == "qr" and "ill-conditioned" in payload["note"]


def test_nearly_singular_least_squares_training(near_singular_csv, tmp_path: Path) -> None:
    """train --model least-squares (L-BFGS on standardized features): the objective's
    curvature along x0 - x4 is ~1e-14, so a gradient method does not chase the noise the
    exact optimum fits with that direction (huge opposite weights on x0 and x4). The fit is
    the best one without it: finite, its residual within 1e-6 relative of lstsq on x0..x3
    (measured 5e-8), and never below the exact optimum."""
    path, X, y = near_singular_csv
    out = tmp_path / "ls.linfit"
    args = ["train", path, "--model", "least-squares", "--reg", "0", "--test-size", "0"]
    invoke([*args, "--out", out, "--no-cache", "--quiet"])
    trained = persist.load(out)
    assert np.isfinite(trained.params).all()
    predictions = trained.predict(X)
    residual = np.linalg.norm(predictions - y)
    Xh = np.column_stack([X, np.ones(len(y))])
    exact = np.linalg.norm(Xh @ np.linalg.lstsq(Xh, y, rcond=None)[0] - y)
    X4 = np.delete(Xh, 4, axis=1)
    without = np.linalg.norm(X4 @ np.linalg.lstsq(X4, y, rcond=None)[0] - y)
    assert exact * (1 - 1e-12) <= residual == pytest.approx(without, rel=1e-6)
