"""The in-memory engine's mini-batches, handed over as ``LinearRows``: sgd and adagrad step
on a CSR batch's stored features alone (``optim/sgd_sparse.py``, ``optim/adagrad.py``),
and adagrad reads the penalty's ``reg`` off them."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from functools import partial
from typing import Any

import numpy as np

from linfit.lazy import issparse
from linfit.models import LinearModel
from linfit.models.blocks import rows_of, shuffled_batches
from linfit.optim import Objective
from linfit.optim.sgd_sparse import LinearRows


def with_row_batches(
    objective: Objective, model: LinearModel, X: Any, y: np.ndarray, weights: np.ndarray | None
) -> Objective:
    """``objective`` whose ``batches`` are ``LinearRows`` of ``X`` (n, d), targets ``y``
    (n,) or (n, K) and row multipliers ``weights`` (n,) or None: the same shuffles and rows
    as ``models.blocks.minibatches`` draws (so the same epochs and the same ``fun``). A
    sparse batch's rows are gathered only when ``fun`` reads them (the sparse iterates
    read them from ``X`` themselves); a dense batch's at once, as ``minibatches`` does."""
    sparse = issparse(X)

    def batches(rng: np.random.Generator, batch_rows: int) -> Iterator[LinearRows]:
        for rows in shuffled_batches(X.shape[0], rng, batch_rows):
            y_B, w_B = y[rows], rows_of(weights, rows)
            if sparse:
                fun = partial(_batch_fun, model, X, rows, y_B, w_B)
            else:
                fun = partial(model.loss_gradient, X=X[rows], y=y_B, sample_weight=w_B)
            yield LinearRows(
                rows=rows.size,
                fun=fun,
                X=X,
                index=rows,
                scores_loss=partial(model._loss_grad_scores, y=y_B, need_grad=True, weights=w_B),
                reg=model.reg,
            )

    return dataclasses.replace(objective, batches=batches)


def _batch_fun(
    model: LinearModel,
    X: Any,
    rows: np.ndarray,
    y_B: np.ndarray,
    w_B: np.ndarray | None,
    params: np.ndarray,
) -> tuple[float, np.ndarray]:
    """``model.loss_gradient`` on the rows ``X[rows]``, gathered at the call."""
    return model.loss_gradient(params, X[rows], y_B, w_B)
