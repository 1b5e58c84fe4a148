"""Proof 1: every model's gradient and Hessian against finite differences, and a checker
that can fail.

``linfit.checks.gradcheck.check_model`` is used over random shapes; independently of it, a plain
central difference written here checks the smooth models (so the checker is itself
checked), and deliberately wrong models must be rejected by it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from core_problems import (
    central_difference_gradient,
    central_difference_jacobian,
    data_for,
    model_cases,
    multi_output,
    random_params,
)
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from linfit.checks.gradcheck import H_REL, MAX_COORDS, check_model
from linfit.errors import CapabilityError
from linfit.models import ReLURegressor, SoftmaxClassifier
from linfit.optim import minimize

CASES = model_cases()
IDS = [label for label, _ in CASES]
MODELS_ONLY = [model for _, model in CASES]

# The bar for smooth losses: relative error per coordinate.
GRAD_RTOL = 1e-6

SHAPES = {
    "n_samples": st.integers(5, 40),
    "n_features": st.integers(1, 6),
    "n_classes": st.integers(2, 5),
    "reg": st.sampled_from([0.0, 0.37]),
    "seed": st.integers(0, 2**32 - 1),
    "n_outputs": st.integers(1, 3),  # targets' columns, for multi-output least squares
    "zero_bias": st.booleans(),  # the bias exactly 0 (a point where b's stencil starts at 0)
}
HYPOTHESIS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def _with_reg(model, reg):
    params = {**model.hyperparams(), "reg": reg}
    return type(model)(**params)


def _point_away_from_kinks(model, X, y, rng, tries=20, zero_bias=False):
    """A random point whose kink pattern (if any) is the same at ``params +- 3 h_i e_i`` for
    every coordinate: 1.5 times the checker's widest stencil, so no stencil can cross.
    With ``zero_bias`` its bias (the last ``K`` entries) is exactly zero.

    For the piecewise losses this is what "away from kinks" means; the checker's skipping of
    kink-crossing coordinates is tested on a point built to sit on a kink (below).
    """
    for _ in range(tries):
        params = random_params(model, X, y, rng)
        if zero_bias:
            params[X.shape[1] * model.n_outputs(y) :] = 0.0
        pattern = model.kink_pattern(params, X, y)
        if pattern is None:
            return params
        steps = 3.0 * H_REL * np.maximum(1.0, np.abs(params))
        if all(
            np.array_equal(model.kink_pattern(params + sign * steps[i] * e, X, y), pattern)
            for i, e in enumerate(np.eye(params.size))
            for sign in (1.0, -1.0)
        ):
            return params
    return None


@pytest.mark.parametrize("model", MODELS_ONLY, ids=IDS)
@HYPOTHESIS
@given(**SHAPES)
# always covered, whatever hypothesis draws: several outputs, zero bias, with and without reg
@example(n_samples=12, n_features=3, n_classes=3, reg=0.37, seed=5, n_outputs=3, zero_bias=True)
@example(n_samples=7, n_features=1, n_classes=2, reg=0.0, seed=6, n_outputs=2, zero_bias=True)
@example(n_samples=20, n_features=4, n_classes=4, reg=0.0, seed=7, n_outputs=2, zero_bias=False)
def test_gradient_and_hessp_match_finite_differences(
    model, n_samples, n_features, n_classes, reg, seed, n_outputs, zero_bias
):
    rng = np.random.default_rng(seed)
    model = _with_reg(model, reg)
    X, y = data_for(model, rng, n_samples, n_features, n_classes, n_outputs=n_outputs)
    params = _point_away_from_kinks(model, X, y, rng, zero_bias=zero_bias)
    assume(params is not None)  # hypothesis fails the test if this filters out too much
    if multi_output(model):
        assert params.size == (n_features + 1) * n_outputs  # one column of W and b per output
    if zero_bias:
        assert not params[n_features * model.n_outputs(y) :].any()

    report = check_model(model, X, y, params, rng=rng)

    # away from kinks no stencil may be skipped: every coordinate is checked
    assert report.skipped == 0, report
    assert report.checked == params.size
    assert report.max_rel_error < GRAD_RTOL, report
    if model.has_hessian:
        assert report.hessp_rel_error is not None
        assert report.hessp_rel_error < GRAD_RTOL, report  # NaN (never checked) fails too
    else:
        assert report.hessp_rel_error is None
    assert report.passed


def _piecewise_cases():
    rng = np.random.default_rng(0)
    out = []
    for label, model in CASES:
        X, y = data_for(model, rng, n_samples=10, n_features=2, n_classes=3)
        if model.kink_pattern(random_params(model, X, y, rng), X, y) is not None:
            out.append((label, model))
    return out


@pytest.mark.parametrize(
    "model", [m for _, m in _piecewise_cases()], ids=[label for label, _ in _piecewise_cases()]
)
def test_piecewise_models_at_unfiltered_random_points(model):
    """Typical points, not moved away from kinks: the checker may skip a coordinate whose
    stencil crosses a kink, but most coordinates are checked and all of those pass."""
    rng = np.random.default_rng(99)
    checked = total = 0
    for _ in range(20):
        X, y = data_for(model, rng, n_samples=40, n_features=4, n_classes=3)
        params = random_params(model, X, y, rng)
        report = check_model(model, X, y, params, rng=rng)
        assert report.checked + report.skipped == params.size
        if report.checked:
            assert report.max_rel_error < GRAD_RTOL, report
        checked, total = checked + report.checked, total + params.size
    assert checked >= 0.9 * total  # measured with this seed: 97% hinge and relu, 100% sq. hinge


def _smooth_models():
    return [(label, m) for label, m in CASES if m.differentiable]


@pytest.mark.parametrize(
    "model", [m for _, m in _smooth_models()], ids=[label for label, _ in _smooth_models()]
)
@pytest.mark.parametrize("reg", [0.0, 0.37])
def test_gradient_and_hessian_match_plain_central_differences(model, reg):
    """Independent of linfit.checks.gradcheck: full gradient and dense Hessian by central
    differences.

    Step 1e-5: truncation ~ h^2 |f'''| ~ 1e-10, rounding ~ eps |f| / h ~ 1e-11, both far
    below the 1e-6 bar. Differentiable models only (their gradient has no kinks; the
    squared hinge's Hessian jumps at its kinks, which a random point avoids a.s. but a
    difference stencil may straddle, so its Hessian is compared where no term changes piece).
    """
    rng = np.random.default_rng(20240601)
    model = _with_reg(model, reg)
    X, y = data_for(model, rng, n_samples=30, n_features=3, n_classes=4)
    params = random_params(model, X, y, rng)
    f0, grad = model.loss_gradient(params, X, y)

    numeric = central_difference_gradient(lambda p: model.loss(p, X, y), params)
    floor = 1e-6 * max(1.0, abs(f0))
    rel = np.abs(grad - numeric) / np.maximum(np.maximum(np.abs(grad), np.abs(numeric)), floor)
    assert rel.max() < GRAD_RTOL

    if model.has_hessian:
        H = model.hessian(params, X, y)
        H_numeric = central_difference_jacobian(lambda p: model.loss_gradient(p, X, y)[1], params)
        pattern = model.kink_pattern(params, X, y)
        if pattern is not None:  # squared hinge: only columns whose stencil stays on one piece
            steps = 1e-5 * np.maximum(1.0, np.abs(params))
            same = [
                all(
                    np.array_equal(model.kink_pattern(params + s * e, X, y), pattern)
                    for s in (steps[i], -steps[i])
                )
                for i, e in enumerate(np.eye(params.size))
            ]
            assert sum(same) >= 0.9 * params.size
            H, H_numeric = H[:, same], H_numeric[:, same]
        scale = max(1.0, float(np.max(np.abs(H))))
        assert np.max(np.abs(H - H_numeric)) < GRAD_RTOL * scale


@pytest.mark.parametrize("model", MODELS_ONLY, ids=IDS)
def test_dense_hessian_equals_hessp_columns_and_is_symmetric(model):
    rng = np.random.default_rng(7)
    X, y = data_for(model, rng, n_samples=25, n_features=3, n_classes=4)
    params = random_params(model, X, y, rng)
    if not model.has_hessian:
        with pytest.raises(CapabilityError):
            model.hessian(params, X, y)
        with pytest.raises(CapabilityError):
            model.hessp(params, X, y, np.ones_like(params))
        with pytest.raises(CapabilityError, match="lbfgs"):
            model.hessian_operator(params, X, y)
        return
    H = model.hessian(params, X, y)
    hvp = model.hessian_operator(params, X, y)
    columns = np.column_stack([hvp(e) for e in np.eye(params.size)])
    scale = float(np.max(np.abs(H)))
    assert scale > 0
    # Same sums in a different order: agreement to rounding (1e-12 relative).
    assert np.max(np.abs(H - columns)) <= 1e-12 * scale
    assert np.max(np.abs(H - H.T)) <= 1e-12 * scale
    # hessp on a random vector is the matrix-vector product
    v = rng.standard_normal(params.size)
    np.testing.assert_allclose(model.hessp(params, X, y, v), H @ v, rtol=0, atol=1e-12 * scale * 10)


# ---- the checker itself can fail ------------------------------------------------------


@dataclass(frozen=True)
class _ScaledGradientSoftmax(SoftmaxClassifier):
    """Softmax whose gradient is 1% too large: the kind of bug a checker exists for."""

    factor: float = 1.01

    def loss_gradient(self, params, X, y):
        f, g = super().loss_gradient(params, X, y)
        return f, self.factor * g


@dataclass(frozen=True)
class _OneBadCoordinateSoftmax(SoftmaxClassifier):
    """Softmax with one bias derivative off by 1e-5 relative: ten times the tolerance."""

    def loss_gradient(self, params, X, y):
        f, g = super().loss_gradient(params, X, y)
        g = g.copy()
        g[-1] *= 1.0 + 1e-5
        return f, g


@dataclass(frozen=True)
class _ScaledHesspSoftmax(SoftmaxClassifier):
    """Right gradient, Hessian-vector product 1% too large."""

    def hessian_operator(self, params, X, y):
        hvp = super().hessian_operator(params, X, y)
        return lambda v: 1.01 * hvp(v)


def _softmax_problem():
    rng = np.random.default_rng(11)
    model = SoftmaxClassifier(reg=0.1)
    X, y = data_for(model, rng, n_samples=40, n_features=3, n_classes=3)
    return X, y, random_params(model, X, y, rng)


def test_checker_passes_the_correct_softmax():
    X, y, params = _softmax_problem()
    report = check_model(SoftmaxClassifier(reg=0.1), X, y, params, rng=np.random.default_rng(0))
    assert report.passed and report.max_rel_error < GRAD_RTOL


def test_checker_rejects_a_gradient_scaled_by_1_01():
    X, y, params = _softmax_problem()
    report = check_model(
        _ScaledGradientSoftmax(reg=0.1), X, y, params, rng=np.random.default_rng(0)
    )
    assert not report.passed
    # |1.01 g - g| / (1.01 |g|) on every coordinate whose derivative is above the floor
    assert report.max_rel_error == pytest.approx(0.01 / 1.01, rel=1e-3)


def test_checker_rejects_one_wrong_coordinate():
    X, y, params = _softmax_problem()
    report = check_model(
        _OneBadCoordinateSoftmax(reg=0.1), X, y, params, rng=np.random.default_rng(0)
    )
    assert not report.passed
    assert 5e-6 < report.max_rel_error < 2e-5


def test_checker_rejects_a_wrong_hessp():
    X, y, params = _softmax_problem()
    report = check_model(_ScaledHesspSoftmax(reg=0.1), X, y, params, rng=np.random.default_rng(0))
    assert report.max_rel_error < GRAD_RTOL  # the gradient is right ...
    assert report.hessp_rel_error is not None and report.hessp_rel_error > 5e-3
    assert not report.passed  # ... but the Hessian is not


def test_checker_skips_kink_crossing_coordinates_of_the_hinge():
    """At a point where one hinge term sits exactly at its kink, the coordinates that move it
    are skipped (not reported as errors), and the others are still checked."""
    from linfit.models import LinearSVM

    rng = np.random.default_rng(5)
    model = LinearSVM(reg=0.1)
    X, y = data_for(model, rng, n_samples=20, n_features=3, n_classes=3)
    params = random_params(model, X, y, rng)
    # put sample 0's margin against class j exactly at the kink by moving b_j
    d, K = X.shape[1], 3
    S = X @ params[: d * K].reshape(d, K) + params[d * K :]
    j = (y[0] + 1) % K
    params[d * K + j] -= S[0, j] - S[0, y[0]] + model.margin
    report = check_model(model, X, y, params, rng=rng)
    # exactly the coordinates that move s_j or s_y for that sample: W[:, j], W[:, y0], b_j, b_y0
    assert report.skipped == 2 * (d + 1)
    assert report.checked == params.size - 2 * (d + 1)
    assert report.max_rel_error < GRAD_RTOL
    assert report.passed


def test_checker_at_an_optimum_still_checks_hessp():
    """At a minimizer the gradient is ~0: the floor keeps the relative error meaningful."""
    rng = np.random.default_rng(3)
    model = SoftmaxClassifier(reg=0.1)
    X, y = data_for(model, rng, n_samples=40, n_features=3, n_classes=3)
    res = minimize(model.objective(X, y), np.zeros(12), "lbfgs", gtol=1e-10)
    report = check_model(model, X, y, res.x, rng=rng)
    assert report.passed
    assert report.hessp_rel_error < GRAD_RTOL


# ---- large models: a random sample of coordinates --------------------------------------


@dataclass(frozen=True)
class _WrongBlockSoftmax(SoftmaxClassifier):
    """Softmax whose gradient is 1% off on one block of coordinates: the weights of the
    first ``rows`` features (``rows * K`` consecutive entries of the flat layout)."""

    rows: int = 20

    def loss_gradient(self, params, X, y):
        f, g = super().loss_gradient(params, X, y)
        g = g.copy()
        K = params.size // (X.shape[1] + 1)
        g[: self.rows * K] *= 1.01
        return f, g


def _large_softmax_problem():
    """305 parameters (60 features x 5 classes + 5 biases): more than MAX_COORDS."""
    rng = np.random.default_rng(12)
    model = SoftmaxClassifier(reg=0.1)
    X, y = data_for(model, rng, n_samples=80, n_features=60, n_classes=5)
    params = 0.1 * random_params(model, X, y, rng)
    assert params.size == 305 > MAX_COORDS
    return model, X, y, params


class _CountingRng:
    """A seeded generator that records the coordinate samples ``choice`` draws."""

    def __init__(self, seed):
        self._rng = np.random.default_rng(seed)
        self.samples = []

    def choice(self, *args, **kwargs):
        out = self._rng.choice(*args, **kwargs)
        self.samples.append(np.asarray(out))
        return out

    def __getattr__(self, name):
        return getattr(self._rng, name)


def test_large_model_checks_exactly_a_random_sample_of_coordinates():
    model, X, y, params = _large_softmax_problem()
    rng = _CountingRng(0)
    report = check_model(model, X, y, params, rng=rng)
    # one sample of MAX_COORDS distinct coordinates, each of them checked, and all pass
    [sample] = rng.samples
    assert sample.size == MAX_COORDS == np.unique(sample).size
    assert sample.min() >= 0 and sample.max() < params.size
    assert report.checked == MAX_COORDS and report.skipped == 0
    assert report.max_rel_error < GRAD_RTOL and report.hessp_rel_error < GRAD_RTOL
    assert report.passed
    # the sample size is the caller's to choose
    small = check_model(model, X, y, params, rng=np.random.default_rng(1), max_coords=50)
    assert small.checked == 50 and small.passed


def test_large_model_sampled_check_catches_a_wrong_gradient_block():
    """The wrong block is 100 of 305 coordinates: a sample of 200 misses all of them with
    probability C(205, 200) / C(305, 200) < 1e-90, so the sampled check must see it."""
    model, X, y, params = _large_softmax_problem()
    bad = _WrongBlockSoftmax(reg=model.reg, rows=20)
    report = check_model(bad, X, y, params, rng=np.random.default_rng(0))
    assert report.checked == MAX_COORDS
    assert not report.passed
    # |1.01 g - g| / (1.01 |g|) on a sampled coordinate of the block with |g| above the floor
    assert report.max_rel_error == pytest.approx(0.01 / 1.01, rel=1e-3)
    # while the correct model passes at the same point with the same sample
    assert check_model(model, X, y, params, rng=np.random.default_rng(0)).passed


def test_large_piecewise_model_sample_is_checked_or_skipped():
    """Hinge SVM with 303 parameters: each sampled coordinate is either checked or skipped
    (its stencil crossed a kink), and the checked ones pass."""
    from linfit.models import LinearSVM

    rng = np.random.default_rng(13)
    model = LinearSVM(reg=0.1)
    X, y = data_for(model, rng, n_samples=60, n_features=100, n_classes=3)
    params = random_params(model, X, y, rng)
    assert params.size == 303 > MAX_COORDS
    report = check_model(model, X, y, params, rng=rng)
    assert report.checked + report.skipped == MAX_COORDS
    assert report.checked >= 0.9 * MAX_COORDS
    assert report.max_rel_error < GRAD_RTOL and report.passed


def test_a_coordinate_near_a_kink_is_checked_with_a_shorter_step():
    """A sample 1.5e-3 from the ReLU's kink is inside the default stencil (2h = 2e-3 along
    the bias) but clear of a 10x shorter one: the coordinate is checked, not skipped."""
    rng = np.random.default_rng(4)
    X = rng.standard_normal((20, 2))
    y = rng.standard_normal(20)
    model = ReLURegressor(reg=0.1)
    w = np.array([0.3, -0.2])
    b = 1.5e-3 - X[0] @ w  # sample 0 sits at z = 1.5e-3
    report = check_model(model, X, y, np.r_[w, b], rng=rng)
    assert report.skipped == 0 and report.checked == 3
    assert report.passed, report
