"""Dual coordinate descent's inner loop in pure Python: the fallback of the compiled
``_dualcd.c`` where no C compiler built it (``dual_cd.py`` picks one). It takes the
compiled loop's steps (the same shuffles, shrinking and stopping), so that
``tests/test_dual_cd.py`` holds the two to the same iterates within rounding; ~100x
slower, for tests and small data only."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def svm_dual_python(
    X: Any, t: np.ndarray, margin: np.ndarray, alpha: np.ndarray, w: np.ndarray, wb: float,
    bias_scale: float, upper: float, diag: float, eps: float, max_epochs: int, seed: int,
    upper_each: np.ndarray | None = None, diag_each: np.ndarray | None = None,
    move_centre: bool = False,
) -> tuple[int, float, bool, float]:  # fmt: skip
    """``_dualcd.svm_dual`` in Python, step for step (the same shuffles from the same
    xorshift64* generator): where no C compiler built the extension. A Python loop over
    samples, ~100x slower than the compiled one. ``alpha`` (n,) and ``w`` (d,) are updated
    in place; ``(epochs, wb, converged, shift)``. ``upper_each`` and ``diag_each`` (n,),
    given together, replace ``upper`` and ``diag`` sample by sample (weighted samples); a
    sample whose bound is 0 (weight 0) keeps ``alpha_i`` (0) and is never visited.
    ``move_centre``: the bias's proximal steps run inside (as the C kernel's ``solve``
    says), ``shift`` their total move of the centre."""
    uppers, diags, order = _per_sample(X.shape[0], upper, diag, upper_each, diag_each)
    dual = _BinaryDual(X, t, margin, alpha, w, bias_scale, uppers, diags)
    rng = _XorShift64Star(seed)
    live = len(order)
    active, epoch, converged, shift = live, 0, False, 0.0
    shrinking = _Shrinking()
    while epoch < max_epochs:
        _shuffle(order, active, rng)
        active, wb, pg_max, pg_min = _epoch(dual, order, active, wb, shift, *shrinking.pg_old)
        epoch += 1
        if active == 0:
            pg_max = pg_min = 0.0
        beta, moved = wb * bias_scale, 0.0
        if move_centre and abs(beta) > eps:  # the proximal step, after every epoch
            shift += beta
            moved = abs(beta)
        if not moved > 0.0 and pg_max - pg_min <= eps:
            if active == live:
                converged = True
                break
            # converged on the active set only: check once more on all the samples
            active = live
            shrinking.reset()
            continue
        if shrinking.next(pg_max, pg_min, moved):  # a shrunk gradient may have crossed 0
            active = live
    return epoch, wb, converged, shift


class _Shrinking:
    """The shrinking's state from one epoch to the next, as ``_dual.h``'s shrinking_t (which
    says why): the last epoch's extreme projected gradients ``pg_old`` (max, min), and the
    centre's moves since the last unshrink (``drift``) against the least threshold since
    (``floor``). Both fallbacks' loops keep one."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Every variable active again: no threshold, no drift to account for."""
        self.pg_old = (math.inf, -math.inf)
        self.drift, self.floor = 0.0, math.inf

    def next(self, pg_max: float, pg_min: float, moved: float) -> bool:
        """After an epoch that does not stop the loop: the next thresholds from its projected
        gradients (none on a side where no gradient pointed out of the box) and the
        centre's move ``moved`` (0: none); True, the state reset, when every variable must
        be active again."""
        self.pg_old = (
            math.inf if pg_max <= 0.0 else pg_max,
            -math.inf if pg_min >= 0.0 else pg_min,
        )
        self.floor = min(self.floor, self.pg_old[0], -self.pg_old[1])
        self.drift += moved
        if not self.drift > self.floor:
            return False
        self.reset()
        return True


class _XorShift64Star:
    """The C kernel's generator, xorshift64* on 64-bit words (Python ints masked to 64
    bits), seeded as it is, so that the fallback shuffles in the same order."""

    MASK = 2**64 - 1

    def __init__(self, seed: int) -> None:
        self.state = (seed * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) & self.MASK or 1

    def next(self) -> int:
        x = self.state
        x ^= x >> 12
        x ^= (x << 25) & self.MASK
        x ^= x >> 27
        self.state = x
        return (x * 0x2545F4914F6CDD1D) & self.MASK


def _per_sample(
    n: int, upper: float, diag: float, upper_each: np.ndarray | None,
    diag_each: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, list[int]]:  # fmt: skip
    """Both fallbacks' per-sample bounds and diagonal terms (n,), ``upper_each`` and
    ``diag_each`` given together or the scalars repeated (the same values, so the same
    steps), and the samples that can move (weighted: those of bound > 0), in index order
    as ``_dual.h``'s live_samples lists them, so that the shuffles draw alike."""
    if (upper_each is None) != (diag_each is None):
        raise ValueError("upper_each and diag_each go together")
    if upper_each is None or diag_each is None:
        return np.full(n, upper), np.full(n, diag), list(range(n))
    return upper_each, diag_each, np.flatnonzero(upper_each > 0.0).tolist()


def _row_squares(X: Any, plus: Any) -> np.ndarray:
    """``plus + |x_i|^2`` (n,) for the rows of ``X`` (n, d) (CSR): the steps' curvatures
    (``_dual.h``'s live_samples, summed in another order)."""
    return plus + np.asarray(X.multiply(X).sum(axis=1)).ravel()


class _BinaryDual:
    """One binary dual's data as the fallback's loop reads it: the CSR arrays of ``X``
    (n, d), labels ``t`` (n,), margins (n,), ``alpha`` (n,) and ``w`` (d,) (updated in
    place), each sample's box ``[0, upper_i]`` and diagonal shift ``diag_i`` (n,)
    (:func:`_per_sample`), and the Hessian's diagonal ``qd`` (n,)."""

    def __init__(
        self, X: Any, t: np.ndarray, margin: np.ndarray, alpha: np.ndarray, w: np.ndarray,
        bias_scale: float, upper: np.ndarray, diag: np.ndarray,
    ) -> None:  # fmt: skip
        self.indptr, self.indices, self.data = X.indptr, X.indices, X.data
        self.t, self.margin, self.alpha, self.w = t, margin, alpha, w
        self.bias_scale = bias_scale
        self.upper, self.diag = upper, diag
        # Q_ii = bias_scale^2 + diag_i + |x_i|^2: the step's curvature in alpha_i (not read
        # for a sample of weight 0, whose diag_i is a placeholder)
        self.qd = _row_squares(X, bias_scale * bias_scale + diag)


def _shuffle(order: list[int], active: int, rng: _XorShift64Star) -> None:
    """Fisher-Yates on the ``active`` first entries of ``order``, in place, drawing as the
    C kernel does."""
    for s in range(active - 1, 0, -1):
        j = rng.next() % (s + 1)
        order[s], order[j] = order[j], order[s]


def _epoch(
    dual: _BinaryDual, order: list[int], active: int, wb: float, shift: float,
    pg_max_old: float, pg_min_old: float,
) -> tuple[int, float, float, float]:  # fmt: skip
    """One pass over the ``active`` first samples of ``order``: each one's coordinate step,
    or its shrinking (moved past the active ones) when it sits at a bound the last epoch's
    projected gradients say it stays at; ``(active, wb, pg_max, pg_min)`` after it. Every
    score has the centre's ``shift`` added."""
    indptr, indices, data = dual.indptr, dual.indices, dual.data
    pg_max, pg_min = -math.inf, math.inf
    s = 0
    while s < active:
        i = order[s]
        lo, hi = indptr[i], indptr[i + 1]
        cols, vals = indices[lo:hi], data[lo:hi]
        a = dual.alpha[i]
        grad = (
            dual.t[i] * (float(dual.w[cols] @ vals) + wb * dual.bias_scale + shift)
            - dual.margin[i]
            + dual.diag[i] * a
        )
        pg = _projected_gradient(a, grad, dual.upper[i], pg_max_old, pg_min_old)
        if pg is None:  # shrunk: the last active sample takes slot s, which is seen next
            active -= 1
            order[s], order[active] = order[active], i
            continue
        pg_max, pg_min = max(pg_max, pg), min(pg_min, pg)
        if abs(pg) > 1e-12 and dual.qd[i] > 0.0:
            wb = _coordinate_step(dual, i, a, grad, cols, vals, wb)
        s += 1
    return active, wb, pg_max, pg_min


def _projected_gradient(
    a: float, grad: float, upper: float, pg_max_old: float, pg_min_old: float
) -> float | None:
    """The gradient ``grad`` of the dual at ``alpha_i = a`` projected on the sample's box
    ``[0, upper]``; None when ``a`` sits at a bound (its own) the gradient pushes it
    further past than the last epoch's extreme projected gradient (the sample is shrunk)."""
    if a == 0.0:
        if grad > pg_max_old:
            return None
        return min(grad, 0.0)
    if a == upper:
        if grad < pg_min_old:
            return None
        return max(grad, 0.0)
    return grad


def _coordinate_step(
    dual: _BinaryDual, i: int, a: float, grad: float, cols: np.ndarray, vals: np.ndarray,
    wb: float,
) -> float:  # fmt: skip
    """The exact minimization in ``alpha_i`` (clipped to the box), ``w`` on the columns
    ``cols`` of sample ``i`` (values ``vals``) updated in place to match; the new ``wb``."""
    a_new = min(max(a - grad / dual.qd[i], 0.0), dual.upper[i])
    step = (a_new - a) * dual.t[i]
    dual.alpha[i] = a_new
    dual.w[cols] += step * vals
    return wb + step * dual.bias_scale
