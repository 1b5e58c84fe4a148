"""dcd, dual coordinate descent for the one-vs-rest SVMs: its optimum against independent
oracles (scipy's L-BFGS-B for the squared hinge, an exact QP for the hinge, LIBLINEAR for
the penalty's mapping), the compiled loop against its Python fallback, and its refusals."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize
import scipy.sparse as sp
from core_problems import scipy_minimum
from dual_oracles import box_projection

from bench.sparse import text_matrix
from linfit.errors import CapabilityError
from linfit.fitting import dual_cd, fit
from linfit.models import LinearSVM, SoftmaxClassifier
from linfit.optim import Status


def _problem(n_samples=300, n_features=40, n_classes=3, seed=81):
    rng = np.random.default_rng(seed)
    X = text_matrix(n_samples, n_features, nnz_per_row=8, rng=rng)
    scores = X @ rng.standard_normal((n_features, n_classes)) * 3 + 0.5
    y = np.argmax(scores + rng.gumbel(size=scores.shape), axis=1)
    return X, y


def _svm(variant, reg=1e-2):
    return LinearSVM(reg=reg, variant=variant, multiclass="one-vs-rest")


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("sparse", [True, False], ids=["csr", "dense"])
def test_squared_hinge_reaches_the_lbfgs_optimum(n_classes, sparse):
    X, y = _problem(n_classes=n_classes)
    X = X if sparse else X.toarray()
    model = _svm("squared_hinge")
    oracle = scipy_minimum(model, X, y)  # scipy L-BFGS-B to gtol 1e-12, the unpenalized bias
    result = fit(model, X, y, solver="dcd", standardize=False, gtol=1e-9).result
    assert result.status == Status.GTOL and result.method == "dcd"
    gap = (result.fun - oracle.fun) / oracle.fun
    # both gradients are ~1e-9 and the curvature is at least 2 reg on the weights (the
    # loss's on the biases), so f - f* <= |g|^2 / (4 reg) ~ 1e-13 (measured: 8e-16)
    assert abs(gap) <= 1e-12, gap
    # what it reports is the primal objective and gradient at its answer, from the model
    f, g = model.loss_gradient(result.x, X, y)
    assert result.fun == pytest.approx(f, rel=1e-12)
    np.testing.assert_allclose(result.jac, g, atol=1e-15)


def _binary_hinge_qp(X, t, reg, margin=1.0):
    """min reg |w|^2 + (1/n) sum xi  s.t.  xi_i >= margin - t_i (w.x_i + b), xi >= 0, by
    SLSQP on (w, b, xi), and its dual's value (0 <= a <= 1/n, sum t a = 0): a certified
    bracket [dual, primal] of the optimum."""
    n, d = X.shape
    A = np.hstack([t[:, None] * X, t[:, None], np.eye(n)])  # A z >= margin

    def primal(z):
        return reg * z[:d] @ z[:d] + z[d + 1 :].sum() / n

    def primal_grad(z):
        return np.r_[2.0 * reg * z[:d], 0.0, np.full(n, 1.0 / n)]

    p = scipy.optimize.minimize(
        primal, np.r_[np.zeros(d + 1), np.full(n, margin + 1e-3)], jac=primal_grad,
        method="SLSQP", bounds=[(None, None)] * (d + 1) + [(0.0, None)] * n,
        constraints=[{"type": "ineq", "fun": lambda z: A @ z - margin, "jac": lambda z: A}],
        options={"ftol": 1e-15, "maxiter": 3000},
    )  # fmt: skip
    assert p.success, p.message
    Xt = t[:, None] * X

    def neg_dual(a):
        v = Xt.T @ a
        return -(margin * a.sum() - v @ v / (4.0 * reg))

    def neg_dual_grad(a):
        return -(margin - Xt @ (Xt.T @ a) / (2.0 * reg))

    q = scipy.optimize.minimize(
        neg_dual, np.zeros(n), jac=neg_dual_grad, method="SLSQP",
        bounds=[(0.0, 1.0 / n)] * n,
        constraints=[{"type": "eq", "fun": lambda a: t @ a, "jac": lambda a: t}],
        options={"ftol": 1e-15, "maxiter": 3000},
    )  # fmt: skip
    return p.fun, -neg_dual(np.clip(q.x, 0.0, 1.0 / n))


@pytest.mark.parametrize("n_classes", [2, 3])
def test_hinge_reaches_the_exact_qp_optimum(n_classes):
    """One-vs-rest is K binary SVMs sharing reg: its optimum is the sum of theirs."""
    X, y = _problem(n_samples=60, n_features=6, n_classes=n_classes)
    model = _svm("hinge")
    dense = X.toarray()
    brackets = [_binary_hinge_qp(dense, np.where(y == k, 1.0, -1.0), model.reg)
                for k in range(n_classes)]  # fmt: skip
    primal, dual = sum(b[0] for b in brackets), sum(b[1] for b in brackets)
    assert dual <= primal * (1 + 1e-12) and primal - dual <= 1e-8 * primal  # certified
    result = fit(model, X, y, solver="dcd", standardize=False).result
    assert result.status == Status.PROJECTED_GRADIENT and result.success
    # below: the bracket's width; above: the stop's certificate, its duality gap bounds
    # f - f* by gtol max(1, f) (1e-6; measured: 6.9e-7 at f* 0.39, 1.0e-6 at f* 1.56)
    assert -1e-8 * primal <= result.fun - primal <= 1e-6 * max(1.0, result.fun) + 1e-8 * primal


def test_the_penalty_maps_to_liblinears_c_without_a_bias():
    """reg = 1 / (2 C n): the same weights as LIBLINEAR's own -s 1 and -s 3 (no bias, -B -1)."""
    liblinear = pytest.importorskip("liblinear.liblinearutil")
    X, y = _problem(n_classes=2)
    t = np.where(y == 1, 1.0, -1.0)
    reg = 1e-2
    C = 1.0 / (2.0 * reg * X.shape[0])
    for variant, s in (("squared_hinge", 1), ("hinge", 3)):
        w, b, _, _ = dual_cd.solve_binary(
            X, t, C=C, margin=1.0, squared=variant == "squared_hinge", intercept=False,
            eps=1e-10, max_epochs=100_000, seed=0,
        )  # fmt: skip
        model = liblinear.train(t, X, f"-s {s} -c {C!r} -e 1e-10 -B -1 -q")
        # LIBLINEAR's decision values are for its first label
        sign = 1.0 if model.get_labels()[0] == 1 else -1.0
        assert b == 0.0
        np.testing.assert_allclose(w, sign * np.array(model.get_decfun()[0]), rtol=1e-5, atol=1e-7)


@pytest.mark.skipif(dual_cd._dualcd is None, reason="the compiled loop was not built")
@pytest.mark.parametrize("squared", [True, False])
def test_the_python_fallback_takes_the_compiled_loops_steps(squared, monkeypatch):
    X, y = _problem(n_samples=200)
    t = np.where(y == 0, 1.0, -1.0)
    runs = []
    for compiled in (True, False):
        if not compiled:
            monkeypatch.setattr(dual_cd, "_dualcd", None)
        w, b, epochs, state = dual_cd.solve_binary(
            sp.csr_matrix(X), t, C=0.5, margin=1.0, squared=squared, intercept=True,
            eps=1e-6, max_epochs=500, seed=3,
        )  # fmt: skip
        runs.append((w, b, epochs, state["alpha"]))
    (w1, b1, e1, a1), (w2, b2, e2, a2) = runs
    assert e1 == e2  # the same shuffles, the same shrinking, the same stop
    np.testing.assert_allclose(a2, a1, rtol=0, atol=1e-12)
    np.testing.assert_allclose(w2, w1, rtol=0, atol=1e-12)
    assert b2 == pytest.approx(b1, abs=1e-12)


@pytest.mark.skipif(dual_cd._dualcd is None, reason="the compiled loop was not built")
def test_the_compiled_loop_refuses_arrays_that_do_not_fit():
    """A ValueError naming the array, before any write outside ``w`` (not a SystemError)."""
    X = dual_cd.compiled_rows(_problem(n_samples=20)[0])
    n, d = X.shape
    args = [X.indptr, X.indices, X.data, np.ones(n), np.ones(n), np.zeros(n), np.zeros(d), n, d,
            1.0, 1.0, 0.0, 0.1, 10, 0, 0.0]  # fmt: skip
    out_of_range = X.indices.copy()
    out_of_range[-1] = d
    # row 0 spans every stored value, row 1 starts before it ends: the row pointers must
    # not decrease (a decreasing pair, its ends within the values here, could reach past)
    decreasing = X.indptr.copy()
    decreasing[1] = decreasing[-1]
    for position, bad, match in (
        (1, X.indices.view(np.uint8)[:-1], "indices"),
        (2, X.data[:-1], "data"),
        (6, np.zeros(d - 1), "w"),
        (0, X.indptr - 1, "indptr"),
        (0, decreasing, "indptr"),
        (1, out_of_range, "column index"),
    ):
        with pytest.raises(ValueError, match=match):
            dual_cd._dualcd.svm_dual(*args[:position], bad, *args[position + 1 :])


def test_the_seed_sets_the_order_not_the_optimum():
    X, y = _problem()
    model = _svm("squared_hinge")
    runs = [fit(model, X, y, solver="dcd", standardize=False, gtol=1e-9, seed=s).result
            for s in (0, 0, 1)]  # fmt: skip
    np.testing.assert_array_equal(runs[0].x, runs[1].x)  # repeatable
    assert not np.array_equal(runs[2].x, runs[0].x)  # another order: other roundings
    # both at |g| <= 1e-9 with curvature >= 2 reg: f agrees to ~1e-15 (measured: 2e-16)
    assert runs[2].fun == pytest.approx(runs[0].fun, rel=1e-12)


@pytest.mark.parametrize(
    "model",
    [SoftmaxClassifier(reg=1e-2), _svm("hinge", 0.0), LinearSVM(reg=0.0, variant="hinge")],
    ids=["softmax", "no-penalty", "weston-watkins-no-penalty"],
)
def test_what_dcd_does_not_solve_is_refused_before_any_work(model):
    X, y = _problem()
    with pytest.raises(CapabilityError, match="dcd"):
        fit(model, X, y, solver="dcd", standardize=False)


# Weighted rows: sample i's dual cost is C u_i (LIBLINEAR's instance weights). Oracles: the
# primal optimizers on the same weighted objective, the data themselves (counts are
# repeated rows, zeros dropped rows) and the compiled loop against its fallback.


def _weighted_problem(n_classes=3, seed=82):
    X, y = _problem(n_samples=240, n_classes=n_classes, seed=seed)
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 4, size=y.size).astype(float)  # a quarter of zeros
    counts[:n_classes] = 1.0
    return X, y, counts


@pytest.mark.parametrize("weighing", ["counts", "balanced"])
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("variant", ["squared_hinge", "hinge"])
def test_weighted_dcd_reaches_the_primal_solvers_optimum(variant, n_classes, weighing):
    X, y, counts = _weighted_problem(n_classes)
    weights = (
        {"sample_weight": np.sqrt(counts) * 1.7}  # not counts: real multipliers, zeros kept
        if weighing == "counts" else {"class_weight": "balanced"}
    )  # fmt: skip
    model = _svm(variant)
    oracle = "tron" if variant == "squared_hinge" else "bfgs"  # bfgs: hinge has no Hessian
    exact = fit(model, X, y, solver=oracle, gtol=1e-10, ftol=0.0, max_iter=5000,
                standardize=False, **weights).result  # fmt: skip
    got = fit(model, X, y, solver="dcd", gtol=1e-9, standardize=False, **weights).result
    assert got.success
    gap = (got.fun - exact.fun) / exact.fun
    # squared hinge: both gradients <= 1e-9 and the curvature >= 2 reg, so f - f* <=
    # |g|^2 / (4 reg) ~ 1e-13, as unweighted above (measured: at most 2.8e-16)
    if variant == "squared_hinge":
        assert abs(gap) <= 1e-12, gap
        return
    # hinge: dcd's certificate is f - f* <= gtol max(1, f) (1e-9 here, the bias's error
    # included), and bfgs's f is no lower than f* (it stops in the kinks' noise, within
    # 1e-9 above f*: test_models). Measured: dcd 2.2e-10 to 8.9e-10 of f above bfgs
    bound = 1e-9 * max(1.0, got.fun)
    assert -bound <= got.fun - exact.fun <= bound * (1 + 1e-9), gap


def _repeat(X, y, counts):
    rows = np.repeat(np.arange(y.size), counts.astype(int))
    return X[rows], y[rows]


@pytest.mark.parametrize("variant", ["squared_hinge", "hinge"])
def test_integer_weights_are_repeated_rows_and_zeros_dropped_rows(variant):
    X, y, counts = _weighted_problem()
    model = _svm(variant)
    keep = counts > 0
    # the same optimum on the same objective: squared hinge both at |g| <= 1e-9 (~1e-13;
    # measured 1.5e-16 relative); hinge both certified within gtol 1e-9 max(1, f) of f*
    # (measured: 5.6e-10 of f apart). Zero weights: the live rows are visited in the same
    # order as the dropped rows' problem, so the steps are the same up to C u_i's rounding
    for weights, (Xr, yr) in ((counts, _repeat(X, y, counts)), (keep * 1.0, (X[keep], y[keep]))):
        weighted = fit(model, X, y, solver="dcd", sample_weight=weights, gtol=1e-9,
                       standardize=False).result  # fmt: skip
        rows = fit(model, Xr, yr, solver="dcd", gtol=1e-9, standardize=False).result
        if variant == "squared_hinge":
            assert weighted.fun == pytest.approx(rows.fun, rel=1e-12)
        else:
            bound = 1e-9 * max(1.0, weighted.fun, rows.fun) * (1 + 1e-9)
            assert abs(weighted.fun - rows.fun) <= bound, (weighted.fun, rows.fun)
        if variant == "squared_hinge":  # strictly convex: the same parameters too
            np.testing.assert_allclose(weighted.x, rows.x, rtol=1e-6, atol=1e-8)


def _binary_runs(squared, weights, monkeypatch, seed=3):
    X, y = _problem(n_samples=200, seed=seed)
    t = np.where(y == 0, 1.0, -1.0)
    runs = []
    for compiled in (True, False):
        if not compiled:
            monkeypatch.setattr(dual_cd, "_dualcd", None)
        w, b, epochs, state = dual_cd.solve_binary(
            sp.csr_matrix(X), t, C=0.5, margin=1.0, squared=squared, intercept=True,
            eps=1e-6, max_epochs=500, seed=seed, weights=weights,
        )  # fmt: skip
        runs.append((w, b, epochs, state["alpha"]))
    monkeypatch.undo()
    return runs


@pytest.mark.skipif(dual_cd._dualcd is None, reason="the compiled loop was not built")
@pytest.mark.parametrize("seed", [3, 4, 5])
@pytest.mark.parametrize("squared", [True, False])
def test_the_fallback_takes_the_compiled_steps_with_weights(squared, seed, monkeypatch):
    rng = np.random.default_rng(seed)
    weights = rng.exponential(size=200) * (rng.random(200) > 0.3)  # ~30% zeros
    (w1, b1, e1, a1), (w2, b2, e2, a2) = _binary_runs(squared, weights, monkeypatch, seed)
    assert e1 == e2  # the same shuffles of the same live rows, shrinking, stop
    np.testing.assert_allclose(a2, a1, rtol=0, atol=1e-12)
    np.testing.assert_allclose(w2, w1, rtol=0, atol=1e-12)
    assert b2 == pytest.approx(b1, abs=1e-12)
    assert not a1[weights == 0].any() and not a2[weights == 0].any()  # never visited
    if not squared:  # each alpha in its own box [0, C u_i]
        assert np.all(a1 <= 0.5 * weights) and np.all(a2 <= 0.5 * weights)


@pytest.mark.parametrize("squared", [True, False])
def test_weights_of_one_take_the_unweighted_steps_bit_for_bit(squared, monkeypatch):
    ones = _binary_runs(squared, np.ones(200), monkeypatch)
    unweighted = _binary_runs(squared, None, monkeypatch)
    for (w1, b1, e1, a1), (w2, b2, e2, a2) in zip(ones, unweighted, strict=True):
        assert e1 == e2 and b1 == b2
        np.testing.assert_array_equal(a1, a2)
        np.testing.assert_array_equal(w1, w2)


@pytest.mark.skipif(dual_cd._dualcd is None, reason="the compiled loop was not built")
def test_the_compiled_loop_refuses_per_sample_arrays_that_do_not_fit():
    X = dual_cd.compiled_rows(_problem(n_samples=20)[0])
    n, d = X.shape
    args = [X.indptr, X.indices, X.data, np.ones(n), np.ones(n), np.zeros(n), np.zeros(d), n, d,
            1.0, 1.0, 0.0, 0.1, 10, 0, 0.0]  # fmt: skip
    for each, match in (((np.ones(n), None), "together"), ((np.ones(n - 1), np.zeros(n - 1)),
                        "upper_each"), ((np.ones(n), np.zeros(n + 1)), "diag_each")):  # fmt: skip
        with pytest.raises(ValueError, match=match):
            dual_cd._dualcd.svm_dual(*args, *each)


# Stopping (issue 16): the squared hinge tests its gradient after every call and stops at
# the first that passes; the hinge stops on its duality gap against the dual made feasible
# (hinge_gap), which bounds f - f* with the bias's error.


def test_the_squared_hinge_stops_at_the_first_round_whose_gradient_passes():
    X, y = _problem(n_classes=2)
    model = _svm("squared_hinge")
    seen = []

    def objective(params):
        f, g = model.loss_gradient(params, X, y)
        seen.append((f, float(np.max(np.abs(g)))))
        return f, g

    gtol = 1e-8
    result = dual_cd.dual_cd(model, X, y, objective, gtol=gtol, ftol=0.0, max_iter=1000, seed=0)
    assert result.status == Status.GTOL and result.nfev == len(seen) >= 2
    *before, last = seen
    assert last[1] <= gtol * max(1.0, abs(last[0]))
    assert all(g > gtol * max(1.0, abs(f)) for f, g in before)  # no round past the test


@pytest.mark.parametrize(
    ("measure", "cut"), [(1e-2, dual_cd.MAX_CUT), (2e-6, dual_cd.MIN_CUT), (1e-5, 0.03)]
)
def test_the_tolerance_is_cut_in_proportion_to_the_tests_distance_within_limits(measure, cut):
    # SAFETY * target / measure, clipped to [MAX_CUT, MIN_CUT]: 0.3 x 1e-6 / 1e-5 = 0.03
    assert dual_cd._next_eps(0.1, measure, 1e-6) == pytest.approx(0.1 * cut, rel=1e-12)


@pytest.mark.parametrize("min_cut", [dual_cd.MIN_CUT, 0.5])
def test_a_test_at_zero_cuts_the_tolerance_least(min_cut):
    """A measure of 0 with the dual's own test short (the hinge's gap at 0, not converged)
    cuts by min_cut, as any measure within the target does, not by dual_cd's MIN_CUT
    whatever the solver's (dual_ww's 0.5 took a tenth)."""
    least = dual_cd._next_eps(0.1, 1e-12, 1e-6, 3.0, min_cut)
    assert least == pytest.approx(0.1 * min_cut, rel=1e-12)
    assert dual_cd._next_eps(0.1, 0.0, 1e-6, 3.0, min_cut) == least


def _hinge_primal_dual(X, t, C, w, alpha):
    """LIBLINEAR's hinge primal at ``w`` (no bias) and its dual at ``alpha``, independently
    of the solver's arithmetic: P = 1/2 |w|^2 + C sum max(0, 1 - t Xw), D = sum alpha -
    1/2 |X'(t alpha)|^2."""
    P = 0.5 * w @ w + C * np.maximum(0.0, 1.0 - t * (X @ w)).sum()
    v = X.T @ (t * alpha)
    return P, alpha.sum() - 0.5 * v @ v


def _projected_gradient_mean(X, t, alpha, w, b, C, u=None):
    """The hinge's stop before hinge_gap: the mean of ``u_i |PG_i|``, the dual's projected
    gradients in linfit's units, ``G_i = t_i (w.x_i + b) - 1``."""
    u = np.ones(t.size) if u is None else u
    return float(np.mean(u * np.abs(box_projection(t * (X @ w + b) - 1.0, alpha, C * u))))


@pytest.mark.parametrize("eps", [1e-1, 1e-2, 1e-4])
def test_the_hinge_gap_without_intercept_is_the_duality_gap(eps):
    """Without a bias (no constraint to make feasible) the gap is P - D over C n, hence at
    least f - f*, and at most the projected gradients' mean, term by term."""
    X, y = _problem(n_samples=60, n_features=6, n_classes=2)
    t = np.where(y == 1, 1.0, -1.0)
    n = X.shape[0]
    reg = 1e-2
    C = 1.0 / (2.0 * reg * n)
    w, b, _, state = dual_cd.solve_binary(
        X, t, C=C, margin=1.0, squared=False, intercept=False, eps=eps, max_epochs=10_000,
        seed=0,
    )  # fmt: skip
    alpha = state["alpha"]
    gap, loss = dual_cd.hinge_gap(X, t, alpha, w, b, margin=1.0, upper=C, intercept=False)
    P, D = _hinge_primal_dual(X.toarray(), t, C, w, alpha)
    # the loss read off the same pass: linfit's objective is P / (C n) (measured: 2.5e-16)
    assert loss + reg * w @ w == pytest.approx(P / (C * n), rel=1e-14)
    # P - D as written cancels: held to rounding of P (measured: 3.2e-16 P)
    assert C * n * gap == pytest.approx(P - D, rel=0, abs=1e-14 * P)
    assert gap <= _projected_gradient_mean(X, t, alpha, w, b, C) * (1 + 1e-12)


@pytest.fixture(scope="module")
def small_binary_hinge():
    """The 60-sample binary hinge problem and its exact QP's dual value, solved once."""
    X, y = _problem(n_samples=60, n_features=6, n_classes=2)
    model = _svm("hinge")
    _, dual = _binary_hinge_qp(X.toarray(), np.where(y == 1, 1.0, -1.0), model.reg)
    return X, y, model, dual


@pytest.mark.parametrize("gtol", [1e-2, 1e-4, 1e-6])
def test_the_hinge_stops_within_gtol_of_the_optimum(gtol, small_binary_hinge):
    """The stop is a certificate: f - f* <= gtol max(1, f), f* below the exact QP's dual
    value (its bracket [dual, primal] is 1e-8 of f* wide: allowed); with intercept the
    certificate is the last call's problem's, whose proximal term vanishes as the bias
    converges. Measured f - f*: 1.3e-3, 2.9e-6, 3.0e-7."""
    X, y, model, dual = small_binary_hinge
    lower = 2.0 * dual  # two mirrored columns, each the binary problem
    result = fit(model, X, y, solver="dcd", standardize=False, gtol=gtol).result
    assert result.status == Status.PROJECTED_GRADIENT
    assert result.fun - lower <= gtol * max(1.0, result.fun) + 1e-8 * lower


def _run_kernel(compiled, X, t, alpha, w, *, upper, diag, eps, seed):
    """One unweighted kernel call with the bias's proximal steps inside, from margins 1."""
    n, d = X.shape
    common = (1.0, upper, diag, eps, 5000, seed)  # bias_scale ... seed
    if compiled:
        if dual_cd._dualcd is None:
            pytest.skip("the compiled loop was not built")
        return dual_cd._dualcd.svm_dual(
            X.indptr, X.indices, X.data, t, np.ones(n), alpha, w, n, d, *common, 0.0, None,
            None, True,
        )  # fmt: skip
    return dual_cd.svm_dual_python(X, t, np.ones(n), alpha, w, 0.0, *common, None, None, True)


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "python"])
@pytest.mark.parametrize("squared", [True, False])
def test_the_kernel_moves_the_centre_until_the_bias_settles(squared, compiled):
    """With move_centre the returned point passes the kernel's own test on every sample,
    checked here from scratch: the projected gradients at margins shifted by t_i shift
    spread at most eps, and the bias feature's weight is within eps of 0."""
    X, y = _problem(n_samples=200)
    X = dual_cd.compiled_rows(X)
    n, d = X.shape
    t = np.where(y == 0, 1.0, -1.0)  # a third of the rows: the bias is far from 0
    C, eps = 0.5, 1e-6
    upper, diag = (np.inf, 0.5 / C) if squared else (C, 0.0)
    alpha, w = np.zeros(n), np.zeros(d)
    _, wb, converged, shift = _run_kernel(
        compiled, X, t, alpha, w, upper=upper, diag=diag, eps=eps, seed=3
    )
    assert converged and abs(shift) > 0.1 and abs(wb) <= eps
    np.testing.assert_allclose(w, X.T @ (t * alpha), atol=1e-12)  # w kept = sum t alpha x
    assert wb == pytest.approx(t @ alpha, abs=1e-12)
    G = t * (X @ w + wb + shift) - 1.0 + diag * alpha
    pg = np.where(alpha <= 0, np.minimum(G, 0), np.where(alpha >= upper, np.maximum(G, 0), G))
    # the kernel tests the spread as it goes (w moving within the last epoch): ~eps here
    assert pg.max() - pg.min() <= 2 * eps


@pytest.mark.parametrize("variant", ["hinge", "squared_hinge"])
def test_classes_on_threads_take_the_sequential_steps(variant, monkeypatch):
    """The one-vs-rest classes' duals run on the cores' threads (dual_cd.map_classes): the
    same parameters bit for bit as one class after another, and every class was solved."""
    X, y = _problem(n_samples=240, n_classes=5, seed=83)
    model = LinearSVM(reg=1e-2, variant=variant, multiclass="one-vs-rest")
    threaded = fit(model, X, y, solver="dcd", standardize=False)
    calls = []

    def sequential(fn, classes):
        calls.append(list(classes))
        return [fn(k) for k in classes]

    monkeypatch.setattr(dual_cd, "map_classes", sequential)
    one_by_one = fit(model, X, y, solver="dcd", standardize=False)
    assert calls and all(classes == list(range(5)) for classes in calls)
    np.testing.assert_array_equal(threaded.result.x, one_by_one.result.x)
    assert threaded.result.fun == one_by_one.result.fun


# Rows of any scale with the bias far from 0 (issue: rows of norm 0.01 or 100 ran to
# max_iter short of the optimum, or stopped far from it with a success status). The
# oracle: bfgs on the same objective (dense rows, gtol 1e-10).


def _off_centre(n=300, d=12, seed=0):
    """Standard normal rows (n, d) and labels of a linear model offset by +3: about 9 in 10
    positive, the optimal bias ~1 to ~77 in margin units depending on the rows' scale."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = (X @ rng.standard_normal(d) + 3.0 + 0.5 * rng.standard_normal(n) > 0).astype(int)
    return X, y


# max_iter for each scale: at 100 the dual's C is 1e4 times that at 1 in the rows' units
# (nearly a hard margin), where dual coordinate descent is slow whatever the bias: with the
# bias fixed at its optimum the loop takes as many epochs to a tolerance (57,000 to 1e-4)
# as with the bias free. Measured epochs, unweighted: hinge 74, 303, 69,253; squared hinge
# 336, 460, 90,691.
SCALES = {0.01: 1000, 1.0: 1000, 100.0: 300_000}


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("scale", list(SCALES))
@pytest.mark.parametrize("variant", ["hinge", "squared_hinge"])
def test_dcd_reaches_the_optimum_at_any_scale_with_an_off_centre_bias(variant, scale, weighted):
    if scale == 100.0 and dual_cd._dualcd is None:
        pytest.skip("300,000 epochs of the Python fallback")
    X, y = _off_centre()
    X = X * scale
    weights = {}
    if weighted:
        weights = {"sample_weight": np.random.default_rng(1).exponential(size=y.size)}
    model = _svm(variant, reg=1e-3)
    exact = fit(model, X, y, solver="bfgs", gtol=1e-10, max_iter=5000, standardize=False,
                **weights).result  # fmt: skip
    gtol = 1e-6
    got = fit(model, sp.csr_matrix(X), y, solver="dcd", gtol=gtol, max_iter=SCALES[scale],
              standardize=False, **weights).result  # fmt: skip
    assert got.success and got.status in (Status.GTOL, Status.PROJECTED_GRADIENT), got.status
    # the hinge's stop certifies f - f* <= gtol max(1, f) (its gap, the bias's error
    # included; measured: at most 6.8e-7 above bfgs's f); the squared hinge's, max|g| <=
    # gtol max(1, f), with f - f* far smaller here (measured: within 2e-11 of bfgs's f,
    # which stops on its gradient at 1e-10: f* to ~1e-12)
    assert got.fun - exact.fun <= gtol * max(1.0, got.fun), (got.fun, exact.fun)
    # bfgs on the hinge stops in its kinks' noise, above f* (measured: dcd's certified f
    # up to 2.8e-4 of f below bfgs's at scale 100)
    below = 1e-9 if variant == "squared_hinge" else 1e-3
    assert exact.fun - got.fun <= below * max(1.0, exact.fun), (got.fun, exact.fun)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("scale", [0.01, 1.0, 100.0])
def test_the_hinge_gap_bounds_the_distance_to_linfits_optimum(scale, weighted):
    """At every call's point, bias settled or not, f - f* <= hinge_gap (f* at most bfgs's
    f: a bound that fails the test if the gap does not bound f - f*); the projected
    gradients' mean, the old certificate (of the last round's problem only: the weights for
    the bias found), is ~1e-3 of f - f* after the first epoch at scale 0.01 (at bias
    feature 1 it was 0 there and stopped the fit, status PROJECTED_GRADIENT, f 1.96 where
    f* is 0.49)."""
    if scale == 100.0 and dual_cd._dualcd is None:
        pytest.skip("70,000 epochs of the Python fallback")
    X, y = _off_centre()
    X = X * scale
    n = y.size
    t = np.where(y == 1, 1.0, -1.0)
    u = np.random.default_rng(1).exponential(size=n) if weighted else None
    u = None if u is None else u / u.mean()  # the engine's multipliers: mean 1
    model = _svm("hinge", reg=1e-3)
    exact = fit(model, X, y, solver="bfgs", gtol=1e-10, max_iter=5000, standardize=False,
                sample_weight=u).result  # fmt: skip
    f_star = exact.fun / 2.0  # one binary problem, twice in one-vs-rest's mirrored columns
    C = 1.0 / (2.0 * model.reg * n)
    rows, state = sp.csr_matrix(X), None
    for eps in (1.0, 0.1, 1e-2, 1e-3, 1e-4, 1e-5):
        w, b, _, state = dual_cd.solve_binary(
            rows, t, C=C, margin=1.0, squared=False, intercept=True, eps=eps,
            max_epochs=300_000, seed=0, state=state, weights=u,
        )  # fmt: skip
        gap, loss = dual_cd.hinge_gap(rows, t, state["alpha"], w, b, margin=1.0, upper=C,
                                      weights=u)  # fmt: skip
        f = model.loss(model.pack(np.c_[-w, w], np.array([-b, b])), X, y, u) / 2.0
        assert loss + model.reg * w @ w == pytest.approx(f, rel=1e-12)
        assert gap >= 0.0 and f - f_star <= gap * (1 + 1e-9) + 1e-12 * f, (eps, f - f_star, gap)
        if scale == 0.01 and eps == 1.0:  # one epoch: every alpha_i at C, the bias far off
            old = _projected_gradient_mean(rows, t, state["alpha"], w, b, C, u)
            assert old < 0.01 * (f - f_star)  # measured: 6.7e-4 where f - f* is 0.61
    assert gap <= 1e-6  # and it closes (measured: 9e-9 to 1e-7 at eps 1e-5)


@pytest.mark.skipif(dual_cd._dualcd is None, reason="the compiled loop was not built")
@pytest.mark.parametrize("scale", [0.01, 1.0, 100.0])
@pytest.mark.parametrize("squared", [True, False])
def test_the_fallback_takes_the_compiled_steps_at_any_scale(squared, scale, monkeypatch):
    """The rounds after every epoch and the unshrinking when the centre's moves may have
    carried a shrunk gradient back (the drift), with the bias far from 0: the same steps
    (at scale 100 both stop at max_epochs, the optimum 70,000 epochs away)."""
    X, y = _off_centre(n=150)
    rows = sp.csr_matrix(X * scale)
    t = np.where(y == 1, 1.0, -1.0)
    C = 1.0 / (2.0 * 1e-3 * y.size)
    runs = []
    for compiled in (True, False):
        if not compiled:
            monkeypatch.setattr(dual_cd, "_dualcd", None)
        w, b, epochs, state = dual_cd.solve_binary(
            rows, t, C=C, margin=1.0, squared=squared, intercept=True, eps=1e-5,
            max_epochs=2000, seed=5,
        )  # fmt: skip
        runs.append((w, b, epochs, state["alpha"], state["converged"]))
    (w1, b1, e1, a1, c1), (w2, b2, e2, a2, c2) = runs
    assert e1 == e2 and c1 == c2 and c1 == (scale != 100.0)
    np.testing.assert_allclose(a2, a1, rtol=0, atol=1e-12 * C)
    np.testing.assert_allclose(w2, w1, rtol=0, atol=1e-12 * max(1.0, np.abs(w1).max()))
    assert b2 == pytest.approx(b1, rel=1e-12, abs=1e-12)
