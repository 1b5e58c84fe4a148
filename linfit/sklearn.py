"""scikit-learn estimators on linfit's own models and optimizers.

Each estimator trains through ``linfit.fit`` (the code path ``linfit train``
uses) and keeps the resulting ``TrainedModel`` as ``trained_``, so it saves to, and
loads from, the same ``.linfit`` files as the command line::

    from linfit.sklearn import SoftmaxClassifier, load
    clf = SoftmaxClassifier(reg=1e-3).fit(X, y)   # X (n_samples, n_features), y (n_samples,)
    clf.save("model.linfit")                      # readable by `linfit predict`
    clf = load("model.linfit")                    # also reads files from `linfit train`

Fitted attributes follow scikit-learn, in the raw features' units (standardization
undone): ``coef_`` is (n_classes, n_features) for a multiclass classifier, (1, n_features)
for a binary one (scores of ``classes_[1]`` minus ``classes_[0]``), (n_features,) for a
single-output regressor and (n_targets, n_features) for a multi-output least squares;
``intercept_`` is (n_classes,), (1,), a float, or (n_targets,) accordingly.

linfit's ``ConvergenceWarning`` is re-emitted as ``sklearn.exceptions.ConvergenceWarning``,
and linfit's own errors about the data or options are raised as ``ValueError``.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning
from sklearn.utils import Tags
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, check_random_state, validate_data

from linfit.errors import ConvergenceWarning, LinfitError
from linfit.fitting import TrainedModel, fit
from linfit.models import LeastSquares as _LeastSquaresModel
from linfit.models import LinearModel
from linfit.models import LinearSVM as _LinearSVMModel
from linfit.models import ReLURegressor as _ReLUModel
from linfit.models import SoftmaxClassifier as _SoftmaxModel
from linfit.optim import OPTIMIZERS
from linfit.storage import persist

__all__ = [
    "LeastSquaresRegressor",
    "LinearSVMClassifier",
    "ReLURegressor",
    "SoftmaxClassifier",
    "load",
]

_SVM_LOSSES = {"hinge": "hinge", "squared_hinge": "squared_hinge", "squared-hinge": "squared_hinge"}


def _default_names(n_features: int) -> tuple[str, ...]:
    return tuple(f"x{i}" for i in range(n_features))


def _target_name(feature_names: tuple[str, ...]) -> str:
    """'target', or a variant of it that is not a feature name (model files require that)."""
    name = "target"
    while name in feature_names:
        name += "_"
    return name


def _reemit(caught: list[warnings.WarningMessage]) -> None:
    """Warn again what ``fit`` warned, linfit's ConvergenceWarning as scikit-learn's."""
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            warnings.warn(str(w.message), SklearnConvergenceWarning, stacklevel=3)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


class _LinfitEstimator(BaseEstimator):
    """Shared fitting, prediction and persistence; subclasses say which model to build."""

    _model_name: ClassVar[str]
    _is_classifier: ClassVar[bool] = False
    _multi_output: ClassVar[bool] = False

    # -- subclass hooks -----------------------------------------------------------------
    def _make_model(self) -> LinearModel:
        raise NotImplementedError

    def _optimizer_name(self) -> str | None:
        return getattr(self, "optimizer", None)

    @classmethod
    def _params_from_file(cls, hyperparams: dict[str, Any], optimizer: str) -> dict[str, Any]:
        return {"reg": hyperparams.get("reg", 1e-4), "optimizer": optimizer}

    # -- fitting ------------------------------------------------------------------------
    def fit(self, X: Any, y: Any) -> _LinfitEstimator:
        """Train on ``X`` (n_samples, n_features) and ``y`` (n_samples,) and return self.

        Least squares also takes ``y`` (n_samples, n_targets).
        """
        X, y = validate_data(
            self,
            X,
            y,
            dtype=np.float64,
            y_numeric=not self._is_classifier,
            multi_output=self._multi_output,
        )
        if self._is_classifier:
            check_classification_targets(y)
            if np.unique(y).size < 2:
                raise ValueError(
                    f"{type(self).__name__} needs samples of at least 2 classes; "
                    f"the data has one class ({y[0]!r})"
                )
        names = (
            tuple(str(n) for n in self.feature_names_in_)
            if hasattr(self, "feature_names_in_")
            else _default_names(X.shape[1])
        )
        try:
            model = self._make_model()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                trained, n_iter = self._train(model, X, y, names)
        except LinfitError as err:
            raise ValueError(str(err)) from err
        _reemit(caught)
        self._set_fitted(trained, n_iter, y_ndim=y.ndim)
        return self

    def _train(
        self, model: LinearModel, X: np.ndarray, y: np.ndarray, names: tuple[str, ...]
    ) -> tuple[TrainedModel, int]:
        trained = fit(
            model,
            X,
            y,
            solver=self._optimizer_name(),
            standardize=self.standardize,
            feature_names=names,
            target_name=_target_name(names),
            gtol=self.tol,
            max_iter=self.max_iter,
            seed=_seed(self.random_state, self._optimizer_name()),
        )
        return trained, int(trained.result.nit)

    def _set_fitted(self, trained: TrainedModel, n_iter: int, *, y_ndim: int = 1) -> None:
        self.trained_ = trained
        self.n_iter_ = n_iter
        self._y_ndim = y_ndim
        W, b = trained.coefficients()  # (n_features, K), (K,)
        if trained.classes is not None:
            self.classes_ = trained.classes
            if trained.classes.size == 2:
                self.coef_ = (W[:, 1] - W[:, 0])[None, :]
                self.intercept_ = np.array([b[1] - b[0]])
            else:
                self.coef_ = np.ascontiguousarray(W.T)
                self.intercept_ = b
        elif W.shape[1] == 1 and y_ndim == 1:
            self.coef_ = W[:, 0].copy()
            self.intercept_ = float(b[0])
        else:
            self.coef_ = np.ascontiguousarray(W.T)
            self.intercept_ = b

    # -- prediction ---------------------------------------------------------------------
    def _validated(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "trained_")
        return validate_data(self, X, dtype=np.float64, reset=False)

    def predict(self, X: Any) -> np.ndarray:
        """Class labels (n_samples,), or values (n_samples,) / (n_samples, n_targets)."""
        X = self._validated(X)
        out = self.trained_.predict(X)
        if out.ndim == 1 and getattr(self, "_y_ndim", 1) == 2:
            out = out[:, None]
        return out

    # -- persistence --------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the fitted model to ``path`` in linfit's model-file format."""
        check_is_fitted(self, "trained_")
        persist.save(self.trained_, path)

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = self._multi_output
        tags.target_tags.single_output = True
        return tags


class _LinfitClassifier(ClassifierMixin, _LinfitEstimator):
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
    """

    _model_name = "svm"

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
    ) -> None:
        self.reg = reg
        self.loss = loss
        self.margin = margin
        self.multiclass = multiclass
        self.optimizer = optimizer
        self.max_iter = max_iter
        self.tol = tol
        self.standardize = standardize
        self.random_state = random_state

    def _make_model(self) -> LinearModel:
        if self.loss not in _SVM_LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; choose hinge or squared_hinge")
        return _LinearSVMModel(
            reg=self.reg,
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
    the same (standardized) features. Parameters as :class:`LinearSVMClassifier`.
    """

    _model_name = "softmax"

    def __init__(
        self,
        reg: float = 1e-4,
        optimizer: str | None = None,
        max_iter: int | None = None,
        tol: float = 1e-6,
        standardize: bool = True,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.reg = reg
        self.optimizer = optimizer
        self.max_iter = max_iter
        self.tol = tol
        self.standardize = standardize
        self.random_state = random_state

    def _make_model(self) -> LinearModel:
        return _SoftmaxModel(reg=self.reg)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (n_samples, n_classes), columns in the order of ``classes_``."""
        X = self._validated(X)
        return self.trained_.predict_proba(X)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Log of ``predict_proba``: (n_samples, n_classes)."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))


class LeastSquaresRegressor(RegressorMixin, _LinfitEstimator):
    """Ridge-penalized least squares: ``(1/N) ||X W + b - Y||^2 + reg ||W||^2``.

    Parameters:
        reg: the L2 penalty (the bias is not penalized).
        method: a linfit optimizer name (default ``"lbfgs"``), or a closed form:
            ``"normal"`` (Cholesky), ``"pinv"`` or ``"lstsq"``; a closed form ignores
            ``max_iter`` and ``tol`` and sets ``n_iter_ = 1`` (one solve).
        max_iter, tol, standardize, random_state: as :class:`LinearSVMClassifier`.

    ``y`` may be (n_samples,) or (n_samples, n_targets).
    """

    _model_name = "least-squares"
    _multi_output = True

    def __init__(
        self,
        reg: float = 1e-4,
        method: str = "lbfgs",
        max_iter: int | None = None,
        tol: float = 1e-6,
        standardize: bool = True,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.reg = reg
        self.method = method
        self.max_iter = max_iter
        self.tol = tol
        self.standardize = standardize
        self.random_state = random_state

    def _make_model(self) -> LinearModel:
        return _LeastSquaresModel(reg=self.reg)

    def _optimizer_name(self) -> str | None:
        return self.method

    @classmethod
    def _params_from_file(cls, hyperparams: dict[str, Any], optimizer: str) -> dict[str, Any]:
        return {"reg": hyperparams.get("reg", 1e-4), "method": optimizer}


class ReLURegressor(RegressorMixin, _LinfitEstimator):
    """One-output regression through a ReLU, ``yhat = max(0, w.x + b)`` (not convex).

    Parameters as :class:`LinearSVMClassifier`; ``optimizer`` None means L-BFGS. It cannot
    predict negative values, so its ``score`` on targets of both signs is poor by design.
    """

    _model_name = "relu"

    def __init__(
        self,
        reg: float = 1e-4,
        optimizer: str | None = None,
        max_iter: int | None = None,
        tol: float = 1e-6,
        standardize: bool = True,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.reg = reg
        self.optimizer = optimizer
        self.max_iter = max_iter
        self.tol = tol
        self.standardize = standardize
        self.random_state = random_state

    def _make_model(self) -> LinearModel:
        return _ReLUModel(reg=self.reg)

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.regressor_tags.poor_score = True  # no negative predictions
        return tags


def _seed(random_state: int | np.random.RandomState | None, optimizer: str | None) -> int:
    """The seed for a stochastic ``optimizer`` from a scikit-learn ``random_state``; 0 (and
    no draw from numpy's global state) for the others, which use none."""
    if optimizer not in OPTIMIZERS or not OPTIMIZERS[optimizer].stochastic:
        return 0  # an unknown name is refused, in its own words, by fit
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


_ESTIMATORS: dict[str, type[_LinfitEstimator]] = {
    cls._model_name: cls
    for cls in (LinearSVMClassifier, SoftmaxClassifier, LeastSquaresRegressor, ReLURegressor)
}


def load(path: str | Path) -> _LinfitEstimator:
    """The fitted estimator saved in the model file ``path`` (from ``save`` or ``linfit train``).

    Hyper-parameters and the optimizer come from the file; ``max_iter`` and ``tol`` (not
    recorded) take their defaults, and ``standardize`` is False when the stored scaler is
    the identity. ``feature_names_in_`` is set unless the names are linfit's defaults
    (``x0``, ``x1``, ...), so the model predicts on a DataFrame with the file's columns.
    A model trained with ``--encode onehot`` expects its one-hot columns as they were
    expanded at training (see ``trained_.feature_names``).

    Raises:
        linfit.errors.ModelFileError: a damaged or foreign file.
    """
    trained = persist.load(path)
    cls = _ESTIMATORS[trained.model.name]
    hyperparams = trained.model.hyperparams()
    optimizer = str(trained.summary.get("optimizer") or trained.model.default_optimizer)
    params = cls._params_from_file(hyperparams, optimizer)
    identity = not trained.scaler.mean.any() and bool((trained.scaler.scale == 1.0).all())
    estimator = cls(**params, standardize=not identity)
    n_features = trained.n_features
    estimator.n_features_in_ = n_features
    if trained.feature_names != _default_names(n_features):
        estimator.feature_names_in_ = np.asarray(trained.feature_names, dtype=object)
    n_iter = trained.summary.get("n_iter", 0)
    estimator._set_fitted(trained, int(n_iter) if isinstance(n_iter, int) else 0)
    return estimator
