"""scikit-learn's closest models, fitted with linfit's penalty mapped onto theirs.

linfit minimizes ``mean loss + reg ||W||^2``; scikit-learn's linear models minimize
``C * sum loss + ||w||^2 / 2`` (LogisticRegression, LinearSVC) or
``||y - Xw||^2 + alpha ||w||^2`` (Ridge). Dividing through gives ``C = 1 / (2 N reg)``
and ``alpha = N reg``. With two classes scikit-learn fits one weight vector ``w`` where
linfit's two score columns carry ``-w/2`` and ``+w/2``, so ``||W||^2 = ||w||^2 / 2`` and
the matched ``C`` is ``1 / (N reg)``.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from linfit.models import LinearModel


@dataclass(frozen=True)
class Baseline:
    """A fitted scikit-learn model, as linfit params (so linfit's objective can score it)."""

    name: str
    params: np.ndarray  # flat [W.ravel(), b], in the same (scaled) feature units as linfit's
    n_iter: int | None
    time_s: float


def fit_baselines(
    model: LinearModel, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None
) -> list[Baseline]:
    """scikit-learn's closest models to ``model`` on scaled ``X`` (n, d) and targets ``y``.

    ``y`` holds class codes 0..K-1 for classifiers, values for regressors;
    ``sample_weight`` (n,), of mean 1 as linfit's models take it, so that the penalty's
    mapping onto scikit-learn's ``C`` and ``alpha`` (which count n rows) still holds.
    """
    candidates = _candidates(model, X.shape[0], y)
    return [_run(name, make, X, y, sample_weight) for name, make in candidates]


def _candidates(model: LinearModel, n: int, y: np.ndarray) -> list[tuple[str, Callable]]:
    from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
    from sklearn.svm import LinearSVC

    reg = max(model.reg, 1e-12)  # scikit-learn's C must be finite
    binary = model.is_classifier and int(y.max()) == 1
    C = 1.0 / (n * reg) if binary else 1.0 / (2.0 * n * reg)
    if model.name == "softmax":
        return [
            (
                "sklearn LogisticRegression",
                lambda: LogisticRegression(C=C, tol=1e-8, max_iter=10_000),
            )
        ]
    if model.name == "svm":
        loss = "hinge" if model.variant == "hinge" else "squared_hinge"
        if model.one_vs_rest:  # the same model up to LIBLINEAR's penalized intercept
            return [
                (
                    "sklearn LinearSVC (one-vs-rest)",
                    lambda: LinearSVC(C=C, loss=loss, max_iter=20_000, random_state=0),
                )
            ]
        return [
            (
                "sklearn LinearSVC (one-vs-rest)",
                lambda: LinearSVC(C=C, loss=loss, max_iter=20_000, random_state=0),
            ),
            (
                "sklearn LinearSVC (crammer-singer)",
                lambda: LinearSVC(
                    C=C, multi_class="crammer_singer", max_iter=20_000, random_state=0
                ),
            ),
        ]
    if model.name == "least-squares":
        return [
            ("sklearn LinearRegression", LinearRegression),
            ("sklearn Ridge", lambda: Ridge(alpha=n * model.reg)),
        ]
    return [("sklearn LinearRegression (least squares)", LinearRegression)]


def _run(
    name: str, make: Callable, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None
) -> Baseline:
    estimator = make()
    start = time.perf_counter()
    with warnings.catch_warnings():
        # a baseline that stops at its own max_iter still gets compared; its row says so
        warnings.simplefilter("ignore")
        estimator.fit(X, y, sample_weight=sample_weight)
    elapsed = time.perf_counter() - start
    coef = np.atleast_2d(estimator.coef_)  # (K, d) or (1, d)
    intercept = np.atleast_1d(estimator.intercept_).astype(np.float64)
    if hasattr(estimator, "classes_") and len(estimator.classes_) == 2 and coef.shape[0] == 1:
        coef = np.vstack([-coef / 2.0, coef / 2.0])
        intercept = np.concatenate([-intercept / 2.0, intercept / 2.0])
    n_iter = getattr(estimator, "n_iter_", None)
    n_iter = int(np.max(n_iter)) if n_iter is not None else None
    params = np.concatenate([coef.T.ravel(), intercept])
    return Baseline(name=name, params=params, n_iter=n_iter, time_s=elapsed)
