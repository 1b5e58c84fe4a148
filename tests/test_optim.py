"""The optimizers: same optimum on every convex model (proof 5) and their contracts (proof 7).

Parametrized over the registry (``optimizer_cases()``: every registered optimizer, plus
Newton's conjugate-gradient path), so a newly registered optimizer is held to all of it.
"""

from __future__ import annotations

import dataclasses
import inspect
import itertools
import math
import warnings

import numpy as np
import pytest
import scipy.optimize
from core_problems import (
    center_bias,
    classification_data,
    data_for,
    max_rel_diff,
    model_cases,
    optimizer_cases,
    regression_data,
    scipy_minimum,
)

from linfit.errors import CapabilityError, ConvergenceWarning, OptionError, UnknownNameError
from linfit.models import LeastSquares, SoftmaxClassifier
from linfit.optim import (
    MESSAGES,
    OPTIMIZERS,
    IterationRecord,
    Objective,
    Status,
    get_optimizer,
    minimize,
)

OPT_CASES = optimizer_cases()
OPT_IDS = [label for label, _, _ in OPT_CASES]
CONVEX = [(label, m) for label, m in model_cases() if m.convex and m.differentiable]


# ---- proof 5: one optimum, whichever optimizer ------------------------------------------


@pytest.mark.parametrize("model", [m for _, m in CONVEX], ids=[label for label, _ in CONVEX])
@pytest.mark.parametrize(("label", "method", "options"), OPT_CASES, ids=OPT_IDS)
def test_every_optimizer_reaches_the_optimum_of_every_convex_model(label, method, options, model):
    rng = np.random.default_rng(51)
    X, y = data_for(model, rng, n_samples=80, n_features=4, n_classes=3)
    objective, x0 = model.objective(X, y), model.initial_params(X, y)
    if OPTIMIZERS[method].needs_hessian and not model.has_hessian:
        # the one pair that cannot run: it must say so, not run without a Hessian
        with pytest.raises(CapabilityError):
            minimize(objective, x0, method, **options)
        return
    oracle = scipy_minimum(model, X, y)  # scipy L-BFGS-B to gtol 1e-12 on the same objective
    res = minimize(objective, x0, method, **options)  # the defaults a user gets
    assert res.success, res.message
    gap = (res.fun - oracle.fun) / abs(oracle.fun)
    assert -1e-10 <= gap <= 1e-6, gap


def _softmax_20x10():
    rng = np.random.default_rng(52)
    X, y = classification_data(rng, n_samples=300, n_features=20, n_classes=10)
    return SoftmaxClassifier(reg=1e-3), X, y


def _counting(objective: Objective) -> tuple[Objective, dict[str, int]]:
    """``objective`` with its dense and operator Hessians counted: which path Newton took."""
    calls = {"hess": 0, "hess_operator": 0}

    def counted(name):
        inner = getattr(objective, name)
        if inner is None:
            return None

        def call(x):
            calls[name] += 1
            return inner(x)

        return call

    wrapped = dataclasses.replace(
        objective, hess=counted("hess"), hess_operator=counted("hess_operator")
    )
    return wrapped, calls


# The two Newton paths on the same problem: Cholesky of the dense Hessian (offered because
# dense_hessian=True overrides the cost rule, which at K^2 (d + 1) = 2100 > 1400 would
# offer products only) and conjugate gradient on Hessian-vector products.
NEWTON_PATHS = {"cholesky": {"dense_hessian": True}, "cg": {"dense_hessian": False}}


def _newton_on(model, X, y, path, **options):
    objective, calls = _counting(model.objective(X, y, **NEWTON_PATHS[path]))
    res = minimize(objective, model.initial_params(X, y), "newton", **options)
    # the path that ran is the one asked for, once per iteration, and only that one
    used, unused = ("hess", "hess_operator") if path == "cholesky" else ("hess_operator", "hess")
    assert calls[used] == res.nhev > 0 and calls[unused] == 0, (path, calls)
    return res


def test_softmax_20x10_objective_offers_the_dense_hessian_only_when_asked():
    model, X, y = _softmax_20x10()
    assert model.initial_params(X, y).size == 21 * 10  # <= Newton's dense_limit of 2000
    assert model.objective(X, y).hess is None  # the cost rule: 10^2 * 21 > 1400
    assert model.objective(X, y, dense_hessian=True).hess is not None
    assert model.objective(X, y, dense_hessian=False).hess is None
    for dense_hessian in (None, True, False):  # products are always there
        assert model.objective(X, y, dense_hessian=dense_hessian).hess_operator is not None


def test_newton_on_softmax_20_features_10_classes_converges_in_15_iterations():
    model, X, y = _softmax_20x10()
    oracle = scipy_minimum(model, X, y)
    for path in NEWTON_PATHS:
        res = _newton_on(model, X, y, path)
        assert res.status in (Status.GTOL, Status.DECREMENT), res.message
        assert res.nit <= 15, (path, res.nit)  # measured: 6 (Cholesky), 7 (CG)
        assert abs(res.fun - oracle.fun) <= 1e-9 * oracle.fun


def test_newton_cg_path_reaches_the_dense_newton_point():
    model, X, y = _softmax_20x10()
    # ftol=0: run to the gradient test rather than stopping on the decrement
    dense = _newton_on(model, X, y, "cholesky", gtol=1e-9, ftol=0.0)
    cg = _newton_on(model, X, y, "cg", gtol=1e-9, ftol=0.0)
    assert dense.success and cg.success
    assert abs(dense.fun - cg.fun) <= 1e-12 * dense.fun
    # |x - x*| <= |g|_2 / lambda_min, lambda_min >= 2 reg on W: sqrt(210) 1e-9 / 2e-3 ~ 7e-6
    assert max_rel_diff(center_bias(model, cg.x, 20), center_bias(model, dense.x, 20)) < 1e-5


# ---- proof 7: contracts ------------------------------------------------------------------


def _small_softmax():
    rng = np.random.default_rng(53)
    X, y = classification_data(rng, n_samples=50, n_features=3, n_classes=3)
    model = SoftmaxClassifier(reg=1e-2)
    return model, X, y


@pytest.mark.parametrize(("label", "method", "options"), OPT_CASES, ids=OPT_IDS)
def test_max_iter_reached_is_reported_as_not_converged(label, method, options):
    model, X, y = _small_softmax()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = minimize(
            model.objective(X, y), model.initial_params(X, y), method, gtol=0.0, ftol=0.0,
            max_iter=2, **options,
        )  # fmt: skip
    # the library itself warns, once, with the result's message
    assert [w.category for w in caught] == [ConvergenceWarning]
    assert str(caught[0].message) == res.message
    assert res.status == Status.MAX_ITER
    assert not res.success
    assert "max_iter" in res.message and "not converged" in res.message
    assert res.nit == 2 and len(res.history) == 3


@pytest.mark.parametrize(("label", "method", "options"), OPT_CASES, ids=OPT_IDS)
def test_nonfinite_start_is_reported(label, method, options):
    def fun(x):
        return math.nan, np.full_like(x, math.nan)

    x0 = np.ones(3)
    res = minimize(Objective(fun=fun, hess=lambda x: np.eye(3)), x0, method, **options)
    assert res.status == Status.DIVERGED and not res.success
    assert res.nit == 0
    assert "NaN" in res.message


@pytest.mark.parametrize("excess", [1.2, 1e4])  # lr = excess * 2 / L: slow or instant blow-up
def test_gd_with_too_large_a_fixed_step_stops_diverged_below_the_threshold(excess):
    """Above 2/L a fixed step grows the error by |1 - lr L| per iteration, so the objective
    climbs while staying finite; the run stops once it rises past 10x its start (the
    threshold is ``f0 + 10 max(1, |f0|)``), keeping the last point below it."""
    rng = np.random.default_rng(54)
    X, y = regression_data(rng, n_samples=40, n_features=3)
    model = LeastSquares(reg=0.0)
    objective = model.objective(X, y)
    X1 = np.column_stack([X, np.ones(len(X))])
    lipschitz = np.linalg.eigvalsh(2.0 / len(X) * X1.T @ X1).max()
    res = minimize(objective, model.initial_params(X, y), "gd", lr=excess * 2.0 / lipschitz)
    f0 = res.history[0].fun
    assert res.status == Status.DIVERGED and not res.success
    assert res.nit > 0 if excess < 2 else res.nit == 0  # climbed for a while, or at once
    assert f0 <= res.fun <= f0 + 10.0 * max(1.0, f0)
    assert res.fun == res.history[-1].fun == model.loss(res.x, X, y)  # x and fun together
    assert len(res.history) == res.nit + 1
    assert "diverged" in res.message


def _nan_beyond_one(x):
    """sum (x - 3)^2 where x_0 < 1, NaN elsewhere: the minimizer lies in the NaN region."""
    if x[0] >= 1.0:
        return math.nan, np.full_like(x, math.nan)
    return float(np.sum((x - 3.0) ** 2)), 2.0 * (x - 3.0)


@pytest.mark.parametrize(("label", "method", "options"), OPT_CASES, ids=OPT_IDS)
def test_line_searches_treat_nonfinite_values_as_too_far(label, method, options):
    objective = Objective(
        fun=_nan_beyond_one,
        hess=lambda x: 2.0 * np.eye(x.size),
        hess_operator=lambda x: lambda v: 2.0 * v,
    )
    res = minimize(objective, np.zeros(3), method, max_iter=200, **options)
    assert np.isfinite(res.x).all() and res.x[0] < 1.0
    assert res.fun == _nan_beyond_one(res.x)[0] == res.history[-1].fun
    assert res.fun < _nan_beyond_one(np.zeros(3))[0]  # it made progress toward the edge
    assert not res.success or res.status == Status.FTOL  # never a false "gradient converged"


@pytest.mark.parametrize(("label", "method", "options"), OPT_CASES, ids=OPT_IDS)
def test_callback_sees_every_iteration(label, method, options):
    model, X, y = _small_softmax()
    seen: list[IterationRecord] = []
    res = minimize(
        model.objective(X, y), model.initial_params(X, y), method, callback=seen.append, **options
    )
    assert res.success
    assert len(res.history) == res.nit + 1
    assert [r.nit for r in res.history] == list(range(res.nit + 1))
    assert seen == list(res.history)  # including the start and the last iteration
    assert all(a.nfev <= b.nfev for a, b in itertools.pairwise(res.history))
    assert res.nfev >= res.nit + 1 and res.njev >= res.nit + 1


@pytest.mark.parametrize("stop_at", [0, 3])
@pytest.mark.parametrize(("label", "method", "options"), OPT_CASES, ids=OPT_IDS)
def test_callback_returning_true_stops(label, method, options, stop_at):
    model, X, y = _small_softmax()
    res = minimize(
        model.objective(X, y), model.initial_params(X, y), method, gtol=0.0, ftol=0.0,
        callback=lambda record: record.nit >= stop_at, **options,
    )  # fmt: skip
    assert res.status == Status.STOPPED and not res.success
    assert res.nit == stop_at and len(res.history) == stop_at + 1
    assert res.fun == model.loss(res.x, X, y)


def test_unknown_optimizer_lists_the_valid_names():
    for call in (lambda: get_optimizer("nope"), lambda: minimize(Objective(fun=None), [0], "nope")):
        with pytest.raises(UnknownNameError) as info:
            call()
        for name in OPTIMIZERS:
            assert name in str(info.value)


@pytest.mark.parametrize("lr", [0.0, -1.0, math.nan, math.inf])
def test_gd_refuses_a_nonpositive_or_nonfinite_lr(lr):
    model, X, y = _small_softmax()
    with pytest.raises(OptionError, match="lr"):
        minimize(model.objective(X, y), model.initial_params(X, y), "gd", lr=lr)


def _takes(name: str, option: str) -> bool:
    return option in inspect.signature(OPTIMIZERS[name]).parameters


@pytest.mark.parametrize("method", [n for n in OPTIMIZERS if _takes(n, "line_search")])
def test_unknown_line_search_is_refused(method):
    model, X, y = _small_softmax()
    with pytest.raises(UnknownNameError, match="weak-wolfe"):
        minimize(model.objective(X, y), model.initial_params(X, y), method, line_search="nope")


@pytest.mark.parametrize(("label", "method", "options"), OPT_CASES, ids=OPT_IDS)
def test_result_is_frozen_and_x0_untouched(label, method, options):
    model, X, y = _small_softmax()
    x0 = model.initial_params(X, y) + 0.1
    before = x0.copy()
    res = minimize(model.objective(X, y), x0, method, **options)
    np.testing.assert_array_equal(x0, before)
    assert not np.shares_memory(res.x, x0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.fun = 0.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.history[0].fun = 0.0  # type: ignore[misc]
    assert res.method == method


def test_status_table_is_complete():
    for status in Status:
        assert MESSAGES[status]
        # success: the gradient test held, least squares was solved in closed form, or a
        # dual solver's projected gradient test held on the hinge (which has no gradient)
        successes = (Status.GTOL, Status.CLOSED_FORM, Status.PROJECTED_GRADIENT)
        assert status.success == (status in successes)


def _rosenbrock() -> Objective:
    """A function-only objective: optimizers know nothing about models."""
    return Objective(
        fun=lambda x: (scipy.optimize.rosen(x), scipy.optimize.rosen_der(x)),
        value=scipy.optimize.rosen,
        hess=scipy.optimize.rosen_hess,
        hess_operator=lambda x: lambda v: scipy.optimize.rosen_hess_prod(x, v),
    )


@pytest.mark.parametrize(("label", "method", "options"), OPT_CASES, ids=OPT_IDS)
def test_rosenbrock_from_the_classic_start(label, method, options):
    # gd needs ~2e4 iterations on this valley (~2 s); the others ~40.
    res = minimize(
        _rosenbrock(), np.array([-1.2, 1.0]), method, gtol=1e-10, ftol=0.0, max_iter=100_000,
        **options,
    )  # fmt: skip
    assert res.success, res.message
    # at (1, 1) the Hessian's smallest eigenvalue is ~0.4: |x - 1| <= |g| / 0.4 ~ 1e-9
    np.testing.assert_allclose(res.x, [1.0, 1.0], rtol=0, atol=1e-6)


def test_gradient_test_scales_with_a_large_objective():
    """A target in the thousands (f ~ 1e6): an absolute 1e-6 on the gradient would ask for a
    decrease below float64's resolution of f; scaled by |f| it converges, at the optimum."""
    rng = np.random.default_rng(61)
    X, y = regression_data(rng, n_samples=200, n_features=4)
    y = 1e3 * y + 5e3
    model = LeastSquares(reg=0.0)
    res = minimize(model.objective(X, y), model.initial_params(X, y), "lbfgs", gtol=1e-8)
    assert res.status == Status.GTOL
    Xh = np.column_stack([X, np.ones(len(y))])
    best = np.linalg.lstsq(Xh, y, rcond=None)[0]
    assert res.fun - model.loss(best, X, y) <= 1e-11 * res.fun  # optimal to float precision


# ---- the registry fills itself from the package's files ---------------------------------


def _registrations_in_files() -> dict[str, str]:
    """``{optimizer name: module}`` read from the source of every module of linfit.optim:
    each ``@register("name", ...)`` decorator, found by parsing, not by importing."""
    import ast
    import pathlib

    import linfit.optim

    found: dict[str, str] = {}
    for path in sorted(pathlib.Path(linfit.optim.__path__[0]).glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef):
                continue
            for deco in node.decorator_list:
                if (
                    isinstance(deco, ast.Call)
                    and getattr(deco.func, "id", getattr(deco.func, "attr", None)) == "register"
                ):
                    name = deco.args[0].value
                    assert name not in found, f"{name!r} registered twice"
                    found[name] = f"linfit.optim.{path.stem}"
    return found


def test_registry_holds_exactly_what_the_optimizer_modules_register():
    import linfit.optim

    in_files = _registrations_in_files()
    assert len(in_files) >= 4  # gd, newton, bfgs, lbfgs at least
    assert set(OPTIMIZERS) == set(in_files)
    for name, optimizer in OPTIMIZERS.items():
        assert optimizer.__module__ == in_files[name], name
    # machinery modules register nothing, so skipping them loses no optimizer
    assert not {m.rsplit(".", 1)[1] for m in in_files.values()} & linfit.optim.INFRASTRUCTURE


def test_a_new_optimizer_file_is_registered_with_no_other_edit(tmp_path, monkeypatch):
    """A file dropped into the package (here: a temporary folder on its search path) is
    imported by the package's discovery and its ``@register`` lands in the registry."""
    import sys

    import linfit.optim

    name, module = "probe-optimizer", "linfit.optim._probe_optimizer_for_tests"
    (tmp_path / "_probe_optimizer_for_tests.py").write_text(
        "from linfit.optim.registry import register\n\n\n"
        f"@register({name!r})\n"
        "def probe(run):\n"
        "    while run.running:\n"
        "        run.accept(run.x * 0.0, *run.evaluate(run.x * 0.0), 1.0)\n"
    )
    monkeypatch.setattr(linfit.optim, "__path__", [*linfit.optim.__path__, str(tmp_path)])
    try:
        linfit.optim.import_optimizer_modules()
        assert OPTIMIZERS[name].__module__ == module
        res = minimize(Objective(fun=lambda x: (float(x @ x), 2.0 * x)), np.ones(2), name)
        assert res.success and res.method == name and res.fun == 0.0
    finally:
        OPTIMIZERS.pop(name, None)
        sys.modules.pop(module, None)
    assert name not in OPTIMIZERS


# ---- max_iter warns, once ------------------------------------------------------------------


def test_minimize_at_max_iter_warns_convergence_warning():
    model, X, y = _small_softmax()
    with pytest.warns(ConvergenceWarning, match="not converged: reached max_iter"):
        res = minimize(model.objective(X, y), model.initial_params(X, y), "lbfgs", max_iter=2)
    assert res.status == Status.MAX_ITER and not res.success and res.nit == 2


@pytest.mark.parametrize(("label", "method", "options"), OPT_CASES, ids=OPT_IDS)
def test_a_converged_run_does_not_warn(label, method, options):
    model, X, y = _small_softmax()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        res = minimize(model.objective(X, y), model.initial_params(X, y), method, **options)
    assert res.success


@pytest.mark.parametrize("chunk_rows", [None, 20])
def test_fit_at_max_iter_warns_once_with_its_advice(chunk_rows):
    """The optimizer's own warning is replaced by fit's, which says what to try."""
    from linfit.fitting import fit

    model, X, y = _small_softmax()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trained = fit(model, X, y, max_iter=2, chunk_rows=chunk_rows)
        res = trained.result
    assert res.status == Status.MAX_ITER
    assert [w.category for w in caught] == [ConvergenceWarning], [str(w.message) for w in caught]
    message = str(caught[0].message)
    assert message == trained.summary["message"]
    assert "max_iter=2" in message and "try more `max_iter`" in message
    assert caught[0].filename == __file__  # pointed at the caller of fit


# ---- BFGS skips an update whose curvature s.y is not positive -----------------------------


def _double_well(x):
    """``sum x^4 / 4 - x^2``: concave for |x_i| < sqrt(2/3), minima at x_i = +-sqrt(2)."""
    return float(np.sum(x**4 / 4.0 - x**2)), x**3 - 2.0 * x


def test_bfgs_skips_the_update_when_the_curvature_condition_fails(monkeypatch):
    """An Armijo step (no curvature test) inside the concave region gives s.y < 0. The
    update must be skipped, leaving the inverse Hessian at the identity: the next direction
    is exactly -g. Updating instead would make H negative definite (the first update scales
    H by s.y / y.y < 0) and the next direction an ascent one."""
    from linfit.optim import linesearch

    calls = []

    def recording_armijo(run, d, alpha0=1.0):
        calls.append((run.x.copy(), run.g.copy(), d.copy()))
        return linesearch.armijo(run, d, alpha0=alpha0)

    monkeypatch.setitem(linesearch.LINE_SEARCHES, "recording-armijo", recording_armijo)
    x0 = np.array([0.1, 0.2])
    res = minimize(
        Objective(fun=_double_well), x0, "bfgs", gtol=1e-9, ftol=0.0,
        line_search="recording-armijo",
    )  # fmt: skip
    (x1, g1, d1), (x2, g2, d2) = calls[0], calls[1]
    s, y = x2 - x1, g2 - g1
    assert float(s @ y) < 0 and linesearch.curvature(s, y) is None  # the failing pair
    np.testing.assert_array_equal(d1, -g1)  # first direction: H = I
    np.testing.assert_array_equal(d2, -g2)  # skipped: H is still I
    # later pairs (past the inflection points) do update H: directions stop being -g
    assert any(not np.allclose(d, -g) for _, g, d in calls[2:])
    # and the run still ends at the minimizer it was heading to
    assert res.success, res.message
    np.testing.assert_allclose(res.x, [np.sqrt(2.0), np.sqrt(2.0)], rtol=0, atol=1e-9)


# ---- gd with a fixed step 1/L on least squares --------------------------------------------


@pytest.mark.parametrize("fraction", [1.0, 0.5])
def test_gd_fixed_step_within_one_over_L_reaches_the_least_squares_solution(fraction):
    """For J = (1/N)|Xh theta - y|^2, L = lambda_max((2/N) Xh^T Xh); a fixed step lr <= 1/L
    decreases J at every iteration (J(x - lr g) <= J(x) - lr |g|^2 / 2) and converges."""
    rng = np.random.default_rng(71)
    X, y = regression_data(rng, n_samples=120, n_features=5)
    Xh = np.column_stack([X, np.ones(len(y))])
    L = float(np.linalg.eigvalsh(2.0 / len(y) * Xh.T @ Xh).max())
    model = LeastSquares(reg=0.0)
    theta = np.linalg.lstsq(Xh, y, rcond=None)[0]
    best = model.loss(theta, X, y)

    lr = fraction / L
    res = minimize(
        model.objective(X, y), model.initial_params(X, y), "gd", lr=lr, gtol=1e-8, ftol=0.0,
        max_iter=5000,
    )  # fmt: skip
    assert res.success, res.message
    assert all(r.step == lr for r in res.history[1:])  # the fixed step, never searched
    values = [r.fun for r in res.history]
    assert all(b < a for a, b in itertools.pairwise(values))  # monotone descent
    assert 0.0 <= (res.fun - best) / best <= 1e-6
