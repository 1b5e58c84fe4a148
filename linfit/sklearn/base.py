"""What the scikit-learn estimators share: fitting through ``linfit.fit``, prediction,
saving, and an estimator restored from a model file."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning
from sklearn.utils import Tags
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    check_random_state,
    validate_data,
)

from linfit.errors import ConvergenceWarning, LinfitError
from linfit.fitting import TrainedModel, fit
from linfit.models import LinearModel
from linfit.optim import OPTIMIZERS
from linfit.storage import persist


def _default_names(n_features: int) -> tuple[str, ...]:
    return tuple(f"x{i}" for i in range(n_features))


def _target_name(feature_names: tuple[str, ...]) -> str:
    """'target', or a variant of it that is not a feature name (model files require that)."""
    name = "target"
    while name in feature_names:
        name += "_"
    return name


def _reemit(caught: list[warnings.WarningMessage], names: dict[str, str]) -> None:
    """Warn again what ``fit`` warned, linfit's ConvergenceWarning as scikit-learn's, its
    advice naming the estimator's parameters (``names``: fit's parameter -> its own)."""
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            message = LinfitError(str(w.message)).render(names)
            warnings.warn(message, SklearnConvergenceWarning, stacklevel=3)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


class LinfitEstimator(BaseEstimator):
    """Shared fitting, prediction and persistence; subclasses say which model to build.

    Its parameters are the ReLU's (the SVM, softmax and least squares declare their own);
    see :class:`~linfit.sklearn.LinearSVMClassifier`. A classifier's ``class_weight`` is
    read with ``getattr``, so the regressors need not declare it.
    """

    model_name: ClassVar[str]  # the linfit model trained, by the command line's name
    _is_classifier: ClassVar[bool] = False
    _multi_output: ClassVar[bool] = False
    # ``linfit.fit``'s parameters as the estimator calls them, in its errors and warnings
    _parameters: ClassVar[dict[str, str]] = {"solver": "optimizer", "gtol": "tol"}

    def __init__(
        self,
        reg: float = 1e-4,
        optimizer: str | None = None,
        max_iter: int | None = None,
        tol: float = 1e-6,
        standardize: bool = True,
        random_state: int | np.random.RandomState | None = None,
        fit_intercept: bool = True,
        warm_start: bool = False,
    ) -> None:
        self.reg = reg
        self.fit_intercept = fit_intercept
        self.optimizer = optimizer
        self.max_iter = max_iter
        self.tol = tol
        self.standardize = standardize
        self.random_state = random_state
        self.warm_start = warm_start

    # -- subclass hooks -----------------------------------------------------------------
    def _make_model(self) -> LinearModel:
        raise NotImplementedError

    def _optimizer_name(self) -> str | None:
        return getattr(self, "optimizer", None)

    @classmethod
    def _params_from_file(cls, hyperparams: dict[str, Any], optimizer: str) -> dict[str, Any]:
        return {
            "reg": hyperparams.get("reg", 1e-4),
            "fit_intercept": hyperparams.get("fit_intercept", True),
            "optimizer": optimizer,
        }

    # -- fitting ------------------------------------------------------------------------
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> LinfitEstimator:
        """Train on ``X`` (n_samples, n_features) and ``y`` (n_samples,) and return self.

        Least squares also takes ``y`` (n_samples, n_targets). ``sample_weight``
        (n_samples,), finite and >= 0 with one positive, weighs the rows: the objective is
        ``sum_i w_i L_i / sum_i w_i + reg ||W||^2`` (standardization too takes the
        weighted moments), so a row of integer weight m trains as m copies of it and a
        row of weight 0 as no row. A classifier's ``class_weight`` multiplies them. With
        ``warm_start`` and a previous fit, the iterative optimizers start from its
        coefficients (the same features and classes, else ``ValueError``).
        """
        X, y, sample_weight = self._checked(X, y, sample_weight)
        names = (
            tuple(str(n) for n in self.feature_names_in_)
            if hasattr(self, "feature_names_in_")
            else _default_names(X.shape[1])
        )
        try:
            model = self._make_model()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                trained, n_iter = self._train(model, X, y, names, sample_weight)
        except LinfitError as err:
            raise ValueError(err.render(self._parameters)) from err
        _reemit(caught, self._parameters)
        self._set_fitted(trained, n_iter, y_ndim=y.ndim)
        return self

    def _checked(
        self, X: Any, y: Any, sample_weight: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """``X`` (n, d) float64, ``y`` (n,) (or (n, k)) and ``sample_weight`` (n,) float64
        or None, validated as scikit-learn does; a classifier needs two classes of rows
        of positive weight."""
        X, y = validate_data(
            self,
            X,
            y,
            dtype=np.float64,
            y_numeric=not self._is_classifier,
            multi_output=self._multi_output,
        )
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
        if self._is_classifier:
            check_classification_targets(y)
            kept = y if sample_weight is None else y[sample_weight > 0]
            if np.unique(kept).size < 2:
                weighed = "" if sample_weight is None else " of positive weight"
                raise ValueError(
                    f"{type(self).__name__} needs samples of at least 2 classes; "
                    f"the data has one class{weighed} ({kept[0]!r})"
                )
        return X, y, sample_weight

    def _train(
        self,
        model: LinearModel,
        X: np.ndarray,
        y: np.ndarray,
        names: tuple[str, ...],
        sample_weight: np.ndarray | None,
    ) -> tuple[TrainedModel, int]:
        """Fit ``model`` on ``X`` (n, d), ``y`` (n,) or (n, k), rows weighed by
        ``sample_weight`` (n,) and the classifier's ``class_weight``; from the previous fit
        with ``warm_start``. The trained model and the solver's iteration count."""
        warm = self.warm_start and hasattr(self, "trained_")
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
            sample_weight=sample_weight,
            class_weight=getattr(self, "class_weight", None),
            init=self.trained_ if warm else None,
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


def _seed(random_state: int | np.random.RandomState | None, optimizer: str | None) -> int:
    """The seed for a stochastic ``optimizer`` from a scikit-learn ``random_state``; 0 (and
    no draw from numpy's global state) for the others, which use none."""
    if optimizer not in OPTIMIZERS or not OPTIMIZERS[optimizer].stochastic:
        return 0  # an unknown name is refused, in its own words, by fit
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def restore(cls: type[LinfitEstimator], trained: TrainedModel) -> LinfitEstimator:
    """An estimator of class ``cls`` fitted as ``trained`` (see :func:`linfit.sklearn.load`)."""
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
