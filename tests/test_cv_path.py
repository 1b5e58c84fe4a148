"""How ``cross_validate``'s folds fit their path: the solver (a cold-starting default gives
way to tron), where the folds stop (``PATH_GTOL`` unless a gtol is given) and what the
refit keeps (fit's own solver, tolerance and feature names).

Oracle: each fold's squared-hinge fit at every penalty recomputed cold by dcd, the dual
solver (a different algorithm on the same objective), scored on the fold's rows.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import linfit
import linfit.fitting.cv as cv
from linfit.fitting.cv import PATH_GTOL, cross_validate, fold_of, path_solver, score
from linfit.models import LinearSVM, SoftmaxClassifier

REGS = np.logspace(-3, -1, 4)


def _sparse_problem(n=400, d=60, seed=0):
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=0.15, format="csr", random_state=seed)
    y = (X @ rng.normal(size=d) + 0.3 * rng.normal(size=n) > 0).astype(np.int64)
    return X, y


def _svm():
    return LinearSVM(variant="squared_hinge", multiclass="one-vs-rest")


def test_a_cold_default_gives_way_to_tron_on_a_path_only(monkeypatch):
    X, y = _sparse_problem()
    path = np.sort(REGS)[::-1]
    monkeypatch.setattr(cv, "default_solver", lambda model, X, y=None: "dcd")
    assert path_solver(_svm(), X, y, path, {}) == "tron"
    assert path_solver(_svm(), X, y, path, {"solver": "lbfgs"}) == "lbfgs"  # named: kept
    assert path_solver(_svm(), X, y, path[:1], {}) is None  # one penalty: nothing to carry
    hinge = LinearSVM(variant="hinge", multiclass="one-vs-rest")  # no Hessian for tron
    assert path_solver(hinge, X, y, path, {}) is None
    monkeypatch.setattr(cv, "default_solver", lambda model, X, y=None: "tron")
    assert path_solver(_svm(), X, y, path, {}) is None  # a warm default stays


def test_the_tron_path_scores_equal_cold_dual_fits(monkeypatch):
    X, y = _sparse_problem()
    monkeypatch.setattr(cv, "default_solver", lambda model, X, y=None: "dcd")
    result = cross_validate(_svm(), X, y, REGS, folds=3, seed=0, metric="accuracy",
                            standardize=False, gtol=1e-9, refit=False)  # fmt: skip
    fold = fold_of(y, 3, seed=0, stratify=True)
    for j, reg in enumerate(result.regs):
        for i in range(3):
            train, valid = fold != i, fold == i
            cold = linfit.fit(LinearSVM(reg=reg, variant="squared_hinge",
                                        multiclass="one-vs-rest"),
                              X[train], y[train], solver="dcd", standardize=False, gtol=1e-10,
                              max_iter=20_000)  # fmt: skip
            expected = score(cold, X[valid], y[valid], None, "accuracy")
            # both optima agree to ~1e-8: at most one validation row near the boundary flips
            assert abs(result.scores[i, j] - expected) <= 1.0 / valid.sum() + 1e-12


def test_folds_stop_at_path_gtol_and_the_refit_at_fits_own(monkeypatch):
    X, y = _sparse_problem()
    calls = []
    real_fit = cv.fit

    def spy(*args, **options):
        calls.append(options)
        return real_fit(*args, **options)

    monkeypatch.setattr(cv, "fit", spy)
    result = cross_validate(SoftmaxClassifier(), X, y, REGS, folds=3, standardize=False)
    *folds, refit = calls
    assert len(folds) == 3 and all(o["gtol"] == PATH_GTOL for o in folds)
    assert "gtol" not in refit and "solver" not in refit  # fit's defaults
    assert result.trained.feature_names == tuple(f"x{i}" for i in range(X.shape[1]))
    calls.clear()
    cross_validate(SoftmaxClassifier(), X, y, REGS, folds=3, standardize=False, gtol=1e-8,
                   refit=False)  # fmt: skip
    assert all(o["gtol"] == 1e-8 for o in calls)  # a gtol given: the folds keep it
    calls.clear()
    cross_validate(SoftmaxClassifier(), X, y, REGS, folds=3, standardize=False, gtol=1e-8,
                   path_gtol=1e-4, refit=False)  # fmt: skip
    assert all(o["gtol"] == pytest.approx(1e-4) for o in calls)
