"""A one-output regressor through a ReLU: ``yhat = max(0, w.x + b)``."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from linfit.models.base import LinearModel
from linfit.models.blocks import per_row, weighted_mean
from linfit.models.least_squares import LeastSquares


class DeadReLUWarning(UserWarning):
    """Every sample sits on the flat side of the ReLU: the gradient of the data term is zero."""


@dataclass(frozen=True)
class ReLURegressor(LinearModel):
    """``J = (1/N) sum_i (y_i - max(0, z_i))^2 + reg ||w||^2`` with ``z_i = w.x_i + b``.

    The indicator belongs to each sample:
    ``dJ/dw = (2/N) sum_i 1[z_i > 0] (z_i - y_i) x_i + 2 reg w``; an inactive sample adds
    ``y_i^2`` to the loss and nothing to the gradient. Not convex. On the active set
    ``z`` is linear, so the Gauss-Newton matrix ``(2/N) sum_active xh xh^T`` is the exact
    Hessian wherever no sample sits at ``z = 0``; that is what Newton uses.
    """

    name: ClassVar[str] = "relu"
    differentiable: ClassVar[bool] = False
    convex: ClassVar[bool] = False

    def n_outputs(self, y: np.ndarray) -> int:
        return 1

    def initial_params(
        self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> np.ndarray:
        """The (weighted) least-squares solution: a start on the live side for most targets."""
        params = LeastSquares(reg=max(self.reg, 1e-8)).solve(X, y, "lstsq", sample_weight)
        self._warn_if_dead(params, X, y, "at the least-squares start")
        return params

    def check_solution(self, params: np.ndarray, X: np.ndarray, y: np.ndarray) -> None:
        self._warn_if_dead(params, X, y, "after training")

    def _warn_if_dead(self, params: np.ndarray, X: np.ndarray, y: np.ndarray, when: str) -> None:
        if not self.kink_pattern(params, X, y).any():
            warnings.warn(
                f"every sample is inactive {when} (w.x + b <= 0 for all rows): the ReLU "
                "predicts 0 and its gradient is zero; check the target's sign or lower `reg`",
                DeadReLUWarning,
                stacklevel=3,
            )

    def predict(self, params: np.ndarray, X: np.ndarray) -> np.ndarray:
        return np.maximum(self.decision_function(params, X), 0.0)

    def _loss_grad_scores(self, S, y, need_grad, weights=None):
        n = S.shape[0]
        z = S[:, 0]
        active = z > 0
        residual = np.where(active, z, 0.0) - y.reshape(n)
        loss = (
            weighted_mean(residual * residual, weights)
            if weights is not None
            else float(residual @ residual) / n
        )
        if not need_grad:
            return loss, None
        G = residual * active * per_row(2.0 / n, weights)
        return loss, G[:, None].astype(S.dtype, copy=False)

    def _curvature(self, S, y):
        return ((S[:, 0] > 0) * (2.0 / S.shape[0]))[:, None]

    def _apply_curvature(self, curvature, dS):
        return dS * curvature

    def kink_pattern(self, params, X, y):
        return self.decision_function(params, X)[:, 0] > 0
