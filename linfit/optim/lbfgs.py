"""L-BFGS: the last ``m`` curvature pairs, applied by the two-loop recursion."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from linfit.errors import OptionError
from linfit.optim.linesearch import curvature, get_line_search
from linfit.optim.registry import register
from linfit.optim.run import Run

# On kinked losses the curvature pairs carry the geometry of the kinks; 30 of them reach
# the hinge SVM's exact optimum to ~1e-9 where 10 stall 1e-6 to 1e-4 above it (measured).
# (s, y) pairs kept by default; fitting/budget.py counts their memory
MEMORY = 10


@dataclass(frozen=True)
class CurvaturePairs:
    """L-BFGS's memory, the pairs ``(s, y)`` (steps and gradient changes, each (n,)), as a
    result reports it (``OptimizeResult.hess_inv``) and a run may start from (``pairs``)."""

    pairs: tuple[tuple[np.ndarray, np.ndarray], ...]

    def shifted(self, diagonal: np.ndarray) -> CurvaturePairs:
        """The pairs of the objective plus ``x . diag(diagonal) x / 2`` (``diagonal`` (n,)):
        each ``y`` gains ``diagonal * s`` exactly, which is how a change of the penalty
        ``reg`` moves a quadratic's curvature (a regularization path); pairs whose
        curvature ``s.y`` is no longer positive are dropped."""
        kept = []
        for s, y in self.pairs:
            y = y + diagonal * s
            if float(s @ y) > 0:
                kept.append((s, y))
        return CurvaturePairs(tuple(kept))


@register("lbfgs", nonsmooth_options={"line_search": "weak-wolfe", "memory": 30})
def lbfgs(
    run: Run,
    memory: int = MEMORY,
    line_search: str = "strong-wolfe",
    pairs: CurvaturePairs | None = None,
) -> None:
    """Quasi-Newton with ``memory`` pairs (s, y); pairs with ``s.y <= 0`` are not stored.

    ``line_search="weak-wolfe"`` suits non-smooth objectives (see ``linesearch.weak_wolfe``).
    ``pairs`` (of the same size as x) start the memory, e.g. the last fit's along a
    regularization path (``fitting/path.py``); the run reports its own as ``hess_inv``.
    """
    search = get_line_search(line_search)
    if memory < 1:
        raise OptionError(f"L-BFGS memory must be at least 1, got {memory}")
    kept: deque[tuple[np.ndarray, np.ndarray, float]] = deque(maxlen=memory)
    for s, y in () if pairs is None else pairs.pairs:
        if s.shape == run.x.shape and (sy := curvature(s, y)) is not None:
            kept.append((s, y, 1.0 / sy))
    alpha0 = min(1.0, 1.0 / max(float(np.linalg.norm(run.g)), 1e-300))
    try:
        while run.running:
            pair = run.step_along(search, -_two_loop(run.g, kept), 1.0 if kept else alpha0)
            if pair is not None and (sy := curvature(*pair)) is not None:
                kept.append((*pair, 1.0 / sy))
    finally:  # an interrupted run reports its memory too
        run.hess_inv = CurvaturePairs(tuple((s, y) for s, y, _ in kept))


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
