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

from linfit.errors import SolverError, UnknownNameError
from linfit.models.base import LinearModel
from linfit.models.blocks import map_blocks, row_blocks

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
        ``X`` (n, d) is read once, a block of rows at a time, whether in memory or on disk
        (``linfit.data.rowfile.RowFile``): normal accumulates the Gram matrix; pinv and
        lstsq solve the same problem on the triangle ``R`` of ``[Xh, Y] = Q R`` (``tsqr``),
        whose solutions, minimum-norm one included, are ``Xh``'s since ``Q`` has
        orthonormal columns. An ``X`` in memory of a single block is factored directly.
        With ``reg > 0``, pinv and lstsq solve the equivalent augmented system
        ``[Xh; sqrt(N reg) D] theta = [Y; 0]``.
        """
        if method not in CLOSED_FORMS:
            raise UnknownNameError("least-squares method", method, CLOSED_FORMS)
        n, d = X.shape
        Y = y.reshape(n, -1).astype(np.float64, copy=False)
        if method == "normal":
            return self._solve_normal(X, Y).ravel()
        blocks = len(row_blocks(X))
        rcond, lstsq_rcond = PINV_RCOND, None
        if isinstance(X, np.ndarray) and blocks == 1:  # small: X's own QR, in cache
            Xh = np.empty((n, d + 1))
            Xh[:, :d] = X
            Xh[:, d] = 1.0
        else:  # tall, or on disk: the same problem on the small triangle of [Xh, Y]'s QR
            R = tsqr(X, Y)
            Xh, Y = R[: d + 1, : d + 1], R[: d + 1, d + 1 :]
            # Each block factored into R adds rounding to singular values that are exactly
            # zero: measured up to 1.3e-15 (relative to the largest) for a duplicated
            # column or a linear combination at 2 to 2,000 blocks, where numpy's SVD of
            # Xh leaves ~1e-16, so numpy's cut-off would keep some. Scaled by sqrt(blocks)
            # it dropped every one in those runs, each 6x to 2,000x below it
            rcond = PINV_RCOND * np.sqrt(blocks)
            lstsq_rcond = max(n, d + 1) * np.finfo(np.float64).eps  # gelsd's default for Xh
        if self.reg > 0:
            ridge = np.sqrt(n * self.reg) * np.eye(d, d + 1)
            Xh, Y = np.vstack([Xh, ridge]), np.vstack([Y, np.zeros((d, Y.shape[1]))])
        if method == "pinv":
            theta = pinv_solve(Xh, Y, rcond)
        else:
            theta = np.linalg.lstsq(Xh, Y, rcond=lstsq_rcond)[0]
        # theta is (d + 1, K) with the bias as its last row, which is exactly the flat layout
        return theta.ravel()

    def _solve_normal(self, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """Cholesky of the bordered Gram matrix ``[[X^T X + N reg I, X^T 1], [1^T X, N]]``."""
        n, d = X.shape
        if self.reg == 0 and n < d + 1:
            # rank([X, 1]) <= n: singular for sure, so refuse before forming a (d+1)^2 matrix
            raise SolverError(
                f"the normal equations are singular ({n} rows for {d + 1} unknowns, X^T X is "
                "rank-deficient); use `solver` pinv or lstsq (or add `reg`)"
            )
        return self.solve_gram(n, *normal_equations(X, Y))

    def solve_gram(self, n: int, A: np.ndarray, XtY: np.ndarray, Ysum: np.ndarray) -> np.ndarray:
        """The normal equations' solution (d + 1, K) from ``normal_equations``'s pieces for
        ``n`` rows, however they were summed (in one pass, or over a cluster's blocks)."""
        import scipy.linalg  # on first use: a command that never solves skips it

        d = XtY.shape[0]
        # the one copy: column-major, so LAPACK factors it in place (all of this takes
        # ~1 ms at d = 200, against ~0.8 s for the sums over 1,000,000 rows)
        A = np.array(A, order="F")
        A[np.arange(d), np.arange(d)] += n * self.reg
        norm = np.linalg.norm(A, 1)
        rhs = np.vstack([XtY, Ysum])
        hint = "use `solver` pinv or lstsq (or add `reg`)"
        try:
            factor = scipy.linalg.cho_factor(A, lower=False, overwrite_a=True, check_finite=False)
        except np.linalg.LinAlgError:
            raise SolverError(
                f"the normal equations are singular (X^T X is rank-deficient); {hint}"
            ) from None
        (pocon,) = scipy.linalg.get_lapack_funcs(("pocon",), (A,))
        rcond, info = pocon(factor[0], norm, uplo="U")
        if info != 0 or rcond * MAX_NORMAL_COND < 1.0:
            cond = 1.0 / rcond if rcond > 0 else np.inf
            raise SolverError(
                "the normal equations are too ill-conditioned to trust "
                f"(cond(X^T X) ~ {cond:.1e}); {hint}"
            )
        return scipy.linalg.cho_solve(factor, rhs, check_finite=False)


# Consecutive row blocks per task handed to map_blocks: a few tens of tasks at the bench's
# 1,000,000 x 200 keep both cores busy to the end, while the tasks' partial results (one
# (d + 1)^2 matrix each, all held until the sum) stay small.
TASK_BLOCKS = 8


def _tasks(X) -> tuple[list[slice], int]:
    """Row ranges of ``X`` for ``map_blocks``, each ``TASK_BLOCKS`` of ``row_blocks``'s
    blocks, and the rows per block. The ranges depend on ``X``'s shape only, never on the
    number of threads, so sums over them come out the same on every machine."""
    blocks = row_blocks(X)
    size = blocks[0].stop - blocks[0].start if blocks else 1
    groups = [blocks[i : i + TASK_BLOCKS] for i in range(0, len(blocks), TASK_BLOCKS)]
    return [slice(group[0].start, group[-1].stop) for group in groups], size


def normal_equations(X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``Xh^T Xh`` (d + 1, d + 1), ``X^T Y`` (d, K) and ``1^T Y`` (K,) for ``Xh = [X, 1]``
    and ``Y`` (n, K).

    One pass over ``X`` (in memory, a memmap or on disk), a cache-sized block of rows at a
    time, with no copy of a float64 block: ``X_b^T X_b`` is one symmetric product (numpy
    calls syrk for a product with its own transpose), then ``[1, Y_b]^T X_b``, the border,
    reads the block again while it is in cache. The blocks are spread over the cores with
    one BLAS thread each (``map_blocks``).

    Measured against the floor ``X.T @ X`` (one syrk on 2 BLAS threads), 1,000,000 x 200,
    medians of paired runs: this, 0.85-0.93x; copying each block into ``[X_b, 1, Y_b]``
    for one syrk (before), 1.4-1.55x. Single-threaded, one syrk over all of X plus a
    second pass for the border took 1.18x (that pass reads X from memory again), syrk
    and border by block 1.11-1.2x. Syrk and border by block on 2 BLAS threads took 1.7-1.9x
    in the fastest runs, and any BLAS call on 2 threads runs several times slower while
    another process holds a core: its threads wait for each other after every call.
    """
    n, d = X.shape
    K = Y.shape[1]
    tasks, size = _tasks(X)

    def partial_sums(rows: slice) -> tuple[np.ndarray, np.ndarray]:
        gram, border = np.zeros((d, d)), np.zeros((1 + K, d))
        ones_y = np.empty((1 + K, size))
        ones_y[0] = 1.0
        for start in range(rows.start, rows.stop, size):
            X_b = np.asarray(X[start : min(start + size, rows.stop)], dtype=np.float64)
            m = X_b.shape[0]
            gram += X_b.T @ X_b
            ones_y[1:, :m] = Y[start : start + m].T
            border += ones_y[:, :m] @ X_b
        return gram, border

    A = np.zeros((d + 1, d + 1))
    border = np.zeros((1 + K, d))
    for gram_part, border_part in map_blocks(partial_sums, tasks):
        A[:d, :d] += gram_part
        border += border_part
    A[d, :d] = A[:d, d] = border[0]
    A[d, d] = n
    return A, border[1:].T, Y.sum(axis=0)


def tsqr(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """The triangle ``R`` (d + 1 + K, d + 1 + K) of ``B = [X, 1, Y] = Q R`` for ``X`` (n, d)
    and ``Y`` (n, K), one pass over ``X`` (in memory, a memmap or on disk).

    TSQR: each cache-sized block of rows is copied under the triangle so far, as
    ``[R; X_b, 1, Y_b]`` in the column-major order LAPACK wants, and factored again
    (``geqrf``); ``Q`` is never formed. Runs of blocks are factored on separate cores
    (``map_blocks``), then their triangles stacked and factored into one. ``R`` carries
    what least squares needs, stably: ``R11`` has ``[X, 1]``'s singular values,
    ``R11 theta = R12`` has its solutions and ``||R22||`` is the residual norm.

    Why by blocks: ``geqrf`` on the whole of a tall matrix streams it from memory once per
    column of its panels. At 1,000,000 x 200 a pinv solve through it (with copies of
    ``[X, 1]``, 1.6 GB each) took 14-21 s; through this, 3.4-4.7 s, of which TSQR ~3 s
    (at 400,000 rows: 2.3 s on one core, 1.3 s on two). LAPACK's ``tpqrt`` would skip
    the triangle's share of the flops (~8% at d = 200), but scipy calls it holding the
    GIL: one core only.
    """
    d, K = X.shape[1], Y.shape[1]
    width = d + 1 + K
    tasks, size = _tasks(X)

    def triangle(rows: slice) -> np.ndarray:
        R = np.zeros((width, width))
        stacked = np.empty((width + size, width), order="F")
        for start in range(rows.start, rows.stop, size):
            m = min(size, rows.stop - start)
            if m < size:  # a row slice of a column-major array is not column-major
                stacked = np.empty((width + m, width), order="F")
            stacked[:width] = R
            stacked[width:, :d] = X[start : start + m]
            stacked[width:, d] = 1.0
            stacked[width:, d + 1 :] = Y[start : start + m]
            R = _qr_r(stacked)
        return R

    # the zeros keep the stack at least square when X has no rows
    return _qr_r(np.vstack([np.zeros((width, width)), *map_blocks(triangle, tasks)]))


def _qr_r(B: np.ndarray) -> np.ndarray:
    """The upper triangle (w, w) of ``B = Q R`` for ``B`` (m >= w, w); overwrites ``B`` if
    it is column-major, which scipy's LAPACK (unlike numpy's) calls without the GIL."""
    import scipy.linalg  # on first use: a command that never solves skips it

    (m, w) = B.shape
    lwork, _ = scipy.linalg.lapack.dgeqrf_lwork(m, w)
    qr, _, _, info = scipy.linalg.lapack.dgeqrf(B, lwork=int(lwork), overwrite_a=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"LAPACK geqrf failed (info {info})")
    return np.triu(qr[:w])


def pinv_solve(A: np.ndarray, Y: np.ndarray, rcond: float = PINV_RCOND) -> np.ndarray:
    """``pinv(A) @ Y`` with numpy's cut-off (``rcond`` relative to the largest singular
    value), without forming ``pinv(A)``.

    A tall A is first reduced to the small triangle of its QR (A = Q R), whose SVD
    R = U S V^T gives A's singular values and right vectors; then
    ``pinv(A) Y = V S+ U^T (Q^T Y)``, with ``Q^T Y`` applied from the Householder
    reflectors rather than from an explicit Q.
    """
    import scipy.linalg  # on first use: a command that never solves skips it

    m, k = A.shape
    if m > k:
        # Q^T Y through LAPACK's ormqr: Q itself (as large as A) is never formed
        YtQ, R = scipy.linalg.qr_multiply(A, Y.T, mode="right")
        A, Y = R, YtQ.T
    U, s, Vt = scipy.linalg.svd(A, full_matrices=False, check_finite=False, lapack_driver="gesdd")
    keep = s > rcond * (s[0] if s.size else 0.0)
    return Vt[keep].T @ ((U[:, keep].T @ Y) / s[keep, None])
