"""Line searches along a descent direction ``d`` from the current point of a ``Run``.

Both return ``(alpha, x_new, f_new, g_new)`` or ``None`` when no acceptable step
was found. Non-finite trial values count as "too far" and shrink the step.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from linfit.errors import UnknownNameError
from linfit.optim.run import Run

Step = tuple[float, np.ndarray, float, np.ndarray]

C1 = 1e-4  # sufficient decrease (Armijo)
C2 = 0.9  # curvature (strong Wolfe), the usual value for quasi-Newton methods


def armijo(run: Run, d: np.ndarray, alpha0: float = 1.0, max_trials: int = 40) -> Step | None:
    """Backtracking until ``f(x + a d) <= f + C1 a g.d``.

    Each retry takes the minimizer of the quadratic through f(0), f'(0) and f(a),
    kept within [0.1 a, 0.5 a].
    """
    slope = float(run.g @ d)
    if not slope < 0:
        return None
    alpha = alpha0
    for _ in range(max_trials):
        x_new = run.x + alpha * d
        f_new, g_new = run.evaluate(x_new)
        if math.isfinite(f_new) and f_new <= run.f + C1 * alpha * slope:
            return alpha, x_new, f_new, g_new
        if math.isfinite(f_new):
            # minimizer of the quadratic through f(0), f'(0) and f(alpha)
            trial = -slope * alpha**2 / (2.0 * (f_new - run.f - slope * alpha))
            alpha = min(max(trial, 0.1 * alpha), 0.5 * alpha)
        else:
            alpha *= 0.1
    return None


def strong_wolfe(run: Run, d: np.ndarray, alpha0: float = 1.0, max_trials: int = 30) -> Step | None:
    """Step satisfying the strong Wolfe conditions (Nocedal & Wright, Algorithms 3.5 and 3.6).

    Every trial evaluates value and gradient together, since the gradient is needed
    for the curvature test and, at the accepted step, by the caller.
    """
    f0, slope0 = run.f, float(run.g @ d)
    if not slope0 < 0:
        return None

    def phi(alpha: float) -> tuple[float, float, np.ndarray, np.ndarray]:
        x = run.x + alpha * d
        f, g = run.evaluate(x)
        if not (math.isfinite(f) and np.isfinite(g).all()):
            return math.inf, math.nan, x, g
        return f, float(g @ d), x, g

    def zoom(lo: tuple, hi: tuple, trials: int) -> Step | None:
        # lo, hi: (alpha, f, slope); lo has the lower value and satisfies sufficient decrease
        for _ in range(trials):
            alpha = _cubic_min(lo, hi)
            f, slope, x, g = phi(alpha)
            if f > f0 + C1 * alpha * slope0 or f >= lo[1]:
                hi = (alpha, f, slope)
            else:
                if abs(slope) <= -C2 * slope0:
                    return alpha, x, f, g
                if slope * (hi[0] - lo[0]) >= 0:
                    hi = lo
                lo = (alpha, f, slope)
            if abs(hi[0] - lo[0]) <= 1e-12 * max(lo[0], 1e-300):
                break
        # the bracket collapsed: accept lo if it decreased the objective at all
        if lo[0] > 0:
            x = run.x + lo[0] * d
            f, g = run.evaluate(x)
            if f < f0:
                return lo[0], x, f, g
        return None

    prev = (0.0, f0, slope0)
    alpha = alpha0
    for i in range(max_trials):
        f, slope, x, g = phi(alpha)
        if f > f0 + C1 * alpha * slope0 or (i > 0 and f >= prev[1]):
            return zoom(prev, (alpha, f, slope), max_trials)
        if abs(slope) <= -C2 * slope0:
            return alpha, x, f, g
        if slope >= 0:
            return zoom((alpha, f, slope), prev, max_trials)
        prev, alpha = (alpha, f, slope), 2.0 * alpha
    return None


def _cubic_min(a: tuple, b: tuple) -> float:
    """Minimizer of the cubic through two (alpha, f, slope) points, safeguarded into the bracket."""
    (a0, f0, s0), (a1, f1, s1) = a, b
    lo, hi = min(a0, a1), max(a0, a1)
    if math.isfinite(f1) and math.isfinite(s1) and a1 != a0:
        d1 = s0 + s1 - 3.0 * (f0 - f1) / (a0 - a1)
        disc = d1 * d1 - s0 * s1
        if disc >= 0:
            d2 = math.copysign(math.sqrt(disc), a1 - a0)
            denom = s1 - s0 + 2.0 * d2
            if denom != 0:
                alpha = a1 - (a1 - a0) * (s1 + d2 - d1) / denom
                margin = 0.1 * (hi - lo)
                if lo + margin <= alpha <= hi - margin:
                    return alpha
    return 0.5 * (lo + hi)


def weak_wolfe(run: Run, d: np.ndarray, alpha0: float = 1.0, max_trials: int = 60) -> Step | None:
    """Step satisfying the weak Wolfe conditions, by doubling and bisection.

    Lewis & Overton's search for quasi-Newton methods on non-smooth objectives: where
    the slope jumps at a kink no step meets the strong curvature test, and a strong
    search closes in on the kink; the weak test accepts a step past it, so the next
    iterate leaves the kink behind.
    """
    f0, slope0 = run.f, float(run.g @ d)
    if not slope0 < 0:
        return None
    lo, hi, alpha = 0.0, math.inf, alpha0
    best: Step | None = None
    for _ in range(max_trials):
        x = run.x + alpha * d
        f, g = run.evaluate(x)
        if not (math.isfinite(f) and f <= f0 + C1 * alpha * slope0):
            hi = alpha
        else:
            if best is None or f < best[2]:
                best = (alpha, x, f, g)
            if float(g @ d) < C2 * slope0:
                lo = alpha
            else:
                return alpha, x, f, g
        if math.isfinite(hi):
            if hi - lo <= 1e-15 * hi:  # the bracket has collapsed
                break
            alpha = 0.5 * (lo + hi)
        else:
            alpha *= 2.0  # no upper bound yet: expand
    return best


def curvature(s: np.ndarray, y: np.ndarray) -> float | None:
    """``s.y`` when it is safely positive (a quasi-Newton update then stays positive
    definite), else None: the pair should be skipped."""
    sy = float(s @ y)
    return sy if sy > 1e-12 * float(np.linalg.norm(s) * np.linalg.norm(y)) else None


LINE_SEARCHES = {"armijo": armijo, "strong-wolfe": strong_wolfe, "weak-wolfe": weak_wolfe}


def get_line_search(name: str) -> Callable[..., Step | None]:
    """The line search called ``name`` (see ``LINE_SEARCHES``)."""
    try:
        return LINE_SEARCHES[name]
    except KeyError:
        raise UnknownNameError("line search", name, list(LINE_SEARCHES)) from None
