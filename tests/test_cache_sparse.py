"""Sparse (CSR) entries of the parsed-data cache: a hit returns the parse's matrix bit for
bit; a changed file misses; each kind of damage is one reported miss and a rewrite,
never a traceback nor a wrong-shaped matrix; LIBSVM and sparse one-hot reads go through
the cache; the out-of-core read is never served a sparse entry."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from cache_helpers import assert_damage_is_one_reported_miss_and_a_rewrite
from cli_helpers import _CLEAN_ENV, invoke
from sklearn.datasets import dump_svmlight_file

import linfit.data.features as features
import linfit.data.libsvm as libsvm_module
from linfit.data import Dataset, load_dataset
from linfit.data.source import ReadOptions, load_data
from linfit.errors import CacheWarning
from linfit.storage import cache, cache_entry, cache_sparse, cache_writer, persist

N_ROWS, N_COLS = 300, 40


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("LINFIT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def sparse_libsvm(monkeypatch):
    """LIBSVM files read as CSR, however small."""
    monkeypatch.setattr(libsvm_module, "DENSE_CELLS", 99)


def write_libsvm(path: Path, seed: int = 0, rows: int = N_ROWS) -> Path:
    """A LIBSVM file of ``rows`` x N_COLS, about 15% stored, labels 0..2, one-based."""
    rng = np.random.default_rng(seed)
    X = sp.random(rows, N_COLS, density=0.15, format="csr", random_state=seed)
    X.data = np.round(rng.normal(size=X.nnz), 6)
    y = rng.integers(0, 3, rows)
    y[:3] = [0, 1, 2]
    dump_svmlight_file(X, y, str(path), zero_based=False)
    return path


def _load(path, **options):
    return cache.cached(path, options, lambda: load_dataset(path, **options))


def same_dataset(a: Dataset, b: Dataset) -> None:
    """The same matrix (class, shape, each CSR array's dtype and bytes, or the dense
    array's), targets (dtype and values), names and target name."""
    assert type(a.X) is type(b.X) and a.X.shape == b.X.shape and a.X.dtype == b.X.dtype
    if sp.issparse(a.X):
        for name in cache_sparse.ARRAYS:
            left, right = getattr(a.X, name), getattr(b.X, name)
            assert left.dtype == right.dtype, name
            assert left.tobytes() == right.tobytes(), name
    else:
        assert a.X.flags.c_contiguous and a.X.tobytes() == b.X.tobytes()
    assert a.y.dtype == b.y.dtype
    np.testing.assert_array_equal(a.y, b.y)
    assert (a.feature_names, a.target_name) == (b.feature_names, b.target_name)


def _entry(folder: Path) -> Path:
    (entry,) = folder.iterdir()
    return entry


def _meta(entry: Path) -> dict:
    return json.loads((entry / "meta.json").read_text())


# --------------------------------------------------------------------------- round trips


def test_a_libsvm_hit_is_the_parse_bit_for_bit(folder, tmp_path, sparse_libsvm):
    path = write_libsvm(tmp_path / "d.svm")
    first = _load(path)
    assert sp.issparse(first.X)
    entry = _entry(folder)
    assert sorted(p.name for p in entry.iterdir()) == [
        "data.bin", "indices.bin", "indptr.bin", "meta.json", "y.npy",
    ]  # fmt: skip
    assert _meta(entry)["layout"] == "csr_matrix"
    hit = cache.cached(path, {}, lambda: pytest.fail("parsed again"))
    same_dataset(hit, first)
    same_dataset(hit, load_dataset(path))


@pytest.mark.parametrize(
    ("kind", "index_dtype", "dtype", "labels"),
    [
        ("csr_matrix", np.int64, np.float64, "int"),
        ("csr_array", np.int32, np.float32, "text"),
        ("csr_matrix", np.int32, np.float64, "float"),
    ],
)
def test_any_csr_round_trips_with_its_dtypes(folder, tmp_path, kind, index_dtype, dtype, labels):
    """int64 indices that would fit int32 stay int64 (scipy's constructor narrows them),
    a csr_array stays one, text labels come back as the loader gives them; an empty row
    and a matrix whose arrays are larger than the hashed ends (about 320 kB of data)."""
    rng = np.random.default_rng(1)
    X = getattr(sp, kind)(sp.random(2_000, 700, density=0.03, format="csr", random_state=1))
    X = X.astype(dtype)
    X.indices, X.indptr = X.indices.astype(index_dtype), X.indptr.astype(index_dtype)
    X.data[:] = rng.normal(size=X.nnz)
    y = {
        "int": rng.integers(0, 2, 2_000),
        "text": np.array(["a", "bb"], dtype=object)[rng.integers(0, 2, 2_000)],
        "float": rng.normal(size=2_000),
    }[labels]
    names = tuple(f"c{j}" for j in range(700))
    made = Dataset(X=X, y=y, feature_names=names, target_name="t")
    path = tmp_path / "d.bin"
    path.write_bytes(b"any file: its stat keys the entry")
    cache.cached(path, {}, lambda: made)
    hit = cache.cached(path, {}, lambda: pytest.fail("parsed again"))
    same_dataset(hit, made)
    assert hit.X.indices.dtype == index_dtype and hit.X.indptr.dtype == index_dtype


def test_a_dense_libsvm_read_is_kept_as_csr_and_served_dense(folder, tmp_path):
    """A LIBSVM matrix made dense (here 15% stored) is kept as CSR, a quarter of its dense
    bytes, and comes back as the parse's dense matrix bit for bit."""
    path = write_libsvm(tmp_path / "d.svm")
    parsed = load_dataset(path)
    assert not sp.issparse(parsed.X)
    same_dataset(load_data(path, ReadOptions()), parsed)
    entry = _entry(folder)
    meta = _meta(entry)
    assert meta["dense"] is True and not (entry / "X.bin").exists()
    stored = sum((entry / cache_sparse.file_name(name)).stat().st_size for name in meta["arrays"])
    assert stored < parsed.X.nbytes / 3
    same_dataset(load_data(path, ReadOptions()), parsed)


@pytest.mark.parametrize("density", [0.05, 0.9])
def test_a_compacted_dense_matrix_comes_back_bit_for_bit(folder, tmp_path, density):
    """Whatever a dense matrix holds, -0.0 and subnormals included: kept as CSR when that
    is smaller (at 5% stored), as X.bin when not (at 90%)."""
    rng = np.random.default_rng(2)
    X = np.where(rng.random((500, 60)) < density, rng.normal(size=(500, 60)), 0.0)
    X[0, :3] = [-0.0, 5e-324, -5e-324]
    made = Dataset(X=X, y=np.arange(500), feature_names=tuple(map(str, range(60))), target_name="t")
    path = tmp_path / "d.bin"
    path.write_bytes(b"x")
    cache.cached(path, {}, lambda: made, compact=True)
    assert ("dense" in _meta(_entry(folder))) == (density < 0.5)
    hit = cache.cached(path, {}, lambda: pytest.fail("parsed again"), compact=True)
    same_dataset(hit, made)


def test_an_empty_sparse_matrix_round_trips(folder, tmp_path):
    X = sp.csr_matrix((5, 3), dtype=np.float64)
    made = Dataset(X=X, y=np.arange(5), feature_names=("a", "b", "c"), target_name="t")
    path = tmp_path / "d.bin"
    path.write_bytes(b"x")
    cache.cached(path, {}, lambda: made)
    same_dataset(cache.cached(path, {}, lambda: pytest.fail("parsed again")), made)


def test_a_changed_libsvm_file_misses(folder, tmp_path, sparse_libsvm):
    path = write_libsvm(tmp_path / "d.svm")
    first = _load(path)
    write_libsvm(path, seed=1)
    second = _load(path)
    same_dataset(second, load_dataset(path))
    assert first.X.nnz != second.X.nnz or (first.X != second.X).nnz
    assert len(list(folder.iterdir())) == 2


# --------------------------------------------------------------------------- damage


def _flip_byte(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))


def _forge(entry: Path, name: str, change) -> None:
    """Change array ``name`` of the entry as ``change(values)`` does, in place, and re-sum
    its ends and the record: damage that only the structural checks can see."""
    meta = _meta(entry)
    meta.pop("checksum")
    record = meta["arrays"][name]
    path = entry / cache_sparse.file_name(name)
    values = np.fromfile(path, dtype=record["dtype"])
    change(values)
    path.write_bytes(values.tobytes())
    record["sample_sha256"] = cache_sparse.buffer_digest(values)
    cache_entry.write_meta(entry, meta)


def _forge_meta(entry: Path, change) -> None:
    """Change the record as ``change(meta)`` does and re-sum it."""
    meta = _meta(entry)
    meta.pop("checksum")
    change(meta)
    cache_entry.write_meta(entry, meta)


def _set(values, at, value):
    values[at] = value


def _swap_middle(values):
    middle = len(values) // 2
    values[middle], values[middle + 1] = values[middle + 1] + 1, values[middle]


def _lengths(meta, **lengths):
    for name, length in lengths.items():
        meta["arrays"][name]["length"] = length


DAMAGE = {
    # torn, cut or lost files: their size or their ends' digests
    "data.bin truncated": (lambda e: (e / "data.bin").write_bytes(b"x" * 8), "data.bin holds 8"),
    "indices.bin cut in half": (
        lambda e: os.truncate(e / "indices.bin", (e / "indices.bin").stat().st_size // 2),
        "indices.bin holds",
    ),
    "indptr.bin removed": (lambda e: (e / "indptr.bin").unlink(), "missing"),
    "data.bin's last byte": (lambda e: _flip_byte(e / "data.bin", -1), "ends of data.bin"),
    "indptr.bin's tail": (lambda e: _flip_byte(e / "indptr.bin", -2), "ends of indptr.bin"),
    "indices.bin's first byte": (lambda e: _flip_byte(e / "indices.bin", 0), "ends of indices"),
    "a byte of meta.json": (lambda e: _flip_byte(e / "meta.json", 40), "meta.json"),
    "meta.json's lengths edited": (
        lambda e: (e / "meta.json").write_text(
            (e / "meta.json").read_text().replace('"length": ', '"length": 1', 1)
        ),
        "checksum",
    ),
    # a record re-summed after the change: the checks of lengths and structure
    "fewer values than indices": (
        lambda e: _forge_meta(e, lambda m: _lengths(m, data=m["arrays"]["data"]["length"] - 1)),
        "values,",
    ),
    "more row offsets than rows": (
        lambda e: _forge_meta(e, lambda m: _lengths(m, indptr=N_ROWS + 2)),
        "302 row offsets for 300 rows",
    ),
    "arrays longer than their files": (
        lambda e: _forge_meta(
            e,
            lambda m: _lengths(
                m,
                data=m["arrays"]["data"]["length"] + 1,
                indices=m["arrays"]["indices"]["length"] + 1,
            ),
        ),
        "data.bin holds",
    ),
    "lengths beyond any memory": (
        lambda e: _forge_meta(e, lambda m: _lengths(m, data=10**15, indices=10**15)),
        "data.bin holds",
    ),
    "one more row in the shape": (
        lambda e: _forge_meta(e, lambda m: m.update(shape=[N_ROWS + 1, N_COLS])),
        "row offsets for 301 rows",
    ),
    "indices of floats": (
        lambda e: _forge_meta(e, lambda m: m["arrays"]["indices"].update(dtype="<f8")),
        "int32 or int64",
    ),
    "another layout": (
        lambda e: _forge_meta(e, lambda m: m.update(layout="coo_matrix")),
        "unknown layout",
    ),
    "indptr's tail changed": (
        lambda e: _forge(e, "indptr", lambda v: _set(v, -1, v[-1] - 1)),
        "indptr.bin runs from 0 to",
    ),
    "indptr's head changed": (
        lambda e: _forge(e, "indptr", lambda v: _set(v, 0, 1)),
        "indptr.bin runs from 1",
    ),
    "indptr decreasing": (lambda e: _forge(e, "indptr", _swap_middle), "indptr.bin decreases"),
    "an index past the last column": (
        lambda e: _forge(e, "indices", lambda v: _set(v, len(v) // 2, N_COLS)),
        "column index outside 0..39",
    ),
    "a negative index": (
        lambda e: _forge(e, "indices", lambda v: _set(v, len(v) // 2, -1)),
        "column index outside",
    ),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_each_kind_of_damage_is_one_reported_miss_and_a_rewrite(
    folder, tmp_path, sparse_libsvm, damage
):
    path = write_libsvm(tmp_path / "d.svm")
    _load(path)
    entry = _entry(folder)
    harm, said = DAMAGE[damage]
    harm(entry)
    assert_damage_is_one_reported_miss_and_a_rewrite(folder, entry, path, said, same_dataset)


@pytest.mark.parametrize("name", ["indices", "indptr"])
def test_any_byte_changed_in_an_index_array_is_a_miss_or_a_sound_matrix(
    folder, tmp_path, sparse_libsvm, name
):
    """Bytes of an index array changed one at a time (24 of them, drawn at random), its
    digest re-summed (as if they were in the unhashed middle): each read either misses
    with one warning, or serves a matrix of the parse's shape whose every index and offset
    stays in bounds (scipy's full check), never a traceback."""
    path = write_libsvm(tmp_path / "d.svm", rows=40)
    parsed = load_dataset(path)
    _load(path)
    size = (_entry(folder) / cache_sparse.file_name(name)).stat().st_size
    served = missed = 0
    for at in np.random.default_rng(3).choice(size, 24, replace=False).tolist():
        entry = _entry(folder)
        _forge(
            entry,
            name,
            lambda v, at=at: v.view(np.uint8).__setitem__(at, v.view(np.uint8)[at] ^ 0x5A),
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            got = cache.cached(path, {}, lambda: load_dataset(path))
        assert len(caught) <= 1
        assert got.X.shape == parsed.X.shape
        got.X.check_format(full_check=True)
        if caught:
            missed += 1
            same_dataset(got, parsed)  # the parse, and the entry rewritten
        else:
            served += 1
            _forge(
                _entry(folder),
                name,
                lambda v, at=at: v.view(np.uint8).__setitem__(at, v.view(np.uint8)[at] ^ 0x5A),
            )
    assert missed > 0


# --------------------------------------------------------------------------- where it serves


def test_the_out_of_core_read_is_never_served_a_sparse_entry(folder, tmp_path, sparse_libsvm):
    path = write_libsvm(tmp_path / "d.svm")
    _load(path)
    entry = _entry(folder)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a plain miss, no damage
        got = cache.cached_on_disk(path, {}, lambda staging: pytest.fail("parsed into it"))
    assert got is None  # the caller parses into a folder of its own
    assert list(folder.iterdir()) == [entry]  # left for the whole reads it serves
    assert _meta(entry)["layout"] == "csr_matrix"


def test_a_libsvm_entry_is_served_in_the_layout_a_parse_would_give(folder, tmp_path, monkeypatch):
    """The choice of a dense or sparse LIBSVM matrix depends on the memory budget, which
    the key does not hold: a sparse entry is made dense as the parse would make it, and a
    dense one that should now be sparse is parsed again (no warning) and rewritten sparse."""
    path = write_libsvm(tmp_path / "d.svm")
    dense = load_dataset(path)
    assert not sp.issparse(dense.X)
    monkeypatch.setattr(libsvm_module, "DENSE_CELLS", 99)
    sparse = load_dataset(path)
    same_dataset(load_data(path, ReadOptions()), sparse)  # a sparse entry
    reads = []
    real = libsvm_module.read_libsvm
    monkeypatch.setattr(libsvm_module, "read_libsvm", lambda *a: reads.append(1) or real(*a))
    monkeypatch.setattr(libsvm_module, "DENSE_CELLS", 10**8)
    same_dataset(load_data(path, ReadOptions()), dense)  # a hit, made dense
    assert reads == [] and "dense" not in _meta(_entry(folder))
    shutil.rmtree(_entry(folder))
    same_dataset(load_data(path, ReadOptions()), dense)  # an entry of a dense matrix
    assert reads == [1] and _meta(_entry(folder))["dense"] is True
    same_dataset(load_data(path, ReadOptions()), dense)  # a hit
    assert reads == [1]
    monkeypatch.setattr(libsvm_module, "DENSE_CELLS", 99)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not damage: of the other layout
        same_dataset(load_data(path, ReadOptions()), sparse)
    assert reads == [1, 1] and "dense" not in _meta(_entry(folder))
    same_dataset(load_data(path, ReadOptions()), sparse)  # rewritten sparse: a hit
    assert reads == [1, 1]


def test_a_sparse_one_hot_read_goes_through_the_cache(folder, tmp_path, monkeypatch):
    monkeypatch.setattr(features, "SPARSE_MIN_CELLS", 0)  # read as CSR, however small
    rng = np.random.default_rng(0)
    path = tmp_path / "t.csv"
    rows = [f"{x:.3f},v{c},w{d},{t}" for x, c, d, t in zip(
        rng.normal(size=200), rng.integers(0, 9, 200), rng.integers(0, 5, 200),
        rng.integers(0, 2, 200), strict=True,
    )]  # fmt: skip
    path.write_text("x,c,d,y\n" + "\n".join(rows) + "\n")
    read = ReadOptions(encode="onehot")
    first = load_data(path, read)
    assert sp.issparse(first.X)
    assert _meta(_entry(folder))["layout"] == "csr_matrix"
    same_dataset(first, load_dataset(path, encode="onehot"))
    monkeypatch.setattr(features, "sparse_columns_matrix", lambda *a: pytest.fail("parsed"))
    same_dataset(load_data(path, read), first)


def test_no_cache_writes_no_entry_and_weighted_reads_keep_their_weights(
    folder, tmp_path, monkeypatch
):
    """``--no-cache`` skips the cache for a LIBSVM file; a sparse one-hot read with sample
    weights writes an entry whose hit returns them."""
    monkeypatch.setattr(libsvm_module, "DENSE_CELLS", 99)
    monkeypatch.setattr(features, "SPARSE_MIN_CELLS", 0)
    path = write_libsvm(tmp_path / "d.svm")
    load_data(path, ReadOptions(cache=False))
    assert not folder.exists()
    table = tmp_path / "t.csv"
    table.write_text(
        "x,c,w,y\n" + "".join(f"{i},v{i % 7},{1 + i % 3},{i % 2}\n" for i in range(60))
    )
    weighted = load_data(table, ReadOptions(encode="onehot", weights="w"))
    assert sp.issparse(weighted.X) and weighted.weights is not None
    assert len(list(folder.iterdir())) == 1
    monkeypatch.setattr(features, "sparse_columns_matrix", lambda *a: pytest.fail("parsed"))
    hit = load_data(table, ReadOptions(encode="onehot", weights="w"))
    np.testing.assert_array_equal(hit.weights, weighted.weights)
    load_data(path, ReadOptions())
    assert len(list(folder.iterdir())) == 2


def test_a_full_disk_while_writing_the_arrays_skips_the_entry(
    folder, tmp_path, sparse_libsvm, monkeypatch
):
    path = write_libsvm(tmp_path / "d.svm")

    def full(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(cache_writer, "write_csr", full)
    with pytest.warns(CacheWarning, match="No space left on device") as caught:
        same_dataset(_load(path), load_dataset(path))
    assert len(caught) == 1
    assert list(folder.iterdir()) == []  # no entry, no staging folder left


# --------------------------------------------------------------------------- the command


def test_train_on_a_libsvm_file_twice_reads_it_once(folder, tmp_path, sparse_libsvm, monkeypatch):
    path = write_libsvm(tmp_path / "d.svm")
    reads = []
    real = libsvm_module.read_libsvm
    monkeypatch.setattr(libsvm_module, "read_libsvm", lambda *a: reads.append(1) or real(*a))
    models = []
    for run in range(2):
        out = tmp_path / f"m{run}.linfit"
        invoke(["train", path, "--quiet", "--seed", "1", "--out", out])
        models.append(persist.load(out))
    assert reads == [1]  # the second run read the entry
    assert _meta(_entry(folder))["layout"] == "csr_matrix"
    np.testing.assert_array_equal(models[0].params, models[1].params)
    assert models[0].feature_names == models[1].feature_names


# As ``python -m linfit``, with LIBSVM files read as CSR however small.
SPARSE_MAIN = """
import sys
from linfit.data import libsvm
libsvm.DENSE_CELLS = 99
from linfit.cli.app import main
sys.argv = ["linfit", *sys.argv[1:]]
main()
"""


def test_four_runs_at_once_share_one_sparse_entry(tmp_path, monkeypatch):
    """Four processes train on one LIBSVM file at once, on an empty cache (all parse and
    write the entry) and then on the filled one (all read it): every run succeeds without
    a warning, each model is the one a run without the cache makes, and the cache holds
    one whole sparse entry and nothing else."""
    path = write_libsvm(tmp_path / "d.svm", rows=2_000)
    folder = tmp_path / "cache"
    env = {**_CLEAN_ENV, "LINFIT_CACHE_DIR": str(folder)}
    train = [sys.executable, "-c", SPARSE_MAIN, "train", str(path), "--quiet", "--seed", "2"]
    done = subprocess.run(
        [*train, "--no-cache", "--out", str(tmp_path / "ref.linfit")],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    expected = persist.load(tmp_path / "ref.linfit")
    for wave in range(2):
        runs = [
            subprocess.Popen(
                [*train, "--out", str(tmp_path / f"m{wave}{i}.linfit")],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(4)
        ]
        for i, proc in enumerate(runs):
            _, stderr = proc.communicate(timeout=120)
            assert proc.returncode == 0, stderr
            assert stderr == "", stderr
            model = persist.load(tmp_path / f"m{wave}{i}.linfit")
            np.testing.assert_array_equal(model.params, expected.params)
        assert [p.name for p in folder.iterdir()] == [_entry(folder).name]
    monkeypatch.setattr(libsvm_module, "DENSE_CELLS", 99)
    hit = cache_entry.read_entry(_entry(folder), path)
    assert hit is not None
    same_dataset(hit, load_dataset(path))
