"""Objectives as sums over row chunks: the seam for data larger than memory.

Every linfit objective is a mean over samples plus a penalty,
``J = sum_c (n_c / N) J_c + reg ||W||^2`` where ``J_c`` is the data term on chunk ``c``,
so the value, gradient and Hessian-vector products are sums of per-chunk pieces and the
optimizers do not change. ``X`` may be a read-only ``np.memmap``: each chunk is read,
standardized in memory, used, and dropped, so memory holds one chunk at a time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import numpy as np

from linfit.models import LinearModel
from linfit.models.base import minibatches
from linfit.optim import Objective
from linfit.preprocess import ScaledRows, Scaler


def row_chunks(n_samples: int, chunk_rows: int) -> Iterator[slice]:
    """Consecutive row slices of at most ``chunk_rows`` rows covering ``range(n_samples)``."""
    for start in range(0, n_samples, chunk_rows):
        yield slice(start, min(start + chunk_rows, n_samples))


def add_penalty(
    model: LinearModel, n_features: int, params: np.ndarray, f: float, g: np.ndarray | None
) -> tuple[float, np.ndarray | None]:
    """``reg ||W||^2`` added once to a summed data term ``f`` and (in place) to its gradient
    ``g`` (or None): the one place a sum over chunks, blocks or workers adds the penalty."""
    W, _ = model.unpack(params, n_features)
    f += model.reg * float(np.dot(W.ravel(), W.ravel()))
    if g is not None:
        g[: W.size] += 2.0 * model.reg * W.ravel()
    return f, g


def add_penalty_hvp(
    model: LinearModel, n_features: int, v: np.ndarray, out: np.ndarray
) -> np.ndarray:
    """The penalty's share ``2 reg V`` (W's entries, not b's) added in place to a summed
    data-term Hessian product ``out``, which is returned."""
    n_weights = v.size - v.size // (n_features + 1)
    out[:n_weights] += 2.0 * model.reg * v[:n_weights]
    return out


def chunked_objective(
    model: LinearModel,
    X: np.ndarray,
    y: np.ndarray,
    *,
    chunk_rows: int,
    scaler: Scaler | None = None,
) -> Objective:
    """The objective of ``model`` on ``X`` (n, d) and ``y`` (n,), evaluated chunk by chunk.

    Equal to ``model.objective(scaler.transform(X), y)`` up to summation order. No dense
    Hessian is offered: Newton solves by conjugate gradient on products, each of which
    reads the chunks again, so memory never holds more than one chunk of ``X``.
    """
    n_samples, n_features = X.shape
    data_term = dataclasses.replace(model, reg=0.0)  # the penalty is added once, below
    slices = list(row_chunks(n_samples, chunk_rows))

    rows = ScaledRows(X, scaler) if scaler is not None else X  # scaled as each chunk is read

    def chunk(sl: slice) -> np.ndarray:
        return np.asarray(rows[sl])

    def penalized(params: np.ndarray, f: float, g: np.ndarray | None) -> tuple:
        return add_penalty(model, n_features, params, f, g)

    def fun(params: np.ndarray) -> tuple[float, np.ndarray]:
        f, g = 0.0, np.zeros_like(params)
        for sl in slices:
            fc, gc = data_term.loss_gradient(params, chunk(sl), y[sl])
            weight = (sl.stop - sl.start) / n_samples
            f += weight * fc
            g += weight * gc
        return penalized(params, f, g)

    def value(params: np.ndarray) -> float:
        f = sum(
            (sl.stop - sl.start) / n_samples * data_term.loss(params, chunk(sl), y[sl])
            for sl in slices
        )
        return penalized(params, f, None)[0]

    def hess_operator(params: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        def hvp(v: np.ndarray) -> np.ndarray:
            # chunks are read again for every product (holding them would hold X)
            out = np.zeros_like(params)
            for sl in slices:
                weight = (sl.stop - sl.start) / n_samples
                out += weight * data_term.hessp(params, chunk(sl), y[sl], v)
            return add_penalty_hvp(model, n_features, v, out)

        return hvp

    def batches(rng: np.random.Generator, batch_rows: int):
        # shuffling by chunk: the chunks in a random order, each read once per epoch and
        # its rows shuffled, so an epoch is one sequential pass over the file
        shuffled = (slices[i] for i in rng.permutation(len(slices)))
        pieces = ((chunk(sl), y[sl]) for sl in shuffled)
        return minibatches(model.loss_gradient, pieces, rng, batch_rows)

    return Objective(
        fun=fun,
        value=value,
        hess_operator=hess_operator if model.has_hessian else None,
        batches=batches,
        n_samples=n_samples,
    )
