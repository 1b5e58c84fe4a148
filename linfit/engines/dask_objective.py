"""The objective of a model on data held by a cluster: each block's share computed on
the worker that holds it with the model's own numpy methods, summed by a tree.

Exactly ``linfit.engines.out_of_core``'s sum: ``J = sum_b (n_b / N) J_b + reg ||W||^2``, the data
term of each block from ``dataclasses.replace(model, reg=0.0)`` (with the block's row
multipliers, of mean 1 over all the rows, when the rows are weighed) and the penalty added
once on the client. Per evaluation the client sends the parameters ((d + 1) K floats) and
receives one value and gradient (or product): the data never move.

sgd's mini-batches are drawn as ``linfit.engines.out_of_core`` draws them (the same rows
from the same seed): an epoch's rows are cut into groups of about a block's rows, each gathered onto
one worker from spans drawn all over the data (so data sorted by label are mixed), with
their multipliers (not renormalized per batch, as in memory), and a batch is one round
trip to that worker. So an sgd epoch moves the data between workers
once; the next group is gathered while the current one's batches run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any, TypeVar

import numpy as np

from linfit.engines.base import add_penalty, add_penalty_hvp
from linfit.engines.dask_blocks import ClusterData
from linfit.engines.out_of_core import mixed_chunks
from linfit.models import LinearModel
from linfit.models.blocks import rows_of, shuffled_batches
from linfit.models.curvature import dense_is_cheap
from linfit.optim import Objective
from linfit.optim.objective import MiniBatch, first_rows

Future = Any  # a distributed.Future; distributed is imported only where it is installed
T = TypeVar("T")


def cluster_objective(model: LinearModel, data: ClusterData, n_outputs: int) -> Objective:
    """``model.objective`` on the scaled data, with the same dense-Hessian rule."""
    term = dataclasses.replace(model, reg=0.0)
    d = data.n_features
    blocks = data.X, data.y, data.row_weight_blocks, data.weights

    def fun(params: np.ndarray) -> tuple[float, np.ndarray]:
        parts = data.map(_loss_gradient, *blocks, term=term, params=params)
        f, g = data.tree_sum(parts)
        return add_penalty(model, d, params, f, np.array(g))

    def value(params: np.ndarray) -> float:
        parts = data.map(_loss, *blocks, term=term, params=params)
        return add_penalty(model, d, params, data.tree_sum(parts), None)[0]

    def hess(params: np.ndarray) -> np.ndarray:
        parts = data.map(_hessian, *blocks, term=term, params=params)
        H = np.array(data.tree_sum(parts))
        n_weights = params.size - params.size // (d + 1)
        H[np.arange(n_weights), np.arange(n_weights)] += 2.0 * model.reg
        return H

    def hess_diagonal(params: np.ndarray) -> np.ndarray:
        # tron's preconditioner: the blocks' diagonals summed, the penalty's 2 reg added
        parts = data.map(_diagonal, *blocks, term=term, params=params)
        ones = np.ones_like(params)
        return add_penalty_hvp(model, d, ones, np.array(data.tree_sum(parts)))

    batches, sample = _sgd_batches(model, data)
    dense = model.has_hessian and dense_is_cheap(n_outputs, d)
    return Objective(
        fun=fun,
        value=value,
        hess=hess if dense else None,
        hess_operator=_hessian_operator(model, term, data) if model.has_hessian else None,
        hess_diagonal=hess_diagonal if model.has_hessian else None,
        batches=batches,
        n_samples=data.n_samples,
        sample=sample,
    )


def _hessian_operator(
    model: LinearModel, term: LinearModel, data: ClusterData
) -> Callable[[np.ndarray], Callable[[np.ndarray], np.ndarray]]:
    """``params -> (v -> H v)``: the Hessian's products on the cluster, ``v`` and ``H v``
    of the parameters' shape, the data term from ``term`` and the penalty from ``model``."""
    d = data.n_features

    def hess_operator(params: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        # each block's curvature is computed once, and stays on its worker
        operators = data.map(
            _operator, data.X, data.y, data.row_weight_blocks, term=term, params=params,
            pure=False,
        )  # fmt: skip

        def hvp(v: np.ndarray) -> np.ndarray:
            parts = data.map(_product, operators, data.weights, v=np.asarray(v, dtype=float))
            return add_penalty_hvp(model, d, v, np.array(data.tree_sum(parts)))

        return hvp

    return hess_operator


def _sgd_batches(
    model: LinearModel, data: ClusterData
) -> tuple[
    Callable[[np.random.Generator, int], Iterator[MiniBatch]],
    Callable[[np.random.Generator, int, int], list[MiniBatch]],
]:
    """sgd's ``(batches, sample)`` for ``Objective``: an epoch's mini-batches, each one
    round trip to the worker holding its gathered group, and the epoch's first batches
    brought to the client (see the module's docstring)."""

    def batch(group: Future, rows: np.ndarray, params: np.ndarray) -> tuple[float, np.ndarray]:
        # one round trip: the rows' positions and the parameters go to the group's worker
        return data.client.submit(_batch, group, rows=rows, model=model, params=params).result()

    def batches(rng: np.random.Generator, batch_rows: int) -> Iterator[MiniBatch]:
        gathered = (
            (data.client.submit(_stack, row_pieces(data, index)), index.size)
            for index in mixed_groups(data, rng)
        )
        for group, size in _one_ahead(gathered):
            for rows in shuffled_batches(size, rng, batch_rows):
                yield MiniBatch(rows.size, partial(batch, group, rows))

    def sample(rng: np.random.Generator, n_rows: int, batch_rows: int) -> list[MiniBatch]:
        # the epoch's first batches, drawn as `batches` draws them, fetched in one round
        # trip so that sgd's step calibration evaluates them here
        picked = first_rows(epoch_rows(data, rng, batch_rows), n_rows, len)
        X_s, y_s, w_s = fetch_rows(data, np.concatenate(picked))
        ends = np.cumsum([rows.size for rows in picked])
        return [
            MiniBatch(
                rows.stop - rows.start,
                partial(
                    model.loss_gradient, X=X_s[rows], y=y_s[rows], sample_weight=rows_of(w_s, rows)
                ),
            )
            for rows in map(slice, np.r_[0, ends[:-1]], ends)
        ]

    return batches, sample


def mixed_groups(data: ClusterData, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """One epoch's groups of rows for sgd: each group's rows (m,) in the whole data,
    ascending, drawn by ``linfit.engines.out_of_core.mixed_chunks`` with chunks of the largest
    block's rows, so from the same ``rng`` they are the rows of out-of-core chunks."""
    row_bytes = data.dtype.itemsize * data.n_features
    for group in mixed_chunks(data.n_samples, row_bytes, max(data.rows), rng):
        yield np.concatenate([np.arange(span.start, span.stop) for span in group])


def epoch_rows(
    data: ClusterData, rng: np.random.Generator, batch_rows: int
) -> Iterator[np.ndarray]:
    """Each batch's rows (m,) in the whole data, in the order and with the draws from
    ``rng`` of the batches ``cluster_objective(...).batches(rng, batch_rows)`` hands out."""
    for index in mixed_groups(data, rng):
        for rows in shuffled_batches(index.size, rng, batch_rows):
            yield index[rows]


def row_pieces(data: ClusterData, index: np.ndarray) -> list[Future]:
    """Futures of ``(X[index], y[index], w[index] or None)`` cut by block, for ascending
    rows ``index`` (m,) in the whole data: one task on each block that holds some of
    them, in order."""
    offsets = data.offsets
    block = np.searchsorted(offsets, index, side="right") - 1
    cuts = np.flatnonzero(np.diff(block)) + 1
    pieces = []
    for start, rows in zip(np.r_[0, cuts], np.split(index, cuts), strict=True):
        b = block[start]  # the block holding this run of rows
        w_b = data.row_weight_blocks[b]
        pieces.append(data.client.submit(_take, data.X[b], data.y[b], w_b, rows=rows - offsets[b]))
    return pieces


def fetch_rows(
    data: ClusterData, index: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``X[index]`` (m, d), ``y[index]`` (m,) and the rows' multipliers (m,) (None when
    unweighted) of the whole data, in ``index``'s order, brought to the client in one
    round trip."""
    order = np.argsort(index, kind="stable")
    pieces = _stack(data.client.gather(row_pieces(data, index[order])))
    out = []
    for part in pieces:
        if part is not None:  # back to index's order
            part, sorted_part = np.empty_like(part), part
            part[order] = sorted_part
        out.append(part)
    return out[0], out[1], out[2]


_END = object()


def _one_ahead(items: Iterator[T]) -> Iterator[T]:
    """``items`` in order, each handed out once the next one has been made: a group's
    gathering is submitted before the previous group's batches run, so it overlaps them."""
    current = next(items, _END)
    while current is not _END:
        following = next(items, _END)
        yield current
        current = following


# Each block's pieces: ``X_b`` (m, d), ``y_b`` (m,), its rows' multipliers ``w`` (m,) or
# None (unweighted: the models' own unweighted arithmetic), and its share ``n_b / N``.


def _loss_gradient(X, y, w, share, *, term, params):
    f, g = term.loss_gradient(params, X, y, w)
    return share * f, share * g


def _batch(group, *, rows, model, params):
    """The objective (penalty included) on ``rows`` of a gathered group, as in-memory
    batches are."""
    X, y, w = group
    return model.loss_gradient(params, X[rows], y[rows], rows_of(w, rows))


def _take(X, y, w, *, rows):
    return X[rows], y[rows], rows_of(w, rows)


def _stack(pieces):
    """``(X, y, w)`` of ``(X_p, y_p, w_p)`` pieces, concatenated in order (``w``
    None when the pieces' are)."""
    X, y = np.concatenate([p[0] for p in pieces]), np.concatenate([p[1] for p in pieces])
    w = None if pieces[0][2] is None else np.concatenate([p[2] for p in pieces])
    return X, y, w


def _loss(X, y, w, share, *, term, params):
    return share * term.loss(params, X, y, w)


def _hessian(X, y, w, share, *, term, params):
    return share * term.hessian(params, X, y, w)


def _diagonal(X, y, w, share, *, term, params):
    return share * term.preconditioner_diagonal(params, X, y, w)


def _operator(X, y, w, *, term, params):
    return term.hessian_operator(params, X, y, w)


def _product(operator, weight, *, v):
    return weight * operator(v)
