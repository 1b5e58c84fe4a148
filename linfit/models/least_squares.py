"""Least squares, iterative through any optimizer or in closed form.

``J = (1/N) ||X W + b - Y||^2 + reg ||W||^2``. The closed forms treat the bias as the
coefficient of an appended column of ones, ``xh = [x, 1]``, and penalize every
coefficient but that one, so they minimize the same ``J`` as the iterative path:

    (Xh^T Xh + N reg D) theta = Xh^T Y,   D = diag(1, ..., 1, 0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
import scipy.linalg

from linfit.errors import SolverError, UnknownNameError
from linfit.models.base import LinearModel, row_blocks

ClosedForm = Literal["normal", "pinv", "lstsq"]
CLOSED_FORMS: tuple[str, ...] = ("normal", "pinv", "lstsq")

# The normal equations square X's condition number; past this, their answer can be
# wrong in the fourth significant digit (relative error ~ cond * eps).
MAX_NORMAL_COND = 1e12
PINV_RCOND = 1e-15  # numpy.linalg.pinv's default cut-off, relative to the largest singular value


@dataclass(frozen=True)
class LeastSquares(LinearModel):
    """Mean squared error, one or several outputs. Its Hessian is constant: ``(2/N) Xh^T Xh``."""

    name: ClassVar[str] = "least-squares"

    def predict(self, params: np.ndarray, X: np.ndarray) -> np.ndarray:
        return self.decision_function(params, X)

    def _loss_grad_scores(self, S, y, need_grad):
        n = S.shape[0]
        S -= y.reshape(n, -1)
        loss = float(np.einsum("ij,ij->", S, S)) / n
        return loss, (S * (2.0 / n) if need_grad else None)

    def _curvature(self, S, y):
        return 2.0 / S.shape[0]

    def _apply_curvature(self, curvature, dS):
        return dS * curvature

    def solve(self, X: np.ndarray, y: np.ndarray, method: ClosedForm = "normal") -> np.ndarray:
        """Closed-form minimizer of ``J`` as flat params ``[W.ravel(), b]``.

        normal: Cholesky of ``Xh^T Xh + N reg D``; refuses (SolverError) a singular or
            ill-conditioned system instead of returning an inaccurate answer.
        pinv: ``V S+ U^T y`` from the SVD of the small R of a QR of ``Xh`` (never forming
            the pseudo-inverse); minimum-norm where ``Xh`` is rank-deficient or wide.
        lstsq: LAPACK's ``gelsd`` (numpy.linalg.lstsq).
        A matrix on disk (``linfit.data.rowfile.RowFile``) is read once, a block of rows at a
        time: normal accumulates the Gram matrix; pinv and lstsq solve the same problem on
        the triangle ``R`` of ``[Xh, Y] = Q R`` (``tsqr``), whose solutions, minimum-norm
        one included, are ``Xh``'s since ``Q`` has orthonormal columns.
        With ``reg > 0``, pinv and lstsq solve the equivalent augmented system
        ``[Xh; sqrt(N reg) D] theta = [Y; 0]``.
        """
        if method not in CLOSED_FORMS:
            raise UnknownNameError("least-squares method", method, CLOSED_FORMS)
        n, d = X.shape
        Y = y.reshape(n, -1).astype(np.float64, copy=False)
        if method == "normal":
            return self._solve_normal(X, Y).ravel()
        rcond = PINV_RCOND
        if isinstance(X, np.ndarray):
            Xh = np.empty((n, d + 1))
            Xh[:, :d] = X
            Xh[:, d] = 1.0
        else:  # a matrix on disk: the same problem on the small triangle of its QR
            R = tsqr(X, Y)
            Xh, Y = R[: d + 1, : d + 1], R[: d + 1, d + 1 :]
            # TSQR's merges leave a zero singular value at ~sqrt(blocks) eps, not eps:
            # cut off at numpy.linalg.matrix_rank's tolerance instead
            rcond = max(n, d + 1) * np.finfo(np.float64).eps
        if self.reg > 0:
            ridge = np.sqrt(n * self.reg) * np.eye(d, d + 1)
            Xh, Y = np.vstack([Xh, ridge]), np.vstack([Y, np.zeros((d, Y.shape[1]))])
        if method == "pinv":
            theta = pinv_solve(Xh, Y, rcond)
        else:
            theta = np.linalg.lstsq(Xh, Y, rcond=None if rcond == PINV_RCOND else rcond)[0]
        # theta is (d + 1, K) with the bias as its last row, which is exactly the flat layout
        return theta.ravel()

    def _solve_normal(self, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """Cholesky of the bordered Gram matrix ``[[X^T X + N reg I, X^T 1], [1^T X, N]]``."""
        n, d = X.shape
        if self.reg == 0 and n < d + 1:
            # rank([X, 1]) <= n: singular for sure, so refuse before forming a (d+1)^2 matrix
            raise SolverError(
                f"the normal equations are singular ({n} rows for {d + 1} unknowns, X^T X is "
                "rank-deficient); use --method pinv or lstsq (or add --reg)"
            )
        return self.solve_gram(n, *normal_equations(X, Y))

    def solve_gram(self, n: int, A: np.ndarray, XtY: np.ndarray, Ysum: np.ndarray) -> np.ndarray:
        """The normal equations' solution (d + 1, K) from ``normal_equations``'s pieces for
        ``n`` rows, however they were summed (in one pass, or over a cluster's blocks)."""
        d = XtY.shape[0]
        A = A.copy()
        A[np.arange(d), np.arange(d)] += n * self.reg
        rhs = np.vstack([XtY, Ysum])
        hint = "use --method pinv or lstsq (or add --reg)"
        try:
            factor = scipy.linalg.cho_factor(A, lower=False, check_finite=False)
        except np.linalg.LinAlgError:
            raise SolverError(
                f"the normal equations are singular (X^T X is rank-deficient); {hint}"
            ) from None
        (pocon,) = scipy.linalg.get_lapack_funcs(("pocon",), (A,))
        rcond, info = pocon(factor[0], np.linalg.norm(A, 1), uplo="U")
        if info != 0 or rcond * MAX_NORMAL_COND < 1.0:
            cond = 1.0 / rcond if rcond > 0 else np.inf
            raise SolverError(
                "the normal equations are too ill-conditioned to trust "
                f"(cond(X^T X) ~ {cond:.1e}); {hint}"
            )
        return scipy.linalg.cho_solve(factor, rhs, check_finite=False)


def normal_equations(X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``Xh^T Xh`` (d + 1, d + 1), ``X^T Y`` (d, K) and ``1^T Y`` (K,) for ``Xh = [X, 1]``.

    One pass over ``X`` from memory: each cache-sized block of rows is copied into a
    bordered buffer ``B = [X_b, 1, Y_b]`` whose Gram matrix ``B^T B`` (one symmetric BLAS
    product; numpy calls syrk for ``B.T @ B``) holds every piece at once. ``X`` may be a
    memmap: only a block at a time is in memory.
    """
    d = X.shape[1]
    K = Y.shape[1]
    blocks = row_blocks(X)
    buffer = np.empty((blocks[0].stop - blocks[0].start, d + 1 + K))
    buffer[:, d] = 1.0
    gram = np.zeros((d + 1 + K, d + 1 + K))
    for rows in blocks:
        B = buffer[: rows.stop - rows.start]
        B[:, :d] = X[rows]
        B[:, d + 1 :] = Y[rows]
        gram += B.T @ B
    return gram[: d + 1, : d + 1], gram[:d, d + 1 :], gram[d, d + 1 :]


def tsqr(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """The triangle ``R`` (d + 1 + K, d + 1 + K) of ``B = [X, 1, Y] = Q R``, one pass over ``X``.

    Sequential TSQR: each cache-sized block of rows is stacked under the triangle so far
    and factored again, so ``Q`` is never formed and memory holds a block. ``R`` carries
    what least squares needs, stably: ``R11`` has ``[X, 1]``'s singular values,
    ``R11 theta = R12`` has its solutions and ``||R22||`` is the residual norm.
    """
    d, K = X.shape[1], Y.shape[1]
    width = d + 1 + K
    R = np.zeros((0, width))
    for rows in row_blocks(X):
        B = np.empty((R.shape[0] + rows.stop - rows.start, width))
        B[: R.shape[0]] = R
        B[R.shape[0] :, :d] = X[rows]
        B[R.shape[0] :, d] = 1.0
        B[R.shape[0] :, d + 1 :] = Y[rows]
        R = scipy.linalg.qr(B, mode="r", check_finite=False)[0][:width]
    square = np.zeros((width, width))
    square[: R.shape[0]] = R
    return square


def pinv_solve(A: np.ndarray, Y: np.ndarray, rcond: float = PINV_RCOND) -> np.ndarray:
    """``pinv(A) @ Y`` with numpy's cut-off (``rcond`` relative to the largest singular
    value), without forming ``pinv(A)``.

    A tall A is first reduced to the small triangle of its QR (A = Q R), whose SVD
    R = U S V^T gives A's singular values and right vectors; then
    ``pinv(A) Y = V S+ U^T (Q^T Y)``, with ``Q^T Y`` applied from the Householder
    reflectors rather than from an explicit Q.
    """
    m, k = A.shape
    if m > k:
        # Q^T Y through LAPACK's ormqr: Q itself (as large as A) is never formed
        YtQ, R = scipy.linalg.qr_multiply(A, Y.T, mode="right")
        A, Y = R, YtQ.T
    U, s, Vt = scipy.linalg.svd(A, full_matrices=False, check_finite=False, lapack_driver="gesdd")
    keep = s > rcond * (s[0] if s.size else 0.0)
    return Vt[keep].T @ ((U[:, keep].T @ Y) / s[keep, None])
