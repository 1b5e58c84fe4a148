"""Book-keeping shared by every optimizer: evaluation counts, history, stopping tests.

An optimizer only computes directions and steps; a ``Run`` decides when to stop,
so every optimizer stops for the same reasons, reported from the same table.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from linfit.optim.objective import Objective
from linfit.optim.result import DIVERGENCE_FACTOR, IterationRecord, OptimizeResult, Status

# Sees each iteration; returning True asks the optimizer to stop (status STOPPED).
Callback = Callable[[IterationRecord], bool | None]


class Run:
    """State of one minimization, owned by that call alone.

    The current point ``x`` (n,) with its value ``f`` and gradient ``g`` is always the
    last accepted, finite one; stopping leaves it there.
    """

    def __init__(
        self,
        method: str,
        objective: Objective,
        x0: np.ndarray,
        *,
        gtol: float,
        ftol: float,
        max_iter: int,
        callback: Callback | None,
    ) -> None:
        self.method, self.objective = method, objective
        self.gtol, self.ftol, self.max_iter, self.callback = gtol, ftol, max_iter, callback
        self.nfev = self.njev = self.nhev = self.nit = 0
        self.status: Status | None = None
        self.hess_inv: Any = None  # what the method knows of the inverse Hessian (L-BFGS)
        self.history: list[IterationRecord] = []
        self._start = time.perf_counter()
        self.x = np.array(x0, dtype=np.float64)  # a copy: the caller's x0 is never touched
        self.f, self.g = self.evaluate(self.x)
        self.f0 = self.f
        if not _finite(self.f, self.g):
            self.status = Status.DIVERGED
            return
        self._record(step=0.0, f_prev=None)

    @property
    def running(self) -> bool:
        return self.status is None

    def gtol_at(self, f: float) -> float:
        """The gradient test's threshold: ``gtol * max(1, min(|f|, |f0|))``.

        A gradient has the units of f per unit of x, so the test scales with f: at
        ``|f| <= 1`` it is the plain ``max |g| <= gtol``, and a problem with a large
        objective (a regression on a target in the hundreds, f ~ 1e3) is not asked for a
        decrease below float64's resolution of f. The scale is capped at the starting
        objective ``f0`` so that a diverging run can never pass the test.
        """
        return self.gtol * max(1.0, min(abs(f), abs(self.f0)))

    def diverged(self, f: float, g: np.ndarray) -> bool:
        """NaN or infinite, or above the start by ``DIVERGENCE_FACTOR * max(1, |f0|)``.

        A method with a line search never rises above ``f0``; a fixed step (gd's or sgd's
        ``lr``) that does so by that much is blowing up, and would otherwise end with a
        finite but useless point (measured: sgd with lr 1e6 ended at 5e40)."""
        return not _finite(f, g) or f - self.f0 > DIVERGENCE_FACTOR * max(1.0, abs(self.f0))

    @property
    def grad_norm(self) -> float:
        return float(np.max(np.abs(self.g))) if self.g.size else 0.0

    def evaluate(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Value and gradient at ``x``, counted."""
        self.nfev += 1
        self.njev += 1
        with np.errstate(over="ignore", invalid="ignore"):  # non-finite results are handled
            f, g = self.objective.fun(x)
        return float(f), np.asarray(g, dtype=np.float64)

    def value(self, x: np.ndarray) -> float:
        """Value alone at ``x``, counted."""
        self.nfev += 1
        with np.errstate(over="ignore", invalid="ignore"):
            return float(self.objective.f(x))

    def accept(self, x: np.ndarray, f: float, g: np.ndarray, step: float) -> None:
        """Move to ``x`` and apply the stopping tests; or, when ``f`` has diverged, stop
        with DIVERGED and stay put."""
        if self.diverged(f, g):
            self.stop(Status.DIVERGED)
            return
        f_prev = self.f
        self.x, self.f, self.g = x, f, g
        self.nit += 1
        self._record(step, f_prev)

    def step_along(
        self, search: Callable[..., Any], d: np.ndarray, alpha0: float
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Line-search along ``d`` and move there; returns ``(s, y)``, the change in x and g.

        Returns None, having stopped the run with LINE_SEARCH, when the search fails.
        """
        step = search(self, d, alpha0=alpha0)
        if step is None:
            self.stop(Status.LINE_SEARCH)
            return None
        alpha, x_new, f_new, g_new = step
        s, y = x_new - self.x, g_new - self.g
        self.accept(x_new, f_new, g_new, alpha)
        return s, y

    def stop(self, status: Status) -> None:
        self.status = status

    def result(self) -> OptimizeResult:
        return OptimizeResult(
            x=self.x,
            fun=self.f,
            jac=self.g,
            nit=self.nit,
            nfev=self.nfev,
            njev=self.njev,
            nhev=self.nhev,
            status=self.status if self.status is not None else Status.MAX_ITER,
            method=self.method,
            history=tuple(self.history),
            hess_inv=self.hess_inv,
        )

    def _record(self, step: float, f_prev: float | None) -> None:
        """Log the current point, apply the stopping tests, and show the callback."""
        record = IterationRecord(
            nit=self.nit,
            fun=self.f,
            grad_norm=self.grad_norm,
            step=float(step),
            nfev=self.nfev,
            elapsed=time.perf_counter() - self._start,
        )
        self.history.append(record)
        stopping = self._check_stop(f_prev)
        if self.callback is not None and self.callback(record) and not stopping:
            self.stop(Status.STOPPED)

    def _check_stop(self, f_prev: float | None) -> bool:
        if self.status is not None:
            return True
        if self.grad_norm <= self.gtol_at(self.f):
            self.status = Status.GTOL
        elif f_prev is not None and 0.0 <= f_prev - self.f <= self.ftol * max(
            abs(f_prev), abs(self.f), 1.0
        ):
            self.status = Status.FTOL
        elif self.nit >= self.max_iter:
            self.status = Status.MAX_ITER
        return self.status is not None


def _finite(f: float, g: np.ndarray) -> bool:
    return math.isfinite(f) and bool(np.isfinite(g).all())
