"""Passes over ``X`` by blocks of rows, spread over the cores: what every pass over the
data shares, the models' objectives and least squares' sums and triangles alike.

A pass walks ``X`` in blocks of rows small enough to stay in cache (``row_blocks``), so a
block's second product reads it from cache; the blocks run on BLAS's threads, one block
per thread (``map_blocks``).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np

from linfit.lazy import issparse

# Rows per block are chosen so a block of X takes about this many bytes: small enough to
# stay in cache between the block's two products, large enough for BLAS to run at speed.
# Measured on softmax, 300k x 100 x 10 (2 cores): one evaluation takes 1.5x the two bare
# products X @ W and X.T @ G unblocked, and about 1.0x in blocks of 2 to 8 MB. Spread over
# threads (map_blocks), blocks of 0.5 to 8 MB measured alike (0.7-0.95x, under load).
BLOCK_BYTES = 4 << 20
MIN_BLOCK_ROWS = 1024
# A block's scores (rows x outputs, float64) are held a few times over while it is
# evaluated (scores, their gradient, probabilities), on each thread: past this size a
# block has fewer rows, so many classes never hold n x K at once (issue 17). A sparse X,
# one block otherwise (below), is cut when its whole scores would exceed SPARSE_SCORE_BYTES.
SCORE_BYTES = 16 << 20
MIN_SCORE_ROWS = 16
SPARSE_SCORE_BYTES = 256 << 20


def block_rows(n_samples: int, row_bytes: int, n_outputs: int = 1, sparse: bool = False) -> int:
    """Rows per block of a pass over ``n_samples`` rows of ``row_bytes`` bytes each (a dense
    row's d x itemsize) scored on ``n_outputs`` columns: about ``BLOCK_BYTES`` of X (at
    least ``MIN_BLOCK_ROWS``) and at most ``SCORE_BYTES`` of scores (at least
    ``MIN_SCORE_ROWS``); a sparse X whole unless its scores exceed ``SPARSE_SCORE_BYTES``.
    Also what the memory budget counts a block's scores by (``fitting/budget.py``)."""
    by_scores = max(MIN_SCORE_ROWS, SCORE_BYTES // (8 * max(1, n_outputs)))
    if sparse:
        whole = n_outputs == 1 or n_samples * n_outputs * 8 <= SPARSE_SCORE_BYTES
        return max(1, n_samples) if whole else by_scores
    by_X = max(MIN_BLOCK_ROWS, BLOCK_BYTES // max(1, row_bytes))
    return min(by_X, by_scores)


def row_blocks(X: np.ndarray, n_outputs: int = 1) -> list[slice]:
    """Consecutive row slices of ``X`` (n, d) of about ``BLOCK_BYTES`` each, covering all
    rows, fewer rows where ``n_outputs`` columns of scores would exceed ``SCORE_BYTES``
    (``block_rows``). The slices depend on ``X`` and ``n_outputs`` alone, never on the
    number of threads, so sums over them come out the same on every machine.

    A sparse ``X`` is one block: its products do not gain from the cache, and each block's
    ``X_b.T @ G`` adds a (d, K) part to the sum. Measured on 20,000 x 62,000 with 1.65 M
    stored values, 20 columns: a squared-hinge tron fit took 5.5-5.9 s in one block and
    7.0-7.6 s in three on two threads, though X @ V and X.T @ R alone ran 1.4-1.7x faster
    split (the 10 MB parts, fresh pages each, and their sums ate the gain); at
    d = 100,000 in 4 MB blocks, 3.5x slower. (The one-column kernels of ``linalg.sparse``,
    whose parts are (d,), do split: ``sparse.kernel_parts``.)"""
    n_samples, n_features = X.shape
    rows = block_rows(n_samples, n_features * X.dtype.itemsize, n_outputs, issparse(X))
    if issparse(X) and rows >= n_samples:
        return [slice(0, n_samples)]  # one block, even of no rows
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

    The price: OpenBLAS's own worker spins for about 0.1 s after each product it ran on
    two threads, and blocks spread within that time share the cores with it. Measured at
    120,000 x 60 x 2 (softmax): 9 ms an evaluation (17-21 ms CPU) for the first 0.1 s
    after ``X @ W`` on two threads, 5.5 ms (10 ms CPU) from then on, against 6 ms for
    ``X @ W`` and ``X.T @ G``. A fit's evaluations run none such products in between.

    Only the main thread spreads: the BLAS limit is process-wide, and callers on other
    threads (dask's workers) are parallel already and would race on it.
    """
    if len(blocks) < 2 or threading.current_thread() is not threading.main_thread():
        return [fn(rows) for rows in blocks]
    blas = blas_controller()
    workers = min(len(blocks), worker_count())
    if workers < 2:
        return [fn(rows) for rows in blocks]
    key = (os.getpid(), workers)
    if key not in _POOLS:
        _POOLS[key] = ThreadPoolExecutor(workers, thread_name_prefix="linfit-blocks")
    with blas.limit(limits=1):
        return list(_POOLS[key].map(fn, blocks))


def blas_controller() -> Any:
    """threadpoolctl's handle on BLAS (None without threadpoolctl or a BLAS it knows)."""
    if not _BLAS:
        try:
            from threadpoolctl import ThreadpoolController  # scikit-learn's dependency

            blas = ThreadpoolController().select(user_api="blas")
            _BLAS.append(blas if blas.info() else None)
        except ImportError:
            _BLAS.append(None)
    return _BLAS[0]


# The worker counts in force outside linfit's own ``single_blas_thread``s, innermost last:
# linfit limits BLAS to one thread where its own threads do the spreading (fits on CSR rows,
# cv's folds), and that limit must not also stop its kernels from spreading
_SPREAD: list[int] = []


def worker_count() -> int:
    """How many threads work at once: as many as BLAS uses (the cores it was given), or
    used before linfit's own ``single_blas_thread`` limited it."""
    if _SPREAD:
        return _SPREAD[-1]
    blas = blas_controller()
    return 1 if blas is None else max(lib["num_threads"] for lib in blas.info())


@contextlib.contextmanager
def single_blas_thread() -> Iterator[None]:
    """BLAS on one thread meanwhile, for work spread over threads of its own (e.g. the
    folds of a cross-validation), which would otherwise each spread over every core."""
    blas = blas_controller()
    if blas is None:
        yield
        return
    _SPREAD.append(worker_count())
    try:
        with blas.limit(limits=1):
            yield
    finally:
        _SPREAD.pop()


def add_parts(a: Any, b: Any) -> Any:
    """``a + b`` for the partial results of passes by blocks: arrays, numbers, or tuples of
    them (nested), element by element."""
    if isinstance(a, tuple):
        return tuple(add_parts(u, v) for u, v in zip(a, b, strict=True))
    return a + b
