"""sgd's and adagrad's lazy iterates on CSR rows (``optim/sgd_sparse.py``, ``optim/adagrad.py``)
against their dense iterates: the same batches, the same steps to rounding, and no batch
reading a full gradient; then what is sgd's own (the scale's fold, divergence)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from core_problems import data_for, model_cases

from linfit.engines.sparse_batches import with_row_batches
from linfit.errors import ConvergenceWarning, OptionError
from linfit.fitting import fit
from linfit.models import LeastSquares, LinearSVM, SoftmaxClassifier
from linfit.optim import Objective, Status, minimize
from linfit.optim import adagrad as adagrad_module

SOLVERS = ["sgd", "adagrad"]


def _csr_rows(X: np.ndarray, density: float, seed: int = 0) -> sp.csr_matrix:
    """``X`` (n, d) with about ``1 - density`` of its values zeroed and every 13th row
    empty (no stored value, a score of b alone), as CSR float64 (density 1: every value
    stored, a dense problem in CSR arrays)."""
    rng = np.random.default_rng(seed)
    X = np.where(rng.random(X.shape) < density, X, 0.0)
    X[::13] = 0.0
    return sp.csr_matrix(X)


def _reference_and_lazy(solver, model, X_csr, y, weights=None) -> tuple[Objective, Objective]:
    """The objective whose batches drive ``solver``'s dense iterate, and the one handing
    CSR rows over. sgd's reference is the model's own batches of the CSR rows
    (``models.blocks.minibatches``), so the engine's batches are held to the same
    shuffles; adagrad's is the engine's batches of the dense array (it takes only those)."""
    lazy = with_row_batches(
        model.objective(X_csr, y, sample_weight=weights), model, X_csr, y, weights
    )
    if solver == "sgd":
        return model.objective(X_csr, y, sample_weight=weights), lazy
    X = X_csr.toarray()
    return with_row_batches(
        model.objective(X, y, sample_weight=weights), model, X, y, weights
    ), lazy


def _quiet(objective, x0, solver, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return minimize(objective, x0, solver, **options)


MODELS = model_cases(reg=1e-2)
RUNS = [
    {"max_iter": 3, "batch_size": 64},  # calibrated step, averaged
    {"max_iter": 2, "lr": 0.3, "batch_size": 1, "average": False},
    {"max_iter": 2, "lr": 0.1, "batch_size": 10_000},  # one batch an epoch
]
# the lazy iterates against the dense ones over RUNS: measured 5.4e-15 (sgd) and 1.1e-14
# (adagrad) of max|x| at most, 1.7e-15 relative on the epochs' objectives; through fit,
# 1.3e-15 and 4.3e-16
SAME_STEPS = 1e-12


# adagrad's lazy iterate runs compiled (_adagrad.c) where it was built, and its numpy steps
# without a compiler: both are held to the dense iterate
LAZY_PATHS = [("sgd", True), ("adagrad", True), ("adagrad", False)]


@pytest.mark.parametrize(
    ("solver", "compiled"), LAZY_PATHS, ids=["sgd", "adagrad", "adagrad-numpy"]
)
@pytest.mark.parametrize("density", [0.15, 1.0], ids=["sparse", "dense"])
@pytest.mark.parametrize(("label", "model"), MODELS, ids=[label for label, _ in MODELS])
def test_the_lazy_iterate_takes_the_dense_ones_steps(
    label, model, density, solver, compiled, monkeypatch
):
    """Same seed, same batches: on CSR rows (sgd's ``W = a V``; adagrad's features brought
    up to date in closed form, compiled or by numpy) the epochs' objectives and the final
    point equal the dense iterate's to SAME_STEPS. Weighted rows too."""
    if not compiled:
        monkeypatch.setattr(adagrad_module, "_adagrad", None)
    X, y = data_for(model, np.random.default_rng(0), n_samples=300, n_features=6)
    X_csr = _csr_rows(X, density)
    weights = np.random.default_rng(5).uniform(0.0, 2.0, X.shape[0])
    for w in (None, weights / weights.mean()):
        reference, lazy = _reference_and_lazy(solver, model, X_csr, y, w)
        x0 = np.random.default_rng(2).normal(scale=0.1, size=model.initial_params(X, y).size)
        for options in RUNS:
            a, b = (_quiet(o, x0, solver, **options) for o in (reference, lazy))
            np.testing.assert_allclose(b.x, a.x, rtol=0, atol=SAME_STEPS * np.abs(a.x).max())
            np.testing.assert_allclose(
                [r.fun for r in b.history], [r.fun for r in a.history], rtol=SAME_STEPS
            )
            assert b.status == a.status and b.nit == a.nit


@pytest.mark.parametrize("solver", SOLVERS)
def test_fit_on_csr_rows_never_reads_a_full_gradient_and_steps_as_on_the_array(monkeypatch, solver):
    """Through ``fit`` (a binary classifier: searched on the mirror), CSR rows take the
    lazy iterate from the calibration on, no batch evaluating the general ``fun`` (which
    costs a pass over d), and land where the dense array does (SAME_STEPS)."""
    import linfit.engines.sparse_batches as sparse_batches

    model = LinearSVM(reg=1e-3, variant="squared_hinge", multiclass="one-vs-rest")
    X, y = data_for(model, np.random.default_rng(0), n_samples=600, n_features=8)
    y = y % 2
    X_csr = _csr_rows(X, 0.3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        dense = fit(model, X_csr.toarray(), y, solver=solver, standardize=False, max_iter=3)

        def no_full_gradient(*args):
            raise AssertionError("a batch's general gradient was evaluated")

        monkeypatch.setattr(sparse_batches, "_batch_fun", no_full_gradient)
        lazy = fit(model, X_csr, y, solver=solver, standardize=False, max_iter=3)
    np.testing.assert_allclose(
        lazy.result.x, dense.result.x, rtol=0, atol=SAME_STEPS * np.abs(dense.result.x).max()
    )
    assert lazy.result.fun == pytest.approx(dense.result.fun, rel=SAME_STEPS)


# ---- sgd's own: the scale folded back, divergence ----------------------------------------


@pytest.mark.parametrize("lr", [0.45, 0.5], ids=["shrink-0.1", "shrink-0"])
def test_a_scale_folded_back_into_the_weights_changes_no_step(lr):
    """reg 1 and a first step near 1 / (2 reg) shrink W by 0.1 (or to 0) a batch: the
    scale ``a`` falls below FOLD_BELOW within a few batches and is folded into V (and the
    mean's numbers into U), or the shrink is taken densely; the iterates still equal the
    general path's to 1e-11 of max|x| (measured 1.2e-13 and 3.8e-14: a fold at p / a up
    to FOLD_RATIO costs a few digits)."""
    from linfit.optim import sgd_sparse

    model = SoftmaxClassifier(reg=1.0)
    X, y = data_for(model, np.random.default_rng(0), n_samples=300, n_features=5)
    general, lazy = _reference_and_lazy("sgd", model, _csr_rows(X, 0.5), y)
    x0 = model.initial_params(X, y)
    folds = []
    original = sgd_sparse.LazyIterate.canonical

    def counted(self):
        folds.append(self.a)
        original(self)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sgd_sparse.LazyIterate, "canonical", counted)
        a, b = (_quiet(o, x0, "sgd", lr=lr, batch_size=10, max_iter=2) for o in (general, lazy))
    assert len(folds) >= 2
    np.testing.assert_allclose(b.x, a.x, rtol=0, atol=1e-11 * np.abs(a.x).max())


def test_the_lazy_iterate_stops_diverged_where_the_general_one_does():
    squares = LeastSquares(reg=1e-2)
    X, y = data_for(squares, np.random.default_rng(0), n_samples=600, n_features=5)
    general, lazy = _reference_and_lazy("sgd", squares, _csr_rows(X * 1e30, 1.0), y)
    x0 = squares.initial_params(X, y)
    a, b = (minimize(o, x0, "sgd", lr=1.0) for o in (general, lazy))
    assert a.status == b.status == Status.DIVERGED and a.nit == b.nit == 0
    for objective in (general, lazy):
        with pytest.raises(OptionError, match="no step that keeps the objective finite"):
            minimize(objective, x0, "sgd")
