"""QR factorizations for least squares: by blocks of rows, and pivoted for rank."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from linfit.linalg.blocks import map_blocks
from linfit.linalg.gram import row_tasks

PINV_RCOND = 1e-15  # numpy.linalg.pinv's default cut-off, relative to the largest singular value


def tsqr(
    X: np.ndarray, Y: np.ndarray, intercept: bool = True, root_weights: np.ndarray | None = None
) -> np.ndarray:
    """The triangle ``R`` (w, w) of ``B = [X, 1, Y] = Q R`` for ``X`` (n, d) and ``Y``
    (n, K), w = d + 1 + K (without ``intercept``, ``B = [X, Y]`` and w = d + K); one pass
    over ``X`` (in memory, a memmap or on disk). With ``root_weights`` r (n,), row i of
    ``B`` is multiplied by ``r_i`` (weighted least squares, weights ``r^2``).

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
    p = d + int(intercept)
    width = p + K
    tasks, size = row_tasks(X)

    def triangle(rows: slice) -> np.ndarray:
        R = np.zeros((width, width))
        stacked = np.empty((width + size, width), order="F")
        for start in range(rows.start, rows.stop, size):
            m = min(size, rows.stop - start)
            if m < size:  # a row slice of a column-major array is not column-major
                stacked = np.empty((width + m, width), order="F")
            stacked[:width] = R
            stacked[width:, :d] = X[start : start + m]
            if intercept:
                stacked[width:, d] = 1.0
            stacked[width:, p:] = Y[start : start + m]
            if root_weights is not None:
                stacked[width:] *= root_weights[start : start + m, None]
            R = qr_r(stacked)
        return R

    # the zeros keep the stack at least square when X has no rows
    return qr_r(np.vstack([np.zeros((width, width)), *map_blocks(triangle, tasks)]))


def qr_r(B: np.ndarray) -> np.ndarray:
    """The upper triangle (w, w) of ``B = Q R`` for ``B`` (m >= w, w); overwrites ``B`` if
    it is column-major, which scipy's LAPACK (unlike numpy's) calls without the GIL."""
    import scipy.linalg  # on first use: a command that never solves skips it

    (m, w) = B.shape
    lwork, _ = scipy.linalg.lapack.dgeqrf_lwork(m, w)
    qr, _, _, info = scipy.linalg.lapack.dgeqrf(B, lwork=int(lwork), overwrite_a=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"LAPACK geqrf failed (info {info})")
    return np.triu(qr[:w])


def pinv_solve(
    A: np.ndarray, Y: np.ndarray, rcond: float = PINV_RCOND, *, with_rank: bool = False
) -> np.ndarray | tuple[np.ndarray, int]:
    """``pinv(A) @ Y`` with numpy's cut-off (``rcond`` relative to the largest singular
    value), without forming ``pinv(A)``; with ``with_rank``, also the singular values kept.

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
    solution = Vt[keep].T @ ((U[:, keep].T @ Y) / s[keep, None])
    return (solution, int(keep.sum())) if with_rank else solution


def column_norms(A: np.ndarray) -> np.ndarray:
    """2-norms (p,) of ``A``'s columns, a zero column's taken as 1 (it stays zero)."""
    norms = np.sqrt(np.einsum("ij,ij->j", A, A))
    norms[norms == 0] = 1.0
    return norms


@dataclass(frozen=True)
class PivotedQR:
    """``A[:, perm] / scale[perm] = Q R``: the QR with column pivoting of ``A`` (m, p)
    after scaling each column to unit norm.

    ``R`` (min(m, p), p) is upper triangular with ``|R[0, 0]| >= |R[1, 1]| >= ...``; ``rank`` is
    the number of its diagonal entries above ``tol * |R[0, 0]|``. ``Q`` (m, p) is kept
    when asked, else None.
    """

    R: np.ndarray
    perm: np.ndarray
    scale: np.ndarray
    rank: int
    tol: float
    Q: np.ndarray | None = None

    @property
    def cond(self) -> float:
        """2-norm condition number of the scaled ``A`` (inf when rank-deficient)."""
        return self.cond_of_rank if self.rank == self.R.shape[1] else float("inf")

    @cached_property
    def cond_of_rank(self) -> float:
        """2-norm condition number of the scaled ``A``'s first ``rank`` pivoted columns
        (an SVD of the triangle, taken once)."""
        s = np.linalg.svd(self.R[: self.rank, : self.rank], compute_uv=False)
        return float(s[0] / s[-1]) if s.size and s[-1] > 0 else float("inf")


def pivoted_qr(A: np.ndarray, *, rows: int | None = None, keep_q: bool = False) -> PivotedQR:
    """The column-equilibrated, column-pivoted QR of ``A`` (m, p).

    ``rows`` is the number of rows of the matrix ``A`` stands for when ``A`` is the
    triangle of a taller one's QR (their R are the same). Rank is decided on the
    equilibrated matrix with numpy ``matrix_rank``'s rule, ``max(rows, p) * eps``
    relative to the largest diagonal entry: scaling the columns first makes the decision
    independent of their units (Filip's raw powers have condition 1.8e15, past that rule's
    reach, while their equilibrated matrix has 5.2e9, well within double precision).
    """
    import scipy.linalg  # on first use: a command that never solves skips it

    m, p = A.shape
    scale = column_norms(A)
    if keep_q:
        Q, R, perm = scipy.linalg.qr(A / scale, mode="economic", pivoting=True, check_finite=False)
    else:  # Q, as large as A, is not formed
        (R, perm), Q = scipy.linalg.qr(A / scale, mode="r", pivoting=True, check_finite=False), None
        R = R[: min(m, p)]
    diag = np.abs(np.diag(R))
    tol = max(rows if rows is not None else m, p) * np.finfo(np.float64).eps
    rank = int(np.sum(diag > tol * diag[0])) if p and diag[0] > 0 else 0
    return PivotedQR(R=R, perm=perm, scale=scale, rank=rank, tol=tol, Q=Q)
