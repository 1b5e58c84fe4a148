"""The one-vs-rest SVM: its loss, its derivatives, and its optimum as K binary SVMs."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize
from cli_helpers import IRIS, invoke

from linfit.checks.gradcheck import check_model, random_problem
from linfit.models import LinearSVM
from linfit.optim import minimize
from linfit.storage import persist


def _loop_loss(S: np.ndarray, y: np.ndarray, squared: bool, margin: float = 1.0) -> float:
    """sum_k h(margin - t_ik s_ik), t = +1 for the true class: written sample by sample."""
    total = 0.0
    for i in range(S.shape[0]):
        for k in range(S.shape[1]):
            term = max(0.0, margin - (1.0 if k == y[i] else -1.0) * S[i, k])
            total += term**2 if squared else term
    return total / S.shape[0]


@pytest.mark.parametrize("variant", ["hinge", "squared_hinge"])
def test_loss_matches_a_sample_by_sample_formula(variant):
    rng = np.random.default_rng(3)
    model = LinearSVM(reg=0.0, variant=variant, multiclass="one-vs-rest", margin=1.0)
    X, y, params = random_problem(model, rng, n_samples=30, n_features=4, n_classes=4)
    expected = _loop_loss(model.decision_function(params, X), y, variant == "squared_hinge")
    assert model.loss(params, X, y) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("variant", ["hinge", "squared_hinge"])
def test_gradient_and_hessian_vector_product_match_finite_differences(seed, variant):
    rng = np.random.default_rng(seed)
    model = LinearSVM(reg=0.05, variant=variant, multiclass="one-vs-rest")
    X, y, params = random_problem(model, rng)
    report = check_model(model, X, y, params, rng=rng)
    assert report.passed, report
    assert report.checked >= 0.8 * params.size  # kinks skipped, most coordinates checked


def test_optimum_is_k_independent_binary_svms():
    """Squared hinge, one-vs-rest: the classes decouple, so each column of W (and its bias)
    is the optimum of its own binary problem, solved here by scipy on a separate loss."""
    rng = np.random.default_rng(7)
    X, y = rng.standard_normal((120, 3)), rng.integers(0, 3, 120)
    reg = 1e-2
    model = LinearSVM(reg=reg, variant="squared_hinge", multiclass="one-vs-rest")
    res = minimize(model.objective(X, y), model.initial_params(X, y), "newton", gtol=1e-10)
    assert res.success
    W, b = model.unpack(res.x, 3)
    n = len(y)
    for k in range(3):
        t = np.where(y == k, 1.0, -1.0)

        def binary(z, t=t):
            w, c = z[:3], z[3]
            m = np.maximum(0.0, 1.0 - t * (X @ w + c))
            grad_s = -2.0 * t * m / n
            return m @ m / n + reg * w @ w, np.r_[X.T @ grad_s + 2 * reg * w, grad_s.sum()]

        ref = scipy.optimize.minimize(
            binary,
            np.zeros(4),
            jac=True,
            method="L-BFGS-B",
            options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 10_000},
        )
        np.testing.assert_allclose(np.r_[W[:, k], b[k]], ref.x, rtol=0, atol=1e-6)


def test_cli_trains_saves_and_reloads_the_one_vs_rest_form(tmp_path):
    invoke(
        [
            "train",
            IRIS,
            "--model",
            "svm",
            "--multiclass",
            "one-vs-rest",
            "--out",
            tmp_path / "m.linfit",
            "--quiet",
        ]
    )
    assert persist.load(tmp_path / "m.linfit").model.multiclass == "one-vs-rest"
    result = invoke(["train", IRIS, "--model", "softmax", "--multiclass", "one-vs-rest"], ok=False)
    assert result.exit_code == 2 and "--multiclass" in result.stderr
