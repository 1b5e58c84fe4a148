"""Input formats: Parquet and LIBSVM/svmlight beside CSV, by extension or ``--format``.

Each format is checked by a round trip against the CSV path: the same data written by
pandas (``to_parquet``, ``to_csv``) or scikit-learn (``dump_svmlight_file``) trains to the
same parameters (to 1e-12) and predicts and scores the same; then the one-line errors.
"""

from __future__ import annotations

import importlib.util
import io
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from cli_helpers import DIABETES, IRIS, WINE, assert_one_error_line, invoke, json_stdout
from sklearn.datasets import dump_svmlight_file

from linfit.data import libsvm as libsvm_module
from linfit.data import load_dataset, load_features, load_labeled
from linfit.data.formats import require_dense, resolve_format
from linfit.data.stream import stream_dataset
from linfit.errors import DataError
from linfit.storage import persist

SAME = 1e-12


def train(tmp: Path, data: Path, name: str, *extra: str) -> tuple[dict, np.ndarray]:
    """``linfit train --json``; the payload and the saved parameters."""
    out = tmp / f"{name}.linfit"
    payload = json_stdout(invoke(["train", data, "--out", out, "--json", "-q", *extra]).stdout)
    return payload, persist.load(out).params


def assert_same_training(a: tuple[dict, np.ndarray], b: tuple[dict, np.ndarray]) -> None:
    (payload_a, params_a), (payload_b, params_b) = a, b
    np.testing.assert_allclose(params_a, params_b, rtol=SAME, atol=SAME)
    assert payload_a["n_iter"] == payload_b["n_iter"]
    assert payload_a["objective"] == pytest.approx(payload_b["objective"], rel=SAME)
    assert payload_a["metrics"] == pytest.approx(payload_b["metrics"], rel=SAME, abs=SAME)


def predictions(model: Path, data: Path, *extra: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(invoke(["predict", model, data, *extra]).stdout))


def evaluation(model: Path, data: Path, *extra: str) -> dict:
    return json_stdout(invoke(["evaluate", model, data, "--json", "-q", *extra]).stdout)


def test_formats_by_extension_and_by_option():
    assert resolve_format("a.csv") == resolve_format("a.txt") == resolve_format("-") == "csv"
    assert resolve_format("a.tsv") == resolve_format("a.TAB") == resolve_format("a.tsv.gz") == "tsv"
    assert resolve_format("a.parquet") == resolve_format("a.PARQUET") == "parquet"
    for name in ("a.svm", "a.libsvm", "a.svmlight", "a.svm.gz"):
        assert resolve_format(name) == "libsvm"
    assert resolve_format("a.csv", "parquet") == "parquet"
    assert resolve_format("a.svm", "CSV") == "csv"


# --------------------------------------------------------------------------- parquet


parquet = pytest.mark.skipif(
    importlib.util.find_spec("pyarrow") is None,
    reason="pyarrow (the parquet extra, part of `make test`) is not installed",
)


@parquet
@pytest.mark.parametrize(
    ("data", "extra"),
    [
        (IRIS, ["--model", "softmax"]),
        (WINE, ["--model", "svm", "--loss", "squared-hinge", "--optimizer", "newton"]),
        (DIABETES, ["--model", "least-squares"]),
    ],
)
def test_parquet_trains_predicts_and_scores_as_csv_does(tmp_path, data, extra):
    table = tmp_path / f"{data.stem}.parquet"
    pd.read_csv(data).to_parquet(table)
    from_csv = train(tmp_path, data, "csv", *extra)
    from_parquet = train(tmp_path, table, "parquet", *extra)
    assert_same_training(from_csv, from_parquet)
    model = tmp_path / "parquet.linfit"
    pd.testing.assert_frame_equal(predictions(model, table), predictions(model, data))
    assert evaluation(model, table) == evaluation(model, data)


@parquet
def test_parquet_column_rules_apply_as_for_csv(tmp_path):
    """--target by name, --encode onehot, --impute mean: the same table either way, with
    text, categorical and nullable-integer columns and gaps."""
    rng = np.random.default_rng(0)
    n = 200
    frame = pd.DataFrame(
        {
            "label": rng.choice(["a", "b", "c"], n),
            "x": rng.standard_normal(n),
            "colour": rng.choice(["red", "green", "blue"], n),
            "count": pd.array(rng.integers(0, 5, n), dtype="Int64"),
        }
    )
    frame.loc[::17, "x"] = np.nan
    frame.loc[::23, "count"] = pd.NA
    csv, table = tmp_path / "t.csv", tmp_path / "t.parquet"
    frame.to_csv(csv, index=False)
    frame.assign(colour=frame["colour"].astype("category")).to_parquet(table)
    flags = ["--target", "label", "--encode", "onehot", "--impute", "mean"]
    from_csv = train(tmp_path, csv, "csv", *flags)
    from_parquet = train(tmp_path, table, "parquet", *flags)
    assert_same_training(from_csv, from_parquet)
    assert list(from_parquet[0]["coef"]) == [
        "x", "colour=blue", "colour=green", "colour=red", "count"
    ]  # fmt: skip
    model = tmp_path / "parquet.linfit"
    expected = predictions(model, csv, "--impute", "mean")
    pd.testing.assert_frame_equal(predictions(model, table, "--impute", "mean"), expected)


@parquet
def test_parquet_by_format_option_and_from_stdin(tmp_path):
    table = tmp_path / "iris.data"
    pd.read_csv(IRIS).to_parquet(table)
    from_file = train(tmp_path, table, "file", "--format", "parquet")
    result = invoke(
        ["train", "-", "--format", "parquet", "--out", tmp_path / "stdin.linfit", "--json", "-q"],
        input=table.read_bytes(),
    )
    np.testing.assert_array_equal(persist.load(tmp_path / "stdin.linfit").params, from_file[1])
    assert json_stdout(result.stdout)["n_iter"] == from_file[0]["n_iter"]


@parquet
def test_parquet_in_solve_ls_and_gradcheck(tmp_path):
    table = tmp_path / "diabetes.parquet"
    pd.read_csv(DIABETES).to_parquet(table)
    args = ["solve-ls", "--method", "pinv", "--json", "-q"]
    from_csv = json_stdout(invoke([*args, DIABETES]).stdout)
    from_parquet = json_stdout(invoke([*args, table]).stdout)
    assert from_parquet["coef"] == pytest.approx(from_csv["coef"], rel=SAME)
    assert json_stdout(invoke(["gradcheck", table, "--json", "-q"]).stdout)["passed"]


@parquet
@pytest.mark.parametrize(
    ("write", "message"),
    [
        (lambda p: p.write_text("a,b\n1,2\n"), "cannot read '{p}' as Parquet"),
        (lambda p: pd.DataFrame({"a": [], "b": []}).to_parquet(p), "has columns but no rows"),
        (lambda p: pd.DataFrame(index=range(3)).to_parquet(p), "has no columns; expected a"),
        (
            lambda p: pd.DataFrame(index=pd.Index(["a", "b"], name="k")).to_parquet(p),
            "has no columns; expected a",  # the index is stored as a column, but is none
        ),
        (lambda p: _duplicate_columns(p), "duplicate column name(s) 'a'"),
    ],
)
@pytest.mark.parametrize("streamed", [[], ["--chunksize", "10"]], ids=["whole", "streamed"])
def test_bad_parquet_files_are_one_line(tmp_path, write, message, streamed):
    path = tmp_path / "bad.parquet"
    write(path)
    result = invoke(["train", path, "--out", tmp_path / "m.linfit", *streamed], ok=False)
    assert result.exit_code == 2
    assert message.format(p=path) in assert_one_error_line(result.stderr)
    assert not (tmp_path / "m.linfit").exists()


def _duplicate_columns(path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table([pa.array([1, 2]), pa.array([3, 4])], names=["a", "a"]), path)


@parquet
def test_sep_does_not_apply_to_parquet(tmp_path):
    table = tmp_path / "iris.parquet"
    pd.read_csv(IRIS).to_parquet(table)
    result = invoke(["train", table, "--sep", ";", "--out", tmp_path / "m.linfit"], ok=False)
    assert "--sep applies to CSV and TSV files" in assert_one_error_line(result.stderr)


def test_parquet_without_pyarrow_is_one_line(tmp_path, monkeypatch):
    table = tmp_path / "iris.parquet"
    table.write_bytes(b"PAR1 not really")  # the format is chosen by the name alone
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    result = invoke(["train", table, "--out", tmp_path / "m.linfit"], ok=False)
    assert result.exit_code == 2
    line = assert_one_error_line(result.stderr)
    assert "needs pyarrow" in line and "pip install 'linfit[parquet]'" in line
    assert not (tmp_path / "m.linfit").exists()


# ---------------------------------------------------------------------------- libsvm


def libsvm_and_csv(tmp: Path, data: Path, *, zero_based: bool = False) -> tuple[Path, Path]:
    """``data`` written as LIBSVM by scikit-learn, and as a CSV of the same numbers whose
    columns carry the LIBSVM names (f1, f2, ...; f0, ... when zero-based) and whose labels
    are the same integer codes."""
    frame = pd.read_csv(data)
    X = frame.drop(columns="target").to_numpy(dtype=np.float64)
    y = frame["target"].to_numpy()
    if y.dtype.kind not in "iuf":
        y = np.unique(y, return_inverse=True)[1]
    svm = tmp / f"{data.stem}.svm"
    dump_svmlight_file(X, y, str(svm), zero_based=zero_based)
    first = 0 if zero_based else 1
    columns = {f"f{j + first}": X[:, j] for j in range(X.shape[1])}
    csv = tmp / f"{data.stem}_indexed.csv"
    pd.DataFrame({**columns, "target": y}).to_csv(csv, index=False)
    return svm, csv


@pytest.mark.parametrize(
    ("data", "extra"),
    [
        (IRIS, ["--model", "softmax"]),
        (WINE, ["--model", "svm"]),
        (DIABETES, ["--model", "least-squares"]),
        (DIABETES, ["--model", "relu", "--dtype", "float32"]),
    ],
)
def test_libsvm_trains_predicts_and_scores_as_csv_does(tmp_path, data, extra):
    svm, csv = libsvm_and_csv(tmp_path, data)
    from_csv = train(tmp_path, csv, "csv", *extra)
    from_svm = train(tmp_path, svm, "svm", *extra)
    assert_same_training(from_csv, from_svm)
    assert list(from_svm[0]["coef"]) == [f"f{j + 1}" for j in range(len(from_svm[0]["coef"]))]
    model = tmp_path / "svm.linfit"
    pd.testing.assert_frame_equal(predictions(model, svm), predictions(model, csv))
    assert evaluation(model, svm) == evaluation(model, csv)


def test_libsvm_zero_based_names_start_at_f0(tmp_path):
    svm, csv = libsvm_and_csv(tmp_path, DIABETES, zero_based=True)
    ds = load_dataset(svm)
    assert ds.feature_names[:2] == ("f0", "f1") and ds.X.shape == (442, 10)
    # dump_svmlight_file writes 16 significant digits: equal to the last bit or so
    np.testing.assert_allclose(ds.X, load_dataset(csv).X, rtol=1e-15)


def test_libsvm_matches_model_features_by_index(tmp_path):
    """A prediction file may stop short of the largest index (zeros) or go past it
    (ignored), as a CSV file may lack nothing and hold extra columns."""
    (tmp_path / "train.svm").write_text("1 1:1 3:2\n0 2:1\n1 1:2 3:1\n0 2:3\n")
    (tmp_path / "short.svm").write_text("1 1:4\n0 2:5 7:9\n")
    ds = load_dataset(tmp_path / "train.svm")
    assert ds.feature_names == ("f1", "f2", "f3") and ds.y.dtype == np.int64
    X = load_features(tmp_path / "short.svm", ["f3", "f1", "f2"])
    np.testing.assert_array_equal(X, [[0, 4, 0], [0, 0, 5]])
    labelled = load_labeled(tmp_path / "short.svm", ["f1", "f2", "f3"], "target")
    np.testing.assert_array_equal(labelled.y, [1, 0])


def test_libsvm_by_format_option_in_every_reading_command(tmp_path):
    svm, csv = libsvm_and_csv(tmp_path, DIABETES)
    plain = tmp_path / "diabetes.txt"
    plain.write_bytes(svm.read_bytes())
    fmt = ["--format", "libsvm"]
    from_svm = train(tmp_path, plain, "svm", "--model", "least-squares", *fmt)
    assert_same_training(train(tmp_path, csv, "csv", "--model", "least-squares"), from_svm)
    model = tmp_path / "svm.linfit"
    pd.testing.assert_frame_equal(predictions(model, plain, *fmt), predictions(model, csv))
    assert evaluation(model, plain, *fmt) == evaluation(model, csv)
    args = ["solve-ls", "--method", "pinv", "--json", "-q"]
    from_csv = json_stdout(invoke([*args, csv]).stdout)
    assert json_stdout(invoke([*args, plain, *fmt]).stdout)["coef"] == pytest.approx(
        from_csv["coef"], rel=SAME
    )
    assert json_stdout(invoke(["gradcheck", plain, *fmt, "--json", "-q"]).stdout)["passed"]


@pytest.mark.parametrize(
    ("text", "extra", "message"),
    [
        ("1 1:2\nabc 1:3\n", [], "cannot read '{p}' as LIBSVM"),
        ("1 3:2 1:1\n", [], "should be sorted and unique"),
        ("", [], "has no data lines"),
        ("1\n0\n", [], "has labels but no features"),
        ("nan 1:2\n1 1:3\n", [], "labels that are NaN or infinite"),
        ("1 1:2\n0 1:3\n", ["--target", "0"], "--target does not apply"),
        ("1 1:2\n0 1:3\n", ["--sep", ","], "--sep applies to CSV and TSV files"),
        ("1 1:2\n0 1:3\n", ["--format", "svm"], "--format takes one of csv, tsv, parquet"),
    ],
)
def test_bad_libsvm_input_is_one_line(tmp_path, text, extra, message):
    path = tmp_path / "bad.svm"
    path.write_text(text)
    result = invoke(["train", path, "--out", tmp_path / "m.linfit", *extra], ok=False)
    assert result.exit_code == 2
    assert message.format(p=path) in assert_one_error_line(result.stderr)
    assert not (tmp_path / "m.linfit").exists()


def test_libsvm_too_large_to_densify_stays_sparse(tmp_path, monkeypatch):
    """Over DENSE_CELLS the matrix stays CSR: train, predict and evaluate take it and
    reach the dense path's optimum (sums run in another order, so the objective to 1e-10,
    not bit for bit); commands that need a dense matrix refuse it in one line."""
    svm, csv = libsvm_and_csv(tmp_path, DIABETES)
    monkeypatch.setattr(libsvm_module, "DENSE_CELLS", 99)
    assert sp.issparse(load_dataset(svm).X)
    flags = ["--model", "least-squares", "--optimizer", "newton", "--tol", "1e-12"]
    for standardize in ("--standardize", "--no-standardize"):
        dense, _ = train(tmp_path, csv, "csv", *flags, standardize)
        sparse, _ = train(tmp_path, svm, "svm", *flags, standardize)
        # standardized, sparse data is scaled but not centred: the same optimum still, as
        # the bias absorbs the centring
        assert sparse["objective"] == pytest.approx(dense["objective"], rel=1e-10)
        assert sparse["metrics"] == pytest.approx(dense["metrics"], rel=1e-6)
    model = tmp_path / "svm.linfit"
    np.testing.assert_allclose(
        predictions(model, svm)["prediction"], predictions(model, csv)["prediction"], rtol=1e-12
    )
    assert evaluation(model, svm)["metrics"] == pytest.approx(
        evaluation(model, csv)["metrics"], rel=1e-12
    )
    for command in ("solve-ls", "gradcheck", "compare"):
        result = invoke([command, svm], ok=False)
        assert result.exit_code == 2
        line = assert_one_error_line(result.stderr)
        assert f"{command} needs a dense matrix" in line and "442 x 10" in line


def test_libsvm_kept_sparse_by_the_memory_budget_says_so(tmp_path, monkeypatch):
    """Under DENSE_CELLS but over a quarter of the budget, the matrix stays CSR too, and
    a command that needs it dense names the budget, not the cell count."""
    svm, _ = libsvm_and_csv(tmp_path, DIABETES)
    monkeypatch.setattr(libsvm_module, "FLOOR_BYTES", 0)
    monkeypatch.setenv("LINFIT_MEMORY_BUDGET", "1e5")  # a quarter: 25 kB; dense, 35.4 kB
    X = load_dataset(svm).X
    assert sp.issparse(X)
    said = r"442 x 10 \(35.4 kB dense, over a quarter of the memory budget\)"
    with pytest.raises(DataError, match=said):
        require_dense(X, "solve-ls")


def test_libsvm_needs_a_model_with_index_names(tmp_path):
    model = tmp_path / "iris.linfit"
    invoke(["train", IRIS, "--out", model, "-q"])
    (tmp_path / "x.svm").write_text("1 1:2\n")
    result = invoke(["predict", model, tmp_path / "x.svm"], ok=False)
    line = assert_one_error_line(result.stderr)
    assert "'sepal length (cm)'" in line and "a LIBSVM file's features are indices" in line


def test_chunksize_refuses_libsvm(tmp_path):
    svm, _ = libsvm_and_csv(tmp_path, DIABETES)
    result = invoke(["train", svm, "--chunksize", "100", "--out", tmp_path / "m.linfit"], ok=False)
    assert "a LIBSVM file is read whole" in assert_one_error_line(result.stderr)


@parquet
@pytest.mark.parametrize("chunk_rows", [7, 64, 10_000])
def test_parquet_streamed_by_row_groups_equals_a_whole_read(tmp_path, chunk_rows):
    table = tmp_path / "wine.parquet"
    pd.read_csv(WINE).to_parquet(table, row_group_size=50)  # 4 row groups
    whole = load_dataset(table, file_format="parquet")
    streamed = stream_dataset(table, tmp_path, chunk_rows=chunk_rows, file_format="parquet")
    assert streamed.X.shape == whole.X.shape
    np.testing.assert_array_equal(streamed.X[0 : whole.X.shape[0]], whole.X)
    np.testing.assert_array_equal(streamed.y, whole.y)
    assert streamed.feature_names == whole.feature_names


@parquet
def test_parquet_out_of_core_trains_the_whole_read_model_and_refuses_text_by_column(
    tmp_path, monkeypatch
):
    table = tmp_path / "wine.parquet"
    pd.read_csv(WINE).to_parquet(table, row_group_size=50)
    (whole, _), (_, whole_params) = train(tmp_path, table, "whole"), train(tmp_path, WINE, "csv")
    monkeypatch.setenv("LINFIT_MEMORY_BUDGET", "1000")  # the table's 178 x 14 x 8 bytes exceed it
    disk, disk_params = train(tmp_path, table, "disk")
    assert "data_path" in disk and "data_path" not in whole  # only an out-of-core run says
    assert disk["objective"] == pytest.approx(whole["objective"], rel=1e-10)
    np.testing.assert_allclose(disk_params, whole_params, rtol=1e-6, atol=1e-8)
    frame = pd.read_csv(WINE).astype({"alcohol": str})  # a Parquet column has one type
    frame.loc[120, "alcohol"] = "n/a"
    frame.to_parquet(table, row_group_size=50)
    result = invoke(["train", table, "--chunksize", "30", "--out", tmp_path / "m.linfit"], ok=False)
    assert "'alcohol'" in assert_one_error_line(result.stderr)


def test_tsv_format_reads_tabs_whatever_the_ending(tmp_path):
    tsv = tmp_path / "iris.txt"
    pd.read_csv(IRIS).to_csv(tsv, sep="\t", index=False)
    assert_same_training(
        train(tmp_path, IRIS, "csv"), train(tmp_path, tsv, "tsv", "--format", "tsv")
    )
