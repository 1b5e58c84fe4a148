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

``fit(X, y, sample_weight=None)`` weighs rows as ``linfit.fit`` does (and the
classifiers' ``class_weight`` classes); ``warm_start=True`` starts each fit after the
first from the previous coefficients.

linfit's ``ConvergenceWarning`` is re-emitted as ``sklearn.exceptions.ConvergenceWarning``,
and linfit's own errors about the data or options are raised as ``ValueError``.
"""

from __future__ import annotations

from pathlib import Path

from linfit.sklearn.base import LinfitEstimator, restore
from linfit.sklearn.classifiers import LinearSVMClassifier, SoftmaxClassifier
from linfit.sklearn.regressors import LeastSquaresRegressor, ReLURegressor
from linfit.storage import persist

__all__ = [
    "LeastSquaresRegressor",
    "LinearSVMClassifier",
    "ReLURegressor",
    "SoftmaxClassifier",
    "load",
]

# Each estimator by the name of the linfit model it trains, as a model file records it.
ESTIMATORS: dict[str, type[LinfitEstimator]] = {
    cls.model_name: cls
    for cls in (LinearSVMClassifier, SoftmaxClassifier, LeastSquaresRegressor, ReLURegressor)
}


def load(path: str | Path) -> LinfitEstimator:
    """The fitted estimator saved in the model file ``path`` (from ``save`` or ``linfit train``).

    Hyper-parameters and the optimizer come from the file; ``max_iter``, ``tol``,
    ``class_weight`` and ``warm_start`` (not recorded) take their defaults, and
    ``standardize`` is False when the stored scaler is the identity. Set ``warm_start``
    to continue training from the file's coefficients. ``feature_names_in_`` is set
    unless the names are linfit's defaults (``x0``, ``x1``, ...), so the model predicts
    on a DataFrame with the file's columns.
    A model trained with ``--encode onehot`` expects its one-hot columns as they were
    expanded at training (see ``trained_.feature_names``).

    Raises:
        linfit.errors.ModelFileError: a damaged or foreign file.
    """
    trained = persist.load(path)
    return restore(ESTIMATORS[trained.model.name], trained)
