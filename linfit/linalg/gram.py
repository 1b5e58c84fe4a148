"""The normal equations of least squares: their sums in one pass, and their Cholesky."""

from __future__ import annotations

import numpy as np

from linfit.linalg.blocks import map_blocks, row_blocks

# Consecutive row blocks per task handed to map_blocks: a few tens of tasks at the bench's
# 1,000,000 x 200 keep both cores busy to the end, while the tasks' partial results (one
# (d + 1)^2 matrix each, all held until the sum) stay small.
TASK_BLOCKS = 8


def row_tasks(X) -> tuple[list[slice], int]:
    """Row ranges of ``X`` for ``map_blocks``, each ``TASK_BLOCKS`` of ``row_blocks``'s
    blocks, and the rows per block. The ranges depend on ``X``'s shape only, never on the
    number of threads, so sums over them come out the same on every machine."""
    blocks = row_blocks(X)
    size = blocks[0].stop - blocks[0].start if blocks else 1
    groups = [blocks[i : i + TASK_BLOCKS] for i in range(0, len(blocks), TASK_BLOCKS)]
    return [slice(group[0].start, group[-1].stop) for group in groups], size


def normal_equations(
    X: np.ndarray, Y: np.ndarray, intercept: bool = True, root_weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``Xh^T Xh`` (p, p), ``X^T Y`` (d, K) and ``1^T Y`` (K,) for ``Xh = [X, 1]`` (or
    ``X`` alone without ``intercept``, p = d + intercept) and ``Y`` (n, K); with
    ``root_weights`` r (n,), of the rows ``r_i [x_i, 1]`` and ``r_i y_i`` (weighted least
    squares, weights ``r^2``), each block scaled as it is read.

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
    tasks, size = row_tasks(X)

    r = root_weights

    def partial_sums(rows: slice) -> tuple[np.ndarray, np.ndarray]:
        gram, border = np.zeros((d, d)), np.zeros((1 + K, d))
        ones_y = np.empty((1 + K, size))
        ones_y[0] = 1.0
        for start in range(rows.start, rows.stop, size):
            X_b = np.asarray(X[start : min(start + size, rows.stop)], dtype=np.float64)
            m = X_b.shape[0]
            ones_y[1:, :m] = Y[start : start + m].T
            if r is not None:  # a scaled copy: the weighted rows
                X_b = X_b * r[start : start + m, None]
                ones_y[:, :m] *= r[start : start + m]
            gram += X_b.T @ X_b
            border += ones_y[:, :m] @ X_b
            ones_y[0] = 1.0
        return gram, border

    A = np.zeros((d + 1, d + 1))
    border = np.zeros((1 + K, d))
    for gram_part, border_part in map_blocks(partial_sums, tasks):
        A[:d, :d] += gram_part
        border += border_part
    A[d, :d] = A[:d, d] = border[0]
    A[d, d] = n if r is None else r @ r
    if not intercept:
        A = A[:d, :d]
    return A, border[1:].T, (Y.sum(axis=0) if r is None else (r * r) @ Y)


def gram_rhs(XtY: np.ndarray, Ysum: np.ndarray, intercept: bool) -> np.ndarray:
    """``Xh^T Y`` (p, K) from ``normal_equations``'s pieces."""
    return np.vstack([XtY, Ysum]) if intercept else XtY


def penalty_diagonal(p: int, intercept: bool) -> np.ndarray:
    """``D`` (p,) of the penalty ``reg ||D theta||^2``: ones, but zero on the intercept,
    which is never penalized."""
    D = np.ones(p)
    if intercept:
        D[-1] = 0.0
    return D


def cholesky(H: np.ndarray) -> tuple[tuple[np.ndarray, bool], float] | None:
    """Cholesky of the symmetric ``H`` (p, p) after scaling it to a unit diagonal, and
    the 1-norm condition number of the scaled matrix (LAPACK ``pocon``); None when ``H``
    is not numerically positive definite.

    Scaling rows and columns alike (Jacobi, van der Sluis) brings the condition number
    to within a factor p of the best any diagonal scaling achieves, so it measures the
    problem, not the units of its columns: the raw powers of Filip's design give
    cond(X^T X) ~ 3e30, the scaled 2.7e19. Returns ``((factor, lower), cond)`` for
    ``scipy.linalg.cho_solve`` on the scaled system; ``H`` itself is left unchanged.
    """
    import scipy.linalg  # on first use: a command that never solves skips it

    diag = np.diag(H)
    if not np.all(diag > 0):
        return None
    s = 1.0 / np.sqrt(diag)
    Hs = np.array(H * s[:, None] * s[None, :], order="F")
    norm = np.linalg.norm(Hs, 1)
    try:
        factor = scipy.linalg.cho_factor(Hs, lower=False, overwrite_a=True, check_finite=False)
    except np.linalg.LinAlgError:
        return None
    (pocon,) = scipy.linalg.get_lapack_funcs(("pocon",), (Hs,))
    rcond, info = pocon(factor[0], norm, uplo="U")
    if info != 0 or not rcond > 0:
        return None
    return factor, 1.0 / rcond


def cholesky_solve(factor: tuple[np.ndarray, bool], H_scale: np.ndarray, rhs: np.ndarray):
    """``H^{-1} rhs`` from ``cholesky``'s factor of the scaled ``H`` and the scale
    ``1 / sqrt(diag(H))`` (p,)."""
    import scipy.linalg

    s = H_scale.reshape(-1, *([1] * (rhs.ndim - 1)))
    return s * scipy.linalg.cho_solve(factor, s * rhs, check_finite=False)


def cholesky_inverse(factor: tuple[np.ndarray, bool], H_scale: np.ndarray) -> np.ndarray:
    """``H^{-1}`` (p, p) from ``cholesky``'s factor of the scaled ``H`` and its scale."""
    return cholesky_solve(factor, H_scale, np.eye(H_scale.size))
