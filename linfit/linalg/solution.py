"""A least-squares solution with its credentials: rank, condition, estimated digits,
the dependencies among columns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, partial

import numpy as np

from linfit.linalg.gram import penalty_diagonal
from linfit.linalg.refine import EPS

# the most digits a float64 answer can claim (a correction at rounding level, 2 eps)
MAX_DIGITS = float(-np.log10(2 * EPS))


def none() -> None:
    """No inverse: the default ``inverse_of`` (a rank-deficient or pinv/lstsq fit)."""
    return None


@dataclass(frozen=True)
class Dependency:
    """Column ``column`` of ``Xh`` is (numerically) ``sum(coef * Xh[:, i] for i, coef in
    on.items())``; column index ``d`` is the intercept's column of ones."""

    column: int
    on: dict[int, float]


@dataclass(frozen=True)
class LeastSquaresFit:
    """A least-squares solution ``theta`` (p, K) for ``Xh`` (n, p), p = d + intercept.

    ``rss`` (K,) and ``c = Xh^T (Y - Xh theta)`` (p, K) are over the data rows (the
    penalty's aside); ``cond`` is the 2-norm condition of the column-equilibrated design
    (an estimate, inf when rank-deficient); ``digits`` the estimated correct significant
    digits of the worst coefficient; ``inverse`` (p, p) is ``(Xh^T Xh + n reg D)^{-1}``
    when full rank (for standard errors), else None: formed from the factorization on
    first use (``inverse_of``), since only the inference table needs it (p^3 flops and p^2
    memory, for a fit that may have thousands of columns). ``method`` is the method that
    produced ``theta``; ``note`` says why, when it is not the one asked.
    """

    theta: np.ndarray
    intercept: bool
    method: str
    n: int
    reg: float
    rss: np.ndarray
    c: np.ndarray
    rank: int
    cond: float
    digits: float
    refinements: int = 0
    dependencies: tuple[Dependency, ...] = ()
    # a module-level function and its arguments (functools.partial), so that a fit kept in
    # a model, a scikit-learn estimator among them, pickles
    inverse_of: Callable[[], np.ndarray | None] = field(
        default=partial(none), repr=False, compare=False
    )
    note: str = ""
    rss_error: float = 0.0  # relative error bound of ``rss`` (> 0: from the Gram identity)
    dropped: int = 0  # directions the equilibrated design resolves that pinv/lstsq cut

    @cached_property
    def inverse(self) -> np.ndarray | None:
        return self.inverse_of()

    @property
    def params(self) -> np.ndarray:
        """Flat ``[W.ravel(), b]`` as the models lay them out (b = 0 without intercept)."""
        theta = (
            self.theta if self.intercept else np.vstack([self.theta, np.zeros(self.theta.shape[1])])
        )
        return theta.ravel()

    def objective(self) -> tuple[float, np.ndarray]:
        """``(f, grad)`` of ``f = sum(rss) / n + reg ||W||^2`` at ``theta``, grad flat."""
        p = self.theta.shape[0]
        D = penalty_diagonal(p, self.intercept)[:, None]
        n = max(self.n, 1)
        penalty = self.reg * float(np.sum(D * self.theta**2))
        grad = -2.0 / n * self.c + 2.0 * self.reg * D * self.theta
        if not self.intercept:  # the bias is held at zero, not a free parameter
            grad = np.vstack([grad, np.zeros(self.theta.shape[1])])
        return float(np.sum(self.rss)) / n + penalty, grad.ravel()


def digits_of(relative_error: float) -> float:
    """Correct significant digits for a relative error, between 0 and ``MAX_DIGITS``."""
    if not relative_error > 0:
        return MAX_DIGITS
    return float(min(MAX_DIGITS, max(0.0, -np.log10(relative_error))))
