"""``linfit.fit``, the one entry point: every solver, every engine, one result type.

Oracles: numpy's ``lstsq`` on ``[X, 1]`` for least squares (an independent solver), and
the in-memory fit for the out-of-core engine (the same objective summed by chunks).
"""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.sparse

import linfit
from linfit.engines.memory import InMemory
from linfit.engines.out_of_core import OutOfCore
from linfit.errors import CapabilityError, ConvergenceWarning, DivergenceError, OptionError
from linfit.fitting import SOLVERS, make_engine
from linfit.models import CLOSED_FORMS, LeastSquares, LinearSVM, SoftmaxClassifier
from linfit.optim import OPTIMIZERS, OptimizeResult, Status


def _regression(n: int = 400, d: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(2.0, 3.0, (n, d))
    return X, X @ rng.standard_normal(d) + 0.5 + 0.1 * rng.standard_normal(n)


def _lstsq(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """numpy's least-squares coefficients and intercept, as ``[w, b]``."""
    return np.linalg.lstsq(np.column_stack([X, np.ones(len(X))]), y, rcond=None)[0]


def test_the_package_exports_fit_save_and_load_lazily(tmp_path):
    """``import linfit`` loads no numpy; ``linfit.fit`` then trains and the file round-trips."""
    code = "import sys, linfit; print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    X, y = _regression()
    trained = linfit.fit(LeastSquares(reg=0.0), X, y, solver="normal")
    linfit.save(trained, tmp_path / "m.linfit")
    loaded = linfit.load(tmp_path / "m.linfit")
    np.testing.assert_array_equal(loaded.predict(X), trained.predict(X))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        linfit.nope  # noqa: B018


# the deterministic solvers of least squares (dcd solves the one-vs-rest SVMs only)
DETERMINISTIC = [name for name, s in SOLVERS.items() if not s.stochastic and s.accepts is None]


@pytest.mark.parametrize("solver", DETERMINISTIC)
@pytest.mark.parametrize("standardize", [False, True])
def test_every_solver_reaches_numpys_least_squares(solver, standardize):
    """Each deterministic solver, closed or iterative, returns numpy's coefficients (raw
    units; closed forms to 1e-11, iterative ones to 1e-6), and the same result type with
    the objective and gradient."""
    X, y = _regression()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        trained = linfit.fit(
            LeastSquares(reg=0.0), X, y, solver=solver, standardize=standardize, gtol=1e-7,
            ftol=0.0, max_iter=50_000,
        )  # fmt: skip
    W, b = trained.coefficients()
    expected = _lstsq(X, y)
    # a closed form is exact up to rounding (cond([X, 1]) ~ 10 here); an iterative solver
    # stops at max |gradient| <= 1e-7, ~1e-7 from the optimum on this well-posed problem
    tol = 1e-11 if SOLVERS[solver].closed_form else 1e-6
    np.testing.assert_allclose(np.r_[W[:, 0], b], expected, rtol=tol, atol=tol)
    result = trained.result
    assert isinstance(result, OptimizeResult) and result.method == solver
    f, g = LeastSquares(reg=0.0).loss_gradient(result.x, *_scaled(trained, X, y))
    assert result.fun == pytest.approx(f, rel=1e-12)
    np.testing.assert_allclose(result.jac, g, rtol=1e-9, atol=1e-12)
    assert trained.summary["converged"] and trained.summary["optimizer"] == solver


def _scaled(trained, X, y):
    return trained.scaler.transform(X), y


@pytest.mark.parametrize("method", CLOSED_FORMS)
def test_closed_forms_report_as_solvers(method):
    """A closed form is one solve: status closed_form, one iteration, the message the
    command line has always shown, and a gradient at the solution near zero."""
    X, y = _regression()
    trained = linfit.fit(LeastSquares(reg=1e-3), X, y, solver=method)
    assert trained.result.status == Status.CLOSED_FORM and trained.result.success
    assert trained.summary["status"] == "closed_form"
    assert trained.summary["message"] == f"closed form ({method})"
    assert trained.result.nit == 1
    assert trained.result.grad_norm <= 1e-10


@pytest.mark.parametrize("method", CLOSED_FORMS)
def test_closed_forms_refuse_other_models_before_any_work(method):
    with pytest.raises(CapabilityError, match=f"{method} is a closed form of least squares"):
        linfit.fit(SoftmaxClassifier(), np.zeros((4, 2)), np.array([0, 1, 0, 1]), solver=method)


@pytest.mark.parametrize("solver", [*CLOSED_FORMS, "lbfgs", "newton"])
def test_out_of_core_engine_gives_the_in_memory_fit(tmp_path, solver):
    """A memmap read by chunks of 64 rows (7 chunks) gives the in-memory parameters: a
    closed form up to rounding (cond ~10; measured 2e-14), an optimizer within its
    stopping distance of the optimum, max |gradient| 1e-11 over a Hessian whose least
    eigenvalue is about 2 on these standardized, nearly uncorrelated features."""
    X, y = _regression(n=420)
    np.save(tmp_path / "X.npy", X)
    X_map = np.load(tmp_path / "X.npy", mmap_mode="r")
    options = dict(solver=solver, gtol=1e-11, ftol=0.0, max_iter=5000)
    memory = linfit.fit(LeastSquares(reg=1e-2), X, y, **options)
    on_disk = linfit.fit(LeastSquares(reg=1e-2), X_map, y, chunk_rows=64, **options)
    tol = 1e-12 if SOLVERS[solver].closed_form else 1e-11
    np.testing.assert_allclose(on_disk.params, memory.params, rtol=tol, atol=tol)
    np.testing.assert_allclose(on_disk.scaler.mean, memory.scaler.mean, rtol=1e-13)


def test_auto_picks_the_engine_by_the_data():
    X, y = _regression(n=50)
    model = LeastSquares()
    options = dict(standardize=True, target_name="y")
    assert isinstance(make_engine("auto", model, X, y, **options), InMemory)
    chunked = make_engine("auto", model, X, y, chunk_rows=10, **options)
    assert isinstance(chunked, OutOfCore) and chunked.chunk_rows == 10
    with pytest.raises(OptionError, match="engine takes auto, memory, out-of-core, dask"):
        make_engine("gpu", model, X, y, **options)


def test_memory_engine_without_standardizing_does_not_copy_x():
    X, y = _regression(n=50)
    engine = make_engine("memory", LeastSquares(), X, y, standardize=False, target_name="y")
    assert engine.X is X
    sparse = scipy.sparse.csr_matrix(X)
    engine = make_engine("memory", LeastSquares(), sparse, y, standardize=False, target_name="y")
    assert engine.X is sparse
    np.testing.assert_allclose(engine.feature_means, X.mean(axis=0), rtol=1e-14)


def test_a_diverged_fit_raises_with_its_result():
    """gd with a step far too long on raw features: fit refuses to return a model, and the
    error carries the run (status DIVERGED, its history) for whoever wants to look."""
    X, y = _regression()
    with pytest.raises(DivergenceError, match="diverged") as caught:
        linfit.fit(LeastSquares(), X * 100, y, solver="gd", lr=10.0, standardize=False)
    assert caught.value.result.status == Status.DIVERGED
    assert len(caught.value.result.history) >= 1


def test_solvers_hold_every_optimizer_and_the_closed_forms():
    assert set(SOLVERS) == set(OPTIMIZERS) | set(CLOSED_FORMS) | {"dcd"}  # dcd: the dual
    assert all(SOLVERS[m].closed_form for m in CLOSED_FORMS)
    assert not any(SOLVERS[o].closed_form for o in OPTIMIZERS)


def test_errors_name_parameters_in_python_and_flags_on_the_command_line():
    """One message, two readers: Python reads ``reg``, the command line ``--reg``; a command
    that calls a parameter otherwise (solve-ls's --method) renders it so."""
    from linfit.cli.app import flags_of

    with pytest.raises(OptionError) as caught:
        SoftmaxClassifier(reg=-1.0)
    assert str(caught.value) == "reg must be a finite number >= 0, got -1.0"
    assert caught.value.render(flags_of("train")).startswith("--reg must be")
    with pytest.raises(OptionError) as caught:
        linfit.fit(LeastSquares(), *_regression(n=20), solver="normal", max_iter=-1)
    assert str(caught.value) == "max_iter must be >= 0, got -1"
    assert caught.value.render(flags_of("solve-ls")) == "--max-iter must be >= 0, got -1"
    with pytest.raises(CapabilityError) as caught:
        linfit.fit(LinearSVM(), np.zeros((2, 3)), np.array([0, 1]), solver="newton")
    assert "use solver lbfgs" in str(caught.value)
    assert "use --method lbfgs" in caught.value.render(flags_of("solve-ls"))


def test_the_advice_of_an_unconverged_fit_names_parameters_each_caller_renders():
    """fit's advice names its parameters in backquotes; each command renders them as its
    own flags (solve-ls chooses the solver with --method), as errors are rendered."""
    from linfit.cli.app import as_flags

    X, y = _regression()
    with pytest.warns(ConvergenceWarning, match="not converged") as caught:
        trained = linfit.fit(LeastSquares(), X, y, solver="gd", max_iter=2, standardize=False)
    message = trained.summary["message"]
    assert str(caught[0].message) == message
    advice = "try standardized features (`standardize`), more `max_iter`, another `solver`, "
    assert message.endswith(advice + "a larger `gtol`"), message
    assert as_flags(message, "train").endswith(
        "try standardized features (--standardize), more --max-iter, another --optimizer, "
        "a larger --tol"
    )
    assert as_flags(message, "solve-ls").endswith("another --method, a larger --tol")


def test_default_solver_is_lbfgs_where_bfgs_would_hold_too_many_parameters():
    """The hinge's default, full BFGS, keeps an n_params^2 matrix: it stays the default up
    to BFGS_MAX_PARAMS searched parameters (two classes search one column), and L-BFGS
    takes over above. On sparse rows a penalized SVM defaults to dcd (either loss, either
    multiclass form) and another convex model with a Hessian to tron."""
    from linfit.fitting.entry import BFGS_MAX_PARAMS, default_solver
    from linfit.models import LinearSVM

    hinge = LinearSVM(variant="hinge")
    wide = BFGS_MAX_PARAMS  # features: (d + 1) K is over the limit for any K >= 1
    narrow = np.zeros((4, 10))
    assert default_solver(hinge, narrow, np.array([0, 1, 2, 1])) == "bfgs"
    assert default_solver(hinge, np.zeros((4, wide)), np.array([0, 1, 0, 1])) == "lbfgs"
    # 10 features, 300 classes: 3,300 parameters
    assert default_solver(hinge, narrow, np.arange(300)) == "lbfgs"
    # two classes on the mirror: d + 1 parameters, under the limit at d = limit - 1
    assert default_solver(hinge, np.zeros((2, wide - 1)), np.array(["a", "b"])) == "bfgs"
    rows = scipy.sparse.csr_matrix(narrow)
    for svm in (LinearSVM(variant="squared_hinge"), hinge, LinearSVM(multiclass="one-vs-rest")):
        assert default_solver(svm, rows, np.array([0, 1, 2, 1])) == "dcd"
    assert default_solver(LinearSVM(reg=0.0, variant="squared_hinge"), rows) == "tron"
    from linfit.models import SoftmaxClassifier

    assert default_solver(SoftmaxClassifier(), rows) == "tron"


def test_sparse_rows_fit_with_blas_on_one_thread_and_dense_ones_as_set():
    """On CSR rows BLAS sees only short vector calls, whose threads cost more than they
    save (fitting/entry.solve): a callback during the fit sees one BLAS thread, while
    linfit's own kernels keep spreading over the process's threads (worker_count); on
    dense rows BLAS has the process's setting, which is restored after the sparse fit."""
    from linfit.linalg.blocks import blas_controller, worker_count
    from linfit.models import SoftmaxClassifier

    if blas_controller() is None:
        pytest.skip("threadpoolctl cannot see this BLAS")

    def blas_threads() -> int:
        return max(lib["num_threads"] for lib in blas_controller().info())

    before = blas_threads()
    X = scipy.sparse.random(200, 30, density=0.2, format="csr", random_state=0)
    y = np.arange(200) % 3
    seen = []

    def count(record):
        seen.append((blas_threads(), worker_count()))

    linfit.fit(SoftmaxClassifier(reg=1e-2), X, y, callback=count)
    assert seen and set(seen) == {(1, before)}
    assert blas_threads() == worker_count() == before
    seen.clear()
    dense = X.toarray()
    linfit.fit(SoftmaxClassifier(reg=1e-2), dense, y, callback=count)
    assert set(seen) == {(before, before)}
