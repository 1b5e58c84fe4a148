"""Trust-region Newton with preconditioned conjugate gradient: LIBLINEAR's TRON.

Each iteration minimizes the quadratic model ``q(s) = g.s + s.H s / 2`` inside the trust
region ``|s|_M <= delta`` by conjugate gradient on Hessian-vector products (Steihaug's
truncated CG, in the norm of the preconditioner ``M``), then takes the step if the
objective fell by enough of what the model predicted, and resizes the region.

- Lin, Weng & Keerthi, "Trust region Newton method for large-scale logistic regression",
  JMLR 2008: the algorithm, its constants (eta, sigma) and CG's relative tolerance 0.1.
- Hsia, Zhu & Lin, "A study on trust region update rules in Newton methods for large-scale
  linear classification", ACML 2017: after a very successful step that stayed inside the
  region, the radius grows towards the step taken rather than by a fixed factor.
- Hsia, Chiang & Lin, "Preconditioned conjugate gradient methods in truncated Newton
  frameworks for large-scale linear classification", ACML 2018: the diagonal
  preconditioner mixed with the identity, ``M = (1 - a) I + a diag(H)``, a = 0.01, which
  cuts CG's products where a pure diagonal sometimes hurts.

Why a trust region rather than Newton's line search: on sparse, wide data the Hessian of
a penalized linear model is badly conditioned (feature frequencies span five orders of
magnitude), CG is cut off far from the Newton step, and the region's radius, learned
across iterations, sizes those truncated steps without extra evaluations.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from linfit.errors import CapabilityError
from linfit.optim.objective import Objective
from linfit.optim.registry import register
from linfit.optim.result import Status
from linfit.optim.run import Run

# Actual over predicted reduction: below ETA0 the step is refused; ETA1 and ETA2 split how
# the radius changes (Lin, Weng & Keerthi 2008).
ETA0, ETA1, ETA2 = 1e-4, 0.25, 0.75
SIGMA1, SIGMA2, SIGMA3 = 0.25, 0.5, 4.0  # the radius's factors of change
PRECONDITIONER_MIX = 0.01  # Hsia, Chiang & Lin 2018's a
CG_FORCING = 0.1  # CG stops at |r| <= min(0.1, sqrt(|g| / |g0|)) |g|
# A run of refused steps this long (the radius shrunk by at least 2^50) means no lower
# objective is reachable: stop rather than evaluate forever.
MAX_REFUSALS = 50

HessianProduct = Callable[[np.ndarray], np.ndarray]


@register("tron", needs_hessian=True)
def tron(run: Run, max_cg: int = 250) -> None:
    """Trust-region Newton; ``max_cg`` bounds the CG iterations (Hessian products) a step."""
    objective = run.objective
    if objective.hess_operator is None:
        raise CapabilityError(
            "tron needs Hessian-vector products, which this objective does not provide; "
            "use `solver` lbfgs, bfgs or gd"
        )
    eps = np.finfo(np.float64).eps
    g0_norm = float(np.linalg.norm(run.g))
    hvp, M = _curvature_at(objective, run.x)
    run.nhev += 1
    delta = math.sqrt(float(run.g @ (run.g / M)))  # |g|_{M^-1}: the steepest step's M-norm
    first, refusals = True, 0
    while run.running:
        g_norm = float(np.linalg.norm(run.g))
        # forcing term: 0.1 as LIBLINEAR far away, tighter near the optimum (superlinear)
        forcing = min(CG_FORCING, math.sqrt(g_norm / g0_norm)) if g0_norm > 0 else CG_FORCING
        step = _steihaug_pcg(hvp, run.g, M, delta, forcing * g_norm, max_cg)
        if step is None:  # a non-finite curvature
            run.stop(Status.NOT_POSITIVE_DEFINITE)
            return
        s, r, on_boundary = step
        gs = float(run.g @ s)
        predicted = -0.5 * (gs - float(s @ r))  # -q(s), as H s = -g - r
        if predicted <= 0 or (
            not on_boundary and predicted <= max(run.ftol * max(abs(run.f), 1.0), eps * abs(run.f))
        ):
            # the Newton step predicts no decrease that ftol asks for, or f's float64 can show
            run.stop(Status.DECREMENT)
            return
        x_new = run.x + s
        f_new, g_new = run.evaluate(x_new)
        finite = math.isfinite(f_new) and bool(np.isfinite(g_new).all())
        actual = run.f - f_new if finite else -math.inf
        s_norm = math.sqrt(float(s @ (M * s)))
        if first:
            delta, first = min(delta, s_norm), False
        delta = _new_radius(delta, s_norm, actual, predicted, gs, f_new - run.f - gs, on_boundary)
        if actual > ETA0 * predicted:
            refusals = 0
            run.accept(x_new, f_new, g_new, step=float(np.linalg.norm(s)))
            if run.running:
                hvp, M = _curvature_at(objective, run.x)
                run.nhev += 1
        else:
            refusals += 1
            if refusals >= MAX_REFUSALS:
                run.stop(Status.TRUST_REGION)


def _curvature_at(objective: Objective, x: np.ndarray) -> tuple[HessianProduct, np.ndarray]:
    """The Hessian operator at ``x`` and the preconditioner ``M`` (n,), positive.

    ``M = (1 - a) m I + a diag(H)``, with ``m`` the smallest positive diagonal entry: in
    LIBLINEAR's units (objective / (2 reg)) the identity is the penalty's curvature, which
    is the diagonal's value at a feature no row has, so ``m`` is that identity here without
    the optimizer knowing the penalty. Without a diagonal, ``M = I`` (plain CG).
    """
    hvp = objective.hess_operator(x)
    if objective.hess_diagonal is None:
        return hvp, np.ones_like(x)
    diagonal = np.asarray(objective.hess_diagonal(x), dtype=np.float64)
    positive = diagonal[diagonal > 0]
    if positive.size == 0 or not np.isfinite(diagonal).all():
        return hvp, np.ones_like(x)
    floor = float(positive.min())
    M = (1.0 - PRECONDITIONER_MIX) * floor + PRECONDITIONER_MIX * np.maximum(diagonal, 0.0)
    return hvp, M


def _new_radius(
    delta: float, s_norm: float, actual: float, predicted: float, gs: float, excess: float,
    boundary: bool,
) -> float:  # fmt: skip
    """The trust region's next radius (Lin, Weng & Keerthi 2008, with Hsia, Zhu & Lin 2017's
    rule after a very successful step).

    ``excess = f(x + s) - f - g.s``: the quadratic through f, its slope ``g.s`` along s and
    ``f(x + s)`` has its minimum at ``alpha s``, ``alpha = -g.s / (2 excess)`` (at least
    SIGMA1; SIGMA3 where that quadratic is not convex), which sizes the radius from the step
    just tried.
    """
    if not math.isfinite(actual):
        alpha = SIGMA1
    elif excess <= 0:
        alpha = SIGMA3
    else:
        alpha = max(SIGMA1, -0.5 * gs / excess)
    if actual < ETA0 * predicted:
        return min(alpha * s_norm, SIGMA2 * delta)
    if actual < ETA1 * predicted:
        return max(SIGMA1 * delta, min(alpha * s_norm, SIGMA2 * delta))
    if actual < ETA2 * predicted:
        return max(SIGMA1 * delta, min(alpha * s_norm, SIGMA3 * delta))
    if boundary:  # the region held the step back: open it
        return SIGMA3 * delta
    return max(delta, min(alpha * s_norm, SIGMA3 * delta))


def _steihaug_pcg(
    hvp: HessianProduct, g: np.ndarray, M: np.ndarray, delta: float, tol: float, max_iter: int
) -> tuple[np.ndarray, np.ndarray, bool] | None:
    """Preconditioned CG on ``H s = -g`` inside ``|s|_M <= delta`` (Steihaug-Toint).

    Returns the step ``s`` (n,), its residual ``r = -g - H s`` and whether ``s`` stopped
    on the region's boundary (leaving it along a CG direction, or along a direction of
    non-positive curvature); None when a curvature is not finite. Stops inside once
    ``|r|_2 <= tol``.
    """
    s = np.zeros_like(g)
    r = -g
    z = r / M
    d = z.copy()
    zr = float(z @ r)
    for _ in range(max_iter):
        if float(np.linalg.norm(r)) <= tol:
            break
        Hd = hvp(d)
        dHd = float(d @ Hd)
        if not math.isfinite(dHd):
            return None
        Ms = M * s
        sMs, sMd, dMd = float(s @ Ms), float(d @ Ms), float(d @ (M * d))
        alpha = zr / dHd if dHd > 0 else math.inf
        if dHd <= 0 or sMs + alpha * (2.0 * sMd + alpha * dMd) > delta * delta:
            tau = _to_boundary(sMs, sMd, dMd, delta)
            s += tau * d
            r -= tau * Hd
            return s, r, True
        s += alpha * d
        r -= alpha * Hd
        z = r / M
        zr_new = float(z @ r)
        d *= zr_new / zr
        d += z
        zr = zr_new
    return s, r, False


def _to_boundary(sMs: float, sMd: float, dMd: float, delta: float) -> float:
    """The ``tau >= 0`` with ``|s + tau d|_M = delta``, from the M-inner products of ``s``
    and ``d``; written to avoid cancellation (LIBLINEAR's form of the root)."""
    gap = delta * delta - sMs
    rad = math.sqrt(max(sMd * sMd + dMd * gap, 0.0))
    return gap / (sMd + rad) if sMd >= 0 else (rad - sMd) / dMd
