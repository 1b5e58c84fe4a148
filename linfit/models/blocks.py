"""The mini-batches of an epoch and the fast reductions on a block's (n, K) scores: what
every model's objective shares besides the passes by blocks of rows
(``linfit.linalg.blocks``).

``loss_gradient`` reads ``X`` once from memory: it walks ``X`` in blocks of rows small
enough to stay in cache (``row_blocks``), computing a block's scores, their gradient
``G`` and that block's ``X_b.T @ G_b`` before moving on, so the second product reads the
block from cache. The blocks run on BLAS's threads, one block per thread
(``map_blocks``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from functools import partial

import numpy as np

from linfit.optim.objective import MiniBatch

# An (n, K) array's rows are short, and numpy's broadcasting loops run K elements a call:
# an operation on each row's K cells, e.g. ``S += b``, costs a call per row. Viewed as rows
# of about TILE_CELLS cells (b tiled to match), the calls are long: measured on a block of
# 8,738 x 8, ``S += b`` took 38 us and 16 us tiled; at 26,214 x 2, 75 us and 6 us.
TILE_CELLS = 512
_SCRATCH = threading.local()  # each thread's reused arrays (``scratch``)


def add_to_rows(S: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``S += b`` in place for ``S`` (n, K) and ``b`` (K,): ``b`` added to every row, in
    rows of ``TILE_CELLS`` cells for a C-ordered ``S`` (see there why)."""
    n, K = S.shape
    per_tile = TILE_CELLS // max(K, 1)
    if per_tile < 2 or not S.flags.c_contiguous:
        S += b
        return S
    whole = n - n % per_tile
    tiles = S[:whole].reshape(-1, per_tile * K)  # a view: S is C-ordered
    tiles += np.tile(b, per_tile)
    S[whole:] += b
    return S


def scratch(shape: tuple[int, int], dtype: np.dtype) -> np.ndarray:
    """An uninitialized C-ordered array of ``shape`` and ``dtype``, the same memory on every
    call from this thread (grown as needed): for a block's scores, which the next block
    this thread evaluates overwrites, so a caller must be done with it by then.

    Why: a block's scores are hundreds of KB to MBs, which the allocator maps fresh from
    the system for each block and faults in page by page as they are first written.
    Measured on softmax at 120,000 x 20 x 8, one BLAS thread, CPU time per evaluation:
    the arrays the blocks allocated cost a third of it (9.6 ms, 6.5 ms with the allocator
    told to keep freed memory); the scores here, with softmax's fewer temporaries and
    the tiled bias, took it to 0.93-0.95x at 20 features (paired, 9 rounds)."""
    buffers = _SCRATCH.__dict__.setdefault("buffers", {})
    dtype = np.dtype(dtype)
    need = shape[0] * shape[1]
    buffer = buffers.get(dtype)
    if buffer is None or buffer.size < need:
        buffer = buffers[dtype] = np.empty(max(need, 1), dtype)
    return buffer[:need].reshape(shape)


def row_sums(S: np.ndarray) -> np.ndarray:
    """``S.sum(axis=1)`` for a tall (n, K) array as a BLAS product: measured 8x faster."""
    return S @ np.ones(S.shape[1], dtype=S.dtype)


def true_class_cells(S: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Positions of ``S[i, y_i]`` in ``S.ravel()`` for (n, K) ``S``: ``take`` and assignment
    at these on the flat view of a C-ordered ``S`` are 2-3x faster than ``S[arange(n), y]``
    (measured at 5,000 x 10: 15 us against 40-55 us)."""
    cells = np.arange(0, S.size, S.shape[1])
    cells += y
    return cells


def column_sums(G: np.ndarray) -> np.ndarray:
    """``G.sum(axis=0)`` for a tall (n, K) array as a BLAS product: measured 3x faster.

    Summed in float64 whatever ``G``'s dtype: a float32 ``G`` (``native_scores``) summed in
    float32 put errors of 1e-5 relative into the bias gradient, where its terms cancel; the
    upcast costs 40 us per 10,000 x 10 block (1% of a float32 evaluation)."""
    return np.ones(G.shape[0]) @ G


def rows_of(weights: np.ndarray | None, rows: slice | np.ndarray) -> np.ndarray | None:
    """``weights[rows]``, or None for unweighted data."""
    return None if weights is None else weights[rows]


def weighted_mean(losses: np.ndarray, weights: np.ndarray | None) -> float:
    """``(1/n) sum_i w_i L_i`` for per-sample ``losses`` (n,): the mean when unweighted."""
    if weights is None:
        return float(np.mean(losses))
    return float(losses @ weights) / losses.shape[0]


def per_row(scale: float, weights: np.ndarray | None) -> float | np.ndarray:
    """``scale`` for unweighted rows, else ``scale * weights`` (n,): a factor on each row
    of a gradient, e.g. ``2 / n`` for a mean of squares."""
    return scale if weights is None else scale * weights


def scale_rows(G: np.ndarray, scale: float, weights: np.ndarray | None) -> np.ndarray:
    """``G`` (n, K) times ``scale``, and row i times ``weights[i]`` too: in place."""
    if weights is None:
        G *= scale
    else:
        G *= (scale * weights)[:, None]
    return G


def minibatches(
    loss_gradient: Callable[..., tuple[float, np.ndarray]],
    blocks: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray | None]],
    rng: np.random.Generator,
    batch_rows: int,
) -> Iterator[MiniBatch]:
    """One epoch of mini-batches, each ``params -> loss_gradient(params, X_B, y_B, w_B)``.

    ``blocks`` yields ``(X_c (n_c, d), y_c (n_c,), w_c (n_c,) or None)`` pieces of the data
    in the order to visit them (one piece for data in memory; shuffled chunks for data on
    disk); each piece's rows are shuffled and cut into batches of ``batch_rows`` (the last
    of a piece may be shorter), so every row is used once. The weights are not
    renormalized per batch: with weights of mean 1 over the data, a batch's mean of
    weighted losses estimates the objective without bias.
    """
    for X_c, y_c, w_c in blocks:
        for rows in shuffled_batches(X_c.shape[0], rng, batch_rows):
            batch = partial(
                loss_gradient, X=X_c[rows], y=y_c[rows], sample_weight=rows_of(w_c, rows)
            )
            yield MiniBatch(rows.size, batch)


def shuffled_batches(
    n_rows: int, rng: np.random.Generator, batch_rows: int
) -> Iterator[np.ndarray]:
    """A random permutation of ``range(n_rows)`` cut into batches of ``batch_rows`` (the
    last may be shorter), each sorted so that gathering its rows reads forward."""
    order = rng.permutation(n_rows)
    for start in range(0, n_rows, batch_rows):
        yield np.sort(order[start : start + batch_rows])
