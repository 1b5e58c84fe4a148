"""linfit.storage.container and container_reader: exact round trips, atomic writes, and
hostile files refused."""

from __future__ import annotations

import io
import json
import os
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from file_helpers import file_holding
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linfit.errors import ModelFileError, OptionError, OutputError
from linfit.storage.container import FORMAT, FORMAT_VERSION, write_model_file
from linfit.storage.container_reader import read_model_file

ARRAYS = {
    "W": np.arange(6, dtype=np.float64).reshape(3, 2) / 7,
    "b": np.array([1.5, -2.25], dtype=np.float32),
    "classes": np.array([3, 1, 4], dtype=np.int32),
    "mask": np.array([[True, False]]),
    "scalar": np.array(2.5),
    "empty": np.zeros((0, 4), dtype=np.float64),
    "z": np.array([1 + 2j], dtype=np.complex128),
    "big_endian": np.array([1.0, 2.0], dtype=">f8"),
    "u8": np.array([255, 0], dtype=np.uint8),
}


def npy_bytes(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def meta_bytes(arrays: dict[str, tuple[str, list[int]]] | None = None, **fields: object) -> bytes:
    table = {n: {"dtype": d, "shape": s} for n, (d, s) in (arrays or {}).items()}
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "arrays": table, **fields}
    return json.dumps(meta).encode("utf-8")


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def valid_members() -> dict[str, bytes]:
    W = np.ones((3, 2))
    return {"meta.json": meta_bytes({"W": ("<f8", [3, 2])}), "W.npy": npy_bytes(W)}


def read_error(path: Path) -> str:
    with pytest.raises(ModelFileError) as exc:
        read_model_file(path)
    message = str(exc.value)
    assert str(path) in message and "\n" not in message
    return message


# --------------------------------------------------------------------------- writing


def test_round_trip_exact(tmp_path: Path) -> None:
    path = tmp_path / "model.linfit"
    meta = {"model": "ridge", "alpha": 0.5, "names": ["a", "b"], "n": np.int64(3)}
    write_model_file(path, meta, ARRAYS)
    stored, arrays = read_model_file(path)

    assert set(arrays) == set(ARRAYS)
    for name, original in ARRAYS.items():
        loaded = arrays[name]
        assert loaded.dtype == original.dtype and loaded.dtype.str == original.dtype.str
        assert loaded.shape == original.shape
        np.testing.assert_array_equal(loaded, original)
        assert loaded.flags.c_contiguous and loaded.flags.writeable
    assert stored["model"] == "ridge" and stored["alpha"] == 0.5 and stored["n"] == 3
    assert stored["names"] == ["a", "b"]
    assert stored["format"] == FORMAT and stored["format_version"] == FORMAT_VERSION
    assert stored["arrays"]["W"] == {"dtype": "<f8", "shape": [3, 2]}
    assert "format" not in meta  # the caller's dict is left alone


def test_file_layout(tmp_path: Path) -> None:
    path = tmp_path / "model.linfit"
    write_model_file(path, {}, {"W": np.ones(3)})
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["W.npy", "meta.json"]
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in zf.infolist())
        assert json.loads(zf.read("meta.json"))["format"] == "linfit-model"


def test_fortran_order_input_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "model.linfit"
    W = np.asfortranarray(np.arange(12.0).reshape(3, 4))
    write_model_file(path, {}, {"W": W})
    np.testing.assert_array_equal(read_model_file(path)[1]["W"], W)


def test_overwrite_keeps_permissions(tmp_path: Path) -> None:
    path = tmp_path / "model.linfit"
    write_model_file(path, {"v": 1}, {})
    os.chmod(path, 0o640)
    write_model_file(path, {"v": 2}, {})
    assert read_model_file(path)[0]["v"] == 2
    assert path.stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize("name", ["", "a.b", "../x", "W.npy", "ü", "a b"])
def test_bad_array_name_is_a_programming_error(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match=r"array name"):
        write_model_file(tmp_path / "m.linfit", {}, {name: np.ones(2)})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "array",
    [np.array(["a"]), np.array([object()], dtype=object), np.array([b"x"]), np.zeros(1, "M8[s]")],
)
def test_non_numeric_array_is_refused(tmp_path: Path, array: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"only numbers"):
        write_model_file(tmp_path / "m.linfit", {}, {"W": array})


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(OptionError) as exc:
        write_model_file(tmp_path / "nope" / "m.linfit", {}, {})
    message = str(exc.value)
    assert f"'{tmp_path / 'nope'}'" in message and "does not exist" in message
    assert "model file" in message and "\n" not in message


def test_path_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match=r"is a directory"):
        write_model_file(tmp_path, {}, {})


def test_symlink_target_is_refused(tmp_path: Path) -> None:
    path, old = _snapshot(tmp_path)
    link = tmp_path / "link.linfit"
    link.symlink_to(path)
    with pytest.raises(OptionError, match=r"symbolic link"):
        write_model_file(link, {"version": "new"}, {})
    assert link.is_symlink() and path.read_bytes() == old


def _snapshot(tmp_path: Path) -> tuple[Path, bytes]:
    path = tmp_path / "model.linfit"
    write_model_file(path, {"version": "old"}, {"W": np.ones((2, 2))})
    return path, path.read_bytes()


def test_failed_write_leaves_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, old = _snapshot(tmp_path)
    created: list[str] = []
    real_save = np.save

    def failing_save(file: object, array: np.ndarray, **kwargs: object) -> None:
        # The temporary exists by now: the failure must clean it up.
        created.extend(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp"))
        real_save(file, array[:1], **kwargs)  # type: ignore[call-overload]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "save", failing_save)
    with pytest.raises(OutputError, match=r"model file .*No space left on device"):
        write_model_file(path, {"version": "new"}, {"W": np.zeros((50, 50))})
    assert created, "the writer should have been writing to a temporary file"
    assert path.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["model.linfit"]


def test_interrupted_write_leaves_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, old = _snapshot(tmp_path)

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_model_file(path, {"version": "new"}, {"W": np.zeros(3)})
    assert path.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["model.linfit"]


def test_unserializable_meta_leaves_old_file(tmp_path: Path) -> None:
    path, old = _snapshot(tmp_path)
    with pytest.raises(TypeError, match=r"not JSON serializable"):
        write_model_file(path, {"bad": object()}, {"W": np.zeros(3)})
    assert path.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["model.linfit"]


# --------------------------------------------------------------------------- hostile files


def test_not_found(tmp_path: Path) -> None:
    assert "not found" in read_error(tmp_path / "missing.linfit")


def test_paths_with_a_newline_stay_one_line(tmp_path: Path) -> None:
    for path in (tmp_path / "new\nline.linfit", make_zip(tmp_path / "a\nb.linfit", {})):
        with pytest.raises(ModelFileError) as exc:
            read_model_file(path)
        assert "\n" not in str(exc.value) and repr(str(path)) in str(exc.value)
    with pytest.raises(OptionError) as err:
        write_model_file(tmp_path / "no\nfolder" / "m.linfit", {}, {})
    assert "\n" not in str(err.value) and "no\\nfolder" in str(err.value)


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match=r"is a directory"):
        read_model_file(tmp_path)


def test_truncated(tmp_path: Path) -> None:
    path, data = _snapshot(tmp_path)
    for cut in (len(data) // 2, len(data) - 10, 30):
        path.write_bytes(data[:cut])
        assert "truncated or corrupted" in read_error(path)


def test_bad_crc(tmp_path: Path) -> None:
    path = tmp_path / "m.linfit"
    payload = npy_bytes(np.arange(100.0))
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("meta.json", meta_bytes({"W": ("<f8", [100])}))
        zf.writestr("W.npy", payload)
    data = bytearray(path.read_bytes())
    offset = bytes(data).index(payload) + len(payload) - 8  # inside the array's values
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    assert "truncated or corrupted" in read_error(path)


@pytest.mark.parametrize("content", [b"", b"hello", b"\x93NUMPY" + b"\x00" * 100, b"a,b\n1,2\n"])
def test_not_a_zip(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "m.linfit"
    path.write_bytes(content)
    assert "not a linfit model file" in read_error(path)


def test_zip_without_meta(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "m.linfit", {"W.npy": npy_bytes(np.ones(2))})
    message = read_error(path)
    assert "meta.json" in message and "not a linfit model file" in message


@pytest.mark.parametrize(
    "meta",
    [
        json.dumps({"format": "sklearn", "format_version": 1, "arrays": {}}).encode(),
        json.dumps({"format_version": 1, "arrays": {}}).encode(),
        json.dumps([FORMAT, 1]).encode(),
        b"42",
    ],
)
def test_foreign_format(tmp_path: Path, meta: bytes) -> None:
    path = make_zip(tmp_path / "m.linfit", {"meta.json": meta})
    assert "not a linfit model file" in read_error(path)


@pytest.mark.parametrize("meta", [b"{not json", b"\xff\xfe{}", b"[" * 100_000 + b"]" * 100_000])
def test_unreadable_meta(tmp_path: Path, meta: bytes) -> None:
    path = make_zip(tmp_path / "m.linfit", {"meta.json": meta})
    assert "corrupted" in read_error(path)


def test_newer_format_version(tmp_path: Path) -> None:
    newer = FORMAT_VERSION + 1
    path = make_zip(tmp_path / "m.linfit", {"meta.json": meta_bytes(format_version=newer)})
    message = read_error(path)
    assert f"newer linfit (format {newer}" in message and "upgrade linfit" in message


@pytest.mark.parametrize("version", [None, "1", 0, -1, 1.0, True])
def test_invalid_format_version(tmp_path: Path, version: object) -> None:
    members = {"meta.json": meta_bytes(format_version=version)}
    path = make_zip(tmp_path / "m.linfit", members)
    assert "format_version" in read_error(path)


@pytest.mark.parametrize(
    "member", ["../evil.npy", "/abs.npy", "dir/W.npy", "dir/", "notes.txt", "W.npy.exe", "W.pkl"]
)
def test_unexpected_member(tmp_path: Path, member: str) -> None:
    members = valid_members()
    members[member] = b"x"
    path = make_zip(tmp_path / "m.linfit", members)
    message = read_error(path)
    assert "unexpected member" in message and repr(member) in message


def test_path_traversal_member_is_never_extracted(tmp_path: Path) -> None:
    folder = tmp_path / "inner"
    folder.mkdir()
    members = valid_members()
    members["../evil.npy"] = npy_bytes(np.ones(1))
    path = make_zip(folder / "m.linfit", members)
    with pytest.raises(ModelFileError, match=r"'../evil.npy'"):
        read_model_file(path)
    assert not (tmp_path / "evil.npy").exists()


def test_array_not_listed_in_meta(tmp_path: Path) -> None:
    members = valid_members()
    members["extra.npy"] = npy_bytes(np.ones(1))
    path = make_zip(tmp_path / "m.linfit", members)
    assert "unexpected member 'extra.npy'" in read_error(path)


def test_listed_array_missing(tmp_path: Path) -> None:
    members = valid_members()
    members["meta.json"] = meta_bytes({"W": ("<f8", [3, 2]), "b": ("<f8", [2])})
    path = make_zip(tmp_path / "m.linfit", members)
    assert "lacks array 'b'" in read_error(path)


def test_duplicate_member(tmp_path: Path) -> None:
    path = tmp_path / "m.linfit"
    with pytest.warns(UserWarning, match=r"Duplicate name"), zipfile.ZipFile(path, "w") as zf:
        for name, data in valid_members().items():
            zf.writestr(name, data)
        zf.writestr("W.npy", npy_bytes(np.zeros((3, 2))))
    assert "twice" in read_error(path)


def test_too_many_members(tmp_path: Path) -> None:
    members = valid_members()
    members.update({f"a{i}.npy": b"" for i in range(70)})
    path = make_zip(tmp_path / "m.linfit", members)
    assert "members" in read_error(path)


class _Trap:
    """Unpickling this records the fact: a safe reader must never get that far."""

    def __reduce__(self) -> tuple[object, tuple[()]]:
        return (_sprung.append, (True,))


_sprung: list[bool] = []


@pytest.mark.parametrize("declared", ["|O", "<f8"])
def test_pickled_object_array_is_not_unpickled(tmp_path: Path, declared: str) -> None:
    payload = npy_bytes(np.array([_Trap(), 1], dtype=object), allow_pickle=True)
    _sprung.clear()
    members = {"meta.json": meta_bytes({"W": (declared, [2])}), "W.npy": payload}
    path = make_zip(tmp_path / "m.linfit", members)
    message = read_error(path)
    assert "'W'" in message
    assert not _sprung


def test_tampered_shape(tmp_path: Path) -> None:
    path = tmp_path / "m.linfit"
    write_model_file(path, {}, {"W": np.ones((3, 2))})
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    meta = json.loads(members["meta.json"])
    meta["arrays"]["W"]["shape"] = [4, 2]
    members["meta.json"] = json.dumps(meta).encode()
    make_zip(path, members)
    message = read_error(path)
    assert "array 'W' has shape (3, 2) but the file declares (4, 2)" in message
    assert "corrupted" in message


def test_tampered_dtype(tmp_path: Path) -> None:
    members = valid_members()
    members["meta.json"] = meta_bytes({"W": ("<f4", [3, 2])})
    path = make_zip(tmp_path / "m.linfit", members)
    assert "array 'W' has dtype <f8 but the file declares <f4" in read_error(path)


@pytest.mark.parametrize(
    "spec",
    [
        {"dtype": "<f8"},
        {"dtype": "nope", "shape": [1]},
        {"dtype": "<U3", "shape": [1]},
        {"dtype": "<f8", "shape": [-1]},
        {"dtype": "<f8", "shape": "3"},
        "W",
    ],
)
def test_bad_array_table(tmp_path: Path, spec: object) -> None:
    meta = json.loads(meta_bytes())
    meta["arrays"] = {"W": spec}
    members = {"meta.json": json.dumps(meta).encode(), "W.npy": npy_bytes(np.ones(1))}
    path = make_zip(tmp_path / "m.linfit", members)
    assert "'W'" in read_error(path)


def test_npy_header_lies_about_size(tmp_path: Path) -> None:
    # The header claims 10**12 values: the reader must refuse before allocating them.
    buffer = io.BytesIO()
    header = {"descr": "<f8", "fortran_order": False, "shape": (10**12,)}
    np.lib.format.write_array_header_1_0(buffer, header)
    lying = buffer.getvalue() + bytes(24)
    members = {"meta.json": meta_bytes({"W": ("<f8", [10**12])}), "W.npy": lying}
    path = make_zip(tmp_path / "m.linfit", members)
    assert "'W'" in read_error(path)


def test_zip_bomb_by_ratio(tmp_path: Path) -> None:
    path = tmp_path / "bomb.linfit"
    zeros = bytes(1 << 22)  # 4 MiB
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("meta.json", meta_bytes({"W": ("<f8", [16 * (1 << 19)])}))
        with zf.open("W.npy", "w", force_zip64=True) as member:
            for _ in range(16):  # 64 MiB of zeros, about 64 KiB on disk
                member.write(zeros)
    assert path.stat().st_size < 1 << 20
    message = read_error(path)
    assert "'W.npy'" in message and "zip bomb" in message


def declare_size(path: Path, member: str, size: int) -> None:
    """Rewrite the uncompressed size that ``member``'s central-directory entry declares."""
    data = bytearray(path.read_bytes())
    entry = -1
    while True:
        entry = data.index(b"PK\x01\x02", entry + 1)
        name_length = struct.unpack_from("<H", data, entry + 28)[0]
        if data[entry + 46 : entry + 46 + name_length] == member.encode():
            break
    struct.pack_into("<I", data, entry + 24, size)
    path.write_bytes(bytes(data))


def test_zip_bomb_by_declared_size(tmp_path: Path) -> None:
    # A small member whose central-directory entry claims 3.5 GiB.
    path = make_zip(tmp_path / "liar.linfit", valid_members())
    declare_size(path, "W.npy", 0xE0000000)
    message = read_error(path)
    assert "'W.npy'" in message and "declares" in message


def test_member_larger_than_declared_is_cut_off(tmp_path: Path) -> None:
    # Central directory claims fewer bytes than the data holds: never read past the claim.
    path = make_zip(tmp_path / "m.linfit", valid_members())
    with zipfile.ZipFile(path) as archive:
        size = archive.getinfo("W.npy").file_size
    declare_size(path, "W.npy", size - 8)
    assert "corrupted" in read_error(path)


# --------------------------------------------------------------------------- fuzzing


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    content=st.one_of(st.binary(max_size=512), st.binary(max_size=200).map(b"PK\x03\x04".__add__))
)
def test_arbitrary_bytes_raise_model_file_error(content: bytes) -> None:
    with file_holding(content, ".linfit") as path, pytest.raises(ModelFileError):
        read_model_file(path)


def _valid_file_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("meta.json", meta_bytes({"W": ("<f8", [3, 2]), "b": ("<i4", [2])}))
        zf.writestr("W.npy", npy_bytes(np.arange(6.0).reshape(3, 2)))
        zf.writestr("b.npy", npy_bytes(np.array([1, 2], dtype=np.int32)))
    return buffer.getvalue()


_VALID = _valid_file_bytes()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cut=st.integers(min_value=0, max_value=len(_VALID)),
    flips=st.lists(
        st.tuples(st.integers(0, len(_VALID) - 1), st.integers(1, 255)), min_size=0, max_size=4
    ),
)
def test_damaged_model_file_reads_or_raises_model_file_error(
    cut: int, flips: list[tuple[int, int]]
) -> None:
    data = bytearray(_VALID)
    for offset, mask in flips:
        data[offset] ^= mask
    with file_holding(bytes(data[:cut]), ".linfit") as path:
        try:
            meta, arrays = read_model_file(path)
        except ModelFileError:
            return
    # Damage that zip and CRC checks cannot see (timestamps, unused fields) is harmless.
    assert meta["format"] == FORMAT
    for name, spec in meta["arrays"].items():
        assert arrays[name].dtype.str == spec["dtype"]
        assert list(arrays[name].shape) == spec["shape"]
