"""Trained models to and from model files, validating every field on the way in.

The container (a zip of JSON and .npy, no pickle) is ``linfit.modelfile``'s job; this
module decides what goes in it and refuses a file whose contents do not fit together.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from linfit import __version__
from linfit.errors import LinfitError, ModelFileError
from linfit.modelfile import read_model_file, write_model_file
from linfit.models import MODELS, make_model
from linfit.preprocess import Scaler
from linfit.training import TrainedModel


def save(trained: TrainedModel, path: str | Path) -> None:
    """Write ``trained`` to ``path`` atomically (an existing file survives a failed write)."""
    meta = {
        "linfit_version": __version__,
        "model": trained.model.name,
        "hyperparams": trained.model.hyperparams(),
        "feature_names": list(trained.feature_names),
        "target_name": trained.target_name,
        "classes": None if trained.classes is None else trained.classes.tolist(),
        "summary": _plain(trained.summary),
    }
    arrays = {
        "params": trained.params,
        "scaler_mean": trained.scaler.mean,
        "scaler_scale": trained.scaler.scale,
    }
    write_model_file(path, meta, arrays)


def load(path: str | Path) -> TrainedModel:
    """Read a model file written by ``save``; any inconsistency is a ``ModelFileError``."""
    meta, arrays = read_model_file(path)

    def bad(what: str) -> ModelFileError:
        return ModelFileError(f"{path}: {what}; the model file is corrupted or was edited")

    name = meta.get("model")
    if name not in MODELS:
        raise bad(f"unknown model {name!r}")
    hyperparams = meta.get("hyperparams")
    if not isinstance(hyperparams, dict):
        raise bad("hyper-parameters are missing")
    try:
        model = make_model(name, **hyperparams)
    except (TypeError, LinfitError) as err:
        raise bad(f"invalid hyper-parameters ({err})") from None

    names = meta.get("feature_names")
    if not (isinstance(names, list) and names and all(isinstance(n, str) for n in names)):
        raise bad("feature names are missing")
    target = meta.get("target_name")
    if not isinstance(target, str):
        raise bad("the target name is missing")
    n_features = len(names)

    params, mean, scale = (arrays.get(k) for k in ("params", "scaler_mean", "scaler_scale"))
    for key, array, shape in (
        ("scaler_mean", mean, (n_features,)),
        ("scaler_scale", scale, (n_features,)),
    ):
        if array is None or array.shape != shape or not np.isfinite(array).all():
            raise bad(f"array {key!r} is missing, mis-shaped or not finite")
    if (scale <= 0).any():
        raise bad("scaler has a non-positive scale")
    if params is None or params.ndim != 1 or params.size % (n_features + 1) != 0:
        raise bad(f"params do not fit {n_features} features plus a bias")
    if not np.isfinite(params).all():
        raise bad("params are not finite")
    n_outputs = params.size // (n_features + 1)

    classes = meta.get("classes")
    if model.is_classifier:
        if not isinstance(classes, list) or len(classes) != n_outputs or n_outputs < 2:
            raise bad(f"{n_outputs} score columns but classes {classes!r}")
        classes = np.asarray(classes)
        if classes.dtype.kind not in "iufUb":
            raise bad("class labels must be numbers or strings")
    elif classes is not None:
        raise bad("a regression model with class labels")
    elif model.name == "relu" and n_outputs != 1:
        raise bad("a ReLU regressor has exactly one output")

    summary = meta.get("summary")
    return TrainedModel(
        model=model,
        params=params.astype(np.float64, copy=False),
        feature_names=tuple(names),
        target_name=target,
        scaler=Scaler(mean=mean.astype(np.float64), scale=scale.astype(np.float64)),
        classes=classes,
        summary=summary if isinstance(summary, dict) else {},
    )


def _plain(value: Any) -> Any:
    """JSON-ready copy: numpy scalars to Python numbers, recursively."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
