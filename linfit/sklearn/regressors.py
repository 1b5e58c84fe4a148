"""The scikit-learn regressors: least squares (optimizers or closed forms) and the ReLU."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.utils import Tags

from linfit.models import LeastSquares as _LeastSquaresModel
from linfit.models import LinearModel
from linfit.models import ReLURegressor as _ReLUModel
from linfit.sklearn.base import LinfitEstimator


class LeastSquaresRegressor(RegressorMixin, LinfitEstimator):
    """Ridge-penalized least squares: ``(1/N) ||X W + b - Y||^2 + reg ||W||^2``.

    Parameters:
        reg: the L2 penalty (the bias is not penalized).
        method: a linfit optimizer name (default ``"lbfgs"``), or a closed form:
            ``"auto"``, ``"normal"`` (Cholesky), ``"qr"``, ``"pinv"`` or ``"lstsq"``
            (see ``linfit.linalg.lsq``); a closed form ignores
            ``max_iter`` and ``tol`` and sets ``n_iter_ = 1`` (one solve).
        max_iter, tol, standardize, random_state, fit_intercept, warm_start: as
            :class:`LinearSVMClassifier` (a closed form ignores ``warm_start``).

    ``y`` may be (n_samples,) or (n_samples, n_targets).
    """

    model_name = "least-squares"
    _multi_output = True
    _parameters: ClassVar[dict[str, str]] = {"solver": "method", "gtol": "tol"}

    def __init__(
        self,
        reg: float = 1e-4,
        method: str = "lbfgs",
        max_iter: int | None = None,
        tol: float = 1e-6,
        standardize: bool = True,
        random_state: int | np.random.RandomState | None = None,
        fit_intercept: bool = True,
        warm_start: bool = False,
    ) -> None:
        self.reg = reg
        self.fit_intercept = fit_intercept
        self.method = method
        self.max_iter = max_iter
        self.tol = tol
        self.standardize = standardize
        self.random_state = random_state
        self.warm_start = warm_start

    def _make_model(self) -> LinearModel:
        return _LeastSquaresModel(reg=self.reg, fit_intercept=self.fit_intercept)

    def _optimizer_name(self) -> str | None:
        return self.method

    @classmethod
    def _params_from_file(cls, hyperparams: dict[str, Any], optimizer: str) -> dict[str, Any]:
        params = super()._params_from_file(hyperparams, optimizer)
        params["method"] = params.pop("optimizer")
        return params


class ReLURegressor(RegressorMixin, LinfitEstimator):
    """One-output regression through a ReLU, ``yhat = max(0, w.x + b)`` (not convex).

    Parameters as :class:`LinearSVMClassifier` but ``loss``, ``margin``, ``multiclass``
    and ``class_weight``; ``optimizer`` None means L-BFGS. It cannot
    predict negative values, so its ``score`` on targets of both signs is poor by design.
    """

    model_name = "relu"

    def _make_model(self) -> LinearModel:
        return _ReLUModel(reg=self.reg, fit_intercept=self.fit_intercept)

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.regressor_tags.poor_score = True  # no negative predictions
        return tags
