"""Least squares in closed form, every method by name, each answer with its credentials.

``solve(design, method, reg)`` minimizes ``||Y - Xh theta||^2 + n reg ||D theta||^2``
(``D`` leaves the intercept unpenalized) and returns a :class:`LeastSquaresFit`: the
coefficients, the residual and its correlation with the columns, the numerical rank and
condition of the column-equilibrated design, the dependencies among columns when it is
rank-deficient, and an estimate of the correct significant digits of the worst
coefficient.

- ``auto``: the normal equations (one pass, the fast path) when the equilibrated Gram
  matrix is conditioned well enough for refinement to converge fast, refined by passes
  with residuals in extended precision until the correction stops shrinking; otherwise
  ``qr``.
- ``normal``: the normal equations alone, no refinement; a problem they cannot solve to
  ``DIGITS_ASKED`` digits is handed to ``qr`` (``LeastSquaresFit.note`` says so).
- ``qr``: the column-equilibrated, column-pivoted QR; rank decided on it, the
  minimum-norm solution when deficient, refinement when full rank.
- ``pinv``, ``lstsq``: the SVD-based solutions of numpy's ``pinv`` and LAPACK's
  ``gelsd``, with their own rank cut-offs on the raw columns; flagged with no correct digit
  when that cut-off drops a direction the equilibrated design resolves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from linfit.errors import UnknownNameError
from linfit.linalg.design import Design, correlation
from linfit.linalg.gram import cholesky, cholesky_solve, penalty_diagonal
from linfit.linalg.qr import PINV_RCOND, PivotedQR, pinv_solve, pivoted_qr, qr_r
from linfit.linalg.refine import EPS, Refined, refine_by_passes, refine_explicit

METHODS: tuple[str, ...] = ("auto", "normal", "qr", "pinv", "lstsq")

# auto takes the normal equations while the equilibrated Gram matrix's condition is at most
# this: each refinement step then gains at least six digits.
NORMAL_MAX_COND = 1e10
# the digits ``normal`` must deliver without refinement, else it hands the problem to qr
DIGITS_ASKED = 10
# auto refines a solution whose error bound promises fewer digits than this
REFINE_BELOW_DIGITS = 14.0
# auto hands to qr a problem whose refined normal-equations answer has fewer digits: the
# refinement of theta alone stalls at ~ eps_ext cond^2 ||r|| / (||Xh|| ||theta||) when the
# residual is large (Wampler5: 9.3 digits), where qr's refinement carries the residual
AUTO_MIN_DIGITS = 12.0
# the most digits a float64 answer can claim (a correction at rounding level, 2 eps)
MAX_DIGITS = float(-np.log10(2 * EPS))
# the dependencies among columns found for a rank-deficient design (the rest are counted)
MAX_DEPENDENCIES = 5
# the inverse of the Gram matrix is refined like the solution while m p^2 is at most this
REFINE_INVERSE_MAX = 10_000_000


@dataclass(frozen=True)
class Dependency:
    """Column ``column`` of ``Xh`` is (numerically) ``sum(coef * Xh[:, i] for i, coef in
    on.items())``; column index ``d`` is the intercept's column of ones."""

    column: int
    on: dict[int, float]


@dataclass(frozen=True)
class LeastSquaresFit:
    """A least-squares solution ``theta`` (p, K) for ``Xh`` (n, p), p = d + intercept.

    ``rss`` (K,) and ``c = Xh^T (Y - Xh theta)`` (p, K) are over the data rows (the
    penalty's aside); ``cond`` is the 2-norm condition of the column-equilibrated design
    (an estimate, inf when rank-deficient); ``digits`` the estimated correct significant
    digits of the worst coefficient; ``inverse`` (p, p) is ``(Xh^T Xh + n reg D)^{-1}``
    when full rank (for standard errors), else None. ``method`` is the method that
    produced ``theta``; ``note`` says why, when it is not the one asked.
    """

    theta: np.ndarray
    intercept: bool
    method: str
    n: int
    reg: float
    rss: np.ndarray
    c: np.ndarray
    rank: int
    cond: float
    digits: float
    refinements: int = 0
    dependencies: tuple[Dependency, ...] = ()
    inverse: np.ndarray | None = None
    note: str = ""
    rss_error: float = 0.0  # relative error bound of ``rss`` (> 0: from the Gram identity)
    dropped: int = 0  # directions the equilibrated design resolves that pinv/lstsq cut

    @property
    def params(self) -> np.ndarray:
        """Flat ``[W.ravel(), b]`` as the models lay them out (b = 0 without intercept)."""
        theta = (
            self.theta if self.intercept else np.vstack([self.theta, np.zeros(self.theta.shape[1])])
        )
        return theta.ravel()

    def objective(self) -> tuple[float, np.ndarray]:
        """``(f, grad)`` of ``f = sum(rss) / n + reg ||W||^2`` at ``theta``, grad flat."""
        p = self.theta.shape[0]
        D = penalty_diagonal(p, self.intercept)[:, None]
        n = max(self.n, 1)
        penalty = self.reg * float(np.sum(D * self.theta**2))
        grad = -2.0 / n * self.c + 2.0 * self.reg * D * self.theta
        if not self.intercept:  # the bias is held at zero, not a free parameter
            grad = np.vstack([grad, np.zeros(self.theta.shape[1])])
        return float(np.sum(self.rss)) / n + penalty, grad.ravel()


def solve(design: Design, method: str = "auto", reg: float = 0.0) -> LeastSquaresFit:
    """The least-squares fit of ``design`` by ``method`` (one of ``METHODS``)."""
    if method not in METHODS:
        raise UnknownNameError("least-squares method", method, METHODS)
    ridge = design.n * reg * penalty_diagonal(design.d + int(design.intercept), design.intercept)
    note = ""
    if method in ("auto", "normal"):
        fit = _normal(design, method, reg, ridge)
        if isinstance(fit, LeastSquaresFit):
            return fit
        note = fit
        method = "qr"
    if method == "qr":
        return _qr(design, reg, ridge, note)
    return _svd(design, method, reg, ridge)


def digits_of(relative_error: float) -> float:
    """Correct significant digits for a relative error, between 0 and ``MAX_DIGITS``."""
    if not relative_error > 0:
        return MAX_DIGITS
    return float(min(MAX_DIGITS, max(0.0, -np.log10(relative_error))))


def _normal(design: Design, method: str, reg: float, ridge: np.ndarray) -> LeastSquaresFit | str:
    """The normal equations' fit, or why they were not trusted with the problem."""
    p = design.d + int(design.intercept)
    if design.n < p and reg == 0:  # singular for sure: no (p, p) matrix is worth forming
        return f"the normal equations are singular ({design.n} rows for {p} unknowns): solved by qr"
    A, B, YtY = design.gram()
    H = A + np.diag(ridge)
    chol = cholesky(H)
    limit = NORMAL_MAX_COND if method == "auto" else 10.0**-DIGITS_ASKED / EPS
    if chol is None or chol[1] > limit:
        cond = "singular" if chol is None else f"cond {chol[1]:.1e} after scaling"
        return f"the normal equations were too ill-conditioned ({cond}): solved by qr"
    factor, cond_h = chol
    scale = 1.0 / np.sqrt(np.diag(H))

    def solve_h(rhs: np.ndarray) -> np.ndarray:
        return cholesky_solve(factor, scale, rhs)

    theta = solve_h(B)
    digits = digits_of(EPS * cond_h)
    steps, rss_error = 0, 0.0
    if method == "auto" and digits < REFINE_BELOW_DIGITS:
        refined = refine_by_passes(design, theta, A, solve_h, ridge)
        theta, c, rss, steps = refined.theta, refined.c, refined.rss, refined.steps
        digits = digits_of(refined.last_correction)
        if digits < AUTO_MIN_DIGITS:
            return f"the refined normal equations reached only {digits:.1f} digits: solved by qr"
    else:
        AT = A @ theta
        c = B - AT
        rss = YtY - 2 * np.einsum("pk,pk->k", theta, B) + np.einsum("pk,pk->k", theta, AT)
        # the identity cancels when the fit is close: then one pass, in extended precision
        rss_error = EPS * float(np.max(YtY / np.maximum(rss, np.finfo(float).tiny)))
        if rss_error > 1e-10:
            c, rss = (np.asarray(v, dtype=np.float64) for v in correlation(theta, design))
            rss_error = 0.0
    return LeastSquaresFit(
        theta=theta, intercept=design.intercept, method="normal", n=design.n, reg=reg,
        rss=np.maximum(rss, 0.0), c=c, rank=H.shape[0], cond=_cond_of_factor(factor[0], cond_h),
        digits=digits, refinements=steps, inverse=solve_h(np.eye(H.shape[0])),
        rss_error=rss_error,
    )  # fmt: skip


# the exact condition from the factor's singular values up to this size (p^3 flops: ~10 ms
# at 200), past it LAPACK's estimate
EXACT_COND_MAX = 1000


def _cond_of_factor(R: np.ndarray, estimate: float) -> float:
    """2-norm condition of the column-equilibrated design from the Cholesky factor ``R``
    (p, p) of its Gram matrix (the same singular values), or ``sqrt`` of the Gram
    matrix's 1-norm estimate past ``EXACT_COND_MAX`` columns."""
    if R.shape[0] > EXACT_COND_MAX:
        return float(np.sqrt(estimate))
    s = np.linalg.svd(np.triu(R), compute_uv=False)
    return float(s[0] / s[-1]) if s.size and s[-1] > 0 else float("inf")


def accurate_inverse(fit: LeastSquaresFit, design: Design) -> np.ndarray | None:
    """``fit.inverse`` to about 12 digits or as close as the data allows: the normal
    equations' inverse carries ``cond^2 eps`` (Longley: 8 digits of its standard errors),
    so a design in memory is factored by QR and the inverse refined there."""
    if fit.inverse is None or fit.method != "normal" or fit.cond**2 * EPS <= 1e-12:
        return fit.inverse
    explicit = design.explicit()
    if explicit is None:
        return fit.inverse
    ridge = design.n * fit.reg * penalty_diagonal(fit.theta.shape[0], design.intercept)
    A = np.vstack([explicit[0], _ridge_rows(ridge)])
    qr = pivoted_qr(A, rows=design.n, keep_q=True)
    return _inverse(qr, A) if qr.rank == A.shape[1] else fit.inverse


def _ridge_rows(ridge: np.ndarray) -> np.ndarray:
    """Rows ``sqrt(ridge) e_j`` for the penalized coefficients: appended under ``Xh``, they
    turn the penalty into least squares (``||sqrt(ridge) theta||^2``)."""
    rows = np.diag(np.sqrt(ridge))
    return rows[ridge > 0]


def _qr(design: Design, reg: float, ridge: np.ndarray, note: str) -> LeastSquaresFit:
    """The equilibrated pivoted QR's fit, refined when full rank."""
    p, K = design.d + int(design.intercept), design.K
    explicit = design.explicit()
    ridge_rows = _ridge_rows(ridge)
    if explicit is not None:
        Xh, Y = explicit
        A = np.vstack([Xh, ridge_rows])
        b = np.vstack([Y, np.zeros((ridge_rows.shape[0], K))])
        qr = pivoted_qr(A, rows=design.n, keep_q=True)
        theta = _solve_pivoted(qr, qr.Q.T @ b)
    else:
        T = design.triangle()
        T11, T12 = _with_ridge(T[:p, :p], T[:p, p:], ridge_rows)
        qr = pivoted_qr(T11, rows=design.n, keep_q=True)
        theta = _solve_pivoted(qr, qr.Q.T @ T12)
    steps, refined = 0, None
    if qr.rank == p and explicit is not None:
        refined = refine_explicit(A, b, qr, theta)
        c = refined.c + ridge[:, None] * refined.theta  # the ridge rows' share removed
        rss = refined.rss - np.einsum("p,pk->k", ridge, refined.theta**2)
    elif qr.rank == p and qr.cond**2 * EPS < 0.1:  # refinement through R^T R converges
        refined = refine_by_passes(
            design, theta, T[:p, :p].T @ T[:p, :p], lambda v: _normal_solve(qr, v), ridge
        )
        c, rss = refined.c, refined.rss
    elif explicit is not None:
        c, rss = (np.asarray(v, dtype=np.float64) for v in correlation(theta, design))
    else:
        c, rss = _from_triangle(T, p, theta)
    if refined is not None:
        theta, steps = refined.theta, refined.steps
    digits = digits_of(refined.last_correction) if steps else _bound_digits(qr, theta, rss)
    return LeastSquaresFit(
        theta=theta, intercept=design.intercept, method="qr", n=design.n, reg=reg,
        rss=np.maximum(rss, 0.0), c=c, rank=qr.rank, cond=qr.cond, digits=digits,
        refinements=steps, dependencies=_dependencies(qr), note=note,
        inverse=_inverse(qr, A if explicit is not None else None),
    )  # fmt: skip


def _svd(design: Design, method: str, reg: float, ridge: np.ndarray) -> LeastSquaresFit:
    """numpy's pinv or LAPACK's gelsd on ``Xh`` (or on the triangle of its QR)."""
    p = design.d + int(design.intercept)
    explicit = design.explicit()
    ridge_rows = _ridge_rows(ridge)
    if explicit is not None:
        Xh, Y = explicit
        A = np.vstack([Xh, ridge_rows])
        b = np.vstack([Y, np.zeros((ridge_rows.shape[0], design.K))])
        rcond, lstsq_rcond = PINV_RCOND, None
    else:
        T = design.triangle()
        A, b = _with_ridge(T[:p, :p], T[:p, p:], ridge_rows)
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
    if explicit is not None:
        c, rss = (np.asarray(v, dtype=np.float64) for v in correlation(theta, design))
    else:
        c, rss = _from_triangle(T, p, theta)
    note, digits = "", _bound_digits(qr, theta, rss)
    if rank < qr.rank:
        digits = 0.0
        note = (
            f"{method} cut {qr.rank - rank} direction(s) that the column-equilibrated design "
            "resolves: its answer may have no correct digit (method auto keeps them)"
        )
    return LeastSquaresFit(
        theta=theta, intercept=design.intercept, method=method, n=design.n, reg=reg,
        rss=np.maximum(rss, 0.0), c=c, rank=int(rank), cond=qr.cond, digits=digits,
        dependencies=_dependencies(qr), note=note, dropped=max(0, qr.rank - int(rank)),
        inverse=_inverse(qr, None) if qr.rank == p else None,
    )  # fmt: skip


def _with_ridge(T11: np.ndarray, T12: np.ndarray, ridge_rows: np.ndarray):
    """The triangle of ``[[T11, T12], [ridge_rows, 0]]``'s QR, split as (p, p), (p, K)."""
    if ridge_rows.shape[0] == 0:
        return T11, T12
    p = T11.shape[0]
    stacked = np.vstack(
        [
            np.hstack([T11, T12]),
            np.hstack([ridge_rows, np.zeros((ridge_rows.shape[0], T12.shape[1]))]),
        ]
    )
    R = qr_r(np.asfortranarray(stacked))
    return R[:p, :p], R[:p, p:]


def _from_triangle(T: np.ndarray, p: int, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``c`` and ``rss`` at ``theta`` from the triangle ``T`` of ``[Xh, Y]``: with
    ``[Xh, Y] = Q T``, ``Y - Xh theta = Q [T12 - T11 theta; T22]``."""
    T11, T12, T22 = T[:p, :p], T[:p, p:], T[p:, p:]
    left = T12 - T11 @ theta
    return T11.T @ left, np.einsum("pk,pk->k", left, left) + np.einsum("ik,ik->k", T22, T22)


def _solve_pivoted(qr: PivotedQR, c1: np.ndarray) -> np.ndarray:
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


def _normal_solve(qr: PivotedQR, v: np.ndarray) -> np.ndarray:
    """``(A^T A)^{-1} v`` for ``A`` (full rank) from its equilibrated pivoted QR."""
    import scipy.linalg

    scale = qr.scale[qr.perm][:, None]
    z = scipy.linalg.solve_triangular(qr.R, v[qr.perm] / scale, trans="T", check_finite=False)
    z = scipy.linalg.solve_triangular(qr.R, z, check_finite=False)
    out = np.empty_like(z)
    out[qr.perm] = z / scale
    return out


def _inverse(qr: PivotedQR, A: np.ndarray | None) -> np.ndarray | None:
    """``(A^T A)^{-1}`` (p, p) when full rank; refined like a solution when ``A`` (m, p) is
    at hand and small (columns of the inverse solve ``A^T A x = e_j``)."""
    p = qr.R.shape[1]
    if qr.rank < p:
        return None
    inverse = _normal_solve(qr, np.eye(p))
    if A is not None and A.shape[0] * p * p <= REFINE_INVERSE_MAX and qr.cond > 1e3:
        inverse = refine_explicit(A, np.zeros((A.shape[0], p)), qr, inverse, -np.eye(p)).theta
    return (inverse + inverse.T) / 2


def _bound_digits(qr: PivotedQR, theta: np.ndarray, rss: np.ndarray) -> float:
    """Digits the first-order bound of least squares promises for a backward-stable solve:
    relative error ~ eps (cond + cond^2 ||r|| / (||A|| ||theta||)), on the equilibrated
    design (||A|| ~ 1 there, ``theta`` in its scaled units)."""
    cond = qr.cond_of_rank  # of the independent columns, when rank-deficient
    scaled = np.linalg.norm(theta * qr.scale[:, None])
    ratio = float(np.sqrt(np.sum(rss))) / scaled if scaled > 0 else 0.0
    return digits_of(EPS * (cond + cond**2 * ratio))


def _dependencies(qr: PivotedQR) -> tuple[Dependency, ...]:
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


__all__ = ["METHODS", "Dependency", "LeastSquaresFit", "Refined", "digits_of", "solve"]
