"""Damped Newton: solve ``H d = -g`` (never forming ``H^-1``), then an Armijo line search.

Small problems factor the dense Hessian by Cholesky; large ones solve by conjugate
gradient on Hessian-vector products. Stops on the gradient norm or on the Newton
decrement ``lambda^2 = -g.d`` (half of it is the predicted reduction of f).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from linfit.errors import CapabilityError
from linfit.optim.linesearch import armijo
from linfit.optim.registry import register
from linfit.optim.result import Status
from linfit.optim.run import Run

DENSE_LIMIT = 2000  # above this many parameters, CG on H v instead of a dense Cholesky


@register("newton", needs_hessian=True)
def newton(run: Run, dense_limit: int = DENSE_LIMIT) -> None:
    """Newton's method with Levenberg damping where ``H`` is not (numerically) positive definite."""
    objective = run.objective
    dense = objective.hess is not None and run.x.size <= dense_limit
    if not dense and objective.hess_operator is None:
        raise CapabilityError(
            "newton needs a Hessian, which this objective does not provide; "
            "use `solver` lbfgs, bfgs or gd"
        )
    while run.running:
        run.nhev += 1
        if dense:
            d = _solve_dense(objective.hess(run.x), run.g)
        else:
            d = _solve_cg(objective.hess_operator(run.x), run.g)
        if d is None:
            run.stop(Status.NOT_POSITIVE_DEFINITE)
            return
        decrement = -float(run.g @ d)
        if decrement / 2.0 <= run.ftol * max(abs(run.f), 1.0):
            run.stop(Status.DECREMENT)
            return
        run.step_along(armijo, d, alpha0=1.0)


def _solve_dense(H: np.ndarray, g: np.ndarray, max_tries: int = 12) -> np.ndarray | None:
    """Solve ``(H + tau I) d = -g`` by Cholesky with the smallest tau that factors.

    tau starts at a relative 1e-12 of H's scale: this keeps directions out of exact
    null spaces (e.g. softmax's shift of all biases) without slowing convergence.
    """
    import scipy.linalg  # on first use: a command that never solves skips it

    scale = max(float(np.max(np.abs(np.diag(H)))), 1e-300)
    tau = 1e-12 * scale
    identity = np.eye(H.shape[0])
    for _ in range(max_tries):
        try:
            factor = scipy.linalg.cho_factor(H + tau * identity, check_finite=False)
        except np.linalg.LinAlgError:
            tau *= 100.0
            continue
        d = scipy.linalg.cho_solve(factor, -g, check_finite=False)
        if np.isfinite(d).all():
            return d
        tau *= 100.0
    return None


def _solve_cg(
    hvp: Callable[[np.ndarray], np.ndarray], g: np.ndarray, max_iter: int = 250
) -> np.ndarray | None:
    """Truncated conjugate gradient for ``H d = -g`` (Nocedal & Wright, Algorithm 7.1).

    Solves to a relative residual ``min(0.5, sqrt(|g|))`` (superlinear near the
    optimum); stops early at a direction of non-positive curvature, returning the
    last iterate (or ``-g`` if that is the first one).
    """
    g_norm = float(np.linalg.norm(g))
    tol = min(0.5, np.sqrt(g_norm)) * g_norm
    d = np.zeros_like(g)
    r = g.copy()  # residual H d + g
    p = -r
    rr = float(r @ r)
    for _ in range(max_iter):
        Hp = hvp(p)
        curvature = float(p @ Hp)
        if not np.isfinite(curvature):
            return None
        if curvature <= 0:
            return -g if not d.any() else d
        alpha = rr / curvature
        d += alpha * p
        r += alpha * Hp
        rr_new = float(r @ r)
        if np.sqrt(rr_new) <= tol:
            break
        p = -r + (rr_new / rr) * p
        rr = rr_new
    return d
