"""The corpus inputs that are awkward to commit: big, binary, or made from a real model file.

``tests/test_bad_inputs.py`` writes them at test time into a temporary folder; the
expected outcome of each is in ``cases.json`` beside this file, as for the committed ones.
To look at them: ``python tests/bad_inputs/generate.py OUT_FOLDER``.

Every hostile model file starts from a valid one (softmax trained on ``csv/good.csv``)
and changes one thing, so a refusal is that change's doing.
"""

from __future__ import annotations

import io
import json
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
GOOD_CSV = HERE / "csv" / "good.csv"


def valid_model(path: Path) -> Path:
    """A softmax model trained on ``csv/good.csv`` (features x1, x2; classes 0, 1)."""
    from linfit.data import load_dataset
    from linfit.fitting import fit
    from linfit.models import make_model
    from linfit.storage import persist

    data = load_dataset(GOOD_CSV)
    trained = fit(
        make_model("softmax"), data.X, data.y, feature_names=data.feature_names, target_name="y"
    )
    persist.save(trained, path)
    return path


# --------------------------------------------------------------------------- data files


def wide_10000_columns(dest: Path, _model: Path) -> None:
    """30 rows of 10,000 features and a 0/1 target."""
    rng = np.random.default_rng(10_000)
    X = rng.normal(size=(30, 10_000)).round(3)
    y = (X[:, 0] > 0).astype(int)
    with open(dest, "w", encoding="utf-8", newline="") as fh:
        fh.write(",".join(f"c{j}" for j in range(10_000)) + ",y\n")
        for row, label in zip(X, y, strict=True):
            fh.write(",".join(map(str, row)) + f",{label}\n")


def identifier_target(dest: Path, _model: Path) -> None:
    """30,000 rows whose last column, the default target, is a different id in every row
    (issue 17: a softmax on it asked for 6.7 GB of scores and died of MemoryError)."""
    rng = np.random.default_rng(30_000)
    X = rng.normal(size=(30_000, 2)).round(3)
    with open(dest, "w", encoding="utf-8", newline="") as fh:
        fh.write("x1,x2,id\n")
        fh.writelines(f"{a},{b},row-{i:05d}\n" for i, (a, b) in enumerate(X))


def columns_1000000(dest: Path, _model: Path) -> None:
    """A header of 1,000,000 columns (999,999 features and y) over 3 rows."""
    names = ",".join(f"c{j}" for j in range(999_999))
    with open(dest, "w", encoding="utf-8", newline="") as fh:
        fh.write(names + ",y\n")
        for label in (0, 1, 0):
            fh.write(",".join([str(label + 1)] * 999_999) + f",{label}\n")


def _parquet_bytes(frame: object) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, engine="pyarrow")  # type: ignore[attr-defined]
    return buffer.getvalue()


def _good_frame() -> object:
    import pandas as pd

    return pd.read_csv(GOOD_CSV)


def parquet_truncated_footer(dest: Path, _model: Path) -> None:
    """csv/good.csv as Parquet, its last 20 bytes (footer length and magic) cut off."""
    dest.write_bytes(_parquet_bytes(_good_frame())[:-20])


def parquet_wrong_magic(dest: Path, _model: Path) -> None:
    """csv/good.csv as Parquet, its closing magic number PAR1 replaced by PAR0."""
    dest.write_bytes(_parquet_bytes(_good_frame())[:-4] + b"PAR0")


def parquet_nested_column(dest: Path, _model: Path) -> None:
    """csv/good.csv as Parquet, its feature x1 a struct column ({'u': value})."""
    frame = _good_frame()
    frame["x1"] = [{"u": float(v)} for v in frame["x1"]]  # type: ignore[index]
    dest.write_bytes(_parquet_bytes(frame))


# --------------------------------------------------------------------------- model files


def _members(model: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(model) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def _write_zip(dest: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def _npy(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def _edited_meta(model: Path, dest: Path, edit: Callable[[dict], None]) -> None:
    members = _members(model)
    meta = json.loads(members["meta.json"])
    edit(meta)
    members["meta.json"] = json.dumps(meta).encode("utf-8")
    _write_zip(dest, members)


def truncated(dest: Path, model: Path) -> None:
    data = model.read_bytes()
    dest.write_bytes(data[: len(data) // 2])


def wrong_magic(dest: Path, model: Path) -> None:
    """A valid model whose first bytes are a PNG signature instead of 'PK\\x03\\x04'."""
    dest.write_bytes(b"\x89PNG" + model.read_bytes()[4:])


def zip_bomb(dest: Path, model: Path) -> None:
    """params.npy declared as 64 MiB of zeros, compressed about 1000:1 (64 KiB on disk)."""
    members = _members(model)
    meta = json.loads(members["meta.json"])
    meta["arrays"]["params"]["shape"] = [8 * (1 << 20)]
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("meta.json", json.dumps(meta))
        with zf.open("params.npy", "w", force_zip64=True) as member:
            zeros = bytes(1 << 22)
            for _ in range(16):
                member.write(zeros)
        for name, data in members.items():
            if name not in ("meta.json", "params.npy"):
                zf.writestr(name, data)


def path_traversal(dest: Path, model: Path) -> None:
    members = _members(model)
    members["../../evil.npy"] = _npy(np.zeros(3))
    _write_zip(dest, members)


def absolute_member(dest: Path, model: Path) -> None:
    members = _members(model)
    members["/tmp/linfit-evil.sh"] = b"#!/bin/sh\necho owned\n"
    _write_zip(dest, members)


class _Trap:
    """Unpickling this runs code: a loader that unpickled it would create the file UNPICKLED
    in its working folder, which the test checks is left unchanged."""

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, ("UNPICKLED", "w"))


def pickle_in_array(dest: Path, model: Path) -> None:
    """params.npy as an object array (a pickle) holding a code-running object."""
    members = _members(model)
    members["params.npy"] = _npy(np.array([_Trap()], dtype=object), allow_pickle=True)
    _write_zip(dest, members)


def pickle_member(dest: Path, model: Path) -> None:
    import pickle

    members = _members(model)
    members["model.pkl"] = pickle.dumps(_Trap())
    _write_zip(dest, members)


def tampered_shape(dest: Path, model: Path) -> None:
    """meta.json declares params of 999 values; the .npy holds 6."""
    _edited_meta(model, dest, lambda meta: meta["arrays"]["params"].update(shape=[999]))


def tampered_shape_consistent(dest: Path, model: Path) -> None:
    """params of 5 values, declared so: consistent as a zip, but 5 fits no 2-feature model."""
    members = _members(model)
    members["params.npy"] = _npy(np.zeros(5))
    meta = json.loads(members["meta.json"])
    meta["arrays"]["params"]["shape"] = [5]
    members["meta.json"] = json.dumps(meta).encode("utf-8")
    _write_zip(dest, members)


def newer_format(dest: Path, model: Path) -> None:
    _edited_meta(model, dest, lambda meta: meta.update(format_version=99))


def unknown_model(dest: Path, model: Path) -> None:
    _edited_meta(model, dest, lambda meta: meta.update(model="os.system"))


def nan_params(dest: Path, model: Path) -> None:
    members = _members(model)
    members["params.npy"] = _npy(np.full(6, np.nan))
    _write_zip(dest, members)


GENERATORS: dict[str, Callable[[Path, Path], None]] = {
    "wide_10000_columns.csv": wide_10000_columns,
    "identifier_target.csv": identifier_target,
    "columns_1000000.csv": columns_1000000,
    "truncated_footer.parquet": parquet_truncated_footer,
    "wrong_magic.parquet": parquet_wrong_magic,
    "nested_column.parquet": parquet_nested_column,
    "truncated.linfit": truncated,
    "wrong_magic.linfit": wrong_magic,
    "zip_bomb.linfit": zip_bomb,
    "path_traversal.linfit": path_traversal,
    "absolute_member.linfit": absolute_member,
    "pickle_in_array.linfit": pickle_in_array,
    "pickle_member.linfit": pickle_member,
    "tampered_shape.linfit": tampered_shape,
    "tampered_shape_consistent.linfit": tampered_shape_consistent,
    "newer_format.linfit": newer_format,
    "unknown_model.linfit": unknown_model,
    "nan_params.linfit": nan_params,
}


def generate_all(folder: Path) -> Path:
    """Write every generated input into ``folder``; returns the valid model they start from."""
    folder.mkdir(parents=True, exist_ok=True)
    model = valid_model(folder / "valid.linfit")
    for name, make in GENERATORS.items():
        make(folder / name, model)
    return model


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/bad_inputs/generate.py OUT_FOLDER")
    generate_all(Path(sys.argv[1]))
