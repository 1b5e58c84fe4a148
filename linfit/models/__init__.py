"""The models, by the names the CLI uses."""

from __future__ import annotations

from typing import Any

from linfit.errors import UnknownNameError
from linfit.models.base import LinearModel
from linfit.models.least_squares import CLOSED_FORMS, LeastSquares
from linfit.models.relu import DeadReLUWarning, ReLURegressor
from linfit.models.softmax import SoftmaxClassifier
from linfit.models.svm import LinearSVM

MODELS: dict[str, type[LinearModel]] = {
    cls.name: cls for cls in (LinearSVM, SoftmaxClassifier, LeastSquares, ReLURegressor)
}

__all__ = [
    "CLOSED_FORMS",
    "MODELS",
    "DeadReLUWarning",
    "LeastSquares",
    "LinearModel",
    "LinearSVM",
    "ReLURegressor",
    "SoftmaxClassifier",
    "make_model",
]


def make_model(name: str, **hyperparams: Any) -> LinearModel:
    """The model called ``name`` with the given hyper-parameters."""
    try:
        cls = MODELS[name]
    except KeyError:
        raise UnknownNameError("model", name, list(MODELS)) from None
    return cls(**hyperparams)
