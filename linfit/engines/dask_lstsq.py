"""Least squares in closed form on a cluster: the rows of the design stay on the workers,
each pass of ``linfit.linalg``'s solvers runs there block by block, and only (p + K)-sized
pieces (sums, triangles) reach the client.

:class:`ClusterDesign` is the :class:`~linfit.linalg.design.Design` of a
:class:`~linfit.engines.dask_blocks.ClusterData`; ``solve_on_cluster`` is
``LeastSquares.solution`` for it, the same methods and the same report. Weighed rows
are solved as :class:`~linfit.linalg.design.RowDesign` solves them: each block's rows
``[x_i, 1]`` and ``y_i`` times the square root of their multiplier, on its worker, so
every solver sees an ordinary least-squares problem.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from linfit.engines.dask_blocks import ClusterData
from linfit.linalg.design import EXTENDED, RowDesign
from linfit.linalg.lsq import LeastSquaresFit, solve
from linfit.linalg.qr import qr_r
from linfit.models import LeastSquares


@dataclass(frozen=True)
class ClusterDesign:
    """``Xh = [X, 1]`` (or ``X``) and ``Y`` as the cluster's row blocks, each row scaled
    by the square root of its multiplier when ``data`` weighs them."""

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
        return self.data.tree_sum(self._map(_gram_block))

    def triangle(self) -> np.ndarray:
        triangles = self.data.client.gather(self._map(_triangle_block))
        return qr_r(np.asfortranarray(np.vstack(triangles)))

    def reduce(self, fn: Callable[[np.ndarray, np.ndarray], Any], extended: bool = False) -> Any:
        if extended:  # the blocks' values cast: no column on the cluster is known exactly
            return self.data.tree_sum(self._map(_reduce_block, reduce=partial(_cast, fn)))
        return self.data.tree_sum(self._map(_reduce_block, reduce=fn))

    def explicit(self, extended: bool = False) -> None:
        return None

    def _map(self, fn: Callable, **kwargs: Any) -> list:
        """``fn(X_b, y_b, w_b, intercept=..., **kwargs)`` on every block: futures."""
        data = self.data
        return data.map(
            fn, data.X, data.y, data.row_weight_blocks, intercept=self.intercept, **kwargs
        )


def solve_on_cluster(
    model: LeastSquares, data: ClusterData, method: str = "auto"
) -> LeastSquaresFit:
    """``model``'s least-squares fit on ``data`` by ``method``."""
    return solve(ClusterDesign(data, model.fit_intercept), method, model.reg)


# Each block's pieces: ``X`` (m, d), ``y`` (m,) or (m, K), and its rows' multipliers
# ``w`` (m,) or None; ``r = sqrt(w)`` scales the rows, as ``RowDesign`` scales them.


def _targets(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    return y.reshape(X.shape[0], -1).astype(np.float64, copy=False)


def _gram_block(X: np.ndarray, y: np.ndarray, w: np.ndarray | None, intercept: bool) -> tuple:
    return RowDesign(X, _targets(X, y), intercept, w).gram()


def _triangle_block(
    X: np.ndarray, y: np.ndarray, w: np.ndarray | None, intercept: bool
) -> np.ndarray:
    return RowDesign(X, _targets(X, y), intercept, w).triangle()


def _reduce_block(
    X: np.ndarray, y: np.ndarray, w: np.ndarray | None, reduce: Callable, intercept: bool
) -> Any:
    Xh, Y, r = np.asarray(X, dtype=np.float64), _targets(X, y), None if w is None else np.sqrt(w)
    if intercept:
        Xh = np.hstack([Xh, np.ones((Xh.shape[0], 1))])
    if r is not None:
        Xh, Y = Xh * r[:, None], Y * r[:, None]
    return reduce(Xh, Y)


def _cast(fn: Callable[[np.ndarray, np.ndarray], Any], Xh: np.ndarray, Y: np.ndarray) -> Any:
    """``fn`` on a block's rows in extended precision."""
    return fn(Xh.astype(EXTENDED), Y.astype(EXTENDED))
