"""Warm starts: a fitted model's parameters as the start of a new fit.

A trained model keeps its parameters in the units of its own scaled features; a new fit
scales by its own training rows. So a warm start goes through raw units: the previous
model's raw coefficients, ``(W_raw, b_raw)``, are scaled by the new engine's scaler,
``W = W_raw * scale`` and ``b = b_raw + mean . W_raw`` (``Scaler.unscale`` inverted).
"""

from __future__ import annotations

import numpy as np

from linfit.engines.base import Engine
from linfit.errors import DataError
from linfit.fitting.trained import TrainedModel
from linfit.models import LinearModel


def warm_start(
    previous: TrainedModel,
    model: LinearModel,
    data: Engine,
    feature_names: tuple[str, ...] | None,
) -> np.ndarray:
    """``previous``'s parameters in the scaled units of ``data``, flat
    ``[W.ravel(), b]`` of size (d + 1) K, for ``model``; refused in one line unless both
    have the same features (names when known, else their count), the same classes in the
    same order, and the same number of outputs."""
    d = data.n_features
    if previous.n_features != d or (
        feature_names is not None and tuple(feature_names) != previous.feature_names
    ):
        shown = ", ".join(previous.feature_names[:6])
        raise DataError(
            f"the `init` model has {previous.n_features} features ({shown}"
            f"{', ...' if previous.n_features > 6 else ''}) and the data {d}"
            f"{'' if feature_names is None else ' (' + ', '.join(feature_names[:6]) + ')'}: "
            "a warm start needs the same features, in the same order"
        )
    _check_classes(previous, data)
    W_raw, b_raw = previous.coefficients()
    K = data.n_outputs
    if W_raw.shape[1] != K:
        raise DataError(
            f"the `init` model has {W_raw.shape[1]} outputs and this fit {K}: a warm start "
            "needs a model of the same shape"
        )
    W = W_raw * data.scaler.scale[:, None]
    b = b_raw + data.scaler.mean @ W_raw
    return model.pack(W, b)


def _check_classes(previous: TrainedModel, data: Engine) -> None:
    """Refuse a classifier's warm start from a regressor, or from other classes."""
    if (previous.classes is None) != (data.classes is None):
        kinds = ("a regressor", "a classifier")
        raise DataError(
            f"the `init` model is {kinds[previous.classes is not None]} and this fit "
            f"{kinds[data.classes is not None]}: a warm start needs the same kind of model"
        )
    if previous.classes is None or np.array_equal(previous.classes, data.classes):
        return
    theirs = ", ".join(map(str, previous.classes.tolist()[:8]))
    ours = ", ".join(map(str, data.classes.tolist()[:8]))
    raise DataError(
        f"the `init` model's classes ({theirs}) are not the data's ({ours}): a warm start "
        "needs the same classes"
    )
