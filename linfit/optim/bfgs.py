"""BFGS: a dense inverse-Hessian approximation with a strong-Wolfe line search."""

from __future__ import annotations

import numpy as np

from linfit.errors import OptionError
from linfit.optim.linesearch import curvature, get_line_search
from linfit.optim.registry import register
from linfit.optim.run import Run

MAX_PARAMS = 20_000  # the n x n matrix: 3.2 GB at this size


@register("bfgs", nonsmooth_options={"line_search": "weak-wolfe"})
def bfgs(run: Run, line_search: str = "strong-wolfe") -> None:
    """Inverse-Hessian update ``H <- (I - r s y^T) H (I - r y s^T) + r s s^T``, ``r = 1/y.s``.

    The first update scales the identity by ``s.y / y.y`` (Nocedal & Wright eq. 6.20);
    an update whose curvature ``s.y`` is not positive is skipped, keeping H positive definite.
    ``line_search="weak-wolfe"`` suits non-smooth objectives (see ``linesearch.weak_wolfe``).
    """
    search = get_line_search(line_search)
    n = run.x.size
    if n > MAX_PARAMS:
        raise OptionError(
            f"bfgs keeps an {n} x {n} matrix, too large for {n} parameters; use `solver` lbfgs"
        )
    H = np.eye(n)
    first = True
    alpha0 = min(1.0, 1.0 / max(float(np.linalg.norm(run.g)), 1e-300))
    while run.running:
        pair = run.step_along(search, -(H @ run.g), alpha0)
        alpha0 = 1.0
        if pair is None or (sy := curvature(*pair)) is None:
            continue
        s, y = pair
        if first:
            H *= sy / float(y @ y)
            first = False
        rho = 1.0 / sy
        Hy = H @ y
        # (I - rho s y^T) H (I - rho y s^T) + rho s s^T, expanded to two rank-one updates
        H += (rho * rho * float(y @ Hy) + rho) * np.outer(s, s)
        H -= rho * (np.outer(Hy, s) + np.outer(s, Hy))
