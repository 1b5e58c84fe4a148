"""The scikit-learn classifiers: the linear SVM and softmax."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin

from linfit.models import LinearModel
from linfit.models import LinearSVM as _LinearSVMModel
from linfit.models import SoftmaxClassifier as _SoftmaxModel
from linfit.sklearn.base import LinfitEstimator

_SVM_LOSSES = {"hinge": "hinge", "squared_hinge": "squared_hinge", "squared-hinge": "squared_hinge"}


class _LinfitClassifier(ClassifierMixin, LinfitEstimator):
    _is_classifier = True

    def decision_function(self, X: Any) -> np.ndarray:
        """Scores (n_samples, n_classes); for two classes, (n_samples,) of class 1 minus 0."""
        X = self._validated(X)
        scores = self.trained_.decision_function(X)
        if scores.shape[1] == 2:
            return scores[:, 1] - scores[:, 0]
        return scores


class LinearSVMClassifier(_LinfitClassifier):
    """Multiclass linear SVM (linfit's ``svm`` model).

    Parameters:
        reg: L2 penalty ``reg * ||W||^2`` added to the mean loss.
        loss: ``"hinge"`` or ``"squared_hinge"`` (``"squared-hinge"`` also accepted).
        margin: the margin inside the hinge.
        multiclass: ``"weston-watkins"`` or ``"one-vs-rest"``.
        optimizer: a linfit optimizer name (``linfit.optim.OPTIMIZERS``); None for the
            model's default (BFGS for the hinge, L-BFGS for the squared hinge).
        max_iter, tol: the optimizer's iteration cap (None: its own, 1000, or 10 epochs
            for ``sgd``) and gradient tolerance.
        standardize: train on standardized features (coefficients are reported raw).
        random_state: seeds ``sgd``'s shuffles (an int, a ``RandomState``, or None for
            numpy's global state); the other optimizers draw nothing and ignore it.
        fit_intercept: False holds the bias at zero (features scaled, not centred).
        class_weight: None (every class weighs 1), ``"balanced"`` (each class weighs
            ``n_samples / (n_classes * its count)``), or a dict from labels to weights
            (classes it leaves out weigh 1); it multiplies ``fit``'s ``sample_weight``.
        warm_start: when True and already fitted, ``fit`` starts the iterative optimizers
            from the previous fit's coefficients (``init=trained_`` in ``linfit.fit``); it
            needs the same features and classes, else ``ValueError``.
    """

    model_name = "svm"

    def __init__(
        self,
        reg: float = 1e-4,
        loss: str = "hinge",
        margin: float = 1.0,
        multiclass: str = "weston-watkins",
        optimizer: str | None = None,
        max_iter: int | None = None,
        tol: float = 1e-6,
        standardize: bool = True,
        random_state: int | np.random.RandomState | None = None,
        fit_intercept: bool = True,
        class_weight: str | dict[Any, float] | None = None,
        warm_start: bool = False,
    ) -> None:
        self.reg = reg
        self.fit_intercept = fit_intercept
        self.loss = loss
        self.margin = margin
        self.multiclass = multiclass
        self.optimizer = optimizer
        self.max_iter = max_iter
        self.tol = tol
        self.standardize = standardize
        self.random_state = random_state
        self.class_weight = class_weight
        self.warm_start = warm_start

    def _make_model(self) -> LinearModel:
        if self.loss not in _SVM_LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; choose hinge or squared_hinge")
        return _LinearSVMModel(
            reg=self.reg,
            fit_intercept=self.fit_intercept,
            margin=self.margin,
            variant=_SVM_LOSSES[self.loss],  # type: ignore[arg-type]
            multiclass=self.multiclass,  # type: ignore[arg-type]
        )

    @classmethod
    def _params_from_file(cls, hyperparams: dict[str, Any], optimizer: str) -> dict[str, Any]:
        params = super()._params_from_file(hyperparams, optimizer)
        params["loss"] = hyperparams.get("variant", "hinge")
        for key in ("margin", "multiclass"):
            if key in hyperparams:
                params[key] = hyperparams[key]
        return params


class SoftmaxClassifier(_LinfitClassifier):
    """Softmax (multinomial logistic) classifier: mean cross-entropy + ``reg * ||W||^2``.

    Equivalent to scikit-learn's ``LogisticRegression(C=1 / (2 * n_samples * reg))`` on
    the same (standardized) features, and with ``class_weight`` and ``sample_weight`` to
    its with the same weights. Parameters as :class:`LinearSVMClassifier` (no ``loss``,
    ``margin`` or ``multiclass``); ``optimizer`` None means L-BFGS.
    """

    model_name = "softmax"

    def __init__(
        self,
        reg: float = 1e-4,
        optimizer: str | None = None,
        max_iter: int | None = None,
        tol: float = 1e-6,
        standardize: bool = True,
        random_state: int | np.random.RandomState | None = None,
        fit_intercept: bool = True,
        class_weight: str | dict[Any, float] | None = None,
        warm_start: bool = False,
    ) -> None:
        self.reg = reg
        self.fit_intercept = fit_intercept
        self.optimizer = optimizer
        self.max_iter = max_iter
        self.tol = tol
        self.standardize = standardize
        self.random_state = random_state
        self.class_weight = class_weight
        self.warm_start = warm_start

    def _make_model(self) -> LinearModel:
        return _SoftmaxModel(reg=self.reg, fit_intercept=self.fit_intercept)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (n_samples, n_classes), columns in the order of ``classes_``."""
        X = self._validated(X)
        return self.trained_.predict_proba(X)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Log of ``predict_proba``: (n_samples, n_classes)."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))
