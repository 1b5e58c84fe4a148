"""Least squares, iterative through any optimizer or in closed form.

``J = (1/N) ||X W + b - Y||^2 + reg ||W||^2``. The closed forms treat the bias as the
coefficient of an appended column of ones, ``xh = [x, 1]``, and penalize every
coefficient but that one, so they minimize the same ``J`` as the iterative path:

    (Xh^T Xh + N reg D) theta = Xh^T Y,   D = diag(1, ..., 1, 0)

Without an intercept (``fit_intercept=False``) ``Xh = X`` and the bias stays zero. The
solvers themselves live in ``linfit.linalg``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from linfit.linalg.design import RowDesign
from linfit.linalg.lsq import LeastSquaresFit, solve
from linfit.models.base import LinearModel
from linfit.models.blocks import scale_rows, weighted_mean

# every closed form by name (linfit.linalg.lsq.METHODS), the default first
CLOSED_FORMS: tuple[str, ...] = ("auto", "normal", "qr", "pinv", "lstsq")


@dataclass(frozen=True)
class LeastSquares(LinearModel):
    """Mean squared error, one or several outputs. Its Hessian is constant: ``(2/N) Xh^T Xh``."""

    name: ClassVar[str] = "least-squares"

    def predict(self, params: np.ndarray, X: np.ndarray) -> np.ndarray:
        return self.decision_function(params, X)

    def _loss_grad_scores(self, S, y, need_grad, weights=None):
        n = S.shape[0]
        S -= y.reshape(n, -1)
        if weights is None:
            loss = float(np.einsum("ij,ij->", S, S)) / n
        else:
            loss = weighted_mean(np.einsum("ij,ij->i", S, S), weights)
        return loss, (scale_rows(S, 2.0 / n, weights) if need_grad else None)

    def _curvature(self, S, y):
        return 2.0 / S.shape[0]

    def _apply_curvature(self, curvature, dS):
        return dS * curvature

    def solve(
        self,
        X: np.ndarray,
        y: np.ndarray,
        method: str = "auto",
        sample_weight: np.ndarray | None = None,
    ) -> np.ndarray:
        """Closed-form minimizer of ``J`` as flat params ``[W.ravel(), b]``; see
        ``solution`` for the methods."""
        return self.solution(X, y, method, sample_weight).params

    def solution(
        self,
        X: Any,
        y: np.ndarray,
        method: str = "auto",
        sample_weight: np.ndarray | None = None,
        exact: Any = None,
    ) -> LeastSquaresFit:
        """The closed-form minimizer of ``J`` by ``method``, with its rank, condition and
        estimated digits (``linfit.linalg.lsq``).

        auto: the normal equations refined in extended precision when the
            column-equilibrated problem is conditioned well enough, else qr.
        normal: Cholesky of ``Xh^T Xh + N reg D``, no refinement; handed to qr when it
            cannot deliver 10 digits.
        qr: column-equilibrated, column-pivoted QR, refined; minimum-norm when
            rank-deficient, with the dependencies among columns.
        pinv: ``V S+ U^T y`` from the SVD of the small R of a QR of ``Xh`` (numpy's
            cut-off); lstsq: LAPACK's ``gelsd``.
        ``X`` (n, d) is read a block of rows at a time, in memory or on disk; a small
        ``X`` in memory is factored whole. ``sample_weight`` (n,) multiplies each row's
        squared residual: weighted least squares, on rows scaled by its square root.
        ``exact`` maps rows of ``X`` to extended precision where columns are known more
        exactly than their float64 values (``linalg.powers.Powers``): refinement solves
        that problem.
        """
        n = X.shape[0]
        Y = y.reshape(n, -1).astype(np.float64, copy=False)
        design = RowDesign(X, Y, self.fit_intercept, sample_weight, exact)
        return solve(design, method, self.reg)
