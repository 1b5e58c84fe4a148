"""Multiclass linear SVM, Weston-Watkins form (the notes' loss, margin inside the max)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np

from linfit.errors import OptionError
from linfit.models.base import LinearModel, row_sums


@dataclass(frozen=True)
class LinearSVM(LinearModel):
    """``L_i = sum_{j != y_i} h(s_j - s_{y_i} + margin)`` with ``h(t) = max(0, t)`` (hinge)
    or ``max(0, t)^2`` (squared hinge).

    The plain hinge is not differentiable at its kinks, so it has a subgradient and no
    Hessian. The squared hinge is differentiable with a generalized Hessian (exact
    wherever no term sits at its kink), which is what lets Newton train it, as
    LIBLINEAR's trust-region Newton does for L2-loss SVMs.
    """

    margin: float = 1.0
    variant: Literal["hinge", "squared_hinge"] = "hinge"

    name: ClassVar[str] = "svm"
    is_classifier: ClassVar[bool] = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.variant not in ("hinge", "squared_hinge"):
            raise OptionError(f"unknown SVM loss {self.variant!r}; choose hinge or squared_hinge")
        if not (np.isfinite(self.margin) and self.margin > 0):
            raise OptionError(f"--margin must be a positive number, got {self.margin}")

    @property
    def differentiable(self) -> bool:  # type: ignore[override]
        return self.variant == "squared_hinge"

    @property
    def has_hessian(self) -> bool:  # type: ignore[override]
        return self.variant == "squared_hinge"

    @property
    def default_optimizer(self) -> str:  # type: ignore[override]
        # On the plain hinge, full BFGS with a weak-Wolfe search reaches the exact QP optimum
        # to ~1e-9 where L-BFGS's short memory stalls 1e-5 to 1e-3 above it (tests/test_models).
        return "lbfgs" if self.has_hessian else "bfgs"

    def describe(self) -> str:
        return f"svm ({self.variant.replace('_', ' ')})"

    def predict(self, params: np.ndarray, X: np.ndarray) -> np.ndarray:
        return np.argmax(self.decision_function(params, X), axis=1)

    def _margins(self, S: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``S_ij - S_iy_i + margin``, zero in the true-class column; overwrites ``S``."""
        rows = np.arange(S.shape[0])
        S -= (S[rows, y] - self.margin)[:, None]  # one pass: shift and margin together
        S[rows, y] = 0.0
        return S

    def _loss_grad_scores(self, S, y, need_grad):
        n = S.shape[0]
        M = np.maximum(self._margins(S, y), 0.0, out=S)
        squared = self.variant == "squared_hinge"
        loss = (float(np.einsum("ij,ij->", M, M)) if squared else float(M.sum())) / n
        G = None
        if need_grad:  # in place: M is not needed again
            G = M if squared else np.greater(M, 0.0, out=M)  # the indicators, as 0.0 / 1.0
            G *= (2.0 if squared else 1.0) / n
        if G is not None:
            # the true class collects minus the sum of the others (its own column is 0)
            G[np.arange(n), y] = -row_sums(G)
        return loss, G

    def _curvature(self, S, y):
        active = self._margins(S, y) > 0
        return active.astype(S.dtype) * (2.0 / S.shape[0]), y

    def _apply_curvature(self, curvature, dS):
        weight, y = curvature
        rows = np.arange(dS.shape[0])
        D = weight * (dS - dS[rows, y][:, None])
        D[rows, y] = -row_sums(D)
        return D

    def kink_pattern(self, params, X, y):
        return self._margins(self.decision_function(params, X), y) > 0
