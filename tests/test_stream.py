"""Out of core: a file parsed a chunk at a time into a matrix on disk gives what a whole
read gives, is refused the same way, and trains to the same model."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helpers import DATASETS, IRIS, assert_one_error_line, invoke

from linfit.data import load_dataset
from linfit.data.rowfile import RowFile, RowWriter
from linfit.data.stream import stream_dataset
from linfit.errors import DataError, OptionError
from linfit.fitting import fit
from linfit.fitting.solve_ls import solve_least_squares
from linfit.linalg import blocks
from linfit.linalg.qr import tsqr
from linfit.models import CLOSED_FORMS, LeastSquares, SoftmaxClassifier
from linfit.preprocess import split_xy


@pytest.mark.parametrize("name", ["iris", "wine", "diabetes", "digits"])
@pytest.mark.parametrize("chunk_rows", [7, 37, 10_000])
def test_a_streamed_file_equals_a_whole_read(name, chunk_rows, tmp_path):
    path = DATASETS / f"{name}.csv"
    whole = load_dataset(path)
    streamed = stream_dataset(path, tmp_path, chunk_rows=chunk_rows)
    assert isinstance(streamed.X, RowFile) and streamed.X.path.parent == tmp_path
    assert streamed.X.shape == whole.X.shape
    np.testing.assert_array_equal(streamed.X[0 : whole.X.shape[0]], whole.X)
    np.testing.assert_array_equal(streamed.y, whole.y)
    assert streamed.y.dtype == whole.y.dtype
    assert (streamed.feature_names, streamed.target_name) == (
        whole.feature_names,
        whole.target_name,
    )


def test_labels_that_turn_to_text_in_a_later_chunk_are_all_text(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,label\n1,1\n2,2\n3,x\n4,1\n")
    streamed = stream_dataset(path, tmp_path, chunk_rows=2)
    assert streamed.y.tolist() == ["1", "2", "x", "1"]
    assert streamed.y.tolist() == load_dataset(path).y.tolist()


def test_a_bad_cell_in_a_later_chunk_is_refused_by_column(tmp_path):
    rows = "\n".join(f"{i},{i % 3}" for i in range(100))
    path = tmp_path / "d.csv"
    path.write_text(f"a,target\n{rows}\noops,1\n")
    with pytest.raises(DataError, match="'a'") as whole:
        load_dataset(path)
    with pytest.raises(DataError, match="'a'") as streamed:
        stream_dataset(path, tmp_path, chunk_rows=10)
    assert "\n" not in str(streamed.value) and str(whole.value)


def test_missing_values_drop_or_refuse_and_impute_cannot_stream(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b,target\n1,2,0\n,3,1\n4,5,1\n6,,0\n")
    with pytest.raises(DataError, match="missing"):
        stream_dataset(path, tmp_path, chunk_rows=2)
    kept = stream_dataset(path, tmp_path, chunk_rows=2, missing="drop")
    np.testing.assert_array_equal(kept.X[0:2], load_dataset(path, missing="drop").X)
    with pytest.raises(OptionError, match="impute mean"):
        stream_dataset(path, tmp_path, missing="mean")


def test_header_only_and_empty_files_are_refused(tmp_path):
    header = tmp_path / "h.csv"
    header.write_text("a,b,target\n")
    with pytest.raises(DataError, match="no data rows"):
        stream_dataset(header, tmp_path)
    empty = tmp_path / "e.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="empty"):
        stream_dataset(empty, tmp_path)


def test_row_file_reads_slices_and_subsets(tmp_path):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((50, 3)).astype(np.float32)
    writer = RowWriter(tmp_path / "a.bin", np.float32)
    for start in range(0, 50, 7):
        writer.append(A[start : start + 7])
    X = writer.close()
    assert X.shape == (50, 3) and X.dtype == np.float32
    np.testing.assert_array_equal(X[5:12], A[5:12])
    np.testing.assert_array_equal(X[45:99], A[45:])
    rows = np.array([1, 4, 5, 30, 49])
    sub = X.subset(rows)
    assert sub.shape == (5, 3)
    np.testing.assert_array_equal(sub[1:4], A[rows[1:4]])
    assert sub[3:3].shape == (0, 3)


def test_training_from_disk_equals_training_in_memory_and_holds_a_chunk(tmp_path):
    """Same split, same objective: the model trained on the matrix on disk equals the one
    trained in memory, and Python memory stays near a chunk (240 KB) and the labels, far
    below the training matrix (6.4 MB)."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((10_000, 100))
    y = np.argmax(X[:, :3] + rng.gumbel(size=(10_000, 3)), axis=1)
    path = tmp_path / "d.csv"
    pd.DataFrame(np.column_stack([X, y]), columns=[*map(str, range(100)), "y"]).to_csv(
        path, index=False
    )
    whole = load_dataset(path)
    streamed = stream_dataset(path, tmp_path, chunk_rows=300)
    model = SoftmaxClassifier(reg=1e-3)
    splits = [
        split_xy(ds.X, ds.y, test_size=0.2, seed=0, stratify=True) for ds in (whole, streamed)
    ]
    mem_train, disk_train = splits[0][0], splits[1][0]
    trained_mem = fit(model, mem_train, splits[0][1], chunk_rows=300)
    res_mem = trained_mem.result
    tracemalloc.start()
    trained_disk = fit(model, disk_train, splits[1][1], chunk_rows=300)
    res_disk = trained_disk.result
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert res_mem.success and res_disk.success
    np.testing.assert_allclose(trained_disk.params, trained_mem.params, rtol=1e-10, atol=1e-12)
    assert res_disk.fun == pytest.approx(res_mem.fun, rel=1e-12)
    assert peak < mem_train.nbytes / 4, (peak, mem_train.nbytes)
    predicted = trained_disk.predict(splits[1][2])
    np.testing.assert_array_equal(predicted, trained_mem.predict(splits[0][2]))


def _train_json(*args):
    return json.loads(invoke(["train", *map(str, args), "--json", "--quiet"]).stdout)


def test_train_chunksize_gives_the_in_memory_model(tmp_path, monkeypatch):
    monkeypatch.setenv("LINFIT_CACHE_DIR", str(tmp_path / "cache"))
    whole = _train_json(IRIS, "--out", tmp_path / "a.linfit", "--no-cache")
    streamed = _train_json(IRIS, "--out", tmp_path / "b.linfit", "--chunksize", 32)
    again = _train_json(IRIS, "--out", tmp_path / "c.linfit", "--chunksize", 32)  # cache hit
    assert "data_path" not in whole
    for run in (streamed, again):
        assert run["data_path"].endswith("X.bin")
        assert run["metrics"] == whole["metrics"] and run["n_iter"] == whole["n_iter"]
        assert run["objective"] == pytest.approx(whole["objective"], rel=1e-12)
        for name, value in whole["coef"].items():
            np.testing.assert_allclose(run["coef"][name], value, rtol=1e-9, atol=1e-12)
    (entry,) = (tmp_path / "cache").iterdir()
    assert (entry / "X.bin").stat().st_size == 150 * 4 * 8


def test_a_file_over_the_memory_budget_trains_out_of_core(tmp_path, monkeypatch):
    monkeypatch.setenv("LINFIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("LINFIT_MEMORY_BUDGET", "1000")  # bytes: iris is over it
    run = _train_json(IRIS, "--out", tmp_path / "a.linfit")
    assert run["converged"]
    (entry,) = (tmp_path / "cache").iterdir()
    assert run["data_path"] == str(entry / "X.bin")  # only a run out of core reports one
    monkeypatch.delenv("LINFIT_MEMORY_BUDGET")
    assert "data_path" not in _train_json(IRIS, "--out", tmp_path / "b.linfit")


def test_out_of_core_refuses_onehot_with_one_line(tmp_path):
    result = invoke(
        ["train", IRIS, "--chunksize", "10", "--encode", "onehot", "--out", tmp_path / "m"],
        ok=False,
    )
    assert result.exit_code == 2
    assert "--encode onehot" in assert_one_error_line(result.stderr)
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("method", ["normal", "pinv", "lstsq", "lbfgs"])
@pytest.mark.parametrize("standardize", [False, True])
def test_least_squares_on_disk_equals_in_memory(method, standardize, tmp_path, monkeypatch):
    """Closed forms read the matrix once in blocks (Gram matrix, or TSQR's triangle);
    iterative ones go chunk by chunk: coefficients and diagnostics match the in-memory fit."""
    _small_blocks(monkeypatch, 64 * 5 * 8)  # blocks of 64 rows
    rng = np.random.default_rng(8)
    X = rng.normal(3.0, [1.0, 10.0, 0.1, 2.0, 5.0], (700, 5))
    y = X @ rng.standard_normal(5) + 0.5 * rng.standard_normal(700)
    writer = RowWriter(tmp_path / "x.bin", np.float64)
    writer.append(X)
    on_disk = writer.close()
    assert len(blocks.row_blocks(on_disk)) == 11  # many blocks, really
    options = {"method": method, "reg": 1e-3, "standardize": standardize}
    memory = solve_least_squares(X, y, **options)
    disk = solve_least_squares(on_disk, y, **options)
    rtol = 1e-8 if method in CLOSED_FORMS else 1e-6
    np.testing.assert_allclose(disk.coef, memory.coef, rtol=rtol)
    assert disk.intercept == pytest.approx(memory.intercept, rel=rtol)
    assert (disk.rank, disk.r2) == (6, pytest.approx(memory.r2, rel=1e-12))
    assert disk.cond == pytest.approx(memory.cond, rel=1e-8)


def _small_blocks(monkeypatch, block_bytes: int) -> None:
    """Blocks of ``block_bytes``: both limits patched, since a block has at least
    MIN_BLOCK_ROWS (1024) rows and a test matrix of fewer is one block otherwise."""
    monkeypatch.setattr(blocks, "BLOCK_BYTES", block_bytes)
    monkeypatch.setattr(blocks, "MIN_BLOCK_ROWS", 1)


def test_tsqr_triangle_carries_the_gram_matrix_and_min_norm_solution(tmp_path, monkeypatch):
    _small_blocks(monkeypatch, 50 * 7 * 8)
    rng = np.random.default_rng(9)
    X = rng.standard_normal((600, 7))
    assert len(blocks.row_blocks(X)) == 12
    X[:, 3] = X[:, 2]  # rank-deficient: pinv's answer is the minimum-norm one
    y = X @ rng.standard_normal(7) + rng.standard_normal(600)
    R = tsqr(X, y[:, None])
    B = np.column_stack([X, np.ones(600), y])
    np.testing.assert_allclose(R.T @ R, B.T @ B, rtol=1e-12, atol=1e-10)
    assert np.allclose(R, np.triu(R))
    writer = RowWriter(tmp_path / "x.bin", np.float64)
    writer.append(X)
    theta = LeastSquares(reg=0.0).solve(writer.close(), y, method="pinv")
    expected = np.linalg.pinv(np.column_stack([X, np.ones(600)])) @ y
    np.testing.assert_allclose(theta, expected, rtol=1e-9, atol=1e-9)


def test_solve_ls_chunksize_gives_the_in_memory_fit_and_train_says_where_the_copy_is(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("LINFIT_CACHE_DIR", str(tmp_path / "cache"))
    path = DATASETS / "diabetes.csv"
    for method in ("normal", "pinv", "lstsq"):
        args = ["solve-ls", path, "--method", method, "--json", "--quiet"]
        whole = json.loads(invoke([*args, "--no-cache"]).stdout)
        disk = json.loads(invoke([*args, "--chunksize", "50"]).stdout)
        assert (disk["rank"], disk["r2"]) == (whole["rank"], pytest.approx(whole["r2"], rel=1e-12))
        for name, value in whole["coef"].items():
            assert disk["coef"][name] == pytest.approx(value, rel=1e-9, abs=1e-9)
    shown = invoke(["train", IRIS, "--chunksize", "50", "--out", tmp_path / "m.linfit"]).stderr
    assert "data on disk" in shown
    run = _train_json(IRIS, "--chunksize", 50, "--out", tmp_path / "m.linfit")
    data_path = Path(run["data_path"])
    assert data_path.name == "X.bin" and (tmp_path / "cache") in data_path.parents


@pytest.mark.parametrize("seed", range(20))
def test_pinv_on_disk_drops_a_duplicated_column_over_many_blocks(seed, tmp_path, monkeypatch):
    """6,000 x 7 on disk with a duplicated column, in 12 blocks: their rounding lifts the
    zero singular value of the triangle to up to 1.2e-15 of the largest (seeds 2 of these
    20 above numpy's 1e-15 cut-off, which then keeps it and returns weights of +-1e12); the
    cut-off scaled by sqrt(blocks) drops it. The minimum-norm answer equals numpy's pinv on
    the whole matrix (1e-9)."""
    _small_blocks(monkeypatch, 500 * 7 * 8)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((6000, 7))
    X[:, 5] = X[:, 1]
    y = X @ rng.standard_normal(7) + rng.standard_normal(6000)
    writer = RowWriter(tmp_path / "x.bin", np.float64)
    writer.append(X)
    on_disk = writer.close()
    assert len(blocks.row_blocks(on_disk)) == 12
    theta = LeastSquares(reg=0.0).solve(on_disk, y, method="pinv")
    expected = np.linalg.pinv(np.column_stack([X, np.ones(6000)])) @ y
    np.testing.assert_allclose(theta, expected, rtol=1e-9, atol=1e-9)
