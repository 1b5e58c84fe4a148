"""linfit.storage.persist: every field round-trips, and every tampered field is refused."""

from __future__ import annotations

import dataclasses
import json
import math
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from linfit.errors import ModelFileError
from linfit.fitting import TrainedModel, fit
from linfit.models import make_model
from linfit.storage import persist
from linfit.storage.container import write_model_file
from linfit.storage.container_reader import read_model_file

RNG = np.random.default_rng(0)
CODES = np.arange(60) % 3
X = RNG.standard_normal((60, 3)) * [1.0, 10.0, 0.1] + [0.0, 5.0, -2.0] + CODES[:, None]
NAMES = ("a", "b", "c=x")


def train(kind: str) -> TrainedModel:
    if kind == "strings":
        y = np.array(["setosa", "versicolor", "virginica"], dtype=object)[CODES]
        trained = fit(make_model("softmax", reg=0.01), X, y, feature_names=NAMES)
        return dataclasses.replace(trained, encode="onehot")
    if kind == "ints":
        y = np.array([-3, 7, 12])[CODES]
        model = make_model("svm", reg=0.001, margin=2.0, variant="squared_hinge")
        return fit(model, X, y, feature_names=NAMES, target_name="label")
    if kind == "regressor":
        y = X @ [1.0, -2.0, 3.0] + 0.5
        return fit(make_model("least-squares"), X, y, feature_names=NAMES, target_name="price")
    if kind == "relu":
        y = np.maximum(X @ [1.0, 0.2, 3.0] + 1.0, 0.0)
        return fit(make_model("relu"), X, y, feature_names=NAMES, max_iter=30)
    raise AssertionError(kind)


KINDS = ["strings", "ints", "regressor", "relu"]
TRAINED = {kind: train(kind) for kind in KINDS}


def stored(tmp_path: Path, kind: str = "strings") -> tuple[dict, dict[str, np.ndarray]]:
    """The (meta, arrays) that ``save`` writes, without the container's own keys."""
    path = tmp_path / "saved.linfit"
    persist.save(TRAINED[kind], path)
    meta, arrays = read_model_file(path)
    for key in ("format", "format_version", "arrays"):
        del meta[key]
    return meta, arrays


def load_error(path: Path) -> str:
    with pytest.raises(ModelFileError) as exc:
        persist.load(path)
    message = str(exc.value)
    assert "\n" not in message and f"'{path}'" in message
    return message


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("kind", KINDS)
def test_round_trip_every_field(tmp_path: Path, kind: str) -> None:
    trained = TRAINED[kind]
    path = tmp_path / "m.linfit"
    persist.save(trained, path)
    loaded = persist.load(path)

    assert loaded.model == trained.model  # class and every hyper-parameter
    assert loaded.feature_names == trained.feature_names
    assert loaded.target_name == trained.target_name
    assert loaded.encode == trained.encode
    assert loaded.summary == json.loads(json.dumps(trained.summary))
    for name in ("params", "feature_means"):
        original, back = getattr(trained, name), getattr(loaded, name)
        assert back.dtype == np.float64
        np.testing.assert_array_equal(back, original)
    np.testing.assert_array_equal(loaded.scaler.mean, trained.scaler.mean)
    np.testing.assert_array_equal(loaded.scaler.scale, trained.scaler.scale)
    if trained.classes is None:
        assert loaded.classes is None
    else:
        assert loaded.classes.dtype == trained.classes.dtype
        assert loaded.classes.tolist() == trained.classes.tolist()
    np.testing.assert_array_equal(loaded.predict(X), trained.predict(X))


def test_what_is_saved(tmp_path: Path) -> None:
    meta, arrays = stored(tmp_path, "strings")
    assert meta["encode"] == "onehot"
    assert meta["classes"] == ["setosa", "versicolor", "virginica"]
    assert meta["hyperparams"] == {"reg": 0.01}
    assert sorted(arrays) == ["feature_means", "params", "scaler_mean", "scaler_scale"]
    np.testing.assert_allclose(arrays["feature_means"], X.mean(axis=0))
    assert stored(tmp_path, "ints")[0]["classes"] == [-3, 7, 12]


def test_classes_keep_their_kind(tmp_path: Path) -> None:
    assert TRAINED["strings"].classes.dtype == object
    path = tmp_path / "m.linfit"
    persist.save(TRAINED["ints"], path)
    classes = persist.load(path).classes
    assert classes.dtype.kind == "i" and classes.tolist() == [-3, 7, 12]


def test_save_refuses_missing_feature_means_or_unknown_encode(tmp_path: Path) -> None:
    trained = TRAINED["regressor"]
    with pytest.raises(ValueError, match="feature_means"):
        persist.save(dataclasses.replace(trained, feature_means=None), tmp_path / "m.linfit")
    with pytest.raises(ValueError, match="encode"):
        persist.save(dataclasses.replace(trained, encode="ordinal"), tmp_path / "m.linfit")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- tampered files

Edit = Callable[[dict, dict[str, np.ndarray]], None]


def set_meta(key: str, value: Any) -> Edit:
    def edit(meta: dict, arrays: dict[str, np.ndarray]) -> None:
        meta[key] = value

    return edit


def set_hyper(key: str, value: Any) -> Edit:
    def edit(meta: dict, arrays: dict[str, np.ndarray]) -> None:
        meta["hyperparams"][key] = value

    return edit


def drop_meta(key: str) -> Edit:
    def edit(meta: dict, arrays: dict[str, np.ndarray]) -> None:
        del meta[key]

    return edit


def set_array(key: str, value: Callable[[np.ndarray], np.ndarray] | None) -> Edit:
    def edit(meta: dict, arrays: dict[str, np.ndarray]) -> None:
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value(arrays[key])

    return edit


def add_array(meta: dict, arrays: dict[str, np.ndarray]) -> None:
    arrays["extra"] = np.zeros(3)


# (model kind, edit, words expected in the message)
TAMPERED: dict[str, tuple[str, Edit, str]] = {
    # classes
    "unsorted classes": (
        "strings",
        set_meta("classes", ["virginica", "setosa", "versicolor"]),
        "out of order",
    ),
    "unsorted int classes": ("ints", set_meta("classes", [12, 7, -3]), "out of order"),
    "duplicate classes": ("strings", set_meta("classes", ["a", "a", "b"]), "duplicate"),
    "nested classes": ("ints", set_meta("classes", [[1], [2], [3]]), "not nested"),
    "mixed classes": ("ints", set_meta("classes", [1, "2", 3]), "all numbers or all strings"),
    "boolean classes": ("ints", set_meta("classes", [False, True, 2]), "boolean"),
    "NaN class": ("ints", set_meta("classes", [1.0, 2.0, math.nan]), "non-finite"),
    "infinite class": ("ints", set_meta("classes", [1.0, 2.0, math.inf]), "non-finite"),
    "huge int class": ("ints", set_meta("classes", [1, 2, 2**70]), "int64"),
    "too few classes": ("ints", set_meta("classes", [1, 2]), "score columns"),
    "one class": ("ints", set_meta("classes", [1]), "2 or more"),
    "classes not a list": ("ints", set_meta("classes", "abc"), "classes"),
    "classifier without classes": ("strings", set_meta("classes", None), "classes"),
    "regressor with classes": ("regressor", set_meta("classes", [0, 1]), "class labels"),
    # hyper-parameters
    "reg a list": ("strings", set_hyper("reg", [1, 2]), "reg=[1, 2]"),
    "reg true": ("strings", set_hyper("reg", True), "reg=True"),
    "reg a string": ("strings", set_hyper("reg", "0.1"), "finite number"),
    "reg NaN": ("strings", set_hyper("reg", math.nan), "finite number"),
    "reg huge int": ("strings", set_hyper("reg", 10**400), "finite number"),
    "reg negative": ("strings", set_hyper("reg", -1.0), "(reg must be a finite number >= 0"),
    "unknown hyper-parameter": ("strings", set_hyper("alpha", 1.0), "'alpha'"),
    "hyper-parameters a list": ("strings", set_meta("hyperparams", [0.1]), "hyper-parameters"),
    "svm variant unknown": ("ints", set_hyper("variant", "hinged"), "'squared_hinge'"),
    "svm variant a number": ("ints", set_hyper("variant", 1), "variant=1"),
    "svm margin a bool": ("ints", set_hyper("margin", False), "margin=False"),
    "svm margin zero": ("ints", set_hyper("margin", 0), "--margin"),
    "unknown model": ("strings", set_meta("model", "forest"), "'forest'"),
    "model not a string": ("strings", set_meta("model", ["softmax"]), "unknown model"),
    # names and the rest of meta
    "feature names duplicated": ("strings", set_meta("feature_names", ["a", "a", "b"]), "'a'"),
    "feature names empty": ("strings", set_meta("feature_names", []), "feature_names"),
    "feature names a string": ("strings", set_meta("feature_names", "abc"), "feature_names"),
    "feature name a number": ("strings", set_meta("feature_names", ["a", 1, "b"]), "not a string"),
    "target name a number": ("strings", set_meta("target_name", 3), "target_name"),
    "target among features": ("strings", set_meta("target_name", "b"), "among the feature"),
    "encode unknown": ("strings", set_meta("encode", "ordinal"), "'onehot'"),
    "encode missing": ("strings", drop_meta("encode"), "encode"),
    "summary a list": ("strings", set_meta("summary", []), "summary"),
    "version a number": ("strings", set_meta("linfit_version", 1), "linfit_version"),
    "unknown meta field": ("strings", set_meta("pickle", "x"), "'pickle'"),
    # arrays
    "complex params": ("strings", set_array("params", lambda a: a + 1j), "complex128"),
    "bool params": ("strings", set_array("params", lambda a: a > 0), "bool"),
    "int params": ("strings", set_array("params", lambda a: a.astype(np.int64)), "int64"),
    "NaN params": ("strings", set_array("params", lambda a: a * np.nan), "non-finite"),
    "params 2-D": ("strings", set_array("params", lambda a: a.reshape(1, -1)), "params"),
    "params too short": ("strings", set_array("params", lambda a: a[:-1]), "params"),
    "params missing": ("strings", set_array("params", None), "'params'"),
    "complex scale": ("strings", set_array("scaler_scale", lambda a: a + 0j), "complex"),
    "bool scale": ("strings", set_array("scaler_scale", lambda a: a > 0), "bool"),
    "zero scale": ("strings", set_array("scaler_scale", lambda a: a * 0), "non-positive"),
    "negative scale": ("strings", set_array("scaler_scale", lambda a: -a), "non-positive"),
    "infinite mean": ("strings", set_array("scaler_mean", lambda a: a + np.inf), "non-finite"),
    "short mean": ("strings", set_array("scaler_mean", lambda a: a[:2]), "shape (2,)"),
    "feature means missing": ("strings", set_array("feature_means", None), "'feature_means'"),
    "feature means short": ("strings", set_array("feature_means", lambda a: a[:2]), "shape"),
    "feature means NaN": ("strings", set_array("feature_means", lambda a: a * np.nan), "finite"),
    "feature means int": (
        "strings",
        set_array("feature_means", lambda a: a.astype(np.int32)),
        "int32",
    ),
    "unknown array": ("strings", add_array, "'extra'"),
    "relu with two outputs": (
        "relu",
        set_array("params", lambda a: np.concatenate([a, a])),
        "ReLU",
    ),
}


@pytest.mark.parametrize("case", TAMPERED)
def test_tampered_field_is_refused(tmp_path: Path, case: str) -> None:
    kind, edit, expected = TAMPERED[case]
    meta, arrays = stored(tmp_path, kind)
    edit(meta, arrays)
    path = tmp_path / "tampered.linfit"
    write_model_file(path, meta, arrays)
    message = load_error(path)
    assert expected in message, message
    assert "train and save the model again" in message


def test_untampered_file_loads(tmp_path: Path) -> None:
    # The tampering harness itself writes loadable files when nothing is changed.
    for kind in KINDS:
        meta, arrays = stored(tmp_path, kind)
        path = tmp_path / f"{kind}.linfit"
        write_model_file(path, meta, arrays)
        assert persist.load(path).model == TRAINED[kind].model


def test_float32_arrays_are_accepted_as_float64(tmp_path: Path) -> None:
    meta, arrays = stored(tmp_path, "regressor")
    arrays = {k: v.astype(np.float32) for k, v in arrays.items()}
    path = tmp_path / "f32.linfit"
    write_model_file(path, meta, arrays)
    loaded = persist.load(path)
    assert loaded.params.dtype == np.float64 and loaded.feature_means.dtype == np.float64


def test_missing_hyper_parameter_takes_its_default(tmp_path: Path) -> None:
    meta, arrays = stored(tmp_path, "ints")
    del meta["hyperparams"]["margin"]
    path = tmp_path / "m.linfit"
    write_model_file(path, meta, arrays)
    assert persist.load(path).model.margin == 1.0


def test_edited_meta_json_with_nan_literal(tmp_path: Path) -> None:
    # JSON as Python reads it allows NaN; a hand-edited file can hold one anywhere.
    path = tmp_path / "m.linfit"
    persist.save(TRAINED["ints"], path)
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    meta = json.loads(members["meta.json"])
    meta["classes"] = [-3, "NaN-placeholder", 12]
    text = json.dumps(meta).replace('"NaN-placeholder"', "NaN")
    members["meta.json"] = text.encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    assert "non-finite" in load_error(path)
