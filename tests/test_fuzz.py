"""Property-based fuzzing of the two loaders that read untrusted files.

The CSV loaders (``linfit.data``) and the model-file loader (``linfit.storage.persist.load``) get
arbitrary bytes, near-CSV text and damaged model files. The property is the same for
both: each call ends in a valid result or in linfit's own error (a ``LinfitError``
subclass, one line), never another exception. A valid result is then *used*: a dataset
must be finite and consistent, and a model that loads must predict on a matrix of the
right width, so a file that loads but would crash later is a failure too.

``tests/test_data.py`` and ``tests/test_container.py`` fuzz the lower layers (read_table,
read_model_file) with small budgets; this file goes through the public loaders with
wider inputs. Sized to run in well under 30 s on 2 cores.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import warnings
import zipfile
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linfit.data import load_dataset, load_features, load_labeled
from linfit.errors import LinfitError
from linfit.fitting import TrainedModel, fit
from linfit.models import make_model
from linfit.storage import persist


def fuzz(max_examples: int) -> settings:
    """Bounded runs: no deadline (file I/O varies), no example database in the repository."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )


# One scratch folder for the module, made on first use; each example rewrites its file
# (hypothesis runs all the examples of a test within one call of it).
_SCRATCH: list[Path] = []


def teardown_module() -> None:
    for folder in _SCRATCH:
        shutil.rmtree(folder, ignore_errors=True)


def _scratch() -> Path:
    if not _SCRATCH:
        _SCRATCH.append(Path(tempfile.mkdtemp(prefix="linfit-fuzz-")))
    return _SCRATCH[0]


def _file(content: bytes, suffix: str) -> Path:
    """The scratch file ``fuzz<suffix>``, now holding exactly ``content``."""
    path = _scratch() / f"fuzz{suffix}"
    path.write_bytes(content)
    return path


def _one_line_error(exc: LinfitError) -> None:
    message = str(exc)
    assert message.strip() and "\n" not in message and "\r" not in message, repr(message)
    assert exc.exit_code == 2


# --------------------------------------------------------------------------- CSV loader

# Characters that matter to a CSV parser, numbers in the forms pandas reads specially,
# and a few bytes that matter to a decoder.
_TOKENS = st.sampled_from(
    [
        ",", ",", ",", ";", "\t", "|", "\n", "\n", "\r\n", "\r", '"', '""', "'", " ", "#",
        "\\", "=", "0", "1", "-1", "2.5", "1e400", "-1e400", "1e-400", "nan", "NaN", "NA",
        "inf", "-inf", "Infinity", "True", "false", "x", "y", "a", "é", "\ufeff", "\x00",
        "1,5", '"1,5"', "0x1F", "1_000", "  3 ", "+4", "--5", "",
    ]
)  # fmt: skip
_NEAR_CSV = st.lists(_TOKENS, max_size=40).map("".join)
_HEADER = st.sampled_from(["a,b,y\n", "x,x,y\n", "a;b;y\n", "\ufeffa,b,y\n", "y\n", ""])


def _check_dataset(data) -> None:
    assert data.X.ndim == 2 and data.X.shape[0] == data.y.shape[0] >= 1
    assert data.X.shape[1] == len(data.feature_names) >= 1
    assert np.isfinite(data.X).all() and data.X.flags.c_contiguous
    assert data.target_name not in data.feature_names
    if data.y.dtype != object:
        assert np.isfinite(data.y.astype(np.float64)).all()


@fuzz(250)
@given(content=st.binary(max_size=300))
def test_arbitrary_bytes_through_load_dataset(content: bytes) -> None:
    path = _file(content, ".csv")
    try:
        data = load_dataset(path)
    except LinfitError as exc:
        _one_line_error(exc)
        return
    _check_dataset(data)


@fuzz(300)
@given(
    header=_HEADER,
    body=_NEAR_CSV,
    sep=st.sampled_from([None, ";", "tab", "|"]),
    encode=st.sampled_from(["none", "onehot"]),
    missing=st.sampled_from(["error", "drop", "mean"]),
    target=st.sampled_from([None, 0, -1, "y", "b", "5"]),
    dtype=st.sampled_from([np.float64, np.float32]),
)
def test_near_csv_text_through_load_dataset(
    header: str, body: str, sep, encode, missing, target, dtype
) -> None:
    path = _file((header + body).encode("utf-8"), ".csv")
    try:
        data = load_dataset(
            path, target=target, sep=sep, encode=encode, missing=missing, dtype=dtype
        )
    except LinfitError as exc:
        _one_line_error(exc)
        return
    _check_dataset(data)
    assert data.X.dtype == np.dtype(dtype)


@fuzz(250)
@given(
    header=_HEADER,
    body=_NEAR_CSV,
    encode=st.sampled_from(["none", "onehot"]),
    missing=st.sampled_from(["error", "mean"]),
    fill=st.booleans(),
    labelled=st.booleans(),
)
def test_near_csv_text_through_the_prediction_loaders(
    header: str, body: str, encode, missing, fill: bool, labelled: bool
) -> None:
    """load_features and load_labeled, as predict and evaluate call them."""
    path = _file((header + body).encode("utf-8"), ".csv")
    names = ["a", "b=x"] if encode == "onehot" else ["a", "b"]
    fill_values = np.array([0.5, 0.25]) if fill else None
    try:
        if labelled:
            data = load_labeled(
                path, names, "y", encode=encode, missing=missing, fill_values=fill_values
            )
            X = data.X
            assert data.y.shape == (X.shape[0],)
        else:
            X = load_features(path, names, encode=encode, missing=missing, fill_values=fill_values)
    except LinfitError as exc:
        _one_line_error(exc)
        return
    assert X.shape[1] == 2 and np.isfinite(X).all()


@fuzz(40)
@given(
    rows=st.lists(
        st.lists(
            st.one_of(
                st.floats(allow_nan=True, allow_infinity=True, width=64),
                st.integers(-(10**30), 10**30),
                st.sampled_from(["", "a", "b", "1e400", "nan"]),
            ),
            min_size=3,
            max_size=3,
        ),
        min_size=1,
        max_size=12,
    ),
    model=st.sampled_from(["softmax", "least-squares", "svm"]),
)
def test_a_loaded_table_trains_or_fails_cleanly(rows: list[list], model: str) -> None:
    """Whatever the loader accepts, training accepts or refuses with linfit's own error."""
    text = "a,b,y\n" + "".join(",".join(map(str, row)) + "\n" for row in rows)
    path = _file(text.encode("utf-8"), ".csv")
    try:
        data = load_dataset(path, missing="drop")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trained = fit(
                make_model(model),
                data.X,
                data.y,
                feature_names=data.feature_names,
                target_name=data.target_name,
                max_iter=20,
            )
    except LinfitError as exc:
        _one_line_error(exc)
        return
    prediction = trained.predict(data.X)
    assert prediction.shape[0] == data.X.shape[0]


# --------------------------------------------------------------------------- model files


def _trained(model: str) -> TrainedModel:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3))
    if model in ("softmax", "svm"):
        y = np.array(["a", "b", "c"], dtype=object)[np.arange(30) % 3]
    else:
        y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the hinge SVM stops at max_iter, as expected
        trained = fit(make_model(model), X, y, feature_names=("f0", "f1", "f2"), max_iter=30)
    return trained


def _model_bytes(trained: TrainedModel) -> bytes:
    with tempfile.TemporaryDirectory(prefix="linfit-fuzz-") as folder:
        persist.save(trained, Path(folder) / "m.linfit")
        return (Path(folder) / "m.linfit").read_bytes()


_VALID = {name: _model_bytes(_trained(name)) for name in ("softmax", "least-squares", "svm")}


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _load_and_use(content: bytes) -> TrainedModel | None:
    """persist.load ends in linfit's error naming the file, or in a model that predicts.

    Predictions of a tampered file's (finite but absurd) numbers may overflow to inf with
    a RuntimeWarning; that is a result, not a crash. Returns the model, or None if refused.
    """
    path = _file(content, ".linfit")
    try:
        trained = persist.load(path)
    except LinfitError as exc:
        _one_line_error(exc)
        assert str(path) in str(exc)
        return None
    X = np.random.default_rng(1).normal(size=(4, trained.n_features))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        prediction = trained.predict(X)
        proba = trained.predict_proba(X) if trained.model.name == "softmax" else None
    assert prediction.shape[0] == 4
    if trained.classes is not None:
        assert set(prediction.tolist()) <= set(trained.classes.tolist())
    if proba is not None:
        assert proba.shape == (4, len(trained.classes))
    return trained


@fuzz(150)
@given(
    content=st.one_of(
        st.binary(max_size=400),
        st.binary(max_size=300).map(b"PK\x03\x04".__add__),
    )
)
def test_arbitrary_bytes_through_persist_load(content: bytes) -> None:
    _load_and_use(content)


@fuzz(200)
@given(
    model=st.sampled_from(sorted(_VALID)),
    cut=st.integers(min_value=0, max_value=10_000),
    flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 255)), max_size=3),
)
def test_damaged_bytes_of_a_valid_model_file(model: str, cut: int, flips) -> None:
    data = bytearray(_VALID[model])
    for offset, mask in flips:
        data[offset % len(data)] ^= mask
    _load_and_use(bytes(data[: cut % (len(data) + 1)] if cut < len(data) else data))


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | st.sampled_from(["softmax", "svm", "relu", "least-squares", "onehot", "none", "a"]),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=8,
)

_META_PATHS = [
    ("model",),
    ("hyperparams",),
    ("hyperparams", "reg"),
    ("hyperparams", "variant"),
    ("hyperparams", "margin"),
    ("hyperparams", "multiclass"),
    ("feature_names",),
    ("feature_names", 0),
    ("target_name",),
    ("classes",),
    ("classes", 0),
    ("encode",),
    ("summary",),
    ("linfit_version",),
    ("format_version",),
    ("arrays",),
    ("arrays", "params"),
    ("arrays", "params", "shape"),
    ("arrays", "scaler_scale", "dtype"),
    ("new_field",),
]


def _set(meta: dict, path: tuple, value: object) -> None:
    node = meta
    for key in path[:-1]:
        if isinstance(node, dict):
            node = node.setdefault(key, {})
        elif isinstance(node, list) and isinstance(key, int) and key < len(node):
            node = node[key]
        else:
            return
    last = path[-1]
    in_list = isinstance(node, list) and isinstance(last, int) and last < len(node)
    if isinstance(node, dict) or in_list:
        node[last] = value


@fuzz(300)
@given(
    model=st.sampled_from(sorted(_VALID)),
    edits=st.lists(st.tuples(st.sampled_from(_META_PATHS), _JSON), min_size=1, max_size=3),
    drop=st.sets(st.sampled_from(["model", "classes", "hyperparams", "summary", "arrays"])),
)
def test_edited_meta_json(model: str, edits, drop) -> None:
    """meta.json rewritten with any JSON in any field (CRCs valid, so only the checks stand)."""
    members = _members(_VALID[model])
    meta = json.loads(members["meta.json"])
    for path, value in edits:
        _set(meta, path, value)
    for key in drop:
        meta.pop(key, None)
    members["meta.json"] = json.dumps(meta).encode("utf-8")
    _load_and_use(_zip(members))


_ARRAY_NAMES = ["params", "scaler_mean", "scaler_scale", "feature_means"]


@fuzz(250)
@given(
    model=st.sampled_from(sorted(_VALID)),
    name=st.sampled_from(_ARRAY_NAMES),
    shape=st.lists(st.integers(0, 13), max_size=3),
    dtype=st.sampled_from(["<f8", ">f8", "<f4", "<f2", "<i8", "|u1", "|b1", "<c16"]),
    fill=st.sampled_from([0.0, 1.0, -1.0, 1e308, 1e-320, np.nan, np.inf]),
    declare=st.booleans(),
)
def test_replaced_array(model: str, name: str, shape, dtype, fill, declare: bool) -> None:
    """One array swapped for another shape, dtype or values, declared in meta.json or not."""
    members = _members(_VALID[model])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # inf/nan cast to ints
        array = np.full(shape, fill).astype(dtype)
    members[f"{name}.npy"] = _npy(array)
    if declare:
        meta = json.loads(members["meta.json"])
        meta["arrays"][name] = {"dtype": array.dtype.str, "shape": list(array.shape)}
        members["meta.json"] = json.dumps(meta).encode("utf-8")
    _load_and_use(_zip(members))


@fuzz(60)
@given(
    model=st.sampled_from(sorted(_VALID)),
    scale=st.sampled_from([1e-300, 1e-30, 1.0, 1e30, 1e300]),
    params=st.sampled_from([1e-300, 1.0, 1e4, 1e30, 1e300]),
)
def test_extreme_but_finite_arrays(model: str, scale: float, params: float) -> None:
    """A file whose numbers are finite but extreme loads and predicts, or is refused."""
    members = _members(_VALID[model])
    meta = json.loads(members["meta.json"])
    sizes = {n: meta["arrays"][n]["shape"] for n in _ARRAY_NAMES}
    members["scaler_scale.npy"] = _npy(np.full(sizes["scaler_scale"], scale))
    members["params.npy"] = _npy(np.full(sizes["params"], params))
    _load_and_use(_zip(members))


@pytest.mark.parametrize("model", sorted(_VALID))
def test_the_unmutated_files_load(model: str) -> None:
    """The fuzzers' starting points are valid, so a refusal above is the mutation's doing."""
    trained = _load_and_use(_VALID[model])
    assert trained is not None and trained.model.name == model


# --------------------------------------------------------------------------- LIBSVM files

# Indices small, zero, negative, past the range made dense (only the used ones are then
# features), at the parser's limit, beyond it and beyond int64.
_INDEX = st.sampled_from([0, 1, 2, 3, 5, -1, 50_000_000, 2**31 - 1, 2**31, 2**40, 2**63, 10**20])
_VALUE = st.sampled_from(["1", "0.5", "-2", "1e3", "0", "nan", "inf", "x", ""])
_LABEL = st.sampled_from(["0", "1", "-1", "2.5", "+1", "a", "nan", "1e400", ""])


@st.composite
def _libsvm_lines(draw) -> str:
    lines = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["data", "data", "data", "comment", "blank"]))
        if kind == "comment":
            lines.append("# a comment")
            continue
        if kind == "blank":
            lines.append("")
            continue
        indices = draw(st.lists(_INDEX, max_size=4))
        if draw(st.booleans()):
            indices = sorted(set(indices))  # most files are well formed
        fields = [draw(_LABEL)]
        if draw(st.integers(0, 4)) == 0:
            fields.append(f"qid:{draw(st.integers(0, 3))}")
        fields += [f"{i}:{draw(_VALUE)}" for i in indices]
        if draw(st.integers(0, 4)) == 0:
            fields.append("# trailing")
        lines.append(" ".join(fields))
    return "\n".join(lines) + draw(st.sampled_from(["\n", ""]))


@fuzz(250)
@given(text=_libsvm_lines(), model=st.sampled_from(["softmax", "least-squares"]))
def test_damaged_libsvm_files_load_and_train_or_fail_cleanly(text: str, model: str) -> None:
    """Index 0 in a one-based file, negative, unsorted, repeated or huge indices, ``qid:``
    fields, comments, blank lines, text labels: a clean error, or data that trains."""
    path = _file(text.encode(), ".svm")
    try:
        data = load_dataset(path)
        assert data.X.shape[1] == len(data.feature_names) <= 16
        assert len(set(data.feature_names)) == len(data.feature_names)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit(make_model(model), data.X, data.y, max_iter=5)
    except LinfitError as exc:
        _one_line_error(exc)


# --------------------------------------------------------------------------- Parquet files


def _parquet(frame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, engine="pyarrow")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def parquet_files() -> dict[str, bytes]:
    pytest.importorskip("pyarrow")
    import pandas as pd

    flat = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [0.5, 0.1, 0.2, 0.3], "y": [0, 1, 0, 1]})
    nested = flat.assign(a=[{"u": 1}, {"u": 2}, {"u": 3}, {"u": 4}])
    listed = flat.assign(b=[[1, 2], [3], [], [4]])
    return {"flat": _parquet(flat), "struct": _parquet(nested), "list": _parquet(listed)}


@fuzz(150)
@given(
    which=st.sampled_from(["flat", "struct", "list"]),
    cut=st.integers(0, 64),
    flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), max_size=3),
    magic=st.sampled_from([None, b"PAR0", b"\x00\x00\x00\x00", b"PK\x03\x04"]),
)
def test_damaged_parquet_files_load_or_fail_cleanly(
    parquet_files, which: str, cut: int, flips, magic
) -> None:
    """A truncated footer, a wrong magic number, flipped bytes, a nested column."""
    data = bytearray(parquet_files[which])
    if cut:
        del data[-cut:]
    for position, mask in flips:
        if data:
            data[position % len(data)] ^= mask
    if magic is not None and len(data) >= 4:
        data[-4:] = magic
    path = _file(bytes(data), ".parquet")
    try:
        _check_dataset(load_dataset(path))
    except LinfitError as exc:
        _one_line_error(exc)


# --------------------------------------------------------------------------- cache entries


@fuzz(120)
@given(
    member=st.sampled_from(["X.bin", "y.npy", "meta.json"]),
    how=st.sampled_from(["truncate", "flip", "replace", "remove", "append"]),
    at=st.integers(0, 10**6),
    noise=st.binary(min_size=1, max_size=64),
)
def test_a_damaged_cache_entry_is_never_served(member: str, how: str, at: int, noise) -> None:
    """Whatever happens to an entry's files, a read gives what a parse gives (after a
    one-line CacheWarning when the damage shows), never an exception or other data."""
    from linfit.errors import CacheWarning
    from linfit.storage import cache

    folder = _scratch()
    data = folder / "cached.csv"
    if not data.exists():
        data.write_text("a,b,y\n1,2,x\n3,4,y\n5,6,x\n7,8.5,y\n")
    fresh = load_dataset(data)
    with mock.patch.dict(os.environ, {"LINFIT_CACHE_DIR": str(folder / "cache")}):
        cache.cached(data, {}, lambda: load_dataset(data))  # made, or found whole
        (entry,) = (folder / "cache").iterdir()
        target = entry / member
        content = bytearray(target.read_bytes())
        if how == "truncate":
            del content[at % (len(content) + 1) :]
        elif how == "flip" and content:
            content[at % len(content)] ^= noise[0]
        elif how == "replace":
            content = bytearray(noise)
        elif how == "append":
            content += noise
        if how == "remove":
            target.unlink()
        else:
            target.write_bytes(bytes(content))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            got = cache.cached(data, {}, lambda: load_dataset(data))
        for warning in caught:
            assert issubclass(warning.category, CacheWarning), warning
            assert "\n" not in str(warning.message)
        np.testing.assert_array_equal(got.X, fresh.X)
        assert got.y.tolist() == fresh.y.tolist() and got.y.dtype == fresh.y.dtype
        assert (got.feature_names, got.target_name) == (fresh.feature_names, fresh.target_name)
