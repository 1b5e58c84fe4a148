"""Least squares in closed form on a cluster: the rows of the design stay on the workers,
each pass of ``linfit.linalg``'s solvers runs there block by block, and only (p + K)-sized
pieces (sums, triangles) reach the client.

:class:`ClusterDesign` is the :class:`~linfit.linalg.design.Design` of a
:class:`~linfit.engines.dask_blocks.ClusterData`; ``solve_on_cluster`` is
``LeastSquares.solution`` for it, the same methods and the same report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from linfit.engines.dask_blocks import ClusterData
from linfit.linalg.gram import gram_rhs, normal_equations
from linfit.linalg.lsq import LeastSquaresFit, solve
from linfit.linalg.qr import qr_r, tsqr
from linfit.models import LeastSquares


@dataclass(frozen=True)
class ClusterDesign:
    """``Xh = [X, 1]`` (or ``X``) and ``Y`` as the cluster's row blocks."""

    data: ClusterData
    intercept: bool = True

    @property
    def n(self) -> int:
        return self.data.n_samples

    @property
    def d(self) -> int:
        return self.data.n_features

    @property
    def K(self) -> int:
        return 1

    @property
    def blocks(self) -> int:
        return len(self.data.rows)

    def gram(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        A, XtY, Ysum, YtY = self.data.tree_sum(
            self.data.map(_gram_block, self.data.X, self.data.y, intercept=self.intercept)
        )
        return A, gram_rhs(XtY, Ysum, self.intercept), YtY

    def triangle(self) -> np.ndarray:
        parts = self.data.map(_triangle_block, self.data.X, self.data.y, intercept=self.intercept)
        triangles = self.data.client.gather(parts)
        return qr_r(np.asfortranarray(np.vstack(triangles)))

    def reduce(self, fn: Callable[[np.ndarray, np.ndarray], Any]) -> Any:
        parts = self.data.map(
            _reduce_block, self.data.X, self.data.y, reduce=fn, intercept=self.intercept
        )
        return self.data.tree_sum(parts)

    def explicit(self) -> None:
        return None


def solve_on_cluster(
    model: LeastSquares, data: ClusterData, method: str = "auto"
) -> LeastSquaresFit:
    """``model``'s least-squares fit on ``data`` by ``method``."""
    return solve(ClusterDesign(data, model.fit_intercept), method, model.reg)


def _targets(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    return y.reshape(X.shape[0], -1).astype(np.float64, copy=False)


def _gram_block(X: np.ndarray, y: np.ndarray, intercept: bool) -> tuple:
    Y = _targets(X, y)
    return (*normal_equations(X, Y, intercept), np.einsum("ik,ik->k", Y, Y))


def _triangle_block(X: np.ndarray, y: np.ndarray, intercept: bool) -> np.ndarray:
    return tsqr(X, _targets(X, y), intercept)


def _reduce_block(X: np.ndarray, y: np.ndarray, reduce: Callable, intercept: bool) -> Any:
    Xh = np.asarray(X, dtype=np.float64)
    if intercept:
        Xh = np.hstack([Xh, np.ones((Xh.shape[0], 1))])
    return reduce(Xh, _targets(X, y))
