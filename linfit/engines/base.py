"""What every engine gives a solver: the scaled training data where they live.

An engine holds the training rows somewhere (this process's memory, a binary copy on
disk, a dask.distributed cluster) already standardized and with the targets encoded,
and provides what the solvers need of them: the model's objective (value, gradient,
Hessian products, mini-batches), a starting point, and the closed forms of least squares.
Everything that is the same whatever the place is written here once: how targets are
encoded, how the penalty is added to summed data terms, where a convex model starts.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from linfit.errors import DataError, TargetWarning
from linfit.models import LinearModel
from linfit.optim import Objective
from linfit.preprocess import Scaler, encode_labels

if TYPE_CHECKING:
    from linfit.linalg.lsq import LeastSquaresFit

# A float target with more distinct values than this (and than a fifth of the rows) is
# more likely a regression target than a set of class labels.
MANY_CLASSES = 50
# A classifier's target with more distinct values than this share of the rows (and than
# MANY_CLASSES) is refused: fewer than 2 rows a class on average is not a set of labels.
IDENTIFIER_SHARE = 0.5


class Engine(Protocol):
    """Standardized features and encoded targets, and what solvers need of them.

    ``classes`` (K,) are the original labels of a classifier's codes (None for a
    regressor); ``feature_means`` (n_features,) are the raw features' means, which a
    model keeps to fill missing values at prediction.
    """

    n_samples: int
    n_features: int
    scaler: Scaler
    classes: np.ndarray | None
    feature_means: np.ndarray

    @property
    def n_outputs(self) -> int:
        """Score columns K: the classes of a classifier, the targets' columns else."""
        ...

    def objective(self, model: LinearModel) -> Objective:
        """``model``'s objective on the scaled data."""
        ...

    def start(self, model: LinearModel) -> np.ndarray:
        """The starting point, flat ``[W.ravel(), b]``: zeros for a convex model."""
        ...

    def least_squares(self, model: LinearModel, method: str) -> LeastSquaresFit:
        """Least squares ``model`` solved in closed form by ``method``, with its report."""
        ...

    def check_solution(self, model: LinearModel, params: np.ndarray) -> None:
        """``model.check_solution`` on (a sample of) the scaled data."""
        ...


class RowsHere:
    """The shape of an engine whose rows ``X`` (n, d) and targets ``y`` (n,) or (n, K) are
    in reach of this process."""

    X: Any
    y: np.ndarray
    classes: np.ndarray | None

    @property
    def n_samples(self) -> int:
        return self.X.shape[0]

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    @property
    def n_outputs(self) -> int:
        if self.classes is not None:
            return self.classes.size
        return 1 if self.y.ndim == 1 else self.y.shape[1]


def encode_targets(
    model: LinearModel, y: np.ndarray, target_name: str
) -> tuple[np.ndarray | None, np.ndarray]:
    """``(classes (K,), codes (n,))`` for a classifier, ``(None, y as float64)`` for a
    regressor. A classifier warns when the labels look continuous; a regressor refuses a
    non-numeric target."""
    if model.is_classifier:
        classes, codes = encode_labels(y)
        check_labels(classes, y, target_name)
        return classes, codes
    if y.dtype.kind not in "iufb":
        raise DataError(
            f"target {target_name!r} is not numeric, but {model.name} is a regression model; "
            "use a classifier (softmax, svm) or a numeric `target`"
        )
    return None, y.astype(np.float64, copy=False)


def check_labels(classes: np.ndarray, y: np.ndarray, target_name: str) -> None:
    """Refuse a target with nearly one distinct value per row (an identifier taken for
    the label: its scores alone would be rows x rows), before anything of that size is
    allocated; warn when a float target's distinct values are too many to be labels."""
    n = y.shape[0]
    refuse_identifier(classes.size, y, target_name)
    if classes.size > max(MANY_CLASSES, n // 5) and y.dtype.kind == "f":
        warnings.warn(
            f"the target {target_name!r} has {classes.size} distinct values for "
            f"{y.shape[0]} rows: it looks continuous, and each value becomes a class; "
            "for a regression use `model` least-squares or relu",
            TargetWarning,
            stacklevel=4,
        )


def refuse_identifier(n_classes: int, y: np.ndarray, target_name: str) -> None:
    """Refuse a classifier's target ``y`` (n,) with ``n_classes`` distinct values, more
    than ``IDENTIFIER_SHARE`` of its rows (and than ``MANY_CLASSES``)."""
    n = y.shape[0]
    if n_classes <= max(MANY_CLASSES, IDENTIFIER_SHARE * n):
        return
    rather = (
        "for a regression use `model` least-squares or relu"
        if y.dtype.kind == "f"
        else "is it an identifier column? choose the label with `target`"
    )
    raise DataError(
        f"the target {target_name!r} has {n_classes:,} distinct values in {n:,} rows, "
        "nearly one per row: a classifier cannot learn classes it sees about once each "
        f"(and would need {n_classes:,} score columns); {rather}"
    )


def zeros_start(model: LinearModel, n_features: int, n_outputs: int) -> np.ndarray:
    """Where a convex model starts: every weight and bias zero, (d + 1) K of them."""
    return np.zeros((n_features + 1) * n_outputs)


def add_penalty(
    model: LinearModel, n_features: int, params: np.ndarray, f: float, g: np.ndarray | None
) -> tuple[float, np.ndarray | None]:
    """``reg ||W||^2`` added once to a summed data term ``f`` and (in place) to its gradient
    ``g`` (or None): the one place a sum over chunks, blocks or workers adds the penalty."""
    W, _ = model.unpack(params, n_features)
    f += model.penalty(W)
    if g is not None:
        g[: W.size] += 2.0 * model.reg * W.ravel()
    return f, g


def add_penalty_hvp(
    model: LinearModel, n_features: int, v: np.ndarray, out: np.ndarray
) -> np.ndarray:
    """The penalty's share ``2 reg V`` (W's entries, not b's) added in place to a summed
    data-term Hessian product ``out``, which is returned."""
    n_weights = v.size - v.size // (n_features + 1)
    out[:n_weights] += 2.0 * model.reg * v[:n_weights]
    return out
