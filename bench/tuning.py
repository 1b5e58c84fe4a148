"""What users tune with: a weighted fit against an unweighted one, and a cross-validated
penalty path against scikit-learn's ``LogisticRegressionCV`` (issue 19's targets).

Both sides see the same standardized rows, folds and penalties: linfit's ``reg`` and
scikit-learn's ``C`` name the same objective on a fold of ``n_train`` rows when
``C = 1 / (2 n_train reg)``.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from typing import Any

import numpy as np

from bench.classify import REG, Data
from bench.harness import Row, interleaved_times, median_ratio, paired_times, timed
from bench.sparse import SparseData
from linfit import fit
from linfit.errors import ConvergenceWarning
from linfit.fitting.cv import PATH_GTOL, cross_validate, fold_of
from linfit.linalg.blocks import single_blas_thread
from linfit.models import SoftmaxClassifier

FOLDS = 5
PATH = np.logspace(-6, -1, 12)  # linfit's regs; scikit-learn's Cs follow from them


def weighted_fit(data: Data) -> list[Row]:
    """Softmax by L-BFGS with weights of 1 passed (the same optimum, the same iterations:
    what weighing costs), paired with the unweighted fit; and one weighted evaluation
    with random weights against an unweighted one."""
    X, y = data.X_train, data.y_train
    model = SoftmaxClassifier(reg=REG)
    ones = np.ones(y.size)

    def run(w):
        return fit(model, X, y, solver="lbfgs", standardize=False, gtol=1e-6, sample_weight=w)

    # the untimed first runs (paired_times' warm-up) give the iterations
    nit_w, nit_u = run(ones).result.nit, run(None).result.nit
    t_w, _, ratio = paired_times(lambda: run(ones), lambda: run(None), repeat=3, warm_up=False)
    same = "as unweighted" if nit_w == nit_u else f"unweighted {nit_u}"
    rows = [
        Row("weighted fit", "linfit lbfgs, weights 1", t_w, "the unweighted fit", ratio,
            f"{nit_w} iterations, {same}", "<= 1.1x", ratio <= 1.1),
    ]  # fmt: skip
    w = np.random.default_rng(0).exponential(size=y.size)
    w /= w.mean()
    params = np.zeros((X.shape[1] + 1) * (int(y.max()) + 1))
    t_e, _, ratio_e = paired_times(
        lambda: model.loss_gradient(params, X, y, w), lambda: model.loss_gradient(params, X, y)
    )
    rows.append(Row("weighted fit", "one weighted evaluation", t_e, "unweighted evaluation",
                    ratio_e))  # fmt: skip
    return rows


def cv_path(data: Data) -> list[Row]:
    """A 12-value x 5-fold softmax path: ``linfit.fitting.cross_validate`` against
    ``LogisticRegressionCV`` on the same folds and penalties, each at its best thread
    setting, and whether both choose the same penalty."""
    X, y = data.X_train, data.y_train
    fold = fold_of(y, FOLDS, seed=0, stratify=True)
    n_train = int(np.median([np.sum(fold != i) for i in range(FOLDS)]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours, t_ours = timed(lambda: cross_validate(
            SoftmaxClassifier(), X, y, PATH, folds=FOLDS, seed=0, metric="log-loss",
            standardize=False, gtol=1e-6,
        ))  # fmt: skip
    theirs, t_theirs, jobs = _sklearn_path(X, y, fold, n_train)
    C_ours = 1.0 / (2 * n_train * ours.best_reg)
    same = bool(np.isclose(C_ours, float(np.ravel(theirs.C_)[0]), rtol=1e-9))
    ratio = t_ours / t_theirs
    return [
        Row("cv path", f"sklearn LogisticRegressionCV (n_jobs={jobs})", t_theirs,
            quality=f"C {float(np.ravel(theirs.C_)[0]):.4g}"),
        Row("cv path", "linfit cross_validate", t_ours, "sklearn LogisticRegressionCV", ratio,
            f"C {C_ours:.4g} (reg {ours.best_reg:.3g}), {'same' if same else 'another'} C",
            "<= 0.5x, the same C", ratio <= 0.5 and same),
    ]  # fmt: skip


def _sklearn_path(X, y, fold, n_train):
    """LogisticRegressionCV on ``fold``'s splits, timed with its folds on one process
    (BLAS on the cores) and on two (BLAS on one thread each): the faster is kept."""
    from sklearn.linear_model import LogisticRegressionCV

    splits = [(np.flatnonzero(fold != i), np.flatnonzero(fold == i)) for i in range(FOLDS)]
    Cs = 1.0 / (2 * n_train * PATH)
    best = None
    for jobs in (1, 2):

        def run(n_jobs=jobs):
            return LogisticRegressionCV(Cs=Cs, cv=splits, scoring="neg_log_loss", tol=1e-6,
                                        max_iter=1000, n_jobs=n_jobs).fit(X, y)  # fmt: skip

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if jobs == 2:
                with single_blas_thread():
                    fitted, t = timed(run)
            else:
                fitted, t = timed(run)
        if best is None or t < best[1]:
            best = (fitted, t, jobs)
    return best


# LIBLINEAR's -C search (find_parameters in its linear.cpp, 2.50): C from a start derived
# from the data, doubled up to this, every fold warm-started from its fit at the last C.
LIBLINEAR_MAX_C = 1024.0
SPARSE_CV_ROUNDS = 3  # paired rounds of each search; a full-size LIBLINEAR search is minutes
SPARSE_CV_LOSSES = {  # -s number: (label, LIBLINEAR's C = 1 / (scale n_train reg))
    0: ("logistic (softmax on two classes)", 1.0),
    2: ("squared hinge", 2.0),
}


def liblinear_grid(X, solver: int) -> np.ndarray:
    """The C's LIBLINEAR's ``-C -s solver -B 1`` tries on ``X`` (n, d): from the power of 2
    at or below ``1 / (n max|x|^2)`` (``1 / (2 n max|x|^2)`` for the squared hinge), the
    bias feature counted in ``|x|^2``, doubling up to ``LIBLINEAR_MAX_C``. (LIBLINEAR stops
    sooner when five C's in a row leave every fold's weights unchanged; the rows say
    which C it chose, from its own output.)"""
    n = X.shape[0]
    max_xtx = float(np.max(np.asarray(X.multiply(X).sum(axis=1)))) + 1.0
    low = 1.0 / ((2.0 if solver == 2 else 1.0) * n * max_xtx)
    start = min(2.0 ** np.floor(np.log2(low)), LIBLINEAR_MAX_C)
    steps = int(np.floor(np.log2(LIBLINEAR_MAX_C / start))) + 1
    return start * 2.0 ** np.arange(steps)


def sparse_cv(data: SparseData) -> list[Row]:
    """Issue 19's sparse target: ``cross_validate`` over LIBLINEAR's own ``-C`` grid, 5
    folds, accuracy, against ``train(prob, "-C -s {0,2} -v 5 -B 1 -q")``, for logistic
    regression and the squared-hinge SVM; time (the median of ``SPARSE_CV_ROUNDS`` paired,
    interleaved rounds) <= 1x and the chosen C within one grid step (a factor of 2) of
    LIBLINEAR's. Neither refits on all rows (``-C`` does not). Each stops its fold fits
    at its own default for a search: LIBLINEAR at its default eps, linfit at
    ``cross_validate``'s ``PATH_GTOL`` (1e-5, below the max |gradient| LIBLINEAR's fits
    stop at in linfit's units; see fitting/cv.py), the SVM's folds by tron, warm along the
    path as LIBLINEAR's -s 2. linfit's folds are stratified, LIBLINEAR's are not, so the
    CV accuracies differ by the split's noise."""
    from bench.external import installed

    prob = None
    if installed("liblinear"):
        from liblinear.liblinearutil import problem

        # built once, untimed, as linfit's X is
        prob = problem(data.y_train.astype(np.float64), data.X_train)
    return [row for solver in SPARSE_CV_LOSSES for row in _sparse_cv_loss(data, solver, prob)]


def _sparse_cv_loss(data: SparseData, solver: int, prob) -> list[Row]:
    """Both searches for LIBLINEAR's ``-s solver``'s loss: LIBLINEAR's row, then linfit's
    (LIBLINEAR's ``problem`` ``prob`` None: it is not installed, linfit's row alone)."""
    from bench.external import missing
    from linfit.models import LinearSVM

    workload = "sparse rcv1-like cv search"
    X, y = data.X_train, data.y_train
    label, scale = SPARSE_CV_LOSSES[solver]
    n_train = X.shape[0] - X.shape[0] // FOLDS  # each fold's training rows, within one
    grid = liblinear_grid(X, solver)
    regs = 1.0 / (scale * n_train * grid)
    model = (SoftmaxClassifier() if solver == 0
             else LinearSVM(variant="squared_hinge", multiclass="one-vs-rest"))  # fmt: skip
    out: dict[str, Any] = {}

    def ours() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            out["ours"] = cross_validate(model, X, y, regs, folds=FOLDS, seed=0,
                                         metric="accuracy", standardize=False,
                                         refit=False)  # fmt: skip

    system = f"LIBLINEAR -C -s {solver} -v {FOLDS} -B 1 ({label})"
    name = (f"linfit cross_validate ({label}), {grid.size} C's x {FOLDS} folds, "
            f"gtol {PATH_GTOL:g}")  # fmt: skip
    if prob is None:
        _, t = timed(ours)
        return [missing(workload, system, "liblinear-official"), Row(workload, name, t)]

    chosen: list[tuple[float, float]] = []  # LIBLINEAR's (C, CV accuracy) each round

    def theirs() -> None:
        from liblinear.liblinearutil import train

        with contextlib.redirect_stdout(io.StringIO()):  # it prints its choice despite -q
            C, _, rate = train(prob, f"-C -s {solver} -v {FOLDS} -B 1 -q")
        chosen.append((float(C), float(rate)))

    times = interleaved_times({"ours": ours, "theirs": theirs}, SPARSE_CV_ROUNDS,
                              warm_up=False)  # fmt: skip
    ratio = median_ratio(times["ours"], times["theirs"])
    # LIBLINEAR shuffles its folds with rand(), unseeded: each round's folds differ, and so
    # may its choice; linfit is held to the median (in log2) of its rounds' choices.
    C_theirs = float(2.0 ** np.median(np.round(np.log2([C for C, _ in chosen]))))
    result = out["ours"]
    C_ours = float(1.0 / (scale * n_train * result.best_reg))
    steps = abs(float(np.log2(C_ours / C_theirs)))
    each = ", ".join(f"{C:.4g} ({rate:.4f})" for C, rate in chosen)
    return [
        Row(workload, system, float(np.median(times["theirs"])),
            quality=f"C {C_theirs:.4g} (each round's C and CV accuracy: {each}), "
                    f"grid 2^{np.log2(grid[0]):.0f}..2^{np.log2(grid[-1]):.0f}"),
        Row(workload, name, float(np.median(times["ours"])), system, ratio,
            f"C {C_ours:.4g} ({steps:.0f} grid steps from LIBLINEAR's), CV accuracy "
            f"{result.mean[result.best]:.4f}, {int(result.n_iter.sum())} iterations",
            "<= 1x, C within one grid step", ratio <= 1.0 and steps <= 1.0 + 1e-9),
    ]  # fmt: skip
