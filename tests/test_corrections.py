"""Each formula the design notes get wrong: linfit uses the right one, and the notes' version
is shown to be wrong (proof 8).

One test group per row of the corrections table (the notes themselves are not part of the
repository; their wrong formulas are restated here, in code, only to be refuted).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.linalg
import scipy.special
from core_problems import central_difference_gradient, classification_data, max_rel_diff

from linfit.linalg.qr import PINV_RCOND, pinv_solve
from linfit.models import LeastSquares, LinearSVM, ReLURegressor, SoftmaxClassifier
from linfit.optim import Objective, Status, minimize

# ---- SVM: the margin sits inside the max --------------------------------------------------


def _svm_loss_right(S, y, margin):
    return np.mean(
        [
            sum(max(0.0, S[i, j] - S[i, y[i]] + margin) for j in range(S.shape[1]) if j != y[i])
            for i in range(S.shape[0])
        ]
    )


def _svm_loss_note(S, y, margin):
    """The note: sum_{j != y_i} max(0, s_j - s_y_i) + Delta (margin outside the max)."""
    return np.mean(
        [
            sum(max(0.0, S[i, j] - S[i, y[i]]) for j in range(S.shape[1]) if j != y[i]) + margin
            for i in range(S.shape[0])
        ]
    )


def test_svm_margin_is_inside_the_max_on_one_sample():
    # scores s = (0, -0.5, -3), true class 0, margin 1:
    #   right: max(0, -0.5 + 1) + max(0, -3 + 1) = 0.5
    #   note:  max(0, -0.5) + max(0, -3) + 1 = 1 (or 2 with the margin added per term)
    model = LinearSVM(reg=0.0, margin=1.0)
    X, y = np.array([[0.0, -0.5, -3.0]]), np.array([0])
    params = model.pack(np.eye(3), np.zeros(3))  # scores = x
    assert model.loss(params, X, y) == 0.5
    assert _svm_loss_note(X, y, 1.0) == 1.0


def test_svm_loss_matches_the_per_sample_formula_not_the_note():
    rng = np.random.default_rng(81)
    X, y = classification_data(rng, n_samples=40, n_features=3, n_classes=4)
    model = LinearSVM(reg=0.0, margin=1.0)
    W, b = rng.standard_normal((3, 4)), rng.standard_normal(4)
    S = X @ W + b
    ours = model.loss(model.pack(W, b), X, y)
    assert ours == pytest.approx(_svm_loss_right(S, y, 1.0), rel=1e-13)
    assert abs(ours - _svm_loss_note(S, y, 1.0)) > 0.1


# ---- d(x^T A x)/dx = (A + A^T) x ------------------------------------------------------------


def test_quadratic_form_gradient_is_a_plus_a_transpose_not_2a():
    rng = np.random.default_rng(82)
    A = rng.standard_normal((5, 5))  # not symmetric
    x = rng.standard_normal(5)
    numeric = central_difference_gradient(lambda v: v @ A @ v, x)
    # truncation of a central difference on a quadratic is zero; rounding ~ eps |f| / h ~ 1e-10
    np.testing.assert_allclose(numeric, (A + A.T) @ x, rtol=0, atol=1e-8)
    assert np.max(np.abs(numeric - 2 * A @ x)) > 0.1


def test_least_squares_gradient_is_the_symmetrized_quadratic_form():
    """J(theta) = (theta^T A theta - 2 c^T theta + y^T y) / N for ANY A with the same quadratic
    form as Xh^T Xh, e.g. Xh^T Xh plus a skew-symmetric S. Our gradient is (A + A^T) theta / N
    - 2c / N for every such A; the note's 2 A theta / N - 2c / N is not."""
    rng = np.random.default_rng(83)
    N = 30
    X, y = rng.standard_normal((N, 3)), rng.standard_normal(N)
    Xh = np.column_stack([X, np.ones(N)])
    skew = rng.standard_normal((4, 4))
    A = Xh.T @ Xh + (skew - skew.T)
    c = Xh.T @ y
    theta = rng.standard_normal(4)
    model = LeastSquares(reg=0.0)
    f, g = model.loss_gradient(theta, X, y)
    assert f == pytest.approx((theta @ A @ theta - 2 * c @ theta + y @ y) / N, rel=1e-12)
    np.testing.assert_allclose(g, ((A + A.T) @ theta - 2 * c) / N, rtol=1e-10, atol=1e-12)
    assert np.max(np.abs(g - (2 * A @ theta - 2 * c) / N)) > 0.1


# ---- ReLU: the indicator belongs to each sample -----------------------------------------------


def _relu_problem():
    rng = np.random.default_rng(84)
    X = rng.standard_normal((40, 3))
    y = np.abs(rng.standard_normal(40)) + 0.1
    w, b = np.array([1.0, -0.7, 0.4]), 0.2
    z = X @ w + b
    assert 0.2 < np.mean(z > 0) < 0.8  # both kinds of samples are present
    return X, y, w, b, z


def test_relu_gradient_has_a_per_sample_indicator():
    X, y, w, b, z = _relu_problem()
    N = X.shape[0]
    model = ReLURegressor(reg=0.0)
    params = np.r_[w, b]
    _, g = model.loss_gradient(params, X, y)

    active = z > 0
    right_w = 2.0 / N * sum(active[i] * (max(0.0, z[i]) - y[i]) * X[i] for i in range(N))
    right_b = 2.0 / N * sum(active[i] * (max(0.0, z[i]) - y[i]) for i in range(N))
    np.testing.assert_allclose(g, np.r_[right_w, right_b], rtol=1e-12, atol=1e-14)

    # finite differences side with the per-sample indicator (no sample sits near its kink)
    assert np.min(np.abs(z)) > 1e-3
    numeric = central_difference_gradient(lambda p: model.loss(p, X, y), params, h=1e-6)
    np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=1e-9)

    # the note's split applies one case to every sample: the active formula without 1[z_i > 0]
    note_w = 2.0 / N * (X.T @ (z - y))
    assert np.max(np.abs(g[:3] - note_w)) > 0.1


def test_relu_inactive_samples_add_y_squared_to_the_loss_and_nothing_to_the_gradient():
    X, y, w, b, z = _relu_problem()
    model = ReLURegressor(reg=0.0)
    params = np.r_[w, b]
    residual = np.where(z > 0, z - y, -y)  # e_i = -y_i where inactive
    assert model.loss(params, X, y) == pytest.approx(np.mean(residual**2), rel=1e-13)
    note = np.mean((z - y) ** 2)  # the note's e_i = w.x_i + b - y_i for every sample
    assert abs(model.loss(params, X, y) - note) > 0.1

    inactive = z <= 0
    Xi, yi = X[inactive], y[inactive]
    f, g = model.loss_gradient(params, Xi, yi)
    assert f == pytest.approx(np.mean(yi**2), rel=1e-13)
    np.testing.assert_array_equal(g, np.zeros(4))


# ---- least squares: omega = pinv(X) y, with X the data matrix -------------------------------


def test_least_squares_solution_is_the_data_matrix_pseudo_inverse_times_y():
    # The note switches the matrix's name (A^dagger y); the matrix is the data matrix, here
    # with the column of ones that carries the bias.
    rng = np.random.default_rng(85)
    for n, d in ((40, 3), (4, 7)):  # tall and wide
        X, y = rng.standard_normal((n, d)), rng.standard_normal(n)
        Xh = np.column_stack([X, np.ones(n)])
        theta = LeastSquares(reg=0.0).solve(X, y, method="pinv")
        assert max_rel_diff(theta, np.linalg.pinv(Xh) @ y) < 1e-10


# ---- pseudo-inverse: "zero" means below rcond * max singular value ---------------------------


def _matrix_with_singular_values(rng, s, n=30):
    U = np.linalg.qr(rng.standard_normal((n, len(s))))[0]
    V = np.linalg.qr(rng.standard_normal((len(s), len(s))))[0]
    return U @ np.diag(s) @ V.T


def test_pinv_cuts_off_below_rcond_times_the_largest_singular_value():
    rng = np.random.default_rng(86)
    A = _matrix_with_singular_values(rng, [3.0, 2.0, 1.0, 1e-17])
    Y = rng.standard_normal((30, 2))
    ours = pinv_solve(A, Y)
    numpy_pinv = np.linalg.pinv(A) @ Y  # numpy's cut-off: 1e-15 * s_max
    assert PINV_RCOND == 1e-15
    assert max_rel_diff(ours, numpy_pinv) < 1e-8
    assert np.max(np.abs(ours)) < 10  # the three kept directions only

    # the note's b_ii = 1/a_ii for every "nonzero" computed singular value: 1/(rounding noise)
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    assert s[-1] != 0  # in floating point the 1e-17 direction is not exactly zero ...
    naive = Vt.T @ ((U.T @ Y) / s[:, None])
    assert np.max(np.abs(naive)) > 1e10  # ... and inverting it blows up


@pytest.mark.parametrize("scale", [1e-6, 1.0, 1e6])
def test_pinv_cut_off_is_relative_to_the_largest_singular_value(scale):
    rng = np.random.default_rng(87)
    Y = rng.standard_normal((30, 1))
    for small, kept in ((1e-14, True), (1e-16, False)):  # either side of 1e-15
        A = scale * _matrix_with_singular_values(rng, [1.0, 0.5, small])
        ours = pinv_solve(A, Y)
        assert max_rel_diff(ours, np.linalg.pinv(A) @ Y) < 1e-6
        huge = np.max(np.abs(ours)) * scale > 1e10  # a kept 1e-14 direction is inverted
        assert huge == kept


def test_least_squares_pinv_on_a_feature_equal_to_the_bias_column():
    rng = np.random.default_rng(88)
    X = rng.standard_normal((25, 3))
    X[:, 1] = 1.0 + 1e-17 * rng.standard_normal(25)  # rounds to 1: a copy of the ones column
    y = rng.standard_normal(25)
    Xh = np.column_stack([X, np.ones(25)])
    s = np.linalg.svd(Xh, compute_uv=False)
    assert s[-1] < 1e-15 * s[0]
    theta = LeastSquares(reg=0.0).solve(X, y, method="pinv")
    assert max_rel_diff(theta, np.linalg.pinv(Xh) @ y) < 1e-8
    assert theta[1] == pytest.approx(theta[3], rel=1e-8)  # min norm splits the bias evenly


# ---- Newton solves H d = -g; it never forms H^-1 ------------------------------------------------


def _forbid_inverses(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("Newton formed an inverse")

    for module in (np.linalg, scipy.linalg):
        monkeypatch.setattr(module, "inv", refuse)
        monkeypatch.setattr(module, "pinv", refuse)


@pytest.mark.parametrize("options", [{}, {"dense_limit": 0}], ids=["dense", "cg"])
def test_newton_never_forms_the_inverse_hessian(monkeypatch, options):
    rng = np.random.default_rng(89)
    X, y = classification_data(rng, n_samples=60, n_features=3, n_classes=3)
    model = SoftmaxClassifier(reg=1e-2)
    _forbid_inverses(monkeypatch)
    res = minimize(model.objective(X, y), model.initial_params(X, y), "newton", **options)
    assert res.success, res.message


def _double_well(x):
    """f = x0^4 - x0^2 + x1^2: a saddle at 0, minima at (+-1/sqrt 2, 0) with f = -1/4."""
    f = x[0] ** 4 - x[0] ** 2 + x[1] ** 2
    return f, np.array([4 * x[0] ** 3 - 2 * x[0], 2 * x[1]])


def _double_well_hessian(x):
    return np.diag([12 * x[0] ** 2 - 2.0, 2.0])


DOUBLE_WELL = Objective(
    fun=_double_well,
    hess=_double_well_hessian,
    hess_operator=lambda x: lambda v: _double_well_hessian(x) @ v,
)


@pytest.mark.parametrize("x0", [(0.01, 0.5), (-1e-3, -0.3), (0.2, 0.1), (0.3, 2.0)])
@pytest.mark.parametrize("options", [{}, {"dense_limit": 0}], ids=["dense", "cg"])
def test_newton_on_an_indefinite_hessian_does_not_crash(monkeypatch, x0, options):
    x0 = np.array(x0)
    assert np.linalg.eigvalsh(_double_well_hessian(x0))[0] < 0  # starts where H is indefinite
    _forbid_inverses(monkeypatch)
    res = minimize(DOUBLE_WELL, x0, "newton", **options)
    assert np.isfinite(res.x).all()
    # the line search makes every accepted step a decrease
    funs = [r.fun for r in res.history]
    assert all(b <= a for a, b in itertools.pairwise(funs))
    if res.success:  # it went downhill past the saddle to a minimum ...
        np.testing.assert_allclose(np.abs(res.x), [1 / math.sqrt(2), 0.0], atol=1e-6)
        assert res.fun == pytest.approx(-0.25, abs=1e-12)
    else:  # ... or says cleanly why it stopped
        assert res.status in (Status.NOT_POSITIVE_DEFINITE, Status.LINE_SEARCH), res.message
        assert res.fun < _double_well(x0)[0]


def test_newton_stops_with_a_clear_message_when_the_hessian_is_unusable():
    objective = Objective(
        fun=_double_well, hess=lambda x: np.full((2, 2), np.nan), hess_operator=None
    )
    res = minimize(objective, np.array([0.3, 0.4]), "newton")
    assert res.status == Status.NOT_POSITIVE_DEFINITE and not res.success
    assert "not positive definite" in res.message and "lbfgs" in res.message
    assert np.isfinite(res.x).all()


# ---- softmax: stable at any score magnitude ---------------------------------------------------


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_softmax_is_stable_at_scores_of_magnitude_1e4(sign):
    rng = np.random.default_rng(90)
    X, y = classification_data(rng, n_samples=30, n_features=3, n_classes=4)
    W = sign * 1e4 * rng.standard_normal((3, 4))
    b = sign * 1e4 * rng.standard_normal(4)
    model = SoftmaxClassifier(reg=1e-3)
    params = model.pack(W, b)
    S = X @ W + b
    assert np.max(np.abs(S)) > 1e4

    f, g = model.loss_gradient(params, X, y)
    assert math.isfinite(f) and np.isfinite(g).all()

    rows = np.arange(30)
    ref_f = np.mean(scipy.special.logsumexp(S, axis=1) - S[rows, y]) + 1e-3 * np.sum(W * W)
    P = scipy.special.softmax(S, axis=1)
    P[rows, y] -= 1.0
    ref_g = np.r_[(X.T @ P / 30 + 2e-3 * W).ravel(), P.sum(0) / 30]
    assert f == pytest.approx(ref_f, rel=1e-12)
    np.testing.assert_allclose(g, ref_g, rtol=1e-9, atol=1e-9 * np.max(np.abs(ref_g)))
    assert np.isfinite(model.hessp(params, X, y, np.ones_like(params))).all()
    np.testing.assert_allclose(model.predict_proba(params, X).sum(axis=1), 1.0, rtol=1e-12)

    # the unshifted textbook formula overflows (or underflows) at these scores
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        E = np.exp(S)
        naive = np.mean(-np.log(E[rows, y] / E.sum(axis=1)))
    assert not math.isfinite(naive)
