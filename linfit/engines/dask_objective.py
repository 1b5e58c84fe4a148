"""The objective of a model on data held by a cluster: each block's share computed on
the worker that holds it with the model's own numpy methods, summed by a tree.

Exactly ``linfit.chunked``'s sum: ``J = sum_b (n_b / N) J_b + reg ||W||^2``, the data
term of each block from ``dataclasses.replace(model, reg=0.0)`` and the penalty added once
on the client. Per evaluation the client sends the parameters ((d + 1) K floats) and
receives one value and gradient (or product): the data never move. A mini-batch (sgd) is
one round trip to the worker holding its rows, with their indices.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from functools import partial

import numpy as np

from linfit.chunked import add_penalty, add_penalty_hvp
from linfit.engines.dask_blocks import ClusterData
from linfit.models import LinearModel
from linfit.models.base import DENSE_HESSIAN_BUDGET, shuffled_batches
from linfit.optim import Objective
from linfit.optim.objective import MiniBatch


def cluster_objective(model: LinearModel, data: ClusterData, n_outputs: int) -> Objective:
    """``model.objective`` on the scaled data, with the same dense-Hessian rule."""
    term = dataclasses.replace(model, reg=0.0)
    d = data.n_features

    def fun(params: np.ndarray) -> tuple[float, np.ndarray]:
        parts = data.map(_loss_gradient, data.X, data.y, data.weights, term=term, params=params)
        f, g = data.tree_sum(parts)
        return add_penalty(model, d, params, f, np.array(g))

    def value(params: np.ndarray) -> float:
        parts = data.map(_loss, data.X, data.y, data.weights, term=term, params=params)
        return add_penalty(model, d, params, data.tree_sum(parts), None)[0]

    def hess(params: np.ndarray) -> np.ndarray:
        parts = data.map(_hessian, data.X, data.y, data.weights, term=term, params=params)
        H = np.array(data.tree_sum(parts))
        n_weights = params.size - params.size // (d + 1)
        H[np.arange(n_weights), np.arange(n_weights)] += 2.0 * model.reg
        return H

    def hess_operator(params: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        # each block's curvature is computed once, and stays on its worker
        operators = data.map(_operator, data.X, data.y, term=term, params=params, pure=False)

        def hvp(v: np.ndarray) -> np.ndarray:
            parts = data.map(_product, operators, data.weights, v=np.asarray(v, dtype=float))
            return add_penalty_hvp(model, d, v, np.array(data.tree_sum(parts)))

        return hvp

    def batch(block: int, rows: np.ndarray, params: np.ndarray) -> tuple[float, np.ndarray]:
        # one round trip: the rows' indices and the parameters go to the block's worker
        X_b, y_b = data.X[block], data.y[block]
        return data.client.submit(_batch, X_b, y_b, rows=rows, model=model, params=params).result()

    def batches(rng: np.random.Generator, batch_rows: int) -> Iterator[MiniBatch]:
        # shuffling by block, as out of core: the blocks in a random order, then the rows
        # of each, so with equal blocks the batches are those of linfit.chunked
        for block in rng.permutation(len(data.X)):
            for rows in shuffled_batches(data.rows[block], rng, batch_rows):
                yield MiniBatch(rows.size, partial(batch, block, rows))

    dense = model.has_hessian and n_outputs**2 * (d + 1) <= DENSE_HESSIAN_BUDGET
    return Objective(
        fun=fun,
        value=value,
        hess=hess if dense else None,
        hess_operator=hess_operator if model.has_hessian else None,
        batches=batches,
        n_samples=data.n_samples,
    )


def _loss_gradient(X, y, weight, *, term, params):
    f, g = term.loss_gradient(params, X, y)
    return weight * f, weight * g


def _batch(X, y, *, rows, model, params):
    """The objective (penalty included) on ``rows`` of a block, as in-memory batches are."""
    return model.loss_gradient(params, X[rows], y[rows])


def _loss(X, y, weight, *, term, params):
    return weight * term.loss(params, X, y)


def _hessian(X, y, weight, *, term, params):
    return weight * term.hessian(params, X, y)


def _operator(X, y, *, term, params):
    return term.hessian_operator(params, X, y)


def _product(operator, weight, *, v):
    return weight * operator(v)
