"""The rows of a least-squares problem, ``Xh = [X, 1]`` (or ``X``) and ``Y``, wherever they
live, and what the solvers ask of them: one pass each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol, TypeVar

import numpy as np

from linfit.linalg.blocks import add_parts, map_blocks, row_blocks
from linfit.linalg.gram import gram_rhs, normal_equations, row_tasks
from linfit.linalg.qr import tsqr

T = TypeVar("T")

# Extended precision for refinement's residuals: x86's 80-bit long double (64-bit
# significand, eps 1.1e-19) where the platform has it, else float64 (refinement then
# stops at float64's accuracy, and the digits it reports say so).
EXTENDED = np.longdouble

# A design at most this many values (32 MB in float64) in memory is factored whole, with
# its Q kept for refinement; a larger one, or one on disk, through the triangle of its QR.
EXPLICIT_MAX_VALUES = 1 << 22


class Design(Protocol):
    """``Xh`` (n, p) and ``Y`` (n, K): p = d + 1 with an ``intercept`` column of ones last."""

    n: int
    d: int
    K: int
    intercept: bool
    blocks: int  # row blocks factored one after another into ``triangle``

    def gram(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(Xh^T Xh (p, p), Xh^T Y (p, K), Y^T Y per column (K,))``."""
        ...

    def triangle(self) -> np.ndarray:
        """``tsqr``'s triangle (p + K, p + K) of ``[Xh, Y]``."""
        ...

    def reduce(self, fn: Callable[[np.ndarray, np.ndarray], T], extended: bool = False) -> T:
        """The sum over row blocks of ``fn(Xh_b (m, p), Y_b (m, K))``, both float64, or with
        ``extended`` both in ``EXTENDED`` (exact columns recomputed there, ``RowDesign``)."""
        ...

    def explicit(self, extended: bool = False) -> tuple[np.ndarray, np.ndarray] | None:
        """``(Xh, Y)`` as arrays (in ``EXTENDED`` with ``extended``) when small enough to
        factor whole, else None."""
        ...


def correlation(theta: np.ndarray, design: Design) -> tuple[np.ndarray, np.ndarray]:
    """``Xh^T (Y - Xh theta)`` (p, K) and the residual sum of squares (K,) at ``theta``
    (p, K), summed in extended precision: the residual of a good fit is the difference of
    nearly equal numbers, which float64 gets only to ``cond * eps``."""
    theta_x = theta.astype(EXTENDED)

    def block(Xx: np.ndarray, Yx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        R = Yx - Xx @ theta_x
        return Xx.T @ R, np.einsum("ik,ik->k", R, R)

    return design.reduce(block, extended=True)


@dataclass(frozen=True)
class RowDesign:
    """``X`` (n, d) in memory, a memmap or on disk (anything sliced by rows), and ``Y``
    (n, K); with ``weights`` w (n,), the rows of weighted least squares, ``sqrt(w_i)``
    times ``[x_i, 1]`` and ``y_i``, scaled a block at a time as they are read: every
    solver then sees an ordinary least-squares problem."""

    X: Any
    Y: np.ndarray
    intercept: bool = True
    weights: np.ndarray | None = None
    # X's rows (m, d) in EXTENDED from their float64 values, where some columns are
    # roundings of exactly known ones (``linalg.powers.Powers``); None: the values cast
    exact: Callable[[np.ndarray], np.ndarray] | None = None

    @cached_property
    def root_weights(self) -> np.ndarray | None:
        """``sqrt(weights)`` (n,), each row's scale, taken once."""
        return None if self.weights is None else np.sqrt(self.weights)

    @property
    def n(self) -> int:
        return self.X.shape[0]

    @property
    def d(self) -> int:
        return self.X.shape[1]

    @property
    def K(self) -> int:
        return self.Y.shape[1]

    @property
    def blocks(self) -> int:
        return len(row_blocks(self.X))

    def gram(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r = self.root_weights
        A, XtY, Ysum = normal_equations(self.X, self.Y, self.intercept, r)
        Y = self.Y if r is None else self.Y * r[:, None]
        return A, gram_rhs(XtY, Ysum, self.intercept), np.einsum("ik,ik->k", Y, Y)

    def triangle(self) -> np.ndarray:
        return tsqr(self.X, self.Y, self.intercept, self.root_weights)

    def _bordered(self, rows: slice, extended: bool = False) -> np.ndarray:
        """``Xh``'s rows (m, p) in float64 (or ``EXTENDED``, exact columns recomputed),
        weighted."""
        X_b = np.asarray(self.X[rows], dtype=np.float64)
        if extended:
            X_b = self.exact(X_b) if self.exact is not None else X_b.astype(EXTENDED)
        if self.intercept:
            X_b = np.hstack([X_b, np.ones((X_b.shape[0], 1), dtype=X_b.dtype)])
        r = self.root_weights
        if r is None:
            return X_b
        return X_b * (r[rows, None].astype(EXTENDED) if extended else r[rows, None])

    def _targets(self, rows: slice, extended: bool = False) -> np.ndarray:
        """``Y``'s rows (m, K), weighted."""
        Y, r = self.Y[rows], self.root_weights
        r = None if r is None else r[rows, None]  # the block's weights only, then cast
        if extended:
            Y = Y.astype(EXTENDED)
            r = None if r is None else r.astype(EXTENDED)
        return Y if r is None else Y * r

    def reduce(self, fn: Callable[[np.ndarray, np.ndarray], T], extended: bool = False) -> T:
        tasks, size = row_tasks(self.X)

        def task(rows: slice):
            total = None
            for start in range(rows.start, rows.stop, size):
                part = slice(start, min(start + size, rows.stop))
                value = fn(self._bordered(part, extended), self._targets(part, extended))
                total = value if total is None else add_parts(total, value)
            return total

        parts = [part for part in map_blocks(task, tasks) if part is not None]
        if not parts:  # no rows: fn's zeros, from an empty block
            empty = slice(0, 0)
            return fn(self._bordered(empty, extended), self._targets(empty, extended))
        total = parts[0]
        for part in parts[1:]:
            total = add_parts(total, part)
        return total

    def explicit(self, extended: bool = False) -> tuple[np.ndarray, np.ndarray] | None:
        p = self.d + int(self.intercept)
        if not isinstance(self.X, np.ndarray) or self.n * p > EXPLICIT_MAX_VALUES:
            return None
        every = slice(0, self.n)
        return self._bordered(every, extended), self._targets(every, extended)
