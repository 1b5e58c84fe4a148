"""--features, --drop and --weights: the columns a read takes, on every read path.

A read that leaves columns out must give exactly (bit for bit: the same parse of the same
text) what a read of the same file with those columns cut out gives, whichever path reads
it: the compiled scanner, pandas, Parquet, out of core, dask. Sample weights come back
row for row with X and y, after any dropped row.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from cli_helpers import assert_one_error_line, invoke, json_stdout

import linfit.data.load as load_module
from linfit.data import load_dataset
from linfit.data.source import ReadOptions, _load_options, load_data, load_table
from linfit.data.stream import stream_dataset
from linfit.errors import DataError, LinfitError, OptionError
from linfit.storage import cache

RNG = np.random.default_rng(7)
N = 40
HAS_DASK = all(importlib.util.find_spec(m) for m in ("dask", "distributed"))
HAS_PYARROW = importlib.util.find_spec("pyarrow") is not None


def _table(n: int = N) -> pd.DataFrame:
    """id, three numeric features, a text column, a weights column, a label."""
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "a": RNG.normal(size=n).round(6),
            "b": RNG.normal(size=n).round(6),
            "tag": [f"t{i % 7}" for i in range(n)],
            "c": RNG.normal(size=n).round(6),
            "w": RNG.integers(0, 5, size=n) / 2 + 0.5,
            "y": RNG.integers(0, 3, size=n),
        }
    )


def _write(frame: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


def _same(got: Any, want: Any) -> None:
    """Same features, in the same order, the same values (exactly: the same text parsed)."""
    X = got.X[0 : got.X.shape[0]]  # a RowFile read into memory
    assert got.feature_names == want.feature_names
    assert got.target_name == want.target_name
    np.testing.assert_array_equal(X, want.X[0 : want.X.shape[0]])
    np.testing.assert_array_equal(got.y, want.y)


# The choices, and the columns each leaves out of the file (the target and weights aside).
CHOICES = [
    ({"drop": ["id", "tag"]}, ["id", "tag"]),
    ({"features": ["c", "a"]}, ["id", "b", "tag"]),  # named out of order: the file's order
    ({"features": ["b"]}, ["id", "a", "tag", "c"]),
]


def _cut(frame: pd.DataFrame, left_out: list[str]) -> pd.DataFrame:
    """The table with the columns ``left_out`` cut out: what a choice must read."""
    return frame.drop(columns=left_out)


@pytest.fixture
def table() -> pd.DataFrame:
    return _table()


def _scanner_taken(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each scan_named call read its file (it returns None for pandas to read)."""
    taken: list[bool] = []
    scan = load_module.scan_named

    def spy(*args: Any) -> Any:
        result = scan(*args)
        taken.append(result is not None)
        return result

    monkeypatch.setattr(load_module, "scan_named", spy)
    return taken


@pytest.mark.parametrize(("choice", "left_out"), CHOICES)
def test_scanner_reads_the_chosen_columns(
    tmp_path: Path, table: pd.DataFrame, monkeypatch: pytest.MonkeyPatch, choice, left_out
) -> None:
    full = _write(table, tmp_path / "full.csv")
    taken = _scanner_taken(monkeypatch)
    want = load_dataset(_write(_cut(table, left_out), tmp_path / "cut.csv"), weights="w")
    got = load_dataset(full, **choice, weights="w")
    assert taken == [True, True], "the compiled scanner read both files"
    _same(got, want)
    np.testing.assert_array_equal(got.weights, table["w"].to_numpy(np.float64))


@pytest.mark.parametrize(("choice", "left_out"), CHOICES)
def test_pandas_reads_the_chosen_columns(
    tmp_path: Path, table: pd.DataFrame, monkeypatch: pytest.MonkeyPatch, choice, left_out
) -> None:
    """With the fast paths off: the general path (encoding, missing values) sees only the
    chosen columns; a text column dropped is not refused."""
    full = _write(table, tmp_path / "full.csv")
    want = load_dataset(_write(_cut(table, left_out), tmp_path / "cut.csv"), weights="w")
    monkeypatch.setattr(load_module, "scan_named", lambda *args: None)
    monkeypatch.setattr(load_module, "clean_numeric", lambda *args, **kwargs: None)
    got = load_dataset(full, **choice, weights="w")
    _same(got, want)
    np.testing.assert_array_equal(got.weights, table["w"].to_numpy(np.float64))


@pytest.mark.skipif(not HAS_PYARROW, reason="pyarrow (the parquet extra) is not installed")
@pytest.mark.parametrize(("choice", "left_out"), CHOICES)
def test_parquet_decodes_only_the_chosen_columns(
    tmp_path: Path, table: pd.DataFrame, monkeypatch: pytest.MonkeyPatch, choice, left_out
) -> None:
    full = _write(table, tmp_path / "full.parquet")
    want = load_dataset(_write(_cut(table, left_out), tmp_path / "cut.parquet"), weights="w")
    asked: list[Any] = []
    read = pd.read_parquet
    monkeypatch.setattr(
        pd, "read_parquet", lambda *a, **k: asked.append(k["columns"]) or read(*a, **k)
    )
    got = load_dataset(full, **choice, weights="w")
    _same(got, want)
    np.testing.assert_array_equal(got.weights, table["w"].to_numpy(np.float64))
    kept = [c for c in table.columns if c not in left_out]
    assert asked == [kept], "only the chosen columns, the target and the weights are decoded"


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize(("choice", "left_out"), CHOICES)
def test_out_of_core_reads_the_chosen_columns(
    tmp_path: Path, table: pd.DataFrame, suffix: str, choice, left_out
) -> None:
    if suffix == ".parquet" and not HAS_PYARROW:
        pytest.skip("pyarrow (the parquet extra) is not installed")
    full = _write(table, tmp_path / f"full{suffix}")
    want = load_dataset(_write(_cut(table, left_out), tmp_path / f"cut{suffix}"), weights="w")
    folder = tmp_path / "rows"
    folder.mkdir()
    fmt = suffix[1:]
    got = stream_dataset(full, folder, chunk_rows=7, file_format=fmt, **choice, weights="w")
    _same(got, want)
    np.testing.assert_array_equal(got.weights, want.weights)
    # and as the commands read it: through the cache, out of core
    read = ReadOptions(chunk_rows=7, **{k: tuple(v) for k, v in choice.items()})
    _same(load_table(full, read), load_dataset(full, **choice))


@pytest.mark.skipif(not HAS_DASK, reason="dask is not installed")
@pytest.mark.parametrize(("choice", "left_out"), CHOICES)
def test_dask_reads_the_chosen_columns(
    tmp_path: Path, table: pd.DataFrame, choice, left_out
) -> None:
    from linfit.engines.dask_data import read_table, split_table

    full = _write(table, tmp_path / "full.csv")
    want = load_dataset(_write(_cut(table, left_out), tmp_path / "cut.csv"), weights="w")
    got = read_table(full, **choice, weights="w")
    assert got.feature_names == want.feature_names
    np.testing.assert_array_equal(got.X.compute(), want.X)
    np.testing.assert_array_equal(got.y.compute(), want.y)
    np.testing.assert_array_equal(got.weights.compute(), want.weights)
    train, test = split_table(got, 0.3, seed=1)
    for part in (train, test):  # the weights follow their rows
        assert part.weights.chunks == part.y.chunks
    ids = np.concatenate([train.X.compute()[:, 0], test.X.compute()[:, 0]])
    weights = np.concatenate([train.weights.compute(), test.weights.compute()])
    by_first = dict(zip(want.X[:, 0].tolist(), want.weights.tolist(), strict=True))
    assert weights.tolist() == [by_first[v] for v in ids.tolist()]


# --------------------------------------------------------------------------- the cache


def test_the_cache_keeps_each_choice_apart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINFIT_CACHE_DIR", str(tmp_path / "cache"))
    table = _table().drop(columns=["tag"])
    path = _write(table, tmp_path / "t.csv")
    reads = {
        "all": ReadOptions(),
        "a": ReadOptions(features=("a",)),
        "b": ReadOptions(features=("b",)),
        "no id": ReadOptions(drop=("id",)),
    }
    for _ in range(2):  # the second round is served from the cache
        for name, read in reads.items():
            got = load_data(path, read)
            kept = {"all": ["id", "a", "b", "c", "w"], "a": ["a"], "b": ["b"]}.get(
                name, ["a", "b", "c", "w"]
            )
            assert got.feature_names == tuple(kept)
            np.testing.assert_array_equal(got.X[0 : len(table)], table[kept].to_numpy(np.float64))
    assert len(list((tmp_path / "cache").iterdir())) == len(reads)
    # the same choice named otherwise (order, repeats) is the same entry
    load_data(path, ReadOptions(features=("b", "a", "a")))
    load_data(path, ReadOptions(features=("a", "b")))
    assert len(list((tmp_path / "cache").iterdir())) == len(reads) + 1


def test_a_read_of_every_column_keeps_its_key(tmp_path: Path) -> None:
    """Entries written before the choice existed are served: the default read's options,
    and so its key, are what they were."""
    assert _load_options(ReadOptions(), ",") == {
        "target": None, "sep": ",", "encode": "none", "missing": "error", "dtype": "float64",
    }  # fmt: skip
    path = _write(_table(), tmp_path / "t.csv")
    old = {"target": None, "sep": ",", "encode": "none", "missing": "error", "dtype": "float64"}
    before = cache._identity(path, {**old, "format": "csv"})
    now = cache._identity(path, {**_load_options(ReadOptions(), ","), "format": "csv"})
    assert before == now


def test_weights_are_cached_with_their_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read with weights keeps them in its own entry (the weights column is in the key):
    the second read returns them, with the same features, from one entry."""
    monkeypatch.setenv("LINFIT_CACHE_DIR", str(tmp_path / "cache"))
    path = _write(_table().drop(columns=["tag"]), tmp_path / "t.csv")
    got = load_data(path, ReadOptions(weights="w"))
    assert got.weights is not None and "w" not in got.feature_names
    again = load_data(path, ReadOptions(weights="w"))
    np.testing.assert_array_equal(again.weights, got.weights)
    assert again.feature_names == got.feature_names
    assert len(list((tmp_path / "cache").iterdir())) == 1


# --------------------------------------------------------------------------- weights


GAPPY = (
    "id,a,junk,w,y\n"
    "0,1.0,x,1.5,0\n"
    "1,,x,2.0,1\n"  # a missing feature: dropped
    "2,3.0,,0.5,0\n"  # a gap in a dropped column: kept
    "3,4.0,x,,1\n"  # a missing weight: dropped
    "4,5.0,x,0,1\n"  # a zero weight: kept
    "5,6.0,x,3,0\n"
)


@pytest.mark.parametrize("way", ["pandas", "stream", "dask"])
def test_weights_stay_with_their_rows_after_dropna(tmp_path: Path, way: str) -> None:
    path = tmp_path / "gappy.csv"
    path.write_text(GAPPY)
    options = {"drop": ["junk"], "weights": "w"}
    if way == "pandas":
        got = load_dataset(path, missing="drop", **options)
        ids, w = got.X[:, 0], got.weights
    elif way == "stream":
        (tmp_path / "rows").mkdir()
        got = stream_dataset(path, tmp_path / "rows", missing="drop", chunk_rows=2, **options)
        ids, w = got.X[0 : got.X.shape[0]][:, 0], got.weights
    else:
        if not HAS_DASK:
            pytest.skip("dask is not installed")
        from linfit.engines.dask_data import read_table

        got = read_table(path, missing="drop", **options)
        ids, w = got.X.compute()[:, 0], got.weights.compute()
    assert ids.tolist() == [0, 2, 4, 5]
    assert w.dtype == np.float64 and w.tolist() == [1.5, 0.5, 0.0, 3.0]
    assert got.feature_names == ("id", "a")


def test_scanner_weights_match_pandas(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    table = _table().drop(columns=["tag"])
    path = _write(table, tmp_path / "t.csv")
    taken = _scanner_taken(monkeypatch)
    got = load_dataset(path, weights="w")
    assert taken == [True]
    assert got.feature_names == ("id", "a", "b", "c") and got.X.flags.c_contiguous
    np.testing.assert_array_equal(got.X, table[["id", "a", "b", "c"]].to_numpy(np.float64))
    np.testing.assert_array_equal(got.weights, table["w"].to_numpy(np.float64))
    # float32 features: the weights keep float64 (read by pandas, not rounded)
    half = load_dataset(path, weights="w", dtype=np.float32)
    assert half.X.dtype == np.float32 and half.weights.dtype == np.float64


BAD_WEIGHTS = [
    ("w\n1\nheavy\n", "is not numeric (e.g. 'heavy')"),
    ("w\n1\n-2\n", "1 negative value(s) (e.g. -2)"),
    ("w\n1\n\n", "1 missing value(s); drop those rows with `dropna`"),
    ("w\n1\ninf\n", "1 infinite value(s) (e.g. inf)"),
    ("w\n0\n0.0\n", "is zero on every row"),
]


@pytest.mark.parametrize(("column", "message"), BAD_WEIGHTS)
@pytest.mark.parametrize("way", ["whole", "stream"])
def test_bad_weights_are_refused_in_one_line(
    tmp_path: Path, column: str, message: str, way: str
) -> None:
    values = column.splitlines()[1:]
    lines = ["a,w,y", *(f"{i},{v},{i % 2}" for i, v in enumerate(values))]
    path = tmp_path / "w.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as exc:
        if way == "whole":
            load_dataset(path, weights="w")
        else:
            (tmp_path / "rows").mkdir()
            stream_dataset(path, tmp_path / "rows", weights="w", chunk_rows=1)
    text = str(exc.value)
    assert "\n" not in text and "'w'" in text and message.replace("`", "") in text


def test_weights_of_zero_in_one_chunk_are_fine_out_of_core(tmp_path: Path) -> None:
    path = tmp_path / "w.csv"
    path.write_text("a,w,y\n1,0,0\n2,0,1\n3,2,0\n")
    (tmp_path / "rows").mkdir()
    got = stream_dataset(path, tmp_path / "rows", weights="w", chunk_rows=2)
    assert got.weights.tolist() == [0.0, 0.0, 2.0]


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("options", "kind", "message"),
    [
        ({"features": ["nope", "a"]}, DataError, "`features` names 'nope', not a column of"),
        ({"drop": ["zz"]}, DataError, "`drop` names 'zz', not a column of"),
        ({"features": ["a"], "drop": ["b"]}, OptionError, "either `features` or `drop`"),
        ({"features": []}, OptionError, "`features` names no column"),
        ({"features": ["a", "y"]}, OptionError, "`features` names the target 'y'"),
        ({"drop": ["y"]}, OptionError, "`drop` names the target 'y'"),
        ({"drop": ["id", "a", "b", "c", "tag", "w"]}, DataError, "leaves no feature column"),
        ({"weights": "nope"}, DataError, "`weights` column 'nope' not found"),
        ({"weights": "y"}, OptionError, "`weights` names the target"),
        ({"weights": "a", "features": ["a", "b"]}, OptionError, "is also in `features`"),
    ],
)
def test_bad_choices_are_refused_in_one_line(tmp_path: Path, options, kind, message) -> None:
    path = _write(_table(), tmp_path / "t.csv")
    with pytest.raises(kind) as exc:
        load_dataset(path, **options)
    rendered = exc.value.render({})  # parameters bare, as a Python caller reads them
    assert "\n" not in rendered and message.replace("`", "") in rendered
    assert message in exc.value.args[0]  # named in backquotes, for the CLI's flags
    if "not a column" in message:  # lists the real names, as other messages do
        assert "its columns are: 'id', 'a', 'b'" in rendered


@pytest.mark.parametrize("options", [{"features": ["f1"]}, {"drop": ["f1"]}, {"weights": "f1"}])
def test_libsvm_refuses_a_choice_of_columns(tmp_path: Path, options) -> None:
    path = tmp_path / "d.svm"
    path.write_text("0 1:1 2:3\n1 1:2 2:1\n")
    with pytest.raises(OptionError, match=r"LIBSVM file .* has no column names") as exc:
        load_dataset(path, **options)
    assert "\n" not in str(exc.value)


def test_dropping_a_column_of_too_many_levels_lets_onehot_encode(tmp_path: Path) -> None:
    """The flights case: one-hot encoding refuses a column of 4,037 levels (tailnum); with
    it dropped, the other text columns are encoded."""
    n = 4037
    frame = pd.DataFrame(
        {
            "carrier": [("AA", "UA", "DL")[i % 3] for i in range(n)],
            "tailnum": [f"N{i:05d}" for i in range(n)],
            "distance": np.arange(n) % 97,
            "delay": np.arange(n) % 5,
        }
    )
    path = _write(frame, tmp_path / "flights.csv")
    with pytest.raises(DataError, match="tailnum"):
        load_dataset(path, encode="onehot")
    got = load_dataset(path, encode="onehot", drop=["tailnum"])
    assert got.feature_names == ("carrier=AA", "carrier=DL", "carrier=UA", "distance")


# --------------------------------------------------------------------------- the commands


def test_train_takes_the_chosen_columns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _write(_table(), tmp_path / "t.csv")
    result = invoke(["train", "t.csv", "--drop", "id, tag", "--weights", "w", "--no-cache",
                     "--quiet", "--json", "--out", "m.linfit"])  # fmt: skip
    assert list(json_stdout(result.stdout)["coef"]) == ["a", "b", "c"]
    result = invoke(["solve-ls", "t.csv", "--features", "c,a", "--quiet", "--json"])
    assert list(json_stdout(result.stdout)["coef"]) == ["a", "c"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--features", "a", "--drop", "b"], "use either --features or --drop, not both"),
        (["--features", " , "], "--features names no column"),
        (["--drop", "nope"], "--drop names 'nope', not a column of 't.csv'"),
        (["--weights", "tag"], "--weights column 'tag' is not numeric"),
        (["--features", "y"], "--features names the target 'y'"),
    ],
)
@pytest.mark.parametrize("command", ["train", "compare", "solve-ls"])
def test_commands_refuse_bad_choices_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, args, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    _write(_table(), tmp_path / "t.csv")
    before = sorted(p.name for p in tmp_path.iterdir())
    result = invoke([command, "t.csv", *args, "--no-cache", "--quiet"], ok=False)
    assert result.exit_code == 2
    assert message in assert_one_error_line(result.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == before, "nothing written"


def test_library_errors_name_parameters(tmp_path: Path) -> None:
    """A LinfitError says `features` to the CLI, which renders --features."""
    try:
        load_dataset(_write(_table(), tmp_path / "t.csv"), drop=["y"])
    except LinfitError as exc:
        assert exc.render({"drop": "--drop", "target": "--target"}).startswith("--drop names")
    else:  # pragma: no cover
        raise AssertionError("not refused")
    assert json.dumps(_load_options(ReadOptions(drop=("b", "a")), ","))  # a key JSON can hold
