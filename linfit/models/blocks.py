"""Passes over ``X`` by blocks of rows, the mini-batches of an epoch, and the fast
reductions on a block's (n, K) scores: what every model's objective shares.

``loss_gradient`` reads ``X`` once from memory: it walks ``X`` in blocks of rows small
enough to stay in cache (``row_blocks``), computing a block's scores, their gradient
``G`` and that block's ``X_b.T @ G_b`` before moving on, so the second product reads the
block from cache. The blocks run on BLAS's threads, one block per thread
(``map_blocks``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

import numpy as np

from linfit.lazy import issparse
from linfit.optim.objective import MiniBatch

# Rows per block are chosen so a block of X takes about this many bytes: small enough to
# stay in cache between the block's two products, large enough for BLAS to run at speed.
# Measured on softmax, 300k x 100 x 10 (2 cores): one evaluation takes 1.5x the two bare
# products X @ W and X.T @ G unblocked, and about 1.0x in blocks of 2 to 8 MB. Spread over
# threads (map_blocks), blocks of 0.5 to 8 MB measured alike (0.7-0.95x, under load).
BLOCK_BYTES = 4 << 20
MIN_BLOCK_ROWS = 1024


def row_blocks(X: np.ndarray) -> list[slice]:
    """Consecutive row slices of ``X`` (n, d) of about ``BLOCK_BYTES`` each, covering all rows.

    A sparse ``X`` is one block: its products do not gain from the cache, and each block's
    ``X_b.T @ G`` costs O(d) besides its stored values (measured 3.5x slower in blocks at
    d = 100,000)."""
    n_samples, n_features = X.shape
    if issparse(X):
        return [slice(0, n_samples)]
    rows = max(MIN_BLOCK_ROWS, BLOCK_BYTES // max(1, n_features * X.dtype.itemsize))
    return [slice(start, min(start + rows, n_samples)) for start in range(0, n_samples, rows)]


def block_of(X: Any, rows: slice) -> Any:
    """``X[rows]`` for a block of ``row_blocks(X)``, without the copy scipy makes of a sparse
    matrix sliced whole: a sparse ``X`` is one block, and copying it took a quarter of each
    Hessian product's time (measured: 0.07 s of 0.18 s at 15.6 M stored values)."""
    if rows.start == 0 and rows.stop == X.shape[0] and issparse(X):
        return X
    return X[rows]


T = TypeVar("T")
_BLAS: list[Any] = []  # threadpoolctl's handle on BLAS, made on first use (~7 ms); [None] without
_POOLS: dict[tuple[int, int], ThreadPoolExecutor] = {}  # by (pid, workers): a fork makes its own


def map_blocks(fn: Callable[[slice], T], blocks: list[slice]) -> list[T]:
    """``[fn(rows) for rows in blocks]``, the blocks spread over as many threads as BLAS uses,
    each block's products run on one BLAS thread meanwhile. Results come in block order, so
    sums over them do not depend on the threads.

    Why: a block's products are small, and BLAS splits each over its threads, which wait for
    one another after every call. Measured on the bench's softmax and squared-hinge SVM,
    240k x 100 x 10 on 2 cores, in 46 blocks of 4 MB: one evaluation took 1.2-1.3x the two
    unblocked products on a quiet machine, but 1.8-4.4x while other processes kept the
    cores busy, since every product then waits for its slowest thread. One block per
    thread needs no such wait, keeps each block in its own core's cache between its two
    products and runs the elementwise work on both cores: 0.67-0.89x under the same load.

    Only the main thread spreads: the BLAS limit is process-wide, and callers on other
    threads (dask's workers) are parallel already and would race on it.
    """
    if len(blocks) < 2 or threading.current_thread() is not threading.main_thread():
        return [fn(rows) for rows in blocks]
    if not _BLAS:
        try:
            from threadpoolctl import ThreadpoolController  # scikit-learn's dependency

            blas = ThreadpoolController().select(user_api="blas")
            _BLAS.append(blas if blas.info() else None)
        except ImportError:
            _BLAS.append(None)
    blas = _BLAS[0]
    threads = 1 if blas is None else max(lib["num_threads"] for lib in blas.info())
    workers = min(len(blocks), threads)
    if workers < 2:
        return [fn(rows) for rows in blocks]
    key = (os.getpid(), workers)
    if key not in _POOLS:
        _POOLS[key] = ThreadPoolExecutor(workers, thread_name_prefix="linfit-blocks")
    with blas.limit(limits=1):
        return list(_POOLS[key].map(fn, blocks))


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


def minibatches(
    loss_gradient: Callable[..., tuple[float, np.ndarray]],
    blocks: Iterable[tuple[np.ndarray, np.ndarray]],
    rng: np.random.Generator,
    batch_rows: int,
) -> Iterator[MiniBatch]:
    """One epoch of mini-batches, each ``params -> loss_gradient(params, X_B, y_B)``.

    ``blocks`` yields ``(X_c (n_c, d), y_c (n_c,))`` pieces of the data in the order to
    visit them (one piece for data in memory; shuffled chunks for data on disk); each
    piece's rows are shuffled and cut into batches of ``batch_rows`` (the last of a piece
    may be shorter), so every row is used once.
    """
    for X_c, y_c in blocks:
        for rows in shuffled_batches(X_c.shape[0], rng, batch_rows):
            yield MiniBatch(rows.size, partial(loss_gradient, X=X_c[rows], y=y_c[rows]))


def shuffled_batches(
    n_rows: int, rng: np.random.Generator, batch_rows: int
) -> Iterator[np.ndarray]:
    """A random permutation of ``range(n_rows)`` cut into batches of ``batch_rows`` (the
    last may be shorter), each sorted so that gathering its rows reads forward."""
    order = rng.permutation(n_rows)
    for start in range(0, n_rows, batch_rows):
        yield np.sort(order[start : start + batch_rows])
