"""The diagonal of a model's Hessian, for diagonal preconditioners (tron's conjugate gradient).

With the bias as feature row ``d`` of ``Theta = [W; b]``, the Hessian's diagonal is
``H[(a,k), (a,k)] = sum_i xh_ia^2 C_i[k,k] + 2 reg [a < d]`` (``xh = [x, 1]``, ``C_i`` the
per-sample curvature in the scores, see ``LinearModel.hessian``): one product of the
squared features with the (n, K) diagonals of the ``C_i``, the cost of about one
Hessian-vector product.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from linfit.lazy import issparse
from linfit.linalg.blocks import block_of, map_blocks, row_blocks
from linfit.models.base import LinearModel
from linfit.models.blocks import column_sums


def squared(X: Any) -> Any:
    """``X`` with every entry squared, in float64: a sparse ``X`` keeps (shares) its index
    arrays, so only its stored values are copied."""
    if issparse(X):
        import scipy.sparse as sp

        X = X.tocsr()
        return sp.csr_matrix(
            (np.square(X.data, dtype=np.float64), X.indices, X.indptr), shape=X.shape
        )
    return np.square(X, dtype=np.float64)


def curvature_diagonals(model: LinearModel, curvature: object, n_rows: int, K: int) -> np.ndarray:
    """The diagonals ``C_i[k, k]`` (n_rows, K) of the per-sample curvatures ``curvature``
    (from ``model._curvature``): column k of ``C`` applied to the unit direction e_k.

    K applications of O(n K) each; K is the number of outputs, small next to a pass over X.
    """
    D = np.empty((n_rows, K))
    unit = np.zeros((n_rows, K))
    for k in range(K):
        unit[:, k] = 1.0
        D[:, k] = model._apply_curvature(curvature, unit)[:, k]
        unit[:, k] = 0.0
    return D


def hessian_diagonal(
    model: LinearModel, params: np.ndarray, X: Any, y: np.ndarray
) -> np.ndarray:
    """``diag(H(params))``, flat like ``params`` ((n_features + 1) * K,), for ``X`` (n, d)
    dense or sparse and ``y`` (n,): by blocks of rows as the Hessian products are."""
    model.require_hessian()
    n_samples, n_features = X.shape
    K = params.size // (n_features + 1)
    blocks = row_blocks(X)

    def block(rows: slice) -> tuple[np.ndarray, np.ndarray]:
        X_block = block_of(X, rows)
        curvature = model._curvature(model._scores64(params, X_block), y[rows])
        D = curvature_diagonals(model, curvature, rows.stop - rows.start, K)
        weight = (rows.stop - rows.start) / n_samples  # the curvature is per block's mean
        return weight * np.asarray(squared(X_block).T @ D), weight * column_sums(D)

    diag_W, diag_b = np.full((n_features, K), 2.0 * model.reg), np.zeros(K)
    for block_W, block_b in map_blocks(block, blocks):
        diag_W += block_W
        diag_b += block_b
    return model.pack(diag_W, diag_b)


def preconditioner_diagonal(
    model: LinearModel, params: np.ndarray, X: Any, y: np.ndarray
) -> np.ndarray:
    """The Hessian's diagonal averaged over the K outputs of each feature (and of the bias),
    flat like ``params``: what ``Objective.hess_diagonal`` offers a preconditioner.

    Why averaged: softmax and the Weston-Watkins SVM see only differences of scores, so
    shifting every class's bias (and, without a penalty, weights) by the same amount
    changes nothing; gradients and Hessian products never move along that shift, and plain
    CG's iterates stay centred as L-BFGS's do. A diagonal that differs between classes
    would rotate steps into it (measured: softmax biases off by a common 0.12 between a
    float32 and a float64 fit); one constant across classes keeps them out. What the
    preconditioner is for, the orders of magnitude between feature frequencies, is the
    same in every class.
    """
    n_features = X.shape[1]
    diagonal = hessian_diagonal(model, params, X, y)
    K = params.size // (n_features + 1)
    W, b = model.unpack(diagonal, n_features)
    mean_W = np.repeat(W.mean(axis=1, keepdims=True), K, axis=1)
    return model.pack(mean_W, np.full(K, b.mean()))
