"""Gradient descent: a fixed step, or (default) an Armijo backtracking line search."""

from __future__ import annotations

import numpy as np

from linfit.optim.linesearch import get_line_search
from linfit.optim.registry import register
from linfit.optim.run import Run


@register("gd")
def gradient_descent(run: Run, lr: float | None = None, line_search: str = "armijo") -> None:
    """``x <- x - a g``. With ``lr`` the step is fixed at ``lr``; without, it is searched.

    The search starts from twice the last accepted step, so a run settles on the
    local step size instead of backtracking from 1 at every iteration.
    """
    search = get_line_search(line_search)
    alpha = 1.0 / max(1.0, float(np.linalg.norm(run.g)))
    while run.running:
        d = -run.g
        if lr is not None:
            x_new = run.x + lr * d
            f_new, g_new = run.evaluate(x_new)
            run.accept(x_new, f_new, g_new, lr)
            continue
        if run.step_along(search, d, alpha) is not None:
            alpha = 2.0 * run.history[-1].step
