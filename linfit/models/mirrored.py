"""A binary classifier solved on one score column instead of two.

Every linfit classifier scores K = 2 classes with two columns, ``W = [w_0, w_1]`` and
``b = [b_0, b_1]``, and each one's objective is unchanged by the swap
``(W, b) -> (-W[:, ::-1], -b[::-1])``: softmax and Weston-Watkins see only ``s_1 - s_0``,
and one-vs-rest's two columns are the same problem with the labels' signs flipped. A
convex objective unchanged by that swap has a minimum on the mirror ``w_1 = -w_0``,
``b_1 = -b_0`` (the average of any minimum and its swap is one). So the fit can search
that half of the space only: scores ``[s, -s]`` from one product ``X @ w`` and gradients
from one product ``X.T @ (g_0 - g_1)``, half the passes' arithmetic on every engine.

``Mirrored`` minimizes half the objective on the mirror, ``phi(u) = f(u, -u) / 2``, so that
``grad phi = g_0`` (the full gradient is ``[g_0, -g_0]`` there): ``gtol`` bounds the same
number, and every optimizer's steps are the full problem's steps from a mirrored start.
``unfold`` maps its result back to the classifier's two columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from linfit.models.base import LinearModel


def mirrors(model: LinearModel, n_outputs: int) -> bool:
    """Whether ``model`` with ``n_outputs`` score columns can be fitted as ``Mirrored``: a
    convex classifier of two classes."""
    return model.is_classifier and model.convex and n_outputs == 2


def fold(params: np.ndarray, n_features: int) -> np.ndarray:
    """Two-column ``params`` ((n_features + 1) * 2,) to the nearest point of the mirror,
    ``u = (theta_0 - theta_1) / 2`` ((n_features + 1),), flat as one column."""
    W, b = LinearModel.unpack(params, n_features)
    return LinearModel.pack((W[:, :1] - W[:, 1:]) / 2, (b[:1] - b[1:]) / 2)


def unfold(half: np.ndarray, n_features: int) -> np.ndarray:
    """One-column ``half`` ((n_features + 1),) to the classifier's ``[u, -u]`` columns."""
    W, b = LinearModel.unpack(half, n_features)
    return LinearModel.pack(np.hstack([W, -W]), np.concatenate([b, -b]))


def _both(S: np.ndarray) -> np.ndarray:
    """Scores (n, 1) to the two columns ``[s, -s]`` (n, 2), in ``S``'s dtype."""
    return np.hstack([S, -S])


def _halved_difference(G: np.ndarray) -> np.ndarray:
    """``(G[:, 0] - G[:, 1]) / 2`` as (n, 1): the chain rule through ``[s, -s]``, halved."""
    D = G[:, :1] - G[:, 1:]
    D *= 0.5
    return D


@dataclass(frozen=True)
class Mirrored(LinearModel):
    """``inner``, a classifier of two classes, on one score column (see the module):
    params ``[u, c]`` of size n_features + 1 stand for ``W = [u, -u]``, ``b = [c, -c]``,
    and the objective is half of ``inner``'s there. ``reg`` and ``fit_intercept`` are
    ``inner``'s (half of ``reg (|u|^2 + |-u|^2)`` is ``reg |u|^2``)."""

    inner: Any = None  # LinearModel; Any keeps the dataclass field free of a forward cycle

    @classmethod
    def of(cls, inner: LinearModel) -> Mirrored:
        return cls(reg=inner.reg, fit_intercept=inner.fit_intercept, inner=inner)

    # the inner model's capabilities, which are class flags (or properties) there
    @property
    def name(self) -> str:  # type: ignore[override]
        return self.inner.name

    @property
    def is_classifier(self) -> bool:  # type: ignore[override]
        return True

    @property
    def differentiable(self) -> bool:  # type: ignore[override]
        return self.inner.differentiable

    @property
    def has_hessian(self) -> bool:  # type: ignore[override]
        return self.inner.has_hessian

    @property
    def convex(self) -> bool:  # type: ignore[override]
        return self.inner.convex

    @property
    def default_optimizer(self) -> str:  # type: ignore[override]
        return self.inner.default_optimizer

    @property
    def native_scores(self) -> bool:  # type: ignore[override]
        return self.inner.native_scores

    def describe(self) -> str:
        return self.inner.describe()

    def n_outputs(self, y: np.ndarray) -> int:
        return 1

    def initial_params(
        self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> np.ndarray:
        return fold(self.inner.initial_params(X, y, sample_weight), X.shape[1])

    def predict(self, params: np.ndarray, X: np.ndarray) -> np.ndarray:
        return self.inner.predict(unfold(params, X.shape[1]), X)

    def _loss_grad_scores(self, S, y, need_grad, weights=None):
        loss, G = self.inner._loss_grad_scores(_both(S), y, need_grad, weights)
        return 0.5 * loss, None if G is None else _halved_difference(G)

    def _curvature(self, S: np.ndarray, y: np.ndarray) -> object:
        return self.inner._curvature(_both(S), y)

    def _apply_curvature(self, curvature: object, dS: np.ndarray) -> np.ndarray:
        return _halved_difference(self.inner._apply_curvature(curvature, _both(dS)))

    def kink_pattern(self, params: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray | None:
        return self.inner.kink_pattern(unfold(params, X.shape[1]), X, y)

    def check_solution(self, params: np.ndarray, X: np.ndarray, y: np.ndarray) -> None:
        self.inner.check_solution(unfold(params, X.shape[1]), X, y)


def separable(model: LinearModel, n_outputs: int) -> bool:
    """Whether ``model``'s ``n_outputs`` > 2 score columns are independent problems: a
    one-vs-rest classifier, whose objective is a sum of one binary problem per class
    (each class's loss and penalty read its own column only)."""
    return model.is_classifier and getattr(model, "one_vs_rest", False) and n_outputs > 2


@dataclass(frozen=True)
class ClassColumn(Mirrored):
    """Class ``k`` of the one-vs-rest classifier ``inner`` (see ``separable``) as a binary
    problem on one column: params ``[w_k, b_k]`` (n_features + 1,). Its objective is
    class k's term of ``inner``'s, ``(1/n) sum_i h(margin - t_ik s_ik) + reg |w_k|^2``:
    the mirror of ``inner`` on two classes, k (code 0, whose column the mirror keeps)
    against the rest (code 1). Labels ``y`` are ``inner``'s class codes (n,)."""

    k: int = 0

    @classmethod
    def of_class(cls, inner: LinearModel, k: int) -> ClassColumn:
        return cls(reg=inner.reg, fit_intercept=inner.fit_intercept, inner=inner, k=k)

    def _binary(self, y: np.ndarray) -> np.ndarray:
        """Class codes (n,) to class k's binary codes: 0 for k, 1 for the rest."""
        return (np.asarray(y) != self.k).astype(np.intp)

    def initial_params(
        self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> np.ndarray:
        return super().initial_params(X, self._binary(y), sample_weight)

    def _loss_grad_scores(self, S, y, need_grad, weights=None):
        return super()._loss_grad_scores(S, self._binary(y), need_grad, weights)

    def _curvature(self, S: np.ndarray, y: np.ndarray) -> object:
        return super()._curvature(S, self._binary(y))

    def kink_pattern(self, params: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray | None:
        return super().kink_pattern(params, X, self._binary(y))

    def check_solution(self, params: np.ndarray, X: np.ndarray, y: np.ndarray) -> None:
        super().check_solution(params, X, self._binary(y))
