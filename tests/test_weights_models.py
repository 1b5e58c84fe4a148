"""Sample weights in every model's objective, gradient and second order.

The oracle is the data itself: a sample of integer weight ``m`` is ``m`` copies of its
row, and a sample of weight 0 is no row at all. With weights of mean 1 (``w / mean(w)``,
what ``linfit.fit`` passes) the weighted objective on the rows must equal the plain one
on the repeated rows, and so must every derivative. Finite differences check the
weighted gradient independently of the repetition.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from core_problems import central_difference_gradient, data_for, model_cases, random_params

from linfit.models import LeastSquares, SoftmaxClassifier
from linfit.models.blocks import minibatches

CASES = model_cases(reg=0.05)
IDS = [label for label, _ in CASES]
SECOND_ORDER = [(label, m) for label, m in CASES if m.has_hessian]
SECOND_IDS = [label for label, _ in SECOND_ORDER]

# repetition only reorders sums: the differences are rounding
REPEAT_RTOL = 1e-10


def _weighted_problem(model, seed=0, n=40):
    rng = np.random.default_rng(seed)
    X, y = data_for(model, rng, n_samples=n, n_features=4, n_classes=3)
    counts = rng.integers(0, 4, size=n)
    counts[:3] = 1  # every class keeps a row (data_for puts one of each first)
    params = random_params(model, X, y, rng)
    return X, y, counts, params


def _repeated(X, y, counts):
    rows = np.repeat(np.arange(X.shape[0]), counts)
    return X[rows], y[rows]


def _mean_one(counts):
    return counts / counts.mean()


@pytest.mark.parametrize("model", [m for _, m in CASES], ids=IDS)
def test_integer_weights_equal_repeated_rows(model):
    X, y, counts, params = _weighted_problem(model)
    X_rep, y_rep = _repeated(X, y, counts)
    f_w, g_w = model.loss_gradient(params, X, y, _mean_one(counts))
    f_r, g_r = model.loss_gradient(params, X_rep, y_rep)
    assert f_w == pytest.approx(f_r, rel=REPEAT_RTOL)
    np.testing.assert_allclose(g_w, g_r, rtol=REPEAT_RTOL, atol=1e-13)
    assert model.loss(params, X, y, _mean_one(counts)) == pytest.approx(f_r, rel=REPEAT_RTOL)


@pytest.mark.parametrize("model", [m for _, m in SECOND_ORDER], ids=SECOND_IDS)
def test_weighted_second_order_equals_repeated_rows(model):
    X, y, counts, params = _weighted_problem(model, seed=1)
    X_rep, y_rep = _repeated(X, y, counts)
    w = _mean_one(counts)
    v = np.random.default_rng(2).standard_normal(params.size)
    hv_w = model.hessian_operator(params, X, y, w)(v)
    hv_r = model.hessian_operator(params, X_rep, y_rep)(v)
    np.testing.assert_allclose(hv_w, hv_r, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(
        model.hessian(params, X, y, w), model.hessian(params, X_rep, y_rep), rtol=1e-9, atol=1e-12
    )
    np.testing.assert_allclose(
        model.preconditioner_diagonal(params, X, y, w),
        model.preconditioner_diagonal(params, X_rep, y_rep),
        rtol=1e-9,
        atol=1e-12,
    )


@pytest.mark.parametrize("model", [m for _, m in CASES], ids=IDS)
def test_zero_weights_equal_dropped_rows(model):
    X, y, counts, params = _weighted_problem(model, seed=3)
    keep = counts > 0
    w = keep / keep.mean()
    f_w, g_w = model.loss_gradient(params, X, y, w)
    f_d, g_d = model.loss_gradient(params, X[keep], y[keep])
    assert f_w == pytest.approx(f_d, rel=REPEAT_RTOL)
    np.testing.assert_allclose(g_w, g_d, rtol=REPEAT_RTOL, atol=1e-13)


@pytest.mark.parametrize(
    "model",
    [m for _, m in CASES if m.differentiable],
    ids=[label for label, m in CASES if m.differentiable],
)
def test_weighted_gradient_matches_finite_differences(model):
    """Real-valued weights, no repetition to lean on: central differences (1e-6 relative)."""
    rng = np.random.default_rng(4)
    X, y = data_for(model, rng, n_samples=30, n_features=3, n_classes=3)
    w = rng.exponential(size=30)
    params = random_params(model, X, y, rng)
    _, grad = model.loss_gradient(params, X, y, w)
    numeric = central_difference_gradient(lambda p: model.loss(p, X, y, w), params)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("model", [SoftmaxClassifier(reg=0.01), LeastSquares(reg=0.01)])
def test_weights_on_sparse_and_float32_rows(model):
    """The CSR and float32 paths weigh rows as the dense float64 one does."""
    X, y, counts, params = _weighted_problem(model, seed=5, n=60)
    X[np.abs(X) < 0.8] = 0.0
    w = _mean_one(counts)
    f, g = model.loss_gradient(params, X, y, w)
    f_sp, g_sp = model.loss_gradient(params, sp.csr_matrix(X), y, w)
    assert f_sp == pytest.approx(f, rel=1e-12)
    np.testing.assert_allclose(g_sp, g, rtol=1e-10, atol=1e-13)
    f32, g32 = model.loss_gradient(params, X.astype(np.float32), y, w)
    assert f32 == pytest.approx(f, rel=1e-5)
    np.testing.assert_allclose(g32, g, rtol=1e-4, atol=1e-5)


def test_minibatches_of_mean_one_weights_add_up_to_the_objective():
    """An epoch's batches, each weighted ``n_batch / n``, sum to the full data term: the
    weights are not renormalized per batch, so sgd's steps estimate the objective."""
    model = SoftmaxClassifier(reg=0.0)
    X, y, counts, params = _weighted_problem(model, seed=6, n=50)
    w = _mean_one(counts)
    rng = np.random.default_rng(0)
    total = 0.0
    for batch in minibatches(model.loss_gradient, [(X, y, w)], rng, 7):
        total += batch.rows / 50 * batch.fun(params)[0]
    assert total == pytest.approx(model.loss(params, X, y, w), rel=1e-12)
