"""Trained models to and from model files, validating every field on the way in.

The container (a zip of JSON and .npy, no pickle) is ``linfit.storage.container``'s job
(and ``container_reader``'s, reading it back); this
module decides what goes in it and refuses a file whose contents do not fit together.

A model file holds, in ``meta.json``: ``linfit_version`` (str), ``model`` (a name in
``linfit.models.MODELS``), ``hyperparams`` (the model's constructor arguments),
``feature_names`` (unique str), ``target_name`` (str), ``classes`` (classifiers: the sorted,
unique labels, all numbers or all strings; regressors: null), ``encode`` ("none" or
"onehot") and ``summary`` (a dict); and the float arrays ``params``
((n_features + 1) * n_outputs,), ``scaler_mean``, ``scaler_scale`` and ``feature_means``
(each (n_features,)).
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections import Counter
from pathlib import Path
from typing import Any, get_args, get_origin

import numpy as np

from linfit import __version__
from linfit.errors import LinfitError, ModelFileError, quote_path
from linfit.fitting.trained import TrainedModel
from linfit.models import MODELS, LinearModel
from linfit.preprocess import Scaler
from linfit.storage.container import write_model_file
from linfit.storage.container_reader import read_model_file

__all__ = ["ENCODINGS", "load", "save"]

ENCODINGS = ("none", "onehot")

_META_KEYS = frozenset(
    {
        "linfit_version",
        "model",
        "hyperparams",
        "feature_names",
        "target_name",
        "classes",
        "encode",
        "summary",
        # written by linfit.storage.container
        "format",
        "format_version",
        "arrays",
    }
)
_ARRAYS = ("params", "scaler_mean", "scaler_scale", "feature_means")
_SHOWN = 60  # characters of a bad value quoted in a message


def save(trained: TrainedModel, path: str | Path) -> None:
    """Write ``trained`` to ``path`` atomically (an existing file survives a failed write).

    Raises:
        ValueError: ``trained`` lacks ``feature_means`` or has an unknown ``encode``
            (programming errors: ``linfit.fit`` sets the first, the CLI the second).
        OptionError, OutputError: as :func:`linfit.storage.container.write_model_file`.
    """
    if trained.feature_means is None:
        raise ValueError("trained.feature_means is None; models from linfit.fit() have them")
    if trained.encode not in ENCODINGS:
        raise ValueError(f"trained.encode must be one of {ENCODINGS}, got {trained.encode!r}")
    meta = {
        "linfit_version": __version__,
        "model": trained.model.name,
        "hyperparams": trained.model.hyperparams(),
        "feature_names": list(trained.feature_names),
        "target_name": trained.target_name,
        "classes": None if trained.classes is None else trained.classes.tolist(),
        "encode": trained.encode,
        "summary": trained.summary,
    }
    arrays = {
        "params": trained.params,
        "scaler_mean": trained.scaler.mean,
        "scaler_scale": trained.scaler.scale,
        "feature_means": trained.feature_means,
    }
    write_model_file(path, meta, arrays)


def load(path: str | Path) -> TrainedModel:
    """Read a model file written by ``save``; any inconsistency is a ``ModelFileError``.

    Returns a TrainedModel whose arrays are float64; string classes come back as an object
    array of str and numeric ones as int64 or float64, as ``linfit.fit`` makes them.
    """
    meta, arrays = read_model_file(path)
    return _Loader(Path(path)).build(meta, arrays)


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def _is_real(value: object) -> bool:
    """A JSON number: int or float, not bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _finite(value: object) -> bool:
    """A JSON number that is finite and fits a float64."""
    if not _is_real(value):
        return False
    try:
        return math.isfinite(float(value))  # type: ignore[arg-type]
    except OverflowError:  # an int beyond float64's range
        return False


class _Loader:
    """Checks of one model file's contents; every failure names the path, in one line."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def bad(self, what: str) -> ModelFileError:
        return ModelFileError(
            f"model file {quote_path(self.path)} {what}; it was edited or damaged, so train and "
            "save the model again"
        )

    def build(self, meta: dict, arrays: dict[str, np.ndarray]) -> TrainedModel:
        unknown = sorted(set(meta) - _META_KEYS)
        if unknown:
            raise self.bad(f"has unknown field(s) {_show(unknown)} in meta.json")
        extra = sorted(set(arrays) - set(_ARRAYS))
        if extra:
            raise self.bad(f"has unknown array(s) {_show(extra)}")
        version = meta.get("linfit_version")
        if not isinstance(version, str):
            raise self.bad(f"has a bad linfit_version {_show(version)}")
        model = self.model(meta.get("model"), meta.get("hyperparams"))
        names = self.feature_names(meta.get("feature_names"))
        target = meta.get("target_name")
        if not isinstance(target, str):
            raise self.bad(f"has a bad target_name {_show(target)} (expected a string)")
        if target in names:
            raise self.bad(f"has the target {target!r} among the feature names")
        encode = meta.get("encode")
        if encode not in ENCODINGS:
            raise self.bad(f"has a bad encode {_show(encode)} (expected 'none' or 'onehot')")
        summary = meta.get("summary")
        if not isinstance(summary, dict):
            raise self.bad(f"has a bad summary {_show(summary)} (expected an object)")

        n_features = len(names)
        mean, scale, means = (
            self.vector(arrays, key, n_features)
            for key in ("scaler_mean", "scaler_scale", "feature_means")
        )
        if (scale <= 0).any():
            raise self.bad("has a non-positive scaler_scale")
        params = self.float_array(arrays, "params")
        if params.ndim != 1 or params.size == 0 or params.size % (n_features + 1) != 0:
            raise self.bad(
                f"has params of shape {params.shape}, which do not fit {n_features} feature(s) "
                "plus a bias"
            )
        n_outputs = params.size // (n_features + 1)
        classes = self.classes(meta.get("classes"), model, n_outputs)
        return TrainedModel(
            model=model,
            params=params,
            feature_names=tuple(names),
            target_name=target,
            scaler=Scaler(mean=mean, scale=scale),
            classes=classes,
            summary=summary,
            encode=encode,
            feature_means=means,
        )

    def model(self, name: object, hyperparams: object) -> LinearModel:
        if not isinstance(name, str) or name not in MODELS:
            raise self.bad(f"has an unknown model {_show(name)}")
        if not isinstance(hyperparams, dict):
            raise self.bad(f"has bad hyper-parameters {_show(hyperparams)} (expected an object)")
        cls = MODELS[name]
        types = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
        kwargs: dict[str, Any] = {}
        for key, value in hyperparams.items():
            if key not in fields:
                raise self.bad(f"has an unknown hyper-parameter {_show(key)} for {name}")
            kwargs[key] = self.hyperparam(name, key, value, types.get(key))
        try:
            return cls(**kwargs)
        except (TypeError, ValueError, LinfitError) as err:
            reason = " ".join(str(err).split())
            raise self.bad(f"has invalid hyper-parameters for {name} ({reason})") from None

    def hyperparam(self, model: str, key: str, value: object, kind: object) -> object:
        if get_origin(kind) is typing.Literal:
            choices = get_args(kind)
            if not isinstance(value, str) or value not in choices:
                raise self.bad(
                    f"has {model} hyper-parameter {key}={_show(value)}; expected one of "
                    f"{', '.join(map(repr, choices))}"
                )
            return value
        if kind is float:
            if not _finite(value):
                raise self.bad(
                    f"has {model} hyper-parameter {key}={_show(value)}; expected a finite number"
                )
            return float(value)  # type: ignore[arg-type]
        if kind is int:
            if not isinstance(value, int) or isinstance(value, bool):
                raise self.bad(f"has {model} hyper-parameter {key}={_show(value)}; expected an int")
            return value
        if kind in (str, bool):
            if type(value) is not kind:
                raise self.bad(
                    f"has {model} hyper-parameter {key}={_show(value)}; expected a {kind.__name__}"  # type: ignore[union-attr]
                )
            return value
        raise TypeError(f"persist cannot check hyper-parameter {key} of type {kind!r}")

    def feature_names(self, names: object) -> list[str]:
        if not isinstance(names, list) or not names:
            raise self.bad(f"has bad feature_names {_show(names)} (expected a list of strings)")
        if not all(isinstance(n, str) for n in names):
            raise self.bad(f"has a feature name that is not a string in {_show(names)}")
        twice = [n for n, count in Counter(names).items() if count > 1]
        if twice:
            raise self.bad(f"has the feature name {_show(twice[0])} more than once")
        return names

    def float_array(self, arrays: dict[str, np.ndarray], key: str) -> np.ndarray:
        array = arrays.get(key)
        if array is None:
            raise self.bad(f"lacks the array {key!r}")
        if array.dtype.kind != "f":
            raise self.bad(f"has array {key!r} of dtype {array.dtype} (expected floats)")
        if not np.isfinite(array).all():
            raise self.bad(f"has array {key!r} with non-finite values")
        return array.astype(np.float64)

    def vector(self, arrays: dict[str, np.ndarray], key: str, n_features: int) -> np.ndarray:
        array = self.float_array(arrays, key)
        if array.shape != (n_features,):
            raise self.bad(
                f"has array {key!r} of shape {array.shape}, expected ({n_features},) for "
                f"{n_features} feature(s)"
            )
        return array

    def classes(self, classes: object, model: LinearModel, n_outputs: int) -> np.ndarray | None:
        if not model.is_classifier:
            if classes is not None:
                raise self.bad(f"has class labels for the regression model {model.name}")
            if model.name == "relu" and n_outputs != 1:
                raise self.bad(f"has {n_outputs} outputs for a ReLU regressor (it has one)")
            return None
        if not isinstance(classes, list) or len(classes) < 2:
            raise self.bad(f"has bad classes {_show(classes)} (expected a list of 2 or more)")
        if len(classes) != n_outputs:
            raise self.bad(f"has {len(classes)} classes but params for {n_outputs} score columns")
        if all(isinstance(c, str) for c in classes):
            labels = np.array(classes, dtype=object)
        elif all(_is_real(c) for c in classes):
            if not all(_finite(c) for c in classes):
                raise self.bad(f"has non-finite classes {_show(classes)}")
            labels = np.asarray(classes)
            if labels.dtype.kind not in "if":  # e.g. an int too large for int64
                raise self.bad(f"has classes {_show(classes)} that do not fit int64 or float64")
        else:
            raise self.bad(
                f"has classes {_show(classes)}; expected all numbers or all strings, not nested, "
                "boolean or mixed"
            )
        # np.unique sorts and deduplicates; the stored labels must already be exactly that.
        unique = np.unique(labels)
        if unique.size != labels.size:
            raise self.bad(f"has duplicate classes {_show(classes)}")
        if not (unique == labels).all():
            raise self.bad(f"has classes {_show(classes)} out of order (they must be sorted)")
        return labels
