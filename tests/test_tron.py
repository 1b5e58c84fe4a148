"""tron, the trust-region Newton optimizer, and the Hessian diagonal it preconditions with.

The registry's parametrized tests (test_optim, test_models, test_dask) hold tron to every
optimizer's contract; here: its conjugate-gradient step's geometry, the diagonal against
the dense Hessian's, and its optimum on sparse text-like data against scipy's L-BFGS-B.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp
from core_problems import data_for, model_cases, scipy_minimum

from bench.sparse import text_matrix
from linfit.linalg import blocks
from linfit.models import LeastSquares, LinearSVM, SoftmaxClassifier
from linfit.optim import Objective, Status, minimize
from linfit.optim.tron import MAX_REFUSALS, _steihaug_pcg

HESSIAN_MODELS = [(label, m) for label, m in model_cases() if m.has_hessian]


@pytest.mark.parametrize(
    "model", [m for _, m in HESSIAN_MODELS], ids=[label for label, _ in HESSIAN_MODELS]
)
@pytest.mark.parametrize("layout", ["dense", "dense-blocks", "csr"])
def test_preconditioner_is_the_hessians_diagonal_averaged_over_outputs(model, layout, monkeypatch):
    """The preconditioner's diagonal is the Gram-matrix Hessian's, each feature's (and the
    bias's) K entries replaced by their mean; in row blocks too (reweighted by their sizes,
    the last one short)."""
    rng = np.random.default_rng(71)
    X, y = data_for(model, rng, n_samples=70, n_features=5, n_classes=4)
    params = rng.standard_normal(model.initial_params(X, y).size) * 0.5
    if model.name == "relu":
        params[-1] = abs(params[-1]) + 1.0  # most samples active
    W, b = model.unpack(np.diag(model.hessian(params, X, y)).copy(), X.shape[1])
    K = b.size
    expected = model.pack(np.repeat(W.mean(axis=1, keepdims=True), K, axis=1), np.full(K, b.mean()))
    if layout == "dense-blocks":
        monkeypatch.setattr(blocks, "MIN_BLOCK_ROWS", 1)
        monkeypatch.setattr(blocks, "BLOCK_BYTES", 16 * X.shape[1] * X.dtype.itemsize)
        assert len(blocks.row_blocks(X)) == 5
    got = model.preconditioner_diagonal(params, sp.csr_matrix(X) if layout == "csr" else X, y)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


def _spd(rng: np.random.Generator, n: int) -> np.ndarray:
    A = rng.standard_normal((n, n))
    return A @ A.T + 0.1 * np.eye(n)


def test_cg_step_inside_the_region_solves_the_newton_system():
    rng = np.random.default_rng(72)
    H, g, M = _spd(rng, 12), rng.standard_normal(12), rng.uniform(0.5, 2.0, 12)
    s, r, boundary = _steihaug_pcg(lambda v: H @ v, g, M, delta=1e6, tol=1e-10, max_iter=100)
    assert not boundary
    np.testing.assert_allclose(r, -g - H @ s, atol=1e-9)  # the residual it reports is s's
    np.testing.assert_allclose(s, np.linalg.solve(H, -g), rtol=1e-8)


@pytest.mark.parametrize("indefinite", [False, True])
def test_cg_step_on_the_boundary_has_the_radius_and_lowers_the_model(indefinite):
    rng = np.random.default_rng(73)
    H, g, M = _spd(rng, 12), rng.standard_normal(12), rng.uniform(0.5, 2.0, 12)
    if indefinite:  # a direction of negative curvature: CG must leave along it, not divide
        H -= 2.0 * np.linalg.eigvalsh(H).max() * np.outer(g, g) / (g @ g)
    delta = 0.05 * np.sqrt(np.linalg.solve(H if not indefinite else _spd(rng, 12), g) @ g)
    s, r, boundary = _steihaug_pcg(lambda v: H @ v, g, M, delta=delta, tol=1e-10, max_iter=100)
    assert boundary
    assert np.sqrt(s @ (M * s)) == pytest.approx(delta, rel=1e-12)  # on the M-norm sphere
    np.testing.assert_allclose(r, -g - H @ s, atol=1e-9)
    # Steihaug's step does at least as well as the Cauchy point, the model's minimum along
    # CG's first direction -M^-1 g inside the region (its iterates only lower the model;
    # equal, to rounding, when CG leaves at once, as along negative curvature here)
    p = -g / M
    reach, pHp = delta / np.sqrt(p @ (M * p)), p @ H @ p
    t = reach if pHp <= 0 else min(-(g @ p) / pHp, reach)
    cauchy = t * (g @ p) + 0.5 * t * t * pHp
    assert g @ s + 0.5 * s @ H @ s <= cauchy - 1e-12 * cauchy < 0


def test_tron_stops_when_the_region_shrinks_without_a_lower_objective():
    """A gradient that disagrees with f (here off by a constant: f's minimum is at the
    start) makes every step fail: tron refuses MAX_REFUSALS of them, then stops there."""
    offset = np.array([1.0, -2.0, 0.5])
    objective = Objective(
        fun=lambda x: (float(x @ x), 2.0 * x + offset), hess_operator=lambda x: lambda v: 2.0 * v
    )
    res = minimize(objective, np.zeros(3), "tron")
    assert res.status == Status.TRUST_REGION and not res.success
    assert res.nit == 0 and res.nfev == 1 + MAX_REFUSALS  # the start, then each refused step
    np.testing.assert_array_equal(res.x, np.zeros(3))


def _text_problem(model, n_samples=1500, n_features=200, seed=74):
    rng = np.random.default_rng(seed)
    X = text_matrix(n_samples, n_features, nnz_per_row=12, rng=rng)
    w = rng.standard_normal(n_features)
    scores = X @ w
    if model.is_classifier:
        K = 3
        # noisy labels on more rows than features: not separable, so a finite optimum
        # exists without a penalty too
        y = np.argmax(X @ rng.standard_normal((n_features, K)) + 0.5 * rng.gumbel(
            size=(n_samples, K)), axis=1)  # fmt: skip
    else:
        y = scores + 0.1 * rng.standard_normal(n_samples)
    return X, y


def _with_diagonal(model, X, y) -> Objective:
    objective = model.objective(X, y)
    assert objective.hess_diagonal is not None  # every model with a Hessian offers it
    return objective


SPARSE_MODELS = [
    LinearSVM(reg=1e-3, variant="squared_hinge", multiclass="one-vs-rest"),
    LinearSVM(reg=1e-3, variant="squared_hinge"),
    SoftmaxClassifier(reg=1e-3),
    LeastSquares(reg=1e-3),
    LeastSquares(reg=0.0),
    LinearSVM(reg=0.0, variant="squared_hinge", multiclass="one-vs-rest"),
    SoftmaxClassifier(reg=0.0),
]


@pytest.mark.parametrize("model", SPARSE_MODELS, ids=lambda m: f"{m.describe()}-reg{m.reg:g}")
def test_tron_reaches_the_lbfgs_optimum_on_sparse_text_like_data(model):
    X, y = _text_problem(model)
    oracle = scipy_minimum(model, X, y)  # scipy L-BFGS-B to gtol 1e-12 on the same objective
    res = minimize(
        _with_diagonal(model, X, y), model.initial_params(X, y), "tron", gtol=1e-9, ftol=0.0
    )
    assert res.success, res.message
    gap = (res.fun - oracle.fun) / abs(oracle.fun)
    # with a penalty the curvature is at least 2 reg on the weights (the loss's, larger, on
    # the biases), so f - f* <= |g|^2 / (4 reg): ~1e-11 for the oracle's |g|_max ~1e-8 over
    # 603 parameters (measured: |gap| <= 5e-15); without one, flat directions bound nothing
    # (measured: softmax 8e-10)
    assert -1e-10 <= gap <= (1e-10 if model.reg > 0 else 1e-6), gap


def _counted(objective: Objective) -> tuple[Objective, list[int]]:
    products = [0]

    def operator(x):
        hvp = objective.hess_operator(x)

        def counted(v):
            products[0] += 1
            return hvp(v)

        return counted

    return dataclasses.replace(objective, hess_operator=operator), products


def test_the_diagonal_preconditioner_cuts_the_hessian_products_on_zipf_features():
    """Feature frequencies spanning orders of magnitude make H's diagonal span them too;
    scaling by it is what makes CG short (measured here: 177 products against 374)."""
    model = LinearSVM(reg=1e-5, variant="squared_hinge", multiclass="one-vs-rest")
    X, y = _text_problem(model, n_samples=3000, n_features=2000)
    runs = {}
    diag = _with_diagonal(model, X, y)
    objectives = {"plain": dataclasses.replace(diag, hess_diagonal=None), "diag": diag}
    for name, objective in objectives.items():
        counted, products = _counted(objective)
        res = minimize(counted, model.initial_params(X, y), "tron", gtol=1e-8)
        assert res.status in (Status.GTOL, Status.DECREMENT), res.message
        runs[name] = (res.fun, products[0])
    assert runs["diag"][0] == pytest.approx(runs["plain"][0], rel=1e-9)
    assert runs["diag"][1] <= 0.6 * runs["plain"][1], runs


def test_tron_keeps_softmax_centred():
    """Softmax sees score differences only: a step that shifts every bias alike changes
    nothing, and L-BFGS's iterates keep sum(b) = 0 from the zero start; so must tron's,
    whose preconditioner is the same for every class."""
    model = SoftmaxClassifier(reg=1e-3)
    X, y = _text_problem(model)
    res = minimize(model.objective(X, y), model.initial_params(X, y), "tron", gtol=1e-9)
    W, b = model.unpack(res.x, X.shape[1])
    assert abs(b.sum()) <= 1e-12 * np.abs(b).max()
    assert np.abs(W.sum(axis=1)).max() <= 1e-12 * np.abs(W).max()
