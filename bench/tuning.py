"""What users tune with: a weighted fit against an unweighted one, and a cross-validated
penalty path against scikit-learn's ``LogisticRegressionCV`` (issue 19's targets).

Both sides see the same standardized rows, folds and penalties: linfit's ``reg`` and
scikit-learn's ``C`` name the same objective on a fold of ``n_train`` rows when
``C = 1 / (2 n_train reg)``.
"""

from __future__ import annotations

import warnings

import numpy as np

from bench.classify import REG, Data
from bench.harness import Row, paired_times, timed
from linfit import fit
from linfit.errors import ConvergenceWarning
from linfit.fitting.cv import cross_validate, fold_of
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
