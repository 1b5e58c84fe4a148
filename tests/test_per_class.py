"""One-vs-rest classes searched one at a time (``linfit.fitting.per_class``).

The claims: the one-vs-rest objective is the sum of its classes' one-column objectives
(``ClassColumn``), whose gradients and Hessian products are the full ones' columns
(1e-12, and finite differences); a fit on sparse rows, searched class by class, reaches
the optimum the joint search of every column finds (the oracle: the same optimizer on
the full objective, run directly); and the run reads as one search: the history's
objective is the full one at each point, the result's objective and gradient the full
model's at the returned parameters, a stopping callback leaves the rest at the start.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from core_problems import classification_data, exact_optimizers

import linfit
from linfit.checks.gradcheck import check_model
from linfit.fitting.per_class import columns, flat
from linfit.models import LinearSVM, SoftmaxClassifier
from linfit.models.mirrored import ClassColumn, separable
from linfit.optim import OPTIMIZERS, Status

SQUARED = LinearSVM(reg=1e-2, variant="squared_hinge", multiclass="one-vs-rest")
HINGE = LinearSVM(reg=1e-2, variant="hinge", multiclass="one-vs-rest")
K = 4


def _sparse(seed: int = 0, n: int = 120, d: int = 6):
    """A K-class problem with a third of its entries zero, as CSR."""
    rng = np.random.default_rng(seed)
    X, y = classification_data(rng, n, d, K)
    X[rng.random(X.shape) < 1 / 3] = 0.0
    return sp.csr_matrix(X), y


def test_only_one_vs_rest_with_more_than_two_classes_separates():
    assert separable(SQUARED, 3) and separable(HINGE, 20)
    assert not separable(SQUARED, 2)  # two classes: the mirror, one column already
    assert not separable(LinearSVM(reg=1e-2), 3)  # Weston-Watkins couples the classes
    assert not separable(SoftmaxClassifier(reg=1e-2), 3)


@pytest.mark.parametrize("model", [SQUARED, HINGE], ids=["squared", "hinge"])
def test_objective_is_the_sum_of_the_classes(model):
    """f(theta) = sum_k f_k(theta_k) and grad f = [grad f_k] (1e-12), weighted or not."""
    X, y = _sparse(seed=1)
    d = X.shape[1]
    rng = np.random.default_rng(2)
    theta = rng.standard_normal((d + 1) * K)
    cols = columns(theta, d)
    for weights in (None, rng.uniform(0.2, 2.0, y.size)):
        f, g = model.loss_gradient(theta, X, y, weights)
        parts = [ClassColumn.of_class(model, k).loss_gradient(cols[:, k], X, y, weights)
                 for k in range(K)]  # fmt: skip
        assert sum(part[0] for part in parts) == pytest.approx(f, rel=1e-12)
        grads = np.column_stack([part[1] for part in parts])
        np.testing.assert_allclose(flat(grads), g, rtol=1e-12, atol=1e-14)


def test_class_hessian_is_the_full_hessians_block():
    """H_k v_k is column k of H v for v nonzero in column k only (1e-12); the class's dense
    Hessian and preconditioner diagonal agree with its products."""
    X, y = _sparse(seed=3)
    d = X.shape[1]
    rng = np.random.default_rng(4)
    theta, v = rng.standard_normal((d + 1) * K), rng.standard_normal(d + 1)
    for k in range(K):
        V = np.zeros((d + 1, K))
        V[:, k] = v
        full = columns(SQUARED.hessp(theta, X, y, flat(V)), d)
        column = ClassColumn.of_class(SQUARED, k)
        u = columns(theta, d)[:, k]
        np.testing.assert_allclose(column.hessp(u, X, y, v), full[:, k], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(full[:, np.arange(K) != k], 0.0, atol=1e-14)
        H = column.hessian(u, X.toarray(), y)
        np.testing.assert_allclose(H @ v, full[:, k], rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(column.preconditioner_diagonal(u, X, y), np.diag(H), rtol=1e-10)


@pytest.mark.parametrize("model", [SQUARED, HINGE], ids=["squared", "hinge"])
def test_class_derivatives_match_finite_differences(model):
    X, y = _sparse(seed=5)
    rng = np.random.default_rng(6)
    for k in (0, K - 1):
        column = ClassColumn.of_class(model, k)
        report = check_model(column, X.toarray(), y, 0.1 * rng.standard_normal(X.shape[1] + 1),
                             rng=rng)  # fmt: skip
        assert report.passed, report


@pytest.mark.parametrize("intercept", [True, False], ids=["bias", "no-bias"])
@pytest.mark.parametrize("name", exact_optimizers())
def test_class_by_class_reaches_the_joint_optimum(name, intercept):
    """On sparse rows fit() searches class by class; the oracle searches every column at
    once. Both stop with small gradients; the objective is 2 reg-strongly convex in W, so
    each is within |g|^2 / (4 reg) of the optimum and |W - W*| <= |g| / (2 reg)."""
    X, y = _sparse(seed=7)
    model = LinearSVM(reg=1e-2, variant="squared_hinge", multiclass="one-vs-rest",
                      fit_intercept=intercept)  # fmt: skip
    trained = linfit.fit(model, X, y, solver=name, standardize=False, gtol=1e-9, max_iter=5000)
    result = trained.result
    f, g = model.loss_gradient(result.x, X, y)
    assert result.fun == pytest.approx(f, rel=1e-12)  # what the full model says there
    if not intercept:  # the bias is held at zero: its gradient is reported as zero
        g[-K:] = 0.0
    np.testing.assert_allclose(result.jac, g, rtol=1e-10, atol=1e-13)
    start = np.zeros((X.shape[1] + 1) * K)
    objective = linfit.fitting.solvers.Problem(model, trained_engine(model, X, y)).objective
    oracle = OPTIMIZERS[name](objective, start, gtol=1e-9, max_iter=5000)
    gap = (g @ g + oracle.jac @ oracle.jac) / (4 * model.reg)
    assert abs(result.fun - oracle.fun) <= gap + 1e-14 * oracle.fun
    bound = (np.linalg.norm(g) + np.linalg.norm(oracle.jac)) / (2 * model.reg) + 1e-9
    assert np.linalg.norm(result.x - oracle.x) <= bound
    if not intercept:
        np.testing.assert_array_equal(model.unpack(result.x, X.shape[1])[1], 0.0)


def trained_engine(model, X, y):
    """The in-memory engine fit() builds for raw, unstandardized ``X``."""
    from linfit.engines.memory import InMemory

    return InMemory.prepare(model, X, y, standardize=False, target_name="target")


def test_weighted_class_by_class_equals_repeated_rows():
    """Integer sample weights fit as repeated rows (objective 1e-9 relative, both tron)."""
    X, y = _sparse(seed=8)
    counts = np.random.default_rng(9).integers(0, 3, y.size)
    weighted = linfit.fit(SQUARED, X, y, solver="tron", standardize=False, gtol=1e-10,
                          sample_weight=counts)  # fmt: skip
    rows = np.repeat(np.arange(y.size), counts)
    repeated = linfit.fit(SQUARED, X[rows], y[rows], solver="tron", standardize=False, gtol=1e-10)
    assert weighted.result.fun == pytest.approx(repeated.result.fun, rel=1e-9)


def test_hinge_class_by_class_is_as_good_as_the_joint_search():
    """The kinked hinge with lbfgs: class by class no worse than the joint search (1e-6)."""
    X, y = _sparse(seed=10)
    trained = linfit.fit(HINGE, X, y, solver="lbfgs", standardize=False, max_iter=5000)
    objective = HINGE.objective(X, y)
    oracle = OPTIMIZERS["lbfgs"](objective, np.zeros((X.shape[1] + 1) * K), max_iter=5000)
    assert trained.result.fun <= oracle.fun * (1 + 1e-6)


def test_history_reads_as_one_search():
    """Each record holds the full objective at that point: the first the start's, the
    last the result's; tron never rises; iterations add up over the classes; the
    callback sees exactly the history; each record's gradient is the largest over all
    classes, the last one the result's."""
    X, y = _sparse(seed=11)
    seen = []
    trained = linfit.fit(SQUARED, X, y, solver="tron", standardize=False, callback=seen.append)
    result, history = trained.result, trained.result.history
    assert [(r.nit, r.fun) for r in seen] == [(r.nit, r.fun) for r in history]
    f0 = SQUARED.loss(np.zeros((X.shape[1] + 1) * K), X, y)
    assert history[0].fun == pytest.approx(f0, rel=1e-12)
    assert history[-1].fun == pytest.approx(result.fun, rel=1e-12)
    assert all(b.fun <= a.fun for a, b in itertools.pairwise(history))
    assert [r.nit for r in history] == list(range(len(history)))
    assert history[-1].nit == result.nit
    assert history[-1].grad_norm == pytest.approx(result.grad_norm, rel=1e-12)
    assert result.status == Status.GTOL


def test_a_stopping_callback_leaves_later_classes_at_the_start():
    """A callback stopping the run one iteration into class 1's search: class 0 is at its
    own answer, classes 2.. at the start, and the result's objective is the full one."""
    from linfit.fitting.entry import DEFAULT_GTOL
    from linfit.fitting.solvers import Problem

    X, y = _sparse(seed=12)
    d = X.shape[1]
    engine = trained_engine(SQUARED, X, y)
    class_0 = Problem(ClassColumn.of_class(SQUARED, 0), engine)
    alone = OPTIMIZERS["tron"](class_0.objective, class_0.start, gtol=DEFAULT_GTOL)
    trained = linfit.fit(SQUARED, X, y, solver="tron", standardize=False,
                         callback=lambda record: record.nit > alone.nit)  # fmt: skip
    assert trained.result.status == Status.STOPPED
    assert trained.result.nit == alone.nit + 1
    theta = columns(trained.result.x, d)
    np.testing.assert_array_equal(theta[:, 0], alone.x)
    assert np.any(theta[:, 1] != 0.0)
    np.testing.assert_array_equal(theta[:, 2:], 0.0)  # the engine's start: zero
    assert trained.result.fun == pytest.approx(SQUARED.loss(trained.result.x, X, y), rel=1e-12)


def test_dense_rows_and_sgd_search_every_column_at_once():
    """Dense rows (one BLAS product for all K columns) and sgd (one epoch reads the rows
    once for every column) are not split: their first record is the joint search's."""
    from linfit.fitting.per_class import solves_per_class
    from linfit.fitting.solvers import Problem

    X, y = _sparse(seed=13)
    sparse_problem = Problem(SQUARED, trained_engine(SQUARED, X, y))
    dense_problem = Problem(SQUARED, trained_engine(SQUARED, X.toarray(), y))
    assert solves_per_class(sparse_problem, OPTIMIZERS["tron"])
    assert not solves_per_class(dense_problem, OPTIMIZERS["tron"])
    assert not solves_per_class(sparse_problem, OPTIMIZERS["sgd"])
