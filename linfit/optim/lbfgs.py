"""L-BFGS: the last ``m`` curvature pairs, applied by the two-loop recursion."""

from __future__ import annotations

from collections import deque

import numpy as np

from linfit.errors import OptionError
from linfit.optim.linesearch import curvature, get_line_search
from linfit.optim.registry import register
from linfit.optim.run import Run

# On kinked losses the curvature pairs carry the geometry of the kinks; 30 of them reach
# the hinge SVM's exact optimum to ~1e-9 where 10 stall 1e-6 to 1e-4 above it (measured).
# (s, y) pairs kept by default; fitting/budget.py counts their memory
MEMORY = 10


@register("lbfgs", nonsmooth_options={"line_search": "weak-wolfe", "memory": 30})
def lbfgs(run: Run, memory: int = MEMORY, line_search: str = "strong-wolfe") -> None:
    """Quasi-Newton with ``memory`` pairs (s, y); pairs with ``s.y <= 0`` are not stored.

    ``line_search="weak-wolfe"`` suits non-smooth objectives (see ``linesearch.weak_wolfe``).
    """
    search = get_line_search(line_search)
    if memory < 1:
        raise OptionError(f"L-BFGS memory must be at least 1, got {memory}")
    pairs: deque[tuple[np.ndarray, np.ndarray, float]] = deque(maxlen=memory)
    alpha0 = min(1.0, 1.0 / max(float(np.linalg.norm(run.g)), 1e-300))
    while run.running:
        pair = run.step_along(search, -_two_loop(run.g, pairs), 1.0 if pairs else alpha0)
        if pair is not None and (sy := curvature(*pair)) is not None:
            pairs.append((*pair, 1.0 / sy))


def _two_loop(g: np.ndarray, pairs: deque) -> np.ndarray:
    """``H g`` for the L-BFGS inverse Hessian (Nocedal & Wright, Algorithm 7.4)."""
    q = g.copy()
    alphas = []
    for s, y, rho in reversed(pairs):
        a = rho * float(s @ q)
        q -= a * y
        alphas.append(a)
    if pairs:
        s, y, _ = pairs[-1]
        q *= float(s @ y) / float(y @ y)
    for (s, y, rho), a in zip(pairs, reversed(alphas), strict=True):
        q += (a - rho * float(y @ q)) * s
    return q
