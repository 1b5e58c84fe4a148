"""Cross-validation over a regularization path: choosing ``reg``.

Each of k folds (stratified for classifiers) trains on the other folds along the whole
path, from the strongest penalty down, every fit warm-started from the one before
(``linfit.fit(path=...)``, ``fitting/path.py``): a weaker penalty's optimum is near a
stronger one's, as in LIBLINEAR's search over C. The folds run in parallel, one per core,
each on one BLAS thread. The best ``reg`` has the best mean validation score (or, with
``one_se``, the strongest penalty within one standard error of it), and is refitted on all
the rows.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from linfit.engines.weights import ClassWeight, check_sample_weight
from linfit.errors import ConvergenceWarning, DataError, OptionError
from linfit.fitting.entry import default_solver, fit
from linfit.fitting.metrics import accuracy, r2, rmse
from linfit.fitting.trained import TrainedModel
from linfit.linalg.blocks import single_blas_thread, worker_count
from linfit.models import LinearModel

# metric -> (for classifiers, greater is better)
METRICS: dict[str, tuple[bool, bool]] = {
    "accuracy": (True, True),
    "log-loss": (True, False),
    "r2": (False, True),
    "rmse": (False, False),
}


@dataclass(frozen=True)
class CVResult:
    """A path's validation scores and the choice made from them.

    ``regs`` (R,) strongest first; ``scores`` and ``n_iter`` (folds, R): each fold's
    validation metric and its fit's iterations at each ``reg``; ``best`` the index of the
    chosen ``reg``; ``trained`` the model refitted on all rows with it (None when not
    asked)."""

    regs: np.ndarray
    scores: np.ndarray
    n_iter: np.ndarray
    metric: str
    best: int
    one_se: bool
    trained: TrainedModel | None
    time_s: float

    @property
    def mean(self) -> np.ndarray:
        """Mean validation score per reg (R,)."""
        return self.scores.mean(axis=0)

    @property
    def sd(self) -> np.ndarray:
        """Standard deviation over the folds per reg (R,), with k - 1 degrees of freedom."""
        return self.scores.std(axis=0, ddof=1)

    @property
    def best_reg(self) -> float:
        return float(self.regs[self.best])

    @property
    def greater_is_better(self) -> bool:
        return METRICS[self.metric][1]


def default_metric(model: LinearModel) -> str:
    """accuracy for a classifier, R^2 for a regressor."""
    return "accuracy" if model.is_classifier else "r2"


def check_cv_options(model: LinearModel, regs: Sequence[float], folds: int, metric: str) -> None:
    """Refuse, before any data is read, a path or metric ``model`` cannot use."""
    if metric not in METRICS:
        raise OptionError(f"`metric` takes {', '.join(METRICS)}, got {metric!r}")
    if METRICS[metric][0] != model.is_classifier:
        kind = "classifiers" if METRICS[metric][0] else "regressors"
        raise OptionError(f"`metric` {metric} is for {kind}, not {model.describe()}")
    if metric == "log-loss" and not hasattr(model, "predict_proba"):
        raise OptionError(
            f"`metric` log-loss needs probabilities, which {model.describe()} has not"
        )
    if len(regs) == 0 or not all(np.isfinite(r) and r >= 0 for r in regs):
        raise OptionError("`reg` needs one or more finite values >= 0 to search over")
    if folds < 2:
        raise OptionError(f"`folds` must be at least 2, got {folds}")


def fold_of(y: np.ndarray, folds: int, seed: int, stratify: bool) -> np.ndarray:
    """Each row's fold (n,) in 0..folds-1, the rows shuffled by ``seed``; stratified, each
    class is dealt round the folds in turn, so every fold holds its share of each class
    (and the folds' sizes differ by at most one)."""
    n = y.shape[0]
    if folds > n:
        raise DataError(f"`folds` {folds} is more than the {n} rows")
    order = np.random.default_rng(seed).permutation(n)
    fold = np.empty(n, dtype=np.int64)
    if not stratify:
        fold[order] = np.arange(n) % folds
        return fold
    codes = np.unique(y, return_inverse=True)[1][order]
    counts = np.bincount(codes)
    if counts.min() < folds:
        raise DataError(
            f"`folds` {folds} is more than the {counts.min()} rows of the smallest class: "
            "every fold needs a row of each class; use fewer folds"
        )
    sort = np.argsort(codes, kind="stable")  # by class, shuffled within it
    fold[order[sort]] = np.arange(n) % folds  # one class after another, dealt in turn
    return fold


def cross_validate(
    model: LinearModel,
    X: np.ndarray,
    y: np.ndarray,
    regs: Sequence[float],
    *,
    folds: int = 5,
    seed: int = 0,
    metric: str | None = None,
    one_se: bool = False,
    refit: bool = True,
    sample_weight: Any = None,
    class_weight: ClassWeight = None,
    path_gtol: float | None = None,
    **fit_options: Any,
) -> CVResult:
    """k-fold cross-validation of ``model`` over the penalties ``regs`` on ``X`` (n, d)
    and ``y`` (n,); ``fit_options`` go to every :func:`linfit.fit` (solver, gtol,
    max_iter, standardize, feature_names, ...). Weights weigh the training rows and the
    validation scores alike.

    The folds' fits stop at ``path_gtol``; None: at ``fit_options``' gtol when one is
    given, else at ``PATH_GTOL``. The refit stops at gtol (``fit``'s default unless
    given)."""
    metric = metric or default_metric(model)
    check_cv_options(model, regs, folds, metric)
    started = time.perf_counter()
    path = np.array(sorted(set(map(float, regs)), reverse=True))
    w = check_sample_weight(sample_weight, X.shape[0])
    fold = fold_of(np.asarray(y), folds, seed, model.is_classifier)
    fold_options = {
        **fit_options,
        "solver": path_solver(model, X, y, path, fit_options),
        "gtol": path_gtol if path_gtol is not None else fit_options.get("gtol", PATH_GTOL),
    }
    runs = _run_folds(model, X, y, w, fold, path, metric, class_weight, fold_options)
    scores = np.array([scores for scores, _ in runs])
    n_iter = np.array([nits for _, nits in runs])
    best = choose(scores, METRICS[metric][1], one_se)
    trained = None
    if refit:
        best_model = dataclasses.replace(model, reg=float(path[best]))
        trained = fit(best_model, X, y, sample_weight=w, class_weight=class_weight, **fit_options)
    elapsed = time.perf_counter() - started
    return CVResult(path, scores, n_iter, metric, best, one_se, trained, elapsed)


# Where the folds' fits stop when no gtol is given: they only rank the penalties, and the
# chosen one is refitted at fit's own default (1e-6). LIBLINEAR's -C search stops each fit
# at its default eps, which on 16,000 rcv1-like rows left max |gradient| at 2e-5 to 6e-5
# in linfit's units (squared hinge, C = 2^-6 .. 2^6); 1e-5 stays below that. Measured
# there (20,000 rows, 28 C's x 5 folds): the same C, each fold's accuracy within 0.00125
# and the best mean within 5e-5 of gtol 1e-6's, in 317 tron iterations instead of 406
# (0.98x LIBLINEAR's time instead of 1.53x, paired rounds).
PATH_GTOL = 1e-5

# Solvers that start every fit from zero (fit's ``init`` is not theirs to take), so a path
# gains nothing from the fit before: dual coordinate descent starts from the zero dual.
COLD_SOLVERS = frozenset({"dcd"})


def path_solver(
    model: LinearModel, X: Any, y: np.ndarray, path: np.ndarray, fit_options: dict[str, Any]
) -> str | None:
    """The solver of the folds' paths: the one named in ``fit_options``, else ``fit``'s
    default, except that a default which starts cold (``COLD_SOLVERS``) gives way, on a
    path of several penalties, to tron where the model is convex with a Hessian: tron
    takes each fit's start from the one before, as LIBLINEAR's ``-C`` search, which takes
    only its primal Newton solvers for that reason. (Measured on 20,000 rcv1-like rows,
    the squared-hinge SVM over LIBLINEAR's 28-value grid x 5 folds: dcd 22.3 s in 17,235
    epochs, tron 8.8 s in 406 iterations.) The refit keeps ``fit``'s own choice."""
    named = fit_options.get("solver")
    if named is not None or len(path) < 2 or not (model.has_hessian and model.convex):
        return named
    return "tron" if default_solver(model, X, y) in COLD_SOLVERS else None


def choose(scores: np.ndarray, greater_is_better: bool, one_se: bool) -> int:
    """The index of the best mean score over the folds ``scores`` (folds, R), regs
    strongest first; with ``one_se``, the first (strongest) whose mean is within one
    standard error (sd / sqrt(folds)) of the best."""
    sign = 1.0 if greater_is_better else -1.0
    mean = sign * scores.mean(axis=0)
    best = int(np.argmax(mean))
    if not one_se:
        return best
    se = scores.std(axis=0, ddof=1)[best] / np.sqrt(scores.shape[0])
    return int(np.flatnonzero(mean >= mean[best] - se)[0])


def _run_folds(model, X, y, w, fold, path, metric, class_weight, fit_options) -> list:
    """Each fold's ``(scores (R,), n_iter (R,))``, the folds spread over the cores.

    Not the folds one after another on the main thread, each product spread over the
    cores by the sparse kernels: on rcv1-like rows that measured 0.78x the fold threads'
    time on 20,000 rows and 0.935x on 40,000 (paired), but 258 s against 140-154 s on the
    full 200,000 while another process held one of the 2 cores (a product split over both
    waits for the slower; a fold thread just runs slower)."""
    k = int(fold.max()) + 1

    def one(i: int) -> tuple[np.ndarray, np.ndarray]:
        train, valid = fold != i, fold == i
        return fold_path(
            model, path, (X[train], y[train], None if w is None else w[train]),
            (X[valid], y[valid], None if w is None else w[valid]), metric, class_weight,
            fit_options,
        )  # fmt: skip

    workers = min(k, worker_count())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # n_iter shows a capped path
        if workers < 2:
            return [one(i) for i in range(k)]
        with single_blas_thread(), ThreadPoolExecutor(workers) as pool:
            return list(pool.map(one, range(k)))


def fold_path(
    model: LinearModel,
    path: np.ndarray,
    train: tuple[np.ndarray, np.ndarray, np.ndarray | None],
    valid: tuple[np.ndarray, np.ndarray, np.ndarray | None],
    metric: str,
    class_weight: ClassWeight,
    fit_options: dict[str, Any],
) -> tuple[np.ndarray, np.ndarray]:
    """One fold: ``model`` fitted on ``train`` ``(X, y, w)`` at each reg of ``path``
    (strongest first) by one ``fit(path=...)``, which prepares the rows once and starts
    each fit from the one before; the validation scores (R,) on ``valid`` and the
    iterations (R,)."""
    X, y, w = train
    last = dataclasses.replace(model, reg=float(path[-1]))
    trained = fit(last, X, y, sample_weight=w, class_weight=class_weight, path=path[:-1],
                  **fit_options)  # fmt: skip
    fits = (*trained.path, trained)
    scores = np.array([score(t, *valid, metric) for t in fits])
    return scores, np.array([t.result.nit for t in fits], dtype=np.int64)


def score(
    trained: TrainedModel, X: np.ndarray, y: np.ndarray, w: np.ndarray | None, metric: str
) -> float:
    """``metric`` of ``trained`` on raw ``X`` (n, d) against ``y`` (n,), rows weighted by
    ``w`` (n,) when given."""
    if metric == "accuracy":
        return accuracy(trained.class_codes(y), trained.predict_codes(X), w)
    if metric == "log-loss":
        codes = trained.class_codes(y)
        proba = trained.predict_proba(X)
        p = np.where(codes >= 0, proba[np.arange(codes.size), np.maximum(codes, 0)], 0.0)
        return float(np.average(-np.log(np.maximum(p, 1e-300)), weights=w))
    if metric == "r2":
        return r2(y, trained.predict(X), w)
    return rmse(y, trained.predict(X), w)
