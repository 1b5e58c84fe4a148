"""BFGS: a dense inverse-Hessian approximation with a strong-Wolfe line search."""

from __future__ import annotations

import numpy as np

from linfit.errors import OptionError
from linfit.optim.linesearch import get_line_search
from linfit.optim.registry import register
from linfit.optim.result import Status
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
            f"bfgs keeps an {n} x {n} matrix, too large for {n} parameters; use --optimizer lbfgs"
        )
    H = np.eye(n)
    first = True
    alpha0 = min(1.0, 1.0 / max(float(np.linalg.norm(run.g)), 1e-300))
    while run.running:
        d = -(H @ run.g)
        step = search(run, d, alpha0=alpha0)
        if step is None:
            run.stop(Status.LINE_SEARCH)
            return
        alpha, x_new, f_new, g_new = step
        s, y = x_new - run.x, g_new - run.g
        run.accept(x_new, f_new, g_new, alpha)
        alpha0 = 1.0
        sy = float(s @ y)
        if sy <= 1e-12 * float(np.linalg.norm(s) * np.linalg.norm(y)):
            continue
        if first:
            H *= sy / float(y @ y)
            first = False
        rho = 1.0 / sy
        Hy = H @ y
        # (I - rho s y^T) H (I - rho y s^T) + rho s s^T, expanded to two rank-one updates
        H += (rho * rho * float(y @ Hy) + rho) * np.outer(s, s)
        H -= rho * (np.outer(Hy, s) + np.outer(s, Hy))
