"""A model's second order: Hessian-vector products, the dense Hessian and the diagonal
that preconditions conjugate gradient, all from the per-sample curvature in the scores
that each model gives (``_curvature``, ``_apply_curvature``).

Shared by every model through :class:`linfit.models.base.LinearModel`'s methods, which
check that the model has a Hessian first. ``sample_weight`` (n_samples,) or None
multiplies each sample's curvature, as it multiplies its loss.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from linfit.lazy import issparse
from linfit.linalg.blocks import block_of, map_blocks, row_blocks
from linfit.linalg.sparse import (
    curved_operator,
    squares_times,
    times,
    transposed_times,
)
from linfit.models.blocks import column_sums, rows_of

if TYPE_CHECKING:
    from linfit.models.base import LinearModel


# Measured: forming the dense Hessian costs about K^2 (d + 1) / 70 + 10 Hessian-vector
# products (146 at d = 100, K = 10; 12 at K = 3), while a Newton-CG step takes 5 to 30.
# So an objective offers the dense form (Newton then factors it) only when it costs at
# most ~20 products; otherwise Newton solves by conjugate gradient on products.
DENSE_HESSIAN_BUDGET = 1400


def dense_is_cheap(n_outputs: int, n_features: int) -> bool:
    """Whether forming the dense Hessian costs at most ~20 Hessian-vector products:
    ``K^2 (n_features + 1) <= DENSE_HESSIAN_BUDGET``."""
    return n_outputs * n_outputs * (n_features + 1) <= DENSE_HESSIAN_BUDGET


def weigh_rows(R: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """``R`` (n, K) with row i multiplied by ``weights[i]``, in place (R when None)."""
    if weights is not None:
        R *= weights[:, None]
    return R


def block_curvatures(model: LinearModel, params: np.ndarray, X: Any, y: np.ndarray) -> list[Any]:
    """The per-sample curvature at ``params`` of each block of ``row_blocks(X)`` (n, d), in
    order: one pass over ``X`` for the scores, which the Hessian operator and the
    preconditioner's diagonal at the same point can share."""
    return map_blocks(
        lambda rows: model._curvature(model._scores64(params, block_of(X, rows)), y[rows]),
        row_blocks(X, params.size // (X.shape[1] + 1)),
    )


def hessian_operator(
    model: LinearModel,
    params: np.ndarray,
    X: Any,
    y: np.ndarray,
    sample_weight: np.ndarray | None,
    curvatures: list[Any] | None = None,
) -> Callable[[np.ndarray], np.ndarray]:
    """``v -> H(params) @ v`` for flat ``v``: the curvature of each block of ``X`` (n, d)
    computed once (or given, ``block_curvatures``); each product is then one pass over
    ``X``."""
    n_samples, n_features = X.shape
    K = params.size // (n_features + 1)
    blocks = row_blocks(X, K)
    if curvatures is None:
        curvatures = block_curvatures(model, params, X, y)
    if issparse(X) and len(blocks) == 1:
        one_pass = _curved_operator(model, curvatures[0], X, sample_weight, K)
        if one_pass is not None:
            return one_pass
    by_start = dict(zip((rows.start for rows in blocks), curvatures, strict=True))

    def hvp(v: np.ndarray) -> np.ndarray:
        V, vb = model.unpack(np.asarray(v, dtype=np.float64), n_features)
        V_x = V.astype(X.dtype, copy=False)

        def block(rows: slice) -> tuple[np.ndarray, np.ndarray]:
            X_block = block_of(X, rows)
            weight = (rows.stop - rows.start) / n_samples
            dS = times(X_block, V_x).astype(np.float64, copy=False) + vb
            R = model._apply_curvature(by_start[rows.start], dS)
            R = weigh_rows(R, rows_of(sample_weight, rows))
            XtR = transposed_times(X_block, R.astype(X.dtype, copy=False))
            return weight * XtR, weight * column_sums(R)

        Hv_W, Hv_b = (2.0 * model.reg) * V, np.zeros(vb.size)
        for block_W, block_b in map_blocks(block, blocks):
            Hv_W += block_W
            Hv_b += block_b
        return model.pack(Hv_W, Hv_b)

    return hvp


def _curved_operator(
    model: LinearModel, curvature: object, X: Any, sample_weight: np.ndarray | None, K: int
) -> Callable[[np.ndarray], np.ndarray] | None:
    """``hessian_operator`` on sparse ``X`` (one block) of a model whose per-sample
    curvature is diagonal minus rank one (``_factors``: every one-column model, and the
    K-column ones that say so): each product one compiled pass over the rows
    (``linalg.sparse.curved_operator``), where scipy's take two (``X @ V``, then ``X.T @
    R``) and the curvature a third over the (n, K) scores (measured on the one-hot workload,
    480,000 x 3,017 with 4 classes: 38 ms a product). None where the curvature has no such
    form or the kernel cannot read ``X``."""
    factors = _factors(model, curvature, X.shape[0], K)
    if factors is None:
        return None
    a, b, scale = factors
    if sample_weight is not None:
        u = scale * np.asarray(sample_weight, dtype=np.float64)
    else:
        u = None if scale == 1.0 else np.full(X.shape[0], scale)
    product = curved_operator(X, a, b, u)
    if product is None:
        return None
    reg, n_features = model.reg, X.shape[1]

    def hvp(v: np.ndarray) -> np.ndarray:
        V, vb = model.unpack(np.asarray(v, dtype=np.float64), n_features)
        Hv_W, Hv_b = product(V, vb)
        Hv_W += (2.0 * reg) * V
        return model.pack(Hv_W, Hv_b)

    return hvp


def dense_hessian(
    model: LinearModel,
    params: np.ndarray,
    X: Any,
    y: np.ndarray,
    sample_weight: np.ndarray | None,
) -> np.ndarray:
    """Dense Hessian (n_params, n_params) for ``X`` (n, d).

    With the bias as feature row ``d`` of ``Theta = [W; b]`` (which is what the flat
    layout is), ``H[(a,k), (a',k')] = sum_i xh_ia xh_ia' C_i[k,k'] + 2 reg [a=a'<d][k=k']``,
    ``xh = [x, 1]`` and ``C_i`` the per-sample curvature in the scores. It is built from
    K(K+1)/2 weighted Gram matrices, never from n_params Hessian-vector products.
    """
    if issparse(X):
        X = X.toarray()  # (n_params)^2 entries: never offered for large sparse problems
    n_samples, d = X.shape
    K = params.size // (d + 1)
    curvature = model._curvature(model._scores64(params, X), y)
    H = np.empty((d + 1, K, d + 1, K))
    for k, C_k in enumerate(curvature_columns(model, curvature, n_samples, K, X.dtype)):
        weigh_rows(C_k, sample_weight)
        for m in range(k, K):
            w = C_k[:, m]
            Xw = X.T * w  # (d, n_samples)
            block = np.empty((d + 1, d + 1))
            block[:d, :d] = Xw @ X
            block[:d, d] = block[d, :d] = Xw.sum(axis=1)
            block[d, d] = w.sum()
            H[:, m, :, k] = block
            H[:, k, :, m] = block.T
    H = H.reshape(params.size, params.size)
    H[np.arange(d * K), np.arange(d * K)] += 2.0 * model.reg
    return H


def preconditioner_diagonal(
    model: LinearModel,
    params: np.ndarray,
    X: Any,
    y: np.ndarray,
    sample_weight: np.ndarray | None,
    curvatures: list[Any] | None = None,
) -> np.ndarray:
    """The Hessian's diagonal averaged over the K outputs of each feature and of the
    bias, flat like ``params``: what ``Objective.hess_diagonal`` offers a diagonal
    preconditioner (tron's conjugate gradient), for ``X`` (n, d) dense or sparse.

    From ``dense_hessian``'s formula, ``mean_k H[(a,k), (a,k)] = sum_i xh_ia^2 c_i + 2 reg
    [a < d]`` with ``c_i = mean_k C_i[k,k]``: one pass, whose product is the squared
    features with one vector, cheaper than a Hessian-vector product.

    Why averaged: softmax and the Weston-Watkins SVM see only differences of scores, so
    shifting every class's bias (and, without a penalty, weights) by the same amount
    changes nothing; gradients and Hessian products never move along that shift, and
    plain CG's iterates stay centred as L-BFGS's do. A diagonal that differs between
    classes would rotate steps into it (measured: softmax biases off by a common 0.12
    between a float32 and a float64 fit); one constant across classes keeps them out.
    What the preconditioner is for, the orders of magnitude between feature
    frequencies, is the same in every class.
    """
    n_samples, n_features = X.shape
    K = params.size // (n_features + 1)
    blocks = row_blocks(X, K)
    given = dict(zip((rows.start for rows in blocks), curvatures or (), strict=False))

    def block(rows: slice) -> tuple[np.ndarray, float]:
        X_block = block_of(X, rows)
        n_rows = rows.stop - rows.start
        curvature = given.get(rows.start)
        if curvature is None:
            curvature = model._curvature(model._scores64(params, X_block), y[rows])
        c = _curvature_traces(model, curvature, n_rows, K)
        c *= n_rows / (n_samples * K)  # the curvature is per block's mean; mean over k
        weights = rows_of(sample_weight, rows)
        if weights is not None:
            c *= weights
        compiled = squares_times(X_block, c) if issparse(X_block) else None
        squares = compiled if compiled is not None else np.asarray(_squared(X_block).T @ c)
        return squares, float(c.sum())

    diag_W, diag_b = np.full(n_features, 2.0 * model.reg), 0.0
    for block_W, block_b in map_blocks(block, blocks):
        diag_W += block_W
        diag_b += block_b
    return model.pack(np.repeat(diag_W[:, None], K, axis=1), np.full(K, diag_b))


def _factors(
    model: LinearModel, curvature: object, n_rows: int, K: int
) -> tuple[np.ndarray, np.ndarray | None, float] | None:
    """``model._curvature_factors``, and for any one-column model its per-sample number
    (the curvature applied to ones, which holds the 1/n of the mean) as a diagonal."""
    if K == 1:
        return model._apply_curvature(curvature, np.ones((n_rows, 1))), None, 1.0
    return model._curvature_factors(curvature)


def _curvature_traces(model: LinearModel, curvature: object, n_rows: int, K: int) -> np.ndarray:
    """``sum_k C_i[k, k]`` (n_rows,): from the curvature's factors where the model gives
    them (``scale sum_k (a_ik - b_ik^2)``, one pass over the (n, K) factors), else from the
    K columns ``C e_k`` (K applications of the curvature: measured on the one-hot workload,
    480,000 rows x 4 classes, 0.46 s of a 4.4 s fit, where the factors take 0.02 s)."""
    factors = _factors(model, curvature, n_rows, K)
    if factors is not None:
        a, b, scale = factors
        traces = a.sum(axis=1, dtype=np.float64)
        if b is not None:
            traces -= np.einsum("ik,ik->i", b, b)
        return scale * traces
    c = np.zeros(n_rows)
    for k, C_k in enumerate(curvature_columns(model, curvature, n_rows, K)):
        c += C_k[:, k]
    return c


def curvature_columns(
    model: LinearModel, curvature: object, n_rows: int, K: int, dtype: Any = np.float64
) -> Iterator[np.ndarray]:
    """``C e_k`` (n_rows, K) for k = 0..K-1, column l holding ``C_i[l, k]``: the
    per-sample curvature applied to each unit score direction."""
    unit = np.zeros((n_rows, K), dtype=dtype)
    for k in range(K):
        unit[:, k] = 1.0
        yield model._apply_curvature(curvature, unit)  # a new array: unit is reused
        unit[:, k] = 0.0


def _squared(X: Any) -> Any:
    """``X`` with every entry squared, in float64: a sparse ``X`` keeps (shares) its index
    arrays, so only its stored values are copied."""
    if issparse(X):
        import scipy.sparse as sp

        X = X.tocsr()
        return sp.csr_matrix(
            (np.square(X.data, dtype=np.float64), X.indices, X.indptr), shape=X.shape
        )
    return np.square(X, dtype=np.float64)


class SharedCurvature:
    """A model's Hessian operator and preconditioner diagonal on one dataset, sharing the
    curvature when asked at the same point: tron asks for both after every accepted step,
    and each would otherwise compute the scores ``X @ W`` again (one pass over ``X``,
    measured as a sixth of a one-column sparse tron iteration). Holds the last point's
    curvature only, which the operator it returned holds anyway."""

    def __init__(self, model: LinearModel, X: Any, y: np.ndarray, weights: np.ndarray | None):
        self.model, self.X, self.y, self.weights = model, X, y, weights
        self._at: tuple[np.ndarray, list[Any]] | None = None

    def _curvatures(self, params: np.ndarray) -> list[Any]:
        if self._at is None or not np.array_equal(self._at[0], params):
            self._at = (np.array(params), block_curvatures(self.model, params, self.X, self.y))
        return self._at[1]

    def operator(self, params: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        self.model.require_hessian()
        return hessian_operator(
            self.model, params, self.X, self.y, self.weights, self._curvatures(params)
        )

    def diagonal(self, params: np.ndarray) -> np.ndarray:
        self.model.require_hessian()
        return preconditioner_diagonal(
            self.model, params, self.X, self.y, self.weights, self._curvatures(params)
        )
