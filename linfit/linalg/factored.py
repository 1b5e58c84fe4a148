"""The least-squares methods built on a QR factorization: the column-equilibrated,
column-pivoted QR (rank, minimum norm, dependencies, refinement) and numpy's and LAPACK's
SVD-based pinv and lstsq, on ``Xh`` itself or on the triangle of its QR."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from linfit.linalg.design import EXTENDED, Design, correlation
from linfit.linalg.qr import PINV_RCOND, PivotedQR, pinv_solve, pivoted_qr, qr_r
from linfit.linalg.refine import EPS, refine_by_passes, refine_explicit
from linfit.linalg.solution import Dependency, LeastSquaresFit, digits_of

# the dependencies among columns found for a rank-deficient design (the rest are counted)
MAX_DEPENDENCIES = 5
# the inverse of the Gram matrix is refined like the solution while m p^2 is at most this
REFINE_INVERSE_MAX = 10_000_000


@dataclass(frozen=True)
class Augmented:
    """The penalized problem as plain least squares ``min ||b - A theta||``: ``A`` (m, p) is
    ``Xh`` with rows ``sqrt(n reg) e_j`` under it for the penalized coefficients
    (``explicit``), or the triangle of that matrix's QR (p, p) with ``b`` its ``Q^T [Y;
    0]``; ``T`` is then the triangle of ``[Xh, Y]`` before the penalty rows (its residual
    block gives the data's residual)."""

    A: np.ndarray
    b: np.ndarray
    explicit: bool
    T: np.ndarray | None = None
    # ``A`` in extended precision when its design knows exact columns (``RowDesign.exact``):
    # what refinement computes residuals with; None: ``A``'s values cast
    A_extended: np.ndarray | None = None


def augmented(design: Design, ridge: np.ndarray) -> Augmented:
    """``design`` with the penalty ``||sqrt(ridge) theta||^2`` as rows of least squares:
    the whole matrix when small enough (``design.explicit()``), else the triangle of its
    QR, one pass over the rows."""
    explicit = design.explicit()
    if explicit is not None:
        system = explicit_system(*explicit, ridge)
        if getattr(design, "exact", None) is None:
            return system
        exact = explicit_system(*design.explicit(extended=True), ridge.astype(EXTENDED))
        return dataclasses.replace(system, A_extended=exact.A)
    p = design.d + int(design.intercept)
    penalty = _penalty_rows(ridge)
    T = design.triangle()
    T11, T12 = T[:p, :p], T[:p, p:]
    if penalty.shape[0]:
        stacked = np.vstack(
            [np.hstack([T11, T12]), np.hstack([penalty, np.zeros((penalty.shape[0], design.K))])]
        )
        R = qr_r(np.asfortranarray(stacked))
        T11, T12 = R[:p, :p], R[:p, p:]
    return Augmented(T11, T12, explicit=False, T=T)


def explicit_system(Xh: np.ndarray, Y: np.ndarray, ridge: np.ndarray) -> Augmented:
    """``[Xh; penalty rows]`` and ``[Y; 0]`` for ``Xh`` (n, p) and ``Y`` (n, K) in memory."""
    penalty = _penalty_rows(ridge)
    zeros = np.zeros((penalty.shape[0], Y.shape[1]))
    return Augmented(np.vstack([Xh, penalty]), np.vstack([Y, zeros]), explicit=True)


def _penalty_rows(ridge: np.ndarray) -> np.ndarray:
    """Rows ``sqrt(ridge_j) e_j`` for the penalized coefficients (ridge (p,) = n reg D)."""
    return np.diag(np.sqrt(ridge))[ridge > 0]


def qr_fit(design: Design, reg: float, ridge: np.ndarray, note: str) -> LeastSquaresFit:
    """The equilibrated pivoted QR's fit, refined when full rank."""
    p = design.d + int(design.intercept)
    system = augmented(design, ridge)
    qr = pivoted_qr(system.A, rows=design.n, keep_q=True)
    theta = solve_pivoted(qr, qr.Q.T @ system.b)
    steps, refined = 0, None
    if qr.rank == p and system.explicit:
        refined = refine_explicit(system.A, system.b, qr, theta, A_extended=system.A_extended)
        c = refined.c + ridge[:, None] * refined.theta  # the ridge rows' share removed
        rss = refined.rss - np.einsum("p,pk->k", ridge, refined.theta**2)
    elif qr.rank == p and qr.cond**2 * EPS < 0.1:  # refinement through R^T R converges
        T11 = system.T[:p, :p]
        refined = refine_by_passes(design, theta, T11.T @ T11, lambda v: normal_solve(qr, v), ridge)
        c, rss = refined.c, refined.rss
    else:
        c, rss = _residual(design, system, theta)
    if refined is not None:
        theta, steps = refined.theta, refined.steps
    digits = digits_of(refined.last_correction) if steps else bound_digits(qr, theta, rss)
    return LeastSquaresFit(
        theta=theta, intercept=design.intercept, method="qr", n=design.n, reg=reg,
        rss=np.maximum(rss, 0.0), c=c, rank=qr.rank, cond=qr.cond, digits=digits,
        refinements=steps, dependencies=dependencies(qr), note=note,
        inverse_of=inverse_later(qr, system.A if system.explicit else None, system.A_extended),
    )  # fmt: skip


def svd_fit(design: Design, method: str, reg: float, ridge: np.ndarray) -> LeastSquaresFit:
    """numpy's pinv or LAPACK's gelsd on ``Xh`` (or on the triangle of its QR)."""
    p = design.d + int(design.intercept)
    system = augmented(design, ridge)
    A, b = system.A, system.b
    rcond, lstsq_rcond = PINV_RCOND, None
    if not system.explicit:
        # Each block factored into R adds rounding to singular values that are exactly
        # zero: measured up to 1.3e-15 (relative to the largest) for a duplicated
        # column or a linear combination at 2 to 2,000 blocks, where numpy's SVD of
        # Xh leaves ~1e-16, so numpy's cut-off would keep some. Scaled by sqrt(blocks)
        # it dropped every one in those runs, each 6x to 2,000x below it
        rcond = PINV_RCOND * np.sqrt(design.blocks)
        lstsq_rcond = max(design.n, p) * EPS  # gelsd's default for Xh
    if method == "pinv":
        theta, rank = pinv_solve(A, b, rcond, with_rank=True)
    else:
        theta, _, rank, _ = np.linalg.lstsq(A, b, rcond=lstsq_rcond)
    qr = pivoted_qr(A, rows=design.n)
    c, rss = _residual(design, system, theta)
    note, digits = "", bound_digits(qr, theta, rss)
    if rank < qr.rank:
        digits = 0.0
        note = (
            f"{method} cut {qr.rank - rank} direction(s) that the column-equilibrated design "
            "resolves: its answer may have no correct digit (method auto keeps them)"
        )
    return LeastSquaresFit(
        theta=theta, intercept=design.intercept, method=method, n=design.n, reg=reg,
        rss=np.maximum(rss, 0.0), c=c, rank=int(rank), cond=qr.cond, digits=digits,
        dependencies=dependencies(qr), note=note, dropped=max(0, qr.rank - int(rank)),
        inverse_of=inverse_later(qr, None),
    )  # fmt: skip


def _residual(
    design: Design, system: Augmented, theta: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``c = Xh^T (Y - Xh theta)`` and the residual sum of squares at ``theta``: one pass in
    extended precision over a design in memory, else from the triangle, no pass at all."""
    if system.explicit:
        return tuple(np.asarray(v, dtype=np.float64) for v in correlation(theta, design))
    return from_triangle(system.T, design.d + int(design.intercept), theta)


def from_triangle(T: np.ndarray, p: int, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``c`` and ``rss`` at ``theta`` from the triangle ``T`` of ``[Xh, Y]``: with
    ``[Xh, Y] = Q T``, ``Y - Xh theta = Q [T12 - T11 theta; T22]``."""
    T11, T12, T22 = T[:p, :p], T[:p, p:], T[p:, p:]
    left = T12 - T11 @ theta
    return T11.T @ left, np.einsum("pk,pk->k", left, left) + np.einsum("ik,ik->k", T22, T22)


def solve_pivoted(qr: PivotedQR, c1: np.ndarray) -> np.ndarray:
    """``theta`` (p, K) from the pivoted QR and ``Q^T b`` (p, K): the triangular solve when
    full rank, else the solution of least raw norm among those of the rank-r problem."""
    import scipy.linalg

    p, r = qr.R.shape[1], qr.rank
    scale = qr.scale[qr.perm]
    theta = np.zeros((p, c1.shape[1]))
    if r == p:
        u = scipy.linalg.solve_triangular(qr.R, c1, check_finite=False)
        theta[qr.perm] = u / scale[:, None]
    elif r > 0:
        # R[:r] diag(scale) v = c1[:r] for v = theta[perm]; least ||v|| through B^T's QR
        Qb, Rb = np.linalg.qr((qr.R[:r] * scale[None, :]).T)
        theta[qr.perm] = Qb @ scipy.linalg.solve_triangular(
            Rb, c1[:r], trans="T", check_finite=False
        )
    return theta


def normal_solve(qr: PivotedQR, v: np.ndarray) -> np.ndarray:
    """``(A^T A)^{-1} v`` for ``A`` (full rank) from its equilibrated pivoted QR."""
    import scipy.linalg

    scale = qr.scale[qr.perm][:, None]
    z = scipy.linalg.solve_triangular(qr.R, v[qr.perm] / scale, trans="T", check_finite=False)
    z = scipy.linalg.solve_triangular(qr.R, z, check_finite=False)
    out = np.empty_like(z)
    out[qr.perm] = z / scale
    return out


def inverse(
    qr: PivotedQR, A: np.ndarray | None, A_extended: np.ndarray | None = None
) -> np.ndarray | None:
    """``(A^T A)^{-1}`` (p, p) when full rank; refined like a solution when ``A`` (m, p) is
    at hand and small (columns of the inverse solve ``A^T A x = e_j``), against
    ``A_extended`` when given (``Augmented``)."""
    p = qr.R.shape[1]
    if qr.rank < p:
        return None
    inverse = normal_solve(qr, np.eye(p))
    if A is not None and _refines_inverse(qr, A):
        zeros = np.zeros((A.shape[0], p))
        inverse = refine_explicit(A, zeros, qr, inverse, -np.eye(p), A_extended).theta
    return (inverse + inverse.T) / 2


def inverse_later(
    qr: PivotedQR, A: np.ndarray | None, A_extended: np.ndarray | None = None
) -> Callable[[], np.ndarray | None]:
    """``inverse(qr, A)`` for ``LeastSquaresFit.inverse_of``: computed now when ``A`` is at
    hand for refining (small, by ``REFINE_INVERSE_MAX``), else on first use from the
    triangle alone, so a fit kept with its model does not keep ``A`` or ``Q`` alive."""
    if A is not None and _refines_inverse(qr, A):
        return partial(np.array, inverse(qr, A, A_extended))
    return partial(inverse, dataclasses.replace(qr, Q=None), None)


def _refines_inverse(qr: PivotedQR, A: np.ndarray) -> bool:
    p = qr.R.shape[1]
    return A.shape[0] * p * p <= REFINE_INVERSE_MAX and qr.cond > 1e3


def bound_digits(qr: PivotedQR, theta: np.ndarray, rss: np.ndarray) -> float:
    """Digits the first-order bound of least squares promises for a backward-stable solve:
    relative error ~ eps (cond + cond^2 ||r|| / (||A|| ||theta||)), on the equilibrated
    design (||A|| ~ 1 there, ``theta`` in its scaled units)."""
    cond = qr.cond_of_rank  # of the independent columns, when rank-deficient
    scaled = np.linalg.norm(theta * qr.scale[:, None])
    ratio = float(np.sqrt(np.sum(rss))) / scaled if scaled > 0 else 0.0
    return digits_of(EPS * (cond + cond**2 * ratio))


def dependencies(qr: PivotedQR) -> tuple[Dependency, ...]:
    """Each column past the rank as a combination of the independent ones, in raw units."""
    import scipy.linalg

    p, r = qr.R.shape[1], qr.rank
    if r == p or r == 0:
        return ()
    shown = min(p - r, MAX_DEPENDENCIES)
    W = scipy.linalg.solve_triangular(qr.R[:r, :r], qr.R[:r, r : r + shown], check_finite=False)
    scale = qr.scale[qr.perm]
    found = []
    for k in range(shown):
        coef = scale[r + k] * W[:, k] / scale[:r]
        big = np.abs(W[:, k]) > 1e-10 * max(float(np.max(np.abs(W[:, k]))), EPS)
        on = {int(qr.perm[i]): float(coef[i]) for i in np.flatnonzero(big)}
        found.append(Dependency(column=int(qr.perm[r + k]), on=on))
    return tuple(found)
