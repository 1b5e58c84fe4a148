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

from functools import partial

import numpy as np

from linfit.errors import UnknownNameError
from linfit.linalg.design import Design, correlation
from linfit.linalg.factored import explicit_system, inverse, qr_fit, svd_fit
from linfit.linalg.gram import cholesky, cholesky_inverse, cholesky_solve, penalty_diagonal
from linfit.linalg.qr import pivoted_qr
from linfit.linalg.refine import EPS, refine_by_passes
from linfit.linalg.solution import Dependency, LeastSquaresFit, digits_of

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
        return qr_fit(design, reg, ridge, note)
    return svd_fit(design, method, reg, ridge)


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
        # (its relative error is eps Y^T Y / rss, trusted up to 1e-10)
        if np.all(EPS * YtY <= 1e-10 * rss):
            rss_error = EPS * float(np.max(YtY / rss))
        else:
            c, rss = (np.asarray(v, dtype=np.float64) for v in correlation(theta, design))
    return LeastSquaresFit(
        theta=theta, intercept=design.intercept, method="normal", n=design.n, reg=reg,
        rss=np.maximum(rss, 0.0), c=c, rank=H.shape[0], cond=_cond_of_factor(factor[0], cond_h),
        digits=digits, refinements=steps, inverse_of=partial(cholesky_inverse, factor, scale),
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
    system = explicit_system(*explicit, ridge)
    qr = pivoted_qr(system.A, rows=design.n, keep_q=True)
    return inverse(qr, system.A) if qr.rank == system.A.shape[1] else fit.inverse


__all__ = ["METHODS", "Dependency", "LeastSquaresFit", "accurate_inverse", "digits_of", "solve"]
