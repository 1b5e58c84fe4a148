"""Products with CSR rows by compiled walks over them: Hessian products of linear models
in one pass, the preconditioner's squared features without a squared copy, and the plain
products, each split over the cores.

A Hessian-vector product of a linear model is ``X.T @ (C (X @ V + vb))``, ``C`` the
per-sample curvature in the scores: scipy reads X twice for it (``X @ V``, then ``X.T @
R``), and on sparse data each read is bound by memory (measured on 200,000 x 47,236 with
15.6 M stored values: 12-13 ms a one-column product alone, and no faster on two threads).
The compiled ``_sparse.curved_product`` reads each row once and uses it twice from cache,
applying the row's curvature to its K scores between the two uses, and splits the rows
over the cores. It takes curvatures of the form ``u_i (diag(a_i) - b_i b_i^T)``: a number
``c_i`` for every one-column model (a binary classifier has one column on the mirror,
``models/mirrored.py``), softmax's ``diag(p) - p p^T``, a one-vs-rest loss's diagonal.
``times`` and ``transposed_times`` are the plain products ``X @ W`` and ``X.T @ G`` as
compiled walks split over the cores.

Without a C compiler (or for a matrix the kernel does not take: float32 values, another
format) ``curved_operator`` and ``squares_times`` return None and callers keep scipy's
products, which ``times`` and ``transposed_times`` then compute.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from linfit.lazy import issparse
from linfit.linalg.blocks import add_parts, map_blocks

try:
    from linfit.linalg import _sparse  # type: ignore[attr-defined]
except ImportError:  # built without a C compiler
    _sparse = None

# The parts of a CSR X that the kernels spread over the cores hold at least this many
# stored values, and this many per column of X: each part adds a (d,) vector to the sum,
# which must stay small beside the part's own work.
PART_NNZ = 1 << 19
PART_PER_COLUMN = 8

# curved_product reads a row of V (d, K) and writes a row of out (d, K) per stored value,
# both at the feature's place, so it wins while the two stay near the core; scipy's two
# products each walk one of them. Measured, one thread: on 480,000 x 3,017 it is 2.3-4.5x
# faster at K = 4, 10 and 20 (12,068 to 60,340 cells); on 20,000 x 62,000 1.5x faster at
# K = 4 (248,000 cells) but 1.1x slower at K = 10 (620,000) and 1.5-1.8x at K = 20.
CURVED_MAX_CELLS = 1 << 18

# times and transposed_times take K up to the kernel's FIXED_K columns (_sparse.c's BY_K: a
# row's K numbers in registers), where one thread measured 2.2-2.5x faster than scipy's
# product (480,000 x 3,017, K = 8, 10); at K = 11 to 20, as fast as scipy's, which the
# split over the cores did not repay: 65 ms against 39 at K = 20.
FIXED_K = getattr(_sparse, "FIXED_K", 0)

# transposed_times's parts each zero and add a (d, K) array for about per_column x d x K
# scattered updates; at 8 (PART_PER_COLUMN) the 20,000 x 62,000 news20-like rows split in
# 3 parts, which took 1.5-1.8x scipy's one-thread product at K = 1 and 4; at 32, one part.
TRANSPOSED_PER_COLUMN = 32


def kernel_parts(X: Any, per_column: int = PART_PER_COLUMN) -> list[slice]:
    """Consecutive row slices of a CSR ``X`` holding about equal stored values, each at
    least ``PART_NNZ`` and ``per_column`` times X's columns (one slice for another sparse
    format). They depend on ``X`` alone, never on the number of threads, so sums over them
    come out the same on every machine."""
    n_samples = X.shape[0]
    if getattr(X, "format", None) != "csr":
        return [slice(0, n_samples)]
    size = max(PART_NNZ, per_column * X.shape[1])
    parts = max(1, X.nnz // size)
    cuts = np.searchsorted(X.indptr, np.linspace(0, X.nnz, parts + 1)[1:-1])
    edges = [0, *np.clip(cuts, 0, n_samples).tolist(), n_samples]
    return [slice(a, b) for a, b in itertools.pairwise(edges) if b > a] or [slice(0, n_samples)]


T = TypeVar("T")


def compiled(X: Any) -> bool:
    """Whether ``X`` is a CSR matrix the compiled kernel reads as it is: float64 values,
    int32 or int64 row pointers and column indices, contiguous."""
    return (
        _sparse is not None and issparse(X) and X.format == "csr" and X.dtype == np.float64
        and X.indptr.dtype in (np.int32, np.int64) and X.indices.dtype in (np.int32, np.int64)
        and X.data.flags.c_contiguous and X.indices.flags.c_contiguous
        and X.indptr.flags.c_contiguous
    )  # fmt: skip


def _summed(fn: Callable[[slice], T], parts: list[slice]) -> T:
    """The sum of ``fn(rows)`` over the row blocks (``kernel_parts``, which
    depend on X alone), spread over the cores."""
    return functools.reduce(add_parts, map_blocks(fn, parts))


def squares_times(X: Any, c: np.ndarray) -> np.ndarray | None:
    """``(X ** 2).T @ c`` (d,) for CSR ``X`` (n, d) and ``c`` (n,), one pass spread over the
    cores, without squaring a copy of X's values; None where the kernel cannot read X."""
    if not compiled(X):
        return None
    c = np.ascontiguousarray(c, dtype=np.float64)
    widths = (X.indptr.itemsize, X.indices.itemsize)

    def part(rows: slice) -> np.ndarray:
        out = np.zeros(X.shape[1])
        _sparse.squares_times(
            X.indptr, X.indices, X.data, c, out, rows.start, rows.stop, *widths, X.shape[1]
        )
        return out

    return _summed(part, kernel_parts(X))


CurvedProduct = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def curved_operator(
    X: Any, a: np.ndarray, b: np.ndarray | None, u: np.ndarray | None
) -> CurvedProduct | None:
    """``(V (d, K), vb (K,)) -> (X.T @ R (d, K), R.sum(axis=0) (K,))`` with row i of ``R``
    ``u_i (a_i * s_i - b_i (b_i . s_i))``, ``s_i = V.T x_i + vb``: the Hessian product of a
    K-column model whose per-sample curvature is ``u_i (diag(a_i) - b_i b_i^T)`` (``a``, ``b``
    (n, K), ``b`` None for a diagonal one; ``u`` (n,) or None for ones), for CSR ``X`` (n, d),
    each call one pass over ``X`` spread over the cores; None when the compiled kernel
    cannot read ``X`` (see ``compiled``), or ``V`` has more than ``CURVED_MAX_CELLS`` at K > 1
    (one column, the product's first use, was taken at every width)."""
    d, K = X.shape[1], a.shape[1]
    if not compiled(X) or (K > 1 and d * K > CURVED_MAX_CELLS):
        return None
    a = np.ascontiguousarray(a, dtype=np.float64)
    b = b if b is None else np.ascontiguousarray(b, dtype=np.float64)
    u = u if u is None else np.ascontiguousarray(u, dtype=np.float64)
    empty = np.empty(0)
    parts = kernel_parts(X)
    sizes = (X.indptr.itemsize, X.indices.itemsize)

    def product(V: np.ndarray, vb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        V = np.ascontiguousarray(V, dtype=np.float64)
        vb = np.ascontiguousarray(vb, dtype=np.float64)

        def part(rows: slice) -> np.ndarray:
            out = np.zeros((d + 1, K))
            _sparse.curved_product(
                X.indptr, X.indices, X.data, a, empty if b is None else b,
                empty if u is None else u, V, vb, out, rows.start, rows.stop, *sizes, K,
            )  # fmt: skip
            return out

        out = _summed(part, parts)
        return out[:d], out[d]

    return product


def times(X: Any, W: np.ndarray) -> np.ndarray:
    """``X @ W`` (n, K) for ``X`` (n, d) and ``W`` (d, K): the compiled walk over a CSR X,
    its rows split over the cores, where scipy's runs on one, for K up to ``FIXED_K``;
    scipy's (or numpy's) product otherwise."""
    if not compiled(X) or W.ndim != 2 or W.shape[1] > FIXED_K:
        return X @ W
    n, d = X.shape
    K = W.shape[1]
    W = np.ascontiguousarray(W, dtype=np.float64)
    out = np.empty((n, K))
    sizes = (X.indptr.itemsize, X.indices.itemsize)

    def part(rows: slice) -> None:
        _sparse.times(X.indptr, X.indices, X.data, W, out, rows.start, rows.stop, *sizes, d, K)

    map_blocks(part, kernel_parts(X))
    return out


def transposed_times(X: Any, G: np.ndarray) -> np.ndarray:
    """``X.T @ G`` (d, K) for ``X`` (n, d) and ``G`` (n, K): the compiled walk over a CSR X,
    each part of its rows summed into its own (d, K) on its core (``kernel_parts``, which
    depend on X alone, so the sum is the same on every machine), for K up to ``FIXED_K``;
    scipy's (or numpy's) product otherwise."""
    if not compiled(X) or G.ndim != 2 or G.shape[1] > FIXED_K:
        return X.T @ G
    d = X.shape[1]
    K = G.shape[1]
    G = np.ascontiguousarray(G, dtype=np.float64)
    sizes = (X.indptr.itemsize, X.indices.itemsize)

    def part(rows: slice) -> np.ndarray:
        out = np.zeros((d, K))
        _sparse.transposed_times(
            X.indptr, X.indices, X.data, G, out, rows.start, rows.stop, *sizes, d, K
        )
        return out

    return _summed(part, kernel_parts(X, TRANSPOSED_PER_COLUMN))
