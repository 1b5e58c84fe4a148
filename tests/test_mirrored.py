"""A binary classifier fitted on one score column (``linfit.models.mirrored``).

The claims: on the mirror ``W = [u, -u]`` the one-column objective is half the classifier's
objective and its gradient, Hessian products and preconditioner diagonal are the
projections of the classifier's (checked against the two-column model evaluated at the
unfolded point, and against finite differences); and a fit through the mirror reaches the
optimum that every optimizer finds on the full two-column objective (the oracle: the
optimizer run directly on ``model.objective``, which searches both columns freely).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from core_problems import classification_data, exact_optimizers

import linfit
from linfit.checks.gradcheck import check_model
from linfit.errors import ConvergenceWarning
from linfit.models import LinearSVM, SoftmaxClassifier
from linfit.models.mirrored import Mirrored, fold, mirrors, unfold
from linfit.optim import OPTIMIZERS

CLASSIFIERS = [
    ("softmax", SoftmaxClassifier(reg=1e-2)),
    ("ww-hinge", LinearSVM(reg=1e-2, variant="hinge")),
    ("ww-squared", LinearSVM(reg=1e-2, variant="squared_hinge")),
    ("ovr-hinge", LinearSVM(reg=1e-2, variant="hinge", multiclass="one-vs-rest")),
    ("ovr-squared", LinearSVM(reg=1e-2, variant="squared_hinge", multiclass="one-vs-rest")),
]
SMOOTH = [(label, m) for label, m in CLASSIFIERS if m.has_hessian]


def _binary(seed: int = 0, n: int = 80, d: int = 5):
    X, y = classification_data(np.random.default_rng(seed), n, d, 2)
    return X, y


@pytest.mark.parametrize("model", [m for _, m in CLASSIFIERS], ids=[c for c, _ in CLASSIFIERS])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_half_objective_and_projected_gradient(model, sparse):
    """phi(u) = f([u, -u]) / 2 and grad phi = the first column of grad f there, which is
    minus the second (1e-12), with and without sample weights."""
    X, y = _binary()
    rng = np.random.default_rng(1)
    w = rng.uniform(0.2, 2.0, y.size)
    Xm = sp.csr_matrix(X) if sparse else X
    half = Mirrored.of(model)
    u = rng.standard_normal(X.shape[1] + 1)
    for weights in (None, w):
        f_half, g_half = half.loss_gradient(u, Xm, y, weights)
        f_full, g_full = model.loss_gradient(unfold(u, X.shape[1]), Xm, y, weights)
        assert f_half == pytest.approx(f_full / 2, rel=1e-12)
        np.testing.assert_allclose(unfold(g_half, X.shape[1]), g_full, rtol=1e-12, atol=1e-14)
        assert half.loss(u, Xm, y, weights) == pytest.approx(f_half, rel=1e-12)


@pytest.mark.parametrize("model", [m for _, m in SMOOTH], ids=[c for c, _ in SMOOTH])
def test_half_hessian_is_the_projected_hessian(model):
    """H_phi v = P^T H P v / 2 with P v = [v, -v] (1e-12); the dense Hessian and the
    preconditioner's diagonal agree with it."""
    X, y = _binary(seed=2)
    d = X.shape[1]
    rng = np.random.default_rng(3)
    half = Mirrored.of(model)
    u, v = rng.standard_normal(d + 1), rng.standard_normal(d + 1)
    full_Hv = model.hessp(unfold(u, d), X, y, unfold(v, d))
    expected = fold(full_Hv, d)  # (Hv_0 - Hv_1) / 2, the projection halved
    np.testing.assert_allclose(half.hessp(u, X, y, v), expected, rtol=1e-12, atol=1e-14)
    H = half.hessian(u, X, y)
    np.testing.assert_allclose(H @ v, expected, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(half.preconditioner_diagonal(u, X, y), np.diag(H), rtol=1e-10)


@pytest.mark.parametrize("model", [m for _, m in CLASSIFIERS], ids=[c for c, _ in CLASSIFIERS])
def test_half_derivatives_match_finite_differences(model):
    X, y = _binary(seed=4)
    half = Mirrored.of(model)
    rng = np.random.default_rng(5)
    report = check_model(half, X, y, 0.1 * rng.standard_normal(X.shape[1] + 1), rng=rng)
    assert report.passed, report


def test_fold_is_the_nearest_mirrored_point():
    """fold(unfold(u)) = u, and fold of any point is the orthogonal projection (the
    residual is orthogonal to every mirrored direction)."""
    rng = np.random.default_rng(6)
    d = 4
    u = rng.standard_normal(d + 1)
    np.testing.assert_array_equal(fold(unfold(u, d), d), u)
    theta = rng.standard_normal(2 * (d + 1))
    residual = theta - unfold(fold(theta, d), d)
    assert abs(residual @ unfold(rng.standard_normal(d + 1), d)) < 1e-12


def test_only_convex_binary_classifiers_mirror():
    assert mirrors(SoftmaxClassifier(), 2)
    assert not mirrors(SoftmaxClassifier(), 3)
    assert not mirrors(LinearSVM(), 3)
    from linfit.models import LeastSquares, ReLURegressor

    assert not mirrors(LeastSquares(), 2)
    assert not mirrors(ReLURegressor(), 2)


def _full_search(model, X, y, name):
    """The oracle: the optimizer on the two-column objective, both columns free."""
    start = np.zeros(2 * (X.shape[1] + 1))
    return OPTIMIZERS[name](model.objective(X, y), start, gtol=1e-9, max_iter=5000)


@pytest.mark.parametrize("name", exact_optimizers())
@pytest.mark.parametrize("model", [m for _, m in SMOOTH], ids=[c for c, _ in SMOOTH])
def test_fit_through_the_mirror_reaches_the_full_optimum(model, name):
    """linfit.fit searches the mirror; its optimum is the full search's (objective and
    weights, and one-vs-rest's biases, within what both runs' gradients allow:
    softmax's and Weston-Watkins' biases are free up to a common shift, which the mirror
    centres), the reported objective is the full one at the returned
    two-column parameters, and its gradient the full gradient there."""
    X, y = _binary(seed=7)
    trained = linfit.fit(model, X, y, solver=name, standardize=False, gtol=1e-9, max_iter=5000)
    oracle = _full_search(model, X, y, name)
    assert trained.result.x.size == 2 * (X.shape[1] + 1)
    f, g = model.loss_gradient(trained.result.x, X, y)
    assert trained.result.fun == pytest.approx(f, rel=1e-14)  # what the full model says
    np.testing.assert_allclose(trained.result.jac, g, rtol=1e-13, atol=1e-16)
    # both runs stop with small gradients (gd and the quasi-Newtons on ftol, up to 7e-7):
    # with curvature >= 2 reg, each is within |g|^2 / (4 reg) of the optimum (measured gaps
    # at most 3e-12 relative, where the bound allows about 1e-10)
    gap = (g @ g + oracle.jac @ oracle.jac) / (4 * model.reg)
    assert abs(trained.result.fun - oracle.fun) <= gap + 1e-15 * oracle.fun
    W, _ = model.unpack(trained.result.x, X.shape[1])
    np.testing.assert_array_equal(W[:, 1], -W[:, 0])
    # the objective is 2 reg-strongly convex in W: |x - x*| <= |g| / (2 reg) for each run
    # (gd may stop at max_iter a little short of gtol)
    bound = (np.linalg.norm(g) + np.linalg.norm(oracle.jac)) / (2 * model.reg) + 1e-9
    W_oracle, _ = model.unpack(oracle.x, X.shape[1])
    assert np.linalg.norm(W - W_oracle) <= bound
    if getattr(model, "multiclass", None) == "one-vs-rest":  # the biases' curvature, from
        assert np.linalg.norm(trained.result.x - oracle.x) <= bound  # the loss, is larger


@pytest.mark.parametrize("model", [m for _, m in CLASSIFIERS], ids=[c for c, _ in CLASSIFIERS])
def test_nonsmooth_fit_through_the_mirror_is_as_good(model):
    """The hinge losses with lbfgs: the mirror's optimum is no worse than the free search's
    (1e-6 relative; neither is exact on a kinked objective)."""
    X, y = _binary(seed=8)
    trained = linfit.fit(model, X, y, solver="lbfgs", standardize=False, max_iter=5000)
    oracle = _full_search(model, X, y, "lbfgs")
    assert trained.result.fun <= oracle.fun * (1 + 1e-6)


def test_history_and_callback_speak_of_the_full_objective():
    """Every record the callback sees and the history keeps has the full objective: the
    last equals the result's objective, and each is the two-column objective at that
    iteration (the first is the start's, log 2 for softmax at zero)."""
    X, y = _binary(seed=9)
    seen = []
    trained = linfit.fit(
        SoftmaxClassifier(reg=1e-2), X, y, solver="lbfgs", standardize=False, callback=seen.append
    )
    history = trained.result.history
    assert [r.fun for r in seen] == [r.fun for r in history]
    assert history[0].fun == pytest.approx(np.log(2), rel=1e-12)
    assert history[-1].fun == pytest.approx(trained.result.fun, rel=1e-15)


def test_warm_start_from_a_two_column_model():
    """A warm start from a saved two-column fit begins at that fit's objective (1e-12)."""
    X, y = _binary(seed=10)
    model = LinearSVM(reg=1e-2, variant="squared_hinge", multiclass="one-vs-rest")
    with pytest.warns(ConvergenceWarning):  # stopped early on purpose
        first = linfit.fit(model, X, y, solver="tron", max_iter=2)
    second = linfit.fit(model, X, y, solver="tron", init=first)
    assert second.result.history[0].fun == pytest.approx(first.result.fun, rel=1e-12)
