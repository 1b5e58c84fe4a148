"""dcd for the Weston-Watkins SVM (fitting/dual_ww.py): its optimum against independent
oracles (scipy's L-BFGS-B and linfit's own bfgs/lbfgs on the primal), what it reports,
the compiled loop against its Python fallback, weights against repeated and dropped rows,
and its refusals."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from core_problems import scipy_minimum
from dual_oracles import box_projection

from bench.sparse import text_matrix
from linfit.errors import CapabilityError
from linfit.fitting import dual_ww, dual_ww_python, fit
from linfit.fitting.solvers import bias_held
from linfit.models import LinearSVM, SoftmaxClassifier
from linfit.optim import Status


def _problem(n_samples=120, n_features=12, n_classes=3, seed=91):
    rng = np.random.default_rng(seed)
    X = text_matrix(n_samples, n_features, nnz_per_row=6, rng=rng)
    scores = X @ rng.standard_normal((n_features, n_classes)) * 3 + 0.5
    y = np.argmax(scores + rng.gumbel(size=scores.shape), axis=1)
    y[:n_classes] = np.arange(n_classes)  # every class present
    return X, y


def _svm(variant, intercept=True, reg=1e-2):
    return LinearSVM(reg=reg, variant=variant, fit_intercept=intercept)


def _objective(model, X, y, weights=None):
    """The engine's ``params -> (f, g)`` as the dcd solver gets it (solvers.Problem): the
    model's objective, its bias's gradient held at zero without intercept."""
    objective = model.objective(X, y, sample_weight=weights)
    if not model.fit_intercept:
        objective = bias_held(objective, model.n_outputs(y))
    return objective.fun


def _dual_ww(model, X, y, weights=None, gtol=1e-9, seed=0):
    return dual_ww.dual_ww(
        model, X, y, _objective(model, X, y, weights), gtol=gtol, ftol=0.0, max_iter=100_000,
        seed=seed, weights=weights,
    )  # fmt: skip


def _oracle(model, X, y, weights=None):
    """The primal optimum by another method: scipy's L-BFGS-B (gtol 1e-12) for the squared
    hinge with intercept; linfit's lbfgs (squared hinge without intercept) or full BFGS
    (the hinge, its default: it reaches the exact QP's optimum to ~1e-9, test_models)."""
    if model.variant == "squared_hinge" and model.fit_intercept and weights is None:
        return scipy_minimum(model, X.toarray() if sp.issparse(X) else X, y).fun
    solver = "lbfgs" if model.variant == "squared_hinge" else "bfgs"
    return fit(model, X, y, solver=solver, gtol=1e-10, ftol=0.0, max_iter=20_000,
               standardize=False, sample_weight=weights).result.fun  # fmt: skip


def _assert_at_the_optimum(variant, f, oracle):
    """dcd's f (gtol 1e-9) against the oracle's. Squared hinge: both gradients <= 1e-9
    (scipy's 1e-12) with curvature >= 2 reg = 0.02, so each is within |g|^2 / (4 reg) ~ 1e-17
    of f*: 1e-12 relative is rounding's room (measured: at most 5e-16). Hinge: dcd's stop
    certifies f - f* <= gtol max(1, f) (the gap bound; the last proximal term's share is
    rounding's), and the oracle is no lower than f*; bfgs stops in the kinks' noise, within
    1e-9 above f* (test_models). Measured: dcd 1.3e-10 to 4.8e-10 above bfgs unweighted,
    3e-10 relative weighted, where the certificate allows 1e-9 to 1.9e-9."""
    if variant == "squared_hinge":
        assert abs(f - oracle) <= 1e-12 * oracle, (f, oracle)
    else:
        assert -1e-9 <= f - oracle <= 1e-9 * max(1.0, f) * (1 + 1e-9), (f, oracle)


@pytest.mark.parametrize("n_classes", [2, 3, 5])
@pytest.mark.parametrize("intercept", [True, False], ids=["intercept", "no-intercept"])
@pytest.mark.parametrize("variant", ["squared_hinge", "hinge"])
def test_dcd_reaches_the_primal_optimum(variant, intercept, n_classes):
    X, y = _problem(n_classes=n_classes)
    model = _svm(variant, intercept)
    result = _dual_ww(model, X, y)
    assert result.success and result.method == "dcd"
    assert result.status == (Status.GTOL if variant == "squared_hinge" else
                             Status.PROJECTED_GRADIENT)  # fmt: skip
    _assert_at_the_optimum(variant, result.fun, _oracle(model, X, y))
    if not intercept:
        assert not model.unpack(result.x, X.shape[1])[1].any()  # the bias stays 0


@pytest.mark.parametrize("scale, reg", [(1e-2, 1e-2), (1e2, 1e2)])
def test_the_bias_reaches_its_optimum_on_rows_of_any_scale(scale, reg):
    """Rows scaled by 0.01 at the same penalty (the bias does most of the work), or by 100
    at 1e4 times it (the unscaled problem): the constant feature follows the rows' scale,
    and the hinge's stop must still wait for the bias's optimum (rows of norm 0.01 once
    stopped at 3 epochs with the bias far off; then its rounds drifted away with the
    shrunk variables left out)."""
    X, y = _problem(n_classes=3)
    X = (X * scale).tocsr()
    model = _svm("hinge", reg=reg)
    result = _dual_ww(model, X, y)
    assert result.success and result.status == Status.PROJECTED_GRADIENT
    _assert_at_the_optimum("hinge", result.fun, _oracle(model, X, y))


@pytest.mark.parametrize("variant", ["squared_hinge", "hinge"])
def test_dense_rows_give_the_sparse_rows_answer(variant):
    X, y = _problem(n_classes=4)
    model = _svm(variant)
    dense, csr = _dual_ww(model, X.toarray(), y), _dual_ww(model, X, y)
    # the same rows (a dense X is converted to CSR, its zeros dropped): the same steps
    np.testing.assert_allclose(dense.x, csr.x, rtol=0, atol=1e-13)
    assert dense.nit == csr.nit


@pytest.mark.parametrize("variant", ["squared_hinge", "hinge"])
def test_what_it_reports_is_the_models_objective_and_gradient(variant):
    X, y = _problem(n_classes=3)
    model = _svm(variant)
    result = _dual_ww(model, X, y, gtol=1e-6)
    f, g = model.loss_gradient(result.x, X, y)
    assert result.fun == pytest.approx(f, rel=1e-14)
    np.testing.assert_allclose(result.jac, g, rtol=0, atol=1e-15)
    if variant == "squared_hinge":
        assert np.max(np.abs(g)) <= 1e-6 * max(1.0, f)


def test_the_hinge_runs_the_models_objective_once_whatever_its_calls():
    """The hinge's test reads f and the gap bound off its own pass after each call
    (dual_cd.tightened): the model's objective runs once, for what is reported."""
    X, y = _problem(n_classes=3)
    model = _svm("hinge")
    seen = []

    def objective(params):
        seen.append(params.copy())
        return model.loss_gradient(params, X, y)

    calls = []
    solve_ww = dual_ww.solve_ww

    def counted(*args, **kwargs):
        calls.append(kwargs["eps"])
        return solve_ww(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dual_ww, "solve_ww", counted)
        result = dual_ww.dual_ww(
            model, X, y, objective, gtol=1e-9, ftol=0.0, max_iter=100_000, seed=0
        )
    assert len(calls) >= 2 and result.nfev == len(seen) == 1
    np.testing.assert_array_equal(seen[0], result.x)


@pytest.mark.parametrize("intercept", [True, False], ids=["intercept", "no-intercept"])
def test_the_hinge_gap_is_the_duality_gap(intercept):
    """The gap equals P - D of the last round's problem (LIBLINEAR's units, over C n),
    both written out: P = |W|^2 / 2 + |wb|^2 / 2 + C sum hinge at the bias b = centre +
    bias_scale wb, D = sum_ij m_ij alpha_ij - |W|^2 / 2 - |wb|^2 / 2 with the margins m_ij =
    margin + centre_j - centre_y; and it is at most the projected gradients' bound
    mean_i sum_j |PG_ij| (term by term)."""
    X, y = _problem(n_classes=4)
    model = _svm("hinge", intercept=intercept)
    n, K = X.shape[0], 4
    C = 1.0 / (2.0 * model.reg * n)
    rows = np.arange(n)
    for eps in (1.0, 0.1, 1e-3):
        W, b, _, state = dual_ww.solve_ww(
            X, y, K, C=C, margin=1.0, squared=False, intercept=intercept, eps=eps,
            max_epochs=10_000, seed=1,
        )  # fmt: skip
        alpha, wb, centre = state["alpha"], state["wb"], state["b"]
        half_squares = 0.5 * np.sum(W * W) + 0.5 * np.sum(wb * wb)
        primal = model.loss(model.pack(W, b), X, y) * C * n + 0.5 * np.sum(wb * wb)
        margins = 1.0 + centre[None, :] - centre[y][:, None]
        dual = np.sum(alpha * margins) - half_squares
        gap, loss = dual_ww.hinge_gap(X, y, alpha, W, b, margin=1.0, upper=C)
        assert gap >= 0.0
        # P - D as written cancels ~49 to ~5e-4: held to rounding of P (measured 1.4e-16 P)
        assert C * n * gap == pytest.approx(primal - dual, rel=0, abs=1e-14 * primal), eps
        # the loss read off the same pass: linfit's data term (its objective is P / (C n))
        # (measured within 2.3e-16)
        assert loss + model.penalty(W) == pytest.approx(
            model.loss(model.pack(W, b), X, y), rel=1e-14
        )
        S = X @ W + b
        G = (S[rows, y] - 1.0)[:, None] - S
        pg = box_projection(G, alpha, C)
        pg[rows, y] = 0.0
        assert gap <= np.mean(np.abs(pg).sum(axis=1)) * (1 + 1e-12)


# The compiled loop against its Python fallback: the same shuffles, block steps, shrinking
# and proximal steps on the bias, so the same iterates within rounding.


def _solve_both(monkeypatch, *, squared, weights, intercept=True, seed=5, K=4):
    X, y = _problem(n_samples=90, n_classes=K, seed=seed)
    runs = []
    for compiled in (True, False):
        if not compiled:
            monkeypatch.setattr(dual_ww, "_wwdual", None)
        W, b, epochs, state = dual_ww.solve_ww(
            X, y, K, C=0.7, margin=1.0, squared=squared, intercept=intercept, eps=1e-4,
            max_epochs=3000, seed=seed, weights=weights,
        )  # fmt: skip
        runs.append((W, b, epochs, state))
    monkeypatch.undo()
    return runs


@pytest.mark.skipif(dual_ww._wwdual is None, reason="the compiled loop was not built")
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("squared", [True, False], ids=["squared_hinge", "hinge"])
def test_the_python_fallback_takes_the_compiled_loops_steps(squared, weighted, monkeypatch):
    rng = np.random.default_rng(7)
    weights = rng.exponential(size=90) * (rng.random(90) > 0.3) if weighted else None
    (W1, b1, e1, s1), (W2, b2, e2, s2) = _solve_both(monkeypatch, squared=squared,
                                                     weights=weights)  # fmt: skip
    assert e1 == e2 and s1["converged"] and s2["converged"]
    # the same steps, rounded apart by numpy's sums (measured: 9.5e-15 alpha, 3.8e-15 W,
    # 2.6e-15 b; alpha up to 3.1, W up to 1.4)
    np.testing.assert_allclose(s2["alpha"], s1["alpha"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(W2, W1, rtol=0, atol=1e-12)
    np.testing.assert_allclose(b2, b1, rtol=0, atol=1e-12)
    if weighted:
        dead = weights == 0
        assert not s1["alpha"][dead].any() and not s2["alpha"][dead].any()  # never visited
        if not squared:  # each alpha in its own box [0, C u_i]
            assert np.all(s1["alpha"] <= 0.7 * weights[:, None])


@pytest.mark.skipif(dual_ww._wwdual is None, reason="the compiled loop was not built")
def test_the_fallback_without_intercept_and_on_two_classes(monkeypatch):
    for K, intercept in ((2, True), (3, False)):
        (W1, b1, e1, _), (W2, b2, e2, _) = _solve_both(
            monkeypatch, squared=False, weights=None, intercept=intercept, K=K
        )
        assert e1 == e2
        np.testing.assert_allclose(W2, W1, rtol=0, atol=1e-12)  # measured: 3.6e-15
        np.testing.assert_allclose(b2, b1, rtol=0, atol=1e-12)


def test_the_stored_primal_weights_are_the_duals():
    """W = sum_ij alpha_ij x_i (e_y - e_j)^T and the constant feature's weights wb =
    bias_scale sum_ij alpha_ij (e_y - e_j), kept up to date by every block step."""
    X, y = _problem(n_classes=3)
    W, _, _, state = dual_ww.solve_ww(
        X, y, 3, C=0.5, margin=1.0, squared=True, intercept=True, eps=1e-3, max_epochs=500,
        seed=2,
    )  # fmt: skip
    alpha = state["alpha"]
    coef = -alpha.copy()
    coef[np.arange(y.size), y] = alpha.sum(axis=1)  # alpha_iy is 0
    np.testing.assert_allclose(W, X.T @ coef, rtol=0, atol=1e-12)
    assert state["bias_scale"] == dual_ww.bias_feature(X) > 0.0
    np.testing.assert_allclose(
        state["wb"], state["bias_scale"] * coef.sum(axis=0), rtol=0, atol=1e-12
    )


def test_the_bias_feature_follows_the_rows_scale():
    """The constant feature is BIAS_SCALE times the rows' root mean square norm: scaling X
    by t scales it by t; rows all zero take BIAS_SCALE itself."""
    X, _ = _problem()
    rms = np.sqrt(X.multiply(X).sum() / X.shape[0])
    assert dual_ww.bias_feature(X) == pytest.approx(dual_ww.BIAS_SCALE * rms, rel=1e-14)
    for t in (1e-3, 7.0):
        scaled = dual_ww.bias_feature((t * X).tocsr())
        assert scaled == pytest.approx(t * dual_ww.bias_feature(X), rel=1e-14)
    assert dual_ww.bias_feature(sp.csr_matrix((5, 3))) == dual_ww.BIAS_SCALE


# Weighted rows: sample i's dual cost is C u_i. Counts normalized to mean 1 are repeated
# rows (the engine's multipliers are of mean 1); zeros are dropped rows.


def _counts(n, seed=92):
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 4, size=n).astype(float)  # a quarter of zeros
    counts[:5] = 1.0  # the classes' first rows kept
    return counts


@pytest.mark.parametrize("variant", ["squared_hinge", "hinge"])
def test_integer_weights_are_repeated_rows_and_zeros_dropped_rows(variant):
    X, y = _problem(n_classes=3)
    counts = _counts(y.size)
    model = _svm(variant)
    keep = counts > 0
    rows = np.repeat(np.arange(y.size), counts.astype(int))
    for weights, (Xr, yr) in ((counts, (X[rows], y[rows])), (keep * 1.0, (X[keep], y[keep]))):
        u = weights * weights.size / weights.sum()  # mean 1, as the engine's
        weighted = _dual_ww(model, X, y, weights=u)
        plain = _dual_ww(model, Xr, yr)
        # the same objective: squared hinge both at |g| <= 1e-9, curvature >= 2 reg (~1e-16
        # apart; measured 1.6e-16); hinge both certified in [f*, f* + 1e-9 max(1, f)]
        # (measured 6e-11 apart)
        if variant == "squared_hinge":
            assert weighted.fun == pytest.approx(plain.fun, rel=1e-12)
        else:
            assert abs(weighted.fun - plain.fun) <= 1e-9 * max(1.0, plain.fun, weighted.fun)
        if variant == "squared_hinge":  # strictly convex: the same parameters too
            np.testing.assert_allclose(weighted.x, plain.x, rtol=0, atol=1e-7)


@pytest.mark.parametrize("variant", ["squared_hinge", "hinge"])
def test_weighted_dcd_reaches_the_primal_solvers_optimum(variant):
    X, y = _problem(n_classes=3)
    rng = np.random.default_rng(3)
    u = rng.exponential(size=y.size) * (rng.random(y.size) > 0.2)
    u *= u.size / u.sum()
    model = _svm(variant)
    result = _dual_ww(model, X, y, weights=u)
    _assert_at_the_optimum(variant, result.fun, _oracle(model, X, y, weights=u))


def test_weights_of_one_take_the_unweighted_steps():
    X, y = _problem(n_classes=3)
    model = _svm("hinge")
    ones, plain = _dual_ww(model, X, y, weights=np.ones(y.size)), _dual_ww(model, X, y)
    assert ones.nit == plain.nit
    np.testing.assert_allclose(ones.x, plain.x, rtol=0, atol=1e-15)


def test_the_seed_sets_the_order_not_the_optimum():
    X, y = _problem(n_classes=3)
    model = _svm("squared_hinge")
    runs = [_dual_ww(model, X, y, seed=s) for s in (0, 0, 1)]
    np.testing.assert_array_equal(runs[0].x, runs[1].x)  # repeatable
    assert not np.array_equal(runs[2].x, runs[0].x)  # another order: other roundings
    assert runs[2].fun == pytest.approx(runs[0].fun, rel=1e-12)


@pytest.mark.parametrize(
    "model",
    [SoftmaxClassifier(reg=1e-2), LinearSVM(reg=1e-2, multiclass="one-vs-rest"),
     LinearSVM(reg=0.0)],
    ids=["softmax", "one-vs-rest", "no-penalty"],
)  # fmt: skip
def test_what_it_does_not_solve_is_refused_before_any_work(model):
    with pytest.raises(CapabilityError, match="dcd"):
        dual_ww.check_ww_model(model)


@pytest.mark.parametrize("variant", ["hinge", "squared_hinge"])
def test_fit_with_dcd_routes_weston_watkins_here(variant):
    """fit(solver="dcd") on a Weston-Watkins SVM runs this solver (method dcd) and reaches
    the primal oracle's optimum (sparse rows, as read from LIBSVM), as closely as dual_ww's
    own tests (measured at gtol 1e-10: 3.3e-12 of f above bfgs for the hinge, 3.5e-16 for
    the squared hinge)."""
    model = _svm(variant)
    X, y = _problem(seed=97)
    trained = fit(model, X, y, solver="dcd", gtol=1e-10, max_iter=100_000, standardize=False)
    assert trained.result.method == "dcd" and trained.result.success
    _assert_at_the_optimum(variant, trained.result.fun, _oracle(model, X, y))


@pytest.mark.skipif(dual_ww._wwdual is None, reason="the compiled loop was not built")
def test_the_compiled_loop_refuses_arrays_that_do_not_fit():
    """A ValueError naming the array, before any write outside W (not a SystemError)."""
    X, y = _problem(n_samples=20, n_classes=3)
    X = dual_ww.compiled_rows(X)
    n, d = X.shape
    y = y.astype(np.int64)
    args = [X.indptr, X.indices, X.data, y, np.zeros(3), np.zeros((n, 3)), np.zeros((d, 3)),
            np.zeros(3), n, d, 3, 1.0, 1.0, 1.0, 0.0, 0.1, 10, 0]  # fmt: skip
    bad_index = X.indices.copy()
    bad_index[-1] = d
    bad_y = y.copy()
    bad_y[-1] = 3
    for position, bad, match in (
        (1, bad_index, "column index"),
        (3, bad_y, "class code"),
        (5, np.zeros((n, 2)), "alpha"),
        (6, np.zeros((d - 1, 3)), "W"),
        (0, X.indptr - 1, "indptr"),
    ):
        with pytest.raises(ValueError, match=match):
            dual_ww._wwdual.ww_dual(*args[:position], bad, *args[position + 1 :])


@pytest.mark.parametrize("upper", [0.7, np.inf], ids=["hinge", "squared_hinge"])
def test_the_warm_block_total_is_the_walks_root_or_declines(upper):
    """The block's total from the segment at a guess (dual_ww_python._warm_total, as the
    compiled loop's warm_total) is the sorted walk's root within rounding, or nan when the
    root is off that segment; at the root itself it never declines."""
    rng = np.random.default_rng(3)
    declined = 0
    for _ in range(400):
        m = int(rng.integers(1, 12))
        q, diag = rng.uniform(0.1, 3.0), rng.uniform(0.0, 1.0)
        r = q + diag
        c = rng.normal(scale=2.0, size=m)
        fixed = rng.uniform(0.0, 1.0)
        root = dual_ww_python._block_total(c, q, r, upper, fixed)
        for guess in (root, fixed, root + rng.normal(scale=0.5)):
            warm = dual_ww_python._warm_total(c, q, r, upper, fixed, guess)
            if np.isnan(warm):
                assert guess != root
                declined += 1
            else:
                assert warm == pytest.approx(root, rel=1e-12, abs=1e-12)
    assert declined > 0  # both outcomes are exercised
