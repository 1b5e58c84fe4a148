"""Least squares in closed form on a cluster: the normal equations from ``XᵀX`` and
``XᵀY`` summed over blocks, or dask.array's TSQR of ``[X, 1]`` for pinv and lstsq.

Both solve what ``LeastSquares.solve`` solves, on the (scaled) data of a
:class:`~linfit.engines.dask_blocks.ClusterData`; only (d + 1)-sized pieces reach the client.
"""

from __future__ import annotations

import numpy as np

from linfit.engines.dask_blocks import ClusterData
from linfit.errors import UnknownNameError
from linfit.models import CLOSED_FORMS, LeastSquares
from linfit.models.least_squares import normal_equations, pinv_solve


def solve_on_cluster(model: LeastSquares, data: ClusterData, method: str = "normal") -> np.ndarray:
    """Flat params ``[W.ravel(), b]`` minimizing ``model``'s objective on ``data``."""
    if method not in CLOSED_FORMS:
        raise UnknownNameError("least-squares method", method, CLOSED_FORMS)
    if method == "normal":
        gram = data.tree_sum(data.map(_normal_equations, data.X, data.y))
        return model.solve_gram(data.n_samples, *gram).ravel()
    R, QtY = _tsqr(model, data)
    theta = pinv_solve(R, QtY) if method == "pinv" else np.linalg.lstsq(R, QtY)[0]
    return theta.ravel()


def _normal_equations(X: np.ndarray, y: np.ndarray) -> tuple:
    return normal_equations(X, y.reshape(X.shape[0], -1).astype(np.float64, copy=False))


def _tsqr(model: LeastSquares, data: ClusterData) -> tuple[np.ndarray, np.ndarray]:
    """``R`` (d + 1, d + 1) and ``QᵀY`` of ``[X, 1] = Q R`` (ridge rows appended when
    ``reg > 0``), by ``dask.array.linalg.tsqr`` over the blocks."""
    import dask.array as da

    n, d = data.n_samples, data.n_features
    rows = data.rows
    Xh = da.concatenate(
        [
            da.from_delayed(block, (r, d + 1), dtype=np.float64)
            for block, r in zip(data.map(_bordered, data.X), rows, strict=True)
        ]
    )
    Y = da.concatenate(
        [
            da.from_delayed(b, (r, 1), dtype=np.float64)
            for b, r in zip(data.map(_column, data.y), rows, strict=True)
        ]
    )
    if model.reg > 0:
        ridge = np.sqrt(n * model.reg) * np.eye(d, d + 1)
        Xh = da.concatenate([Xh, da.from_array(ridge)])
        Y = da.concatenate([Y, da.zeros((d, 1))])
    Xh = Xh.rechunk({0: max(2 * (d + 1), max(Xh.chunks[0])), 1: -1})
    Y = Y.rechunk({0: Xh.chunks[0]})
    Q, R = da.linalg.tsqr(Xh)
    R, QtY = data.client.compute([R, Q.T @ Y], sync=True)
    return R, QtY


def _bordered(X: np.ndarray) -> np.ndarray:
    return np.column_stack([X, np.ones(X.shape[0])])


def _column(y: np.ndarray) -> np.ndarray:
    return y.reshape(-1, 1).astype(np.float64)
