"""Least squares on raw features, with the diagnostics ``linfit solve-ls`` reports."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from linfit.errors import ConvergenceWarning, OptionError, UnknownNameError
from linfit.fitting import TrainedModel, fit
from linfit.fitting.solvers import least_squares_methods
from linfit.models import LeastSquares
from linfit.models.least_squares import tsqr
from linfit.optim import Status

# The options of ``linfit solve-ls`` that the advice for an unconverged iterative fit names
# (see ``linfit.fitting.summarize``): it chooses the optimizer with --method.
ADVICE_FLAGS = {
    "max_iter": "--max-iter",
    "optimizer": "--method",
    "tol": "--tol",
    "standardize": "--standardize",
}


@dataclass(frozen=True)
class LeastSquaresReport:
    """A least-squares fit in the raw features' units, and how well-posed the problem was."""

    method: str
    coef: np.ndarray  # (n_features,)
    intercept: float
    r2: float
    residual_norm: float  # ||Xh theta - y||_2
    rank: int  # numerical rank of Xh = [X, 1] (numpy's matrix_rank rule)
    cond: float  # 2-norm condition number of Xh (inf when rank-deficient)
    time_s: float  # the solve alone (standardizing and a pass for the gradient included)
    converged: bool = True
    message: str = "closed form"


def solve_least_squares(
    X: np.ndarray,
    y: np.ndarray,
    *,
    method: str = "normal",
    reg: float = 0.0,
    standardize: bool = False,
    max_iter: int = 10_000,
    gtol: float = 1e-10,
) -> LeastSquaresReport:
    """Fit ``y (n,) ~ X (n, d) w + b`` and report it in raw units.

    Closed forms solve on ``[X, 1]`` directly; an optimizer name trains iteratively
    (standardizing internally when ``standardize``, which helps gradient descent) until
    max |gradient| <= ``gtol`` or ``max_iter`` iterations, which closed forms ignore. An
    iterative fit that does not converge says why in ``message`` (with advice naming
    solve-ls's options) and warns the same (ConvergenceWarning) at max_iter.
    """
    if method not in least_squares_methods():
        raise UnknownNameError("solve-ls method", method, least_squares_methods())
    for option, value in (("`gtol`", gtol), ("`max_iter`", max_iter)):
        if not value >= 0:  # checked for closed forms too, which ignore them
            raise OptionError(f"{option} must be >= 0, got {value}")
    model = LeastSquares(reg=reg)
    with warnings.catch_warnings():
        # fit's warning advises train's options; ours below names solve-ls's
        warnings.simplefilter("ignore", ConvergenceWarning)
        trained = fit(
            model, X, y, solver=method, standardize=standardize, gtol=gtol, max_iter=max_iter,
            flags=ADVICE_FLAGS,
        )  # fmt: skip
    W, b = trained.coefficients()
    summary = trained.summary
    if trained.result.status == Status.MAX_ITER:
        warnings.warn(summary["message"], ConvergenceWarning, stacklevel=2)
    coef, intercept = W[:, 0], float(b[0])
    rss = _residual_sum_of_squares(trained, X.shape[0])
    s = _singular_values(X)
    tol = s[0] * max(X.shape[0], X.shape[1] + 1) * np.finfo(np.float64).eps if s.size else 0.0
    rank = int((s > tol).sum())
    return LeastSquaresReport(
        method=method,
        coef=coef,
        intercept=intercept,
        r2=_r2(rss, y),
        residual_norm=float(np.sqrt(rss)),
        rank=rank,
        cond=float(s[0] / s[-1]) if rank == s.size and s[-1] > 0 else float("inf"),
        time_s=summary["time_s"],
        converged=summary["converged"],
        message=summary["message"],
    )


def _residual_sum_of_squares(trained: TrainedModel, n_samples: int) -> float:
    """``||Xh theta - y||^2`` from the solver's objective at its answer, ``rss / n + reg
    ||W||^2`` (on the scaled features, where the solver ran): no pass over ``X`` again."""
    W, _ = trained.model.unpack(trained.result.x, trained.n_features)
    penalty = trained.model.reg * float(np.dot(W.ravel(), W.ravel()))
    return max(0.0, (trained.result.fun - penalty) * n_samples)


def _r2(rss: float, y: np.ndarray) -> float:
    """``1 - rss / tss`` (0 or 1 for a constant ``y``, as ``metrics.r2``)."""
    tss = float(((y - y.mean()) ** 2).sum())
    if tss > 0:
        return 1.0 - rss / tss
    return 0.0 if rss > 0 else 1.0


def _singular_values(X: np.ndarray) -> np.ndarray:
    """Singular values of ``[X, 1]``, descending: those of the small triangle of its QR,
    taken a block of rows at a time (``tsqr``), so ``X`` may be on disk."""
    import scipy.linalg  # on first use: a command that never solves skips it

    d = X.shape[1]
    R = tsqr(X, np.zeros((X.shape[0], 0)))
    return scipy.linalg.svdvals(R[: d + 1, : d + 1], check_finite=False)
