"""Iterative refinement of a least-squares solution, residuals in extended precision.

A solution computed in float64 carries an error of about ``cond * eps`` (QR) or
``cond^2 * eps`` (the normal equations). Each refinement step computes what is left, the
residual and its correlation with the columns, in extended precision, solves for the
correction with the factorization already at hand, and applies it; the error shrinks by a
factor of about ``cond * eps`` (QR with Q kept, Björck's refinement of the augmented
system) or ``cond^2 * eps`` (a Cholesky or R-only factor) each step. It stops when the
correction reaches rounding level or stops shrinking; the size of the last correction is
the estimate of the error left.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from linfit.linalg.design import EXTENDED, Design, correlation
from linfit.linalg.qr import PivotedQR

EPS = float(np.finfo(np.float64).eps)
MAX_STEPS = 10
# a step must shrink the correction at least this much, or the solution stays as it was
SHRINK = 0.5


@dataclass(frozen=True)
class Refined:
    """A refined ``theta`` (p, K), the correlation ``c = Xh^T (Y - Xh theta)`` (p, K) and
    the residual sum of squares (K,) at it, the steps applied and the relative size of the
    last correction (max over coefficients of |d theta_j| / |theta_j|; inf with none)."""

    theta: np.ndarray
    c: np.ndarray
    rss: np.ndarray
    steps: int
    last_correction: float


def relative_size(delta: np.ndarray, theta: np.ndarray) -> float:
    """max_j |delta_j| / |theta_j|, a zero ``theta_j`` measured against max |theta|."""
    floor = EPS * max(float(np.max(np.abs(theta))) if theta.size else 0.0, np.finfo(float).tiny)
    return float(np.max(np.abs(delta) / np.maximum(np.abs(theta), floor))) if delta.size else 0.0


def refine_by_passes(
    design: Design,
    theta: np.ndarray,
    gram: np.ndarray,
    solve: Callable[[np.ndarray], np.ndarray],
    ridge: np.ndarray,
) -> Refined:
    """Refine ``theta`` (p, K) minimizing ``||Y - Xh theta||^2 + ||sqrt(ridge) theta||^2``
    (``ridge`` (p,) = n reg D) by passes over the rows: ``solve`` applies the inverse of
    ``gram + diag(ridge)`` (a Cholesky factor, or ``R^T R`` of a QR) and ``gram`` (p, p)
    is ``Xh^T Xh``. Each step costs one pass; the last step's ``c`` and ``rss`` follow
    from the quadratic's Taylor expansion, exact up to rounding, with no pass more."""
    c, rss = (np.asarray(v, dtype=np.float64) for v in correlation(theta, design))
    steps, last = 0, float("inf")
    while steps < MAX_STEPS:
        delta = solve(c - ridge[:, None] * theta)
        size = relative_size(delta, theta)
        if size > SHRINK * last:  # not shrinking: theta, c and rss stay as measured
            break
        theta = theta + delta
        steps, last = steps + 1, size
        if size <= 2 * EPS:
            G_delta = gram @ delta
            rss = rss - 2 * np.einsum("pk,pk->k", delta, c) + np.einsum("pk,pk->k", delta, G_delta)
            c = c - G_delta
            break
        c, rss = (np.asarray(v, dtype=np.float64) for v in correlation(theta, design))
    return Refined(theta, c, np.maximum(rss, 0.0), steps, last)


def refine_explicit(
    A: np.ndarray,
    b: np.ndarray,
    qr: PivotedQR,
    theta: np.ndarray,
    constraint: np.ndarray | None = None,
    A_extended: np.ndarray | None = None,
) -> Refined:
    """Refine ``theta`` (p, K) minimizing ``||b - A theta||`` for ``A`` (m, p) of full rank
    and ``b`` (m, K), with ``qr`` its equilibrated pivoted QR with Q kept. With
    ``constraint`` (p, K), the system solved is ``A^T r = constraint`` instead of
    ``A^T r = 0`` (with ``b = 0`` and ``constraint = -E``: ``theta = (A^T A)^{-1} E``).
    ``A_extended``, ``A`` in extended precision with columns known more exactly than
    their float64 values (``RowDesign.exact``), is the matrix whose problem is solved:
    the float64 ``qr`` only preconditions the steps, which converge while its ``cond``
    times ``A``'s rounding stays below one.

    Björck's refinement of the augmented system ``[I, A; A^T, 0] [r; theta] = [b; 0]``:
    residual and correction both carried, so the error shrinks by ``cond * eps`` a step
    even when the residual is large (refining ``theta`` alone would square the condition
    number). Returned ``c`` and ``rss`` are over all of ``A``'s rows."""
    import scipy.linalg

    Q, R, perm = qr.Q, qr.R, qr.perm
    scale = qr.scale[perm][:, None]
    Ax = A.astype(EXTENDED) if A_extended is None else A_extended
    bx = b.astype(EXTENDED)
    residual = bx - Ax @ theta.astype(EXTENDED)  # one product a step, reused below
    r = np.asarray(residual, dtype=np.float64)
    steps, last = 0, float("inf")
    while steps < MAX_STEPS:
        f = np.asarray(residual - r, dtype=np.float64)
        g = -(Ax.T @ r.astype(EXTENDED))
        if constraint is not None:
            g += constraint
        g = np.asarray(g, dtype=np.float64)[perm] / scale
        h = scipy.linalg.solve_triangular(R, g, trans="T", check_finite=False)
        qf = Q.T @ f
        du = scipy.linalg.solve_triangular(R, qf - h, check_finite=False)
        delta = np.empty_like(theta)
        delta[perm] = du / scale
        size = relative_size(delta, theta)
        if size > SHRINK * last:
            break
        theta = theta + delta
        r = r + (Q @ h + f - Q @ qf)
        residual = bx - Ax @ theta.astype(EXTENDED)
        steps, last = steps + 1, size
        if size <= 2 * EPS:
            break
    c = np.asarray(Ax.T @ residual, dtype=np.float64)
    rss = np.asarray(np.einsum("ik,ik->k", residual, residual), dtype=np.float64)
    return Refined(theta, c, rss, steps, last)
