"""The Weston-Watkins dual's loop in pure Python: the fallback of the compiled
``_wwdual.c`` where no C compiler built it (``dual_ww.py`` picks one). It takes the
compiled loop's steps (the same shuffles, block solves, shrinking and stopping), so that
``tests/test_dual_ww.py`` holds the two to the same iterates within rounding; a Python
loop over samples, for tests and small data only."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from linfit.fitting.dual_cd_python import (
    _per_sample,
    _projected_gradient,
    _row_squares,
    _Shrinking,
    _shuffle,
    _XorShift64Star,
)


def ww_dual_python(
    X: Any, y: np.ndarray, shift: np.ndarray, alpha: np.ndarray, W: np.ndarray,
    wb: np.ndarray, margin: float, bias_scale: float, upper: float, diag: float, eps: float,
    max_epochs: int, seed: int, upper_each: np.ndarray | None = None,
    diag_each: np.ndarray | None = None, move_centre: bool = False,
) -> tuple[int, bool]:  # fmt: skip
    """``_wwdual.ww_dual`` in Python, step for step: ``X`` (n, d) CSR, class codes ``y``
    (n,), margins' ``shift`` (K,) (the bias's centre); ``alpha`` (n, K), ``W`` (d, K),
    ``wb`` (K,) and ``shift`` updated in place; ``(epochs, converged)``. ``upper_each`` and
    ``diag_each`` (n,), given together, replace ``upper`` and ``diag`` sample by sample; a
    sample whose bound is 0 (weight 0) keeps ``alpha_i`` (0) and is never visited.
    ``move_centre``: the bias's proximal steps run inside (see ``_wwdual.c``)."""
    n, K = alpha.shape
    ups, diags, order = _per_sample(n, upper, diag, upper_each, diag_each)
    q = _row_squares(X, bias_scale * bias_scale)
    block = _Block(X, y, shift, alpha, W, wb, margin, bias_scale)
    live = len(order)
    acts = _unshrunk(y, K, order)
    rng = _XorShift64Star(seed)
    active, epoch, converged = live, 0, False
    shrinking = _Shrinking()
    while epoch < max_epochs:
        _shuffle(order, active, rng)
        pg = [-math.inf, math.inf]
        full = True
        s = 0
        while s < active:
            i = order[s]
            before = len(acts[i])
            acts[i] = block.visit(i, q[i], acts[i], ups[i], diags[i], shrinking.pg_old, pg)
            full = full and len(acts[i]) == before
            if not acts[i]:  # no variable left: the last active sample takes slot s
                active -= 1
                order[s], order[active] = order[active], i
                continue
            s += 1
        epoch += 1
        if pg[0] < pg[1]:
            pg = [0.0, 0.0]
        beta = bias_scale * wb
        moved = float(beta.max() - beta.min()) if move_centre else 0.0
        if moved > eps:  # the proximal step, every epoch
            shift += beta
        else:
            moved = 0.0
        if not moved > 0.0 and pg[0] - pg[1] <= eps:
            if full and active == live and all(len(acts[i]) == K - 1 for i in order[:live]):
                converged = True
                break
            acts, active = _unshrunk(y, K, order[:live]), live
            shrinking.reset()
            continue
        if shrinking.next(pg[0], pg[1], moved):  # a shrunk gradient may have crossed 0
            acts, active = _unshrunk(y, K, order[:live]), live
    return epoch, converged


def _unshrunk(y: np.ndarray, K: int, samples: list[int]) -> dict[int, list[int]]:
    """Each of ``samples``' classes but its true one active, in increasing order."""
    return {i: [j for j in range(K) if j != int(y[i])] for i in samples}


class _Block:
    """The data one sample's block reads and writes (see ``_wwdual.c``)."""

    def __init__(
        self, X: Any, y: np.ndarray, shift: np.ndarray, alpha: np.ndarray, W: np.ndarray,
        wb: np.ndarray, margin: float, bias_scale: float,
    ) -> None:  # fmt: skip
        self.indptr, self.indices, self.data = X.indptr, X.indices, X.data
        self.y, self.shift, self.alpha, self.W, self.wb = y, shift, alpha, W, wb
        self.margin, self.bias_scale = margin, bias_scale

    def visit(
        self, i: int, q: float, act: list[int], upper: float, diag: float,
        pg_old: tuple[float, float], pg: list[float],
    ) -> list[int]:  # fmt: skip
        """Sample ``i``'s shrinking and exact block step on its active classes ``act``;
        returns the classes left active (in the compiled loop's order) and folds the
        projected gradients into ``pg`` (max, min)."""
        lo, hi = self.indptr[i], self.indptr[i + 1]
        cols, vals = self.indices[lo:hi], self.data[lo:hi]
        yi = int(self.y[i])
        s = self.bias_scale * self.wb + vals @ self.W[cols]
        base = s[yi] - self.margin + self.shift[yi]
        a_row = self.alpha[i]
        total = float(a_row.sum())
        act = list(act)
        grads: list[float] = []
        spread = 0.0
        k = 0
        while k < len(act):
            j = act[k]
            aj = a_row[j]
            grad = base - s[j] - self.shift[j] + diag * aj
            pg_j = _projected_gradient(aj, grad, upper, *pg_old)
            if pg_j is None:  # shrunk: the last active class takes slot k
                act[k] = act[-1]
                act.pop()
                continue
            pg[0], pg[1] = max(pg[0], pg_j), min(pg[1], pg_j)
            spread = max(spread, abs(pg_j))
            grads.append(grad)
            k += 1
        r = q + diag
        if not act or not spread > 1e-12 or not r > 0.0:
            return act
        idx = np.array(act)
        fixed = max(total - float(a_row[idx].sum()), 0.0)
        c = r * a_row[idx] + q * total - np.array(grads)
        total_new = 0.0
        if q > 0.0:
            total_new = _warm_total(c, q, r, upper, fixed, total)
            if math.isnan(total_new):
                total_new = _block_total(c, q, r, upper, fixed)
        new = np.clip((c - q * total_new) / r, 0.0, upper)
        step = new - a_row[idx]
        a_row[idx] = new
        v = np.zeros(a_row.size)
        v[idx] = -step
        v[yi] = step.sum()
        self.W[cols] += np.outer(vals, v)
        self.wb += self.bias_scale * v
        return act


def _warm_total(
    c: np.ndarray, q: float, r: float, upper: float, fixed: float, guess: float
) -> float:
    """The root of ``S = fixed + sum_j clip((c_j - q S) / r, 0, upper)`` when it lies on
    the segment where the clips keep their states at ``guess``, else nan (the compiled
    loop's warm_total: the segment's linear solve, checked to fall inside it)."""
    cst = slope = 0.0
    left, right = -math.inf, math.inf
    for ca in c:
        hi = ca / q
        lo = hi - r * upper / q
        if hi <= guess:  # 0 from hi on
            left = max(left, hi)
        elif lo >= guess:  # upper up to lo
            cst += upper
            right = min(right, lo)
        else:  # linear between lo and hi
            cst += ca / r
            slope += q / r
            left, right = max(left, lo), min(right, hi)
    root = (fixed + cst) / (1.0 + slope)
    return root if left <= root <= right else math.nan


def _block_total(c: np.ndarray, q: float, r: float, upper: float, fixed: float) -> float:
    """The root S of ``S = fixed + sum_j clip((c_j - q S) / r, 0, upper)``, by the compiled
    loop's walk: each clip's state at ``S = fixed`` (the root is no lower), then the
    breakpoints past it in increasing order (stably sorted, each class's ``c_j / q``
    before its lower one)."""
    events = []
    cst = slope = 0.0  # the clips' sum is cst - slope S on the current segment
    for a, ca in enumerate(c):
        hi = ca / q
        lo = hi - r * upper / q  # -inf when upper is inf
        if hi <= fixed:  # 0 on all of [fixed, inf)
            continue
        events.append((hi, a, True))
        if lo <= fixed:  # linear at fixed
            cst += ca / r
            slope += q / r
        else:
            cst += upper
            events.append((lo, a, False))
    events.sort(key=lambda e: e[0])  # stable: ties keep the insertion order
    for value, a, is_hi in events:
        root = (fixed + cst) / (1.0 + slope)
        if root <= value:
            return root
        if is_hi:
            cst -= c[a] / r
            slope -= q / r
        else:
            cst += c[a] / r - upper
            slope += q / r
    return (fixed + cst) / (1.0 + slope)
