"""The one result every optimizer returns, and the one table its messages come from."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import numpy as np

# How far above its start f0 a run's objective may rise, in units of max(1, |f0|), before
# the run counts as diverged (Run.diverged).
DIVERGENCE_FACTOR = 10.0


class Status(IntEnum):
    """Why a solver stopped. Success is GTOL (the gradient test held), CLOSED_FORM, or
    PROJECTED_GRADIENT (a dual solver's test on a loss without a gradient at its kinks)."""

    GTOL = 0
    FTOL = 1
    DECREMENT = 2
    MAX_ITER = 3
    LINE_SEARCH = 4
    DIVERGED = 5
    NONFINITE = 5  # the name before DIVERGED covered finite blow-ups too: an alias
    NOT_POSITIVE_DEFINITE = 6
    STOPPED = 7
    CLOSED_FORM = 8  # solved exactly (least squares), not iterated
    TRUST_REGION = 9  # a trust region shrank without finding a lower objective
    PROJECTED_GRADIENT = 10  # a dual solver's projected gradient test held (hinge: no gradient)

    @property
    def success(self) -> bool:
        return self in (Status.GTOL, Status.CLOSED_FORM, Status.PROJECTED_GRADIENT)


MESSAGES: dict[Status, str] = {
    Status.GTOL: "converged: max |gradient| <= gtol (relative to |f| where |f| > 1)",
    Status.FTOL: (
        "stalled: the objective stopped decreasing (relative change <= ftol) before "
        "max |gradient| <= gtol"
    ),
    Status.DECREMENT: (
        "stalled: Newton's decrement predicts no decrease at float64 precision before "
        "max |gradient| <= gtol"
    ),
    Status.MAX_ITER: "not converged: reached max_iter before max |gradient| <= gtol",
    Status.LINE_SEARCH: (
        "stalled: the line search found no lower objective along the search direction "
        "before max |gradient| <= gtol"
    ),
    Status.DIVERGED: (
        "stopped: the objective diverged: it became NaN or infinite, or rose more than "
        f"{DIVERGENCE_FACTOR:g} x max(1, |f0|) above its start f0; the result is the last "
        "point before (use a line search instead of a fixed step, a smaller --lr, or scale "
        "the features)"
    ),
    Status.NOT_POSITIVE_DEFINITE: (
        "stopped: the Hessian is not positive definite even with damping; "
        "use lbfgs or bfgs for this problem"
    ),
    Status.STOPPED: "stopped on request (interrupt or callback) at the last accepted point",
    Status.CLOSED_FORM: "closed form: solved exactly, not iterated",
    Status.PROJECTED_GRADIENT: (
        "converged: the dual's bound on the gap to the optimum (the duality gap against "
        "its dual made feasible, the bias included; for the multiclass hinge the duality "
        "gap and the bias's subgradient) <= gtol (the hinge has no gradient at its kinks to "
        "test; the primal objective and subgradient are reported)"
    ),
    Status.TRUST_REGION: (
        "stalled: the trust region shrank many times over without finding a lower objective "
        "before max |gradient| <= gtol"
    ),
}


@dataclass(frozen=True)
class IterationRecord:
    """One row of an optimizer's history, also what a callback receives."""

    nit: int  # iterations completed (0 = the starting point)
    fun: float  # objective at the current point
    grad_norm: float  # max |gradient| at the current point
    step: float  # step length taken to get here (0 at the start)
    nfev: int  # objective evaluations so far
    elapsed: float  # seconds since the optimizer started


@dataclass(frozen=True)
class OptimizeResult:
    """What every optimizer returns (scipy's field names)."""

    x: np.ndarray
    fun: float
    jac: np.ndarray
    nit: int
    nfev: int
    njev: int
    status: Status
    method: str
    history: tuple[IterationRecord, ...] = field(repr=False, default=())
    nhev: int = 0
    # the method's inverse-Hessian knowledge at x (scipy's name): L-BFGS's curvature pairs
    hess_inv: Any = field(repr=False, default=None)

    @property
    def success(self) -> bool:
        return self.status.success

    @property
    def message(self) -> str:
        return MESSAGES[self.status]

    @property
    def grad_norm(self) -> float:
        """max |gradient| at ``x``: the quantity ``gtol`` bounds."""
        return float(np.max(np.abs(self.jac))) if self.jac.size else 0.0
