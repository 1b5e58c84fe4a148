"""The in-memory engine's mini-batches of CSR rows, handed over as ``LinearRows`` so that
sgd steps on the batch's stored features alone (``optim/sgd_sparse.py``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from functools import partial
from typing import Any

import numpy as np

from linfit.models import LinearModel
from linfit.models.blocks import rows_of, shuffled_batches
from linfit.optim import Objective
from linfit.optim.sgd_sparse import LinearRows


def with_row_batches(
    objective: Objective, model: LinearModel, X: Any, y: np.ndarray, weights: np.ndarray | None
) -> Objective:
    """``objective`` whose ``batches`` are ``LinearRows`` of a CSR float64 ``X`` (n, d),
    targets ``y`` (n,) or (n, K) and row multipliers ``weights`` (n,) or None: the same
    shuffles and rows as ``models.blocks.minibatches`` draws (so the same epochs), each
    batch's rows gathered only when something reads them. Another ``X`` keeps them."""
    if getattr(X, "format", None) != "csr" or X.dtype != np.float64:
        return objective

    def batches(rng: np.random.Generator, batch_rows: int) -> Iterator[LinearRows]:
        for rows in shuffled_batches(X.shape[0], rng, batch_rows):
            y_B, w_B = y[rows], rows_of(weights, rows)
            yield LinearRows(
                rows=rows.size,
                fun=partial(_batch_fun, model, X, rows, y_B, w_B),
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
