"""The loaders' fast paths for clean numeric tables give exactly what the general path gives.

Two fast paths: ``linfit.data.load._scan_named`` has the compiled scanner parse a plain
numeric CSV straight into X (for all three loaders; see test_csvscan.py), and
``_clean_numeric`` builds X straight from pandas' column block when a table has nothing to
repair (every feature float64 or int64, every value finite, the target complete).
Anything else goes to the general path (``keep_rows``, ``train_columns``, ``columns_matrix``),
which also words every refusal. Each test here reads a file twice, once as the loaders do
and once with both fast paths switched off, and holds the two to byte equality: the same
X (bytes, so the sign of a zero counts too), dtype and memory order, the same y and its
dtype, the same names, or the same error message.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import linfit.data.fast_paths as fast_paths
import linfit.data.load as load_module
from linfit.data import Dataset, load_dataset, load_features, load_labeled
from linfit.errors import DataError

# Valid files: (name, content, load_dataset keyword arguments, the path that reads them:
# "scan" the compiled scanner, "clean" pandas' column block, None the general path).
CLEAN = [
    ("ints.csv", "a,b,y\n1,2,0\n3,-4,1\n5,6,0\n", {}, "scan"),
    ("floats.csv", "a,b,y\n1.5,2.25,0.5\n-3.125,4e-3,1.25\n", {}, "scan"),
    ("scientific.csv", "a,b,y\n1e5,-2.5E-3,1\n6.02214076e23,1e-300,0\n.5,5.,1\n", {}, "scan"),
    ("mixed int float.csv", "a,b,y\n1,2.5,0\n3,4,1\n", {}, "scan"),
    ("negative zero.csv", "a,b,y\n-0.0,-0,0\n1.5,2,1\n", {}, "clean"),  # -0 int: 0
    ("negative float zero.csv", "a,b,y\n-0.0,-0e0,0\n1.5,2,1\n", {}, "scan"),
    ("long digits.csv", "a,b,y\n0.1000000000000000055511151231257827,3,0\n2,4,1\n", {}, "scan"),
    ("text labels.csv", "a,b,label\n1,2,cat\n3,4,dog\n5,6,cat\n", {}, "scan"),
    ("quoted.csv", 'a,"b, quoted",y\n"1.5",2,"yes, sure"\n3,"4",no\n', {}, "clean"),
    ("bom.csv", "\ufeffa,b,y\n1,2,0\n3,4,1\n", {}, "scan"),
    ("crlf.csv", "a,b,y\r\n1,2,0\r\n3,4,1\r\n", {}, "scan"),
    ("tabs.tsv", "a\tb\ty\n1.5\t2\t0\n3\t4.5\t1\n", {}, "scan"),
    ("semicolons.csv", "a;b;y\n1;2;0\n3;4;1\n", {"sep": ";"}, "scan"),
    ("target first.csv", "y,a,b\n0,1,2\n1,3,4\n", {"target": "y"}, "scan"),
    ("target by index.csv", "a,y,b\n1,0,2\n3,1,4\n", {"target": 1}, "scan"),
    ("float target.csv", "a,b,y\n1,2,0.25\n3,4,-1e3\n", {}, "scan"),
    ("boolean labels.csv", "a,b,y\n1,2,True\n3,4,False\n", {}, "scan"),
    ("float32.csv", "a,b,y\n1.1,2.2,0\n3.3,3.4028234e38,1\n", {"dtype": np.float32}, "scan"),
    ("onehot asked, all numeric.csv", "a,b,y\n1,2,0\n3,4,1\n", {"encode": "onehot"}, "scan"),
    ("policies with nothing to do.csv", "a,b,y\n1,2,0\n3,4,1\n", {"missing": "mean"}, "scan"),
    ("spaces around.csv", "a,b,y\n 1,2 ,0\n3,4,1\n", {}, "clean"),
    ("no last newline.csv", "a,b,y\n1,2,0\n3,4,1", {}, "scan"),
    ("blank line.csv", "a,b,y\n1,2,0\n\n3,4,1\n", {}, "clean"),
    ("dash delimiter.csv", "a-b-y\n1-2-0\n3-4-1\n", {"sep": "-"}, "clean"),
    ("huge integer.csv", "a,b,y\n1,12345678901234567890,0\n3,4,1\n", {}, None),  # uint64
]

# Files the fast path hands to the general path, and what that path makes of them.
GENERAL = [
    ("missing feature.csv", "a,b,y\n1,,0\n3,4,1\n5,6,0\n", {"missing": "drop"}),
    ("missing feature, mean.csv", "a,b,y\n1,,0\n3,4,1\n5,7,0\n", {"missing": "mean"}),
    ("NA markers.csv", "a,b,y\n1,NA,0\n3,n/a,1\n5,6,0\n", {"missing": "drop"}),
    ("missing target.csv", "a,b,y\n1,2,0\n3,4,\n5,6,1\n", {"missing": "drop"}),
    ("short row.csv", "a,b,y\n1,2,0\n3,4\n5,6,1\n", {"missing": "mean"}),
    ("boolean feature.csv", "a,b,y\n1,True,0\n3,False,1\n", {}),
    ("text feature.csv", "a,c,y\n1,red,0\n3,blue,1\n", {"encode": "onehot"}),
    ("missing text label.csv", "a,b,y\n1,2,x\n3,4,\n5,6,z\n", {"missing": "drop"}),
]

# Files refused: the general path's message, whoever saw the problem first.
REFUSED = [
    ("inf feature.csv", "a,b,y\n1,inf,0\n3,4,1\n", {}, "1 infinite value(s)"),
    ("inf target.csv", "a,b,y\n1,2,-inf\n3,4,1\n", {}, "column 'y'"),
    ("1e400.csv", "a,b,y\n1,1e400,0\n3,4,1\n", {}, "too large for float64 such as 1e400"),
    (
        "1e400, dropping rows, float32.csv",  # parsed as inf: no policy drops or narrows it
        "a,b,y\n1,1e400,0\n3,4,1\n",
        {"missing": "drop", "dtype": "f4"},
        "1 infinite value(s)",
    ),
    ("NaN feature.csv", "a,b,y\n1,NaN,0\n3,4,1\n", {}, "missing values"),
    ("missing target.csv", "a,b,y\n1,2,0\n3,4,\n", {}, "target 'y' (1)"),
    ("text.csv", "a,b,y\n1,n/a?,0\n3,4,1\n", {}, "non-numeric feature column(s) 'b'"),
    ("float32 overflow.csv", "a,b,y\n1,1e39,0\n3,4,1\n", {"dtype": np.float32}, "float32"),
]


def write(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8"))
    return path


FAST_PATHS = {"scan": "scan_named", "clean": "clean_numeric"}


def general_only(monkeypatch: pytest.MonkeyPatch) -> None:
    for function in FAST_PATHS.values():
        monkeypatch.setattr(load_module, function, lambda *args, **kwargs: None)


def both_ways(
    monkeypatch: pytest.MonkeyPatch, read: Callable[[], Any]
) -> tuple[Any, Any, list[str]]:
    """``read()`` as the loaders run it, and again with the fast paths off; and the fast
    paths that returned a result in the first read, in call order."""
    taken: list[str] = []

    def spy(path: str, fast: Callable[..., Any]) -> Callable[..., Any]:
        def spied(*args: Any, **kwargs: Any) -> Any:
            result = fast(*args, **kwargs)
            if result is not None:
                taken.append(path)
            return result

        return spied

    with monkeypatch.context() as patch:
        for path, function in FAST_PATHS.items():
            patch.setattr(load_module, function, spy(path, getattr(load_module, function)))
        first = _outcome(read)
    with monkeypatch.context() as patch:
        general_only(patch)
        second = _outcome(read)
    return first, second, taken


def _outcome(read: Callable[[], Any]) -> Any:
    try:
        return read()
    except DataError as exc:
        return exc


def assert_same(fast: Any, general: Any) -> None:
    """Byte-equal results, or errors with the same message."""
    if isinstance(general, DataError):
        assert isinstance(fast, DataError), fast
        assert str(fast) == str(general)
        return
    assert not isinstance(fast, DataError), fast
    if isinstance(general, Dataset):
        assert (fast.feature_names, fast.target_name) == (
            general.feature_names,
            general.target_name,
        )
        assert_same_array(fast.y, general.y)
        fast, general = fast.X, general.X
    assert_same_array(fast, general)
    assert fast.flags.c_contiguous


def assert_same_array(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype and a.shape == b.shape
    if a.dtype == object:
        assert a.tolist() == b.tolist()
    else:
        assert a.tobytes() == b.tobytes()  # bitwise: -0.0 differs from 0.0 here


PATHS = CLEAN + [(*case, None) for case in GENERAL]


@pytest.mark.parametrize(("name", "content", "options", "path"), PATHS, ids=[c[0] for c in PATHS])
def test_each_file_takes_its_path_and_loads_as_the_general_path_does(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    content: str,
    options: dict,
    path: str | None,
) -> None:
    """Clean tables take a fast path (plain numbers the scanner); tables needing repair fall
    back to the general one; either way the result equals the general path's."""
    file = write(tmp_path, name, content)
    fast, general, taken = both_ways(monkeypatch, lambda: load_dataset(file, **options))
    assert taken == ([path] if path else [])
    assert_same(fast, general)
    assert isinstance(general, Dataset)


@pytest.mark.parametrize(
    ("name", "content", "options", "message"), REFUSED, ids=[c[0] for c in REFUSED]
)
def test_a_file_the_fast_path_refuses_gets_the_general_message(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    content: str,
    options: dict,
    message: str,
) -> None:
    path = write(tmp_path, name, content)
    fast, general, taken = both_ways(monkeypatch, lambda: load_dataset(path, **options))
    assert isinstance(general, DataError) and message in str(general)
    assert_same(fast, general)
    assert taken == []


def test_prediction_loaders_take_the_fast_path_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "p.csv", "id,b,a,y\n7,2.5,1,x\n8,-0.0,3e2,z\n")
    fast, general, taken = both_ways(monkeypatch, lambda: load_features(path, ["a", "b"]))
    assert taken == ["scan"]
    assert_same(fast, general)
    fast, general, taken = both_ways(
        monkeypatch, lambda: load_labeled(path, ["a", "b"], "y", dtype=np.float32)
    )
    assert taken == ["scan"]
    assert_same(fast, general)
    path = write(tmp_path, "q.csv", 'id,b,a,y\n"7",2.5,1,x\n8,-0.0,3e2,z\n')  # a quote
    fast, general, taken = both_ways(monkeypatch, lambda: load_features(path, ["a", "b"]))
    assert taken == ["clean"]
    assert_same(fast, general)


def test_prediction_loaders_leave_onehot_and_gaps_to_the_general_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "p.csv", "c,a,y\nred,1,0\nblue,,1\n")
    for read in (
        lambda: load_features(path, ["a", "c=red"], encode="onehot", missing="mean"),
        lambda: load_labeled(path, ["a"], "y", missing="mean", fill_values=[9.0]),
        lambda: load_features(path, ["a"]),
    ):
        fast, general, taken = both_ways(monkeypatch, read)
        assert taken == []
        assert_same(fast, general)


@pytest.mark.parametrize("bad_row", [None, 0, 700, 1999])
def test_threaded_fill_matches_and_stops_at_a_bad_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad_row: int | None
) -> None:
    """A matrix big enough for the threaded fill (made small here) fills alike, and a bad
    value in any thread's share sends the file to the general path. (The scanner is off:
    test_csvscan.py splits files for it.)"""
    monkeypatch.setattr(fast_paths, "CLEAN_THREADED_CELLS", 10)
    monkeypatch.setattr(load_module, "_scan_training", lambda *args: None)
    rng = np.random.default_rng(0)
    values = rng.standard_normal((2000, 3))
    lines = [",".join(repr(float(v)) for v in row) + f",{i % 3}" for i, row in enumerate(values)]
    if bad_row is not None:
        lines[bad_row] = "1,inf,2,0"
    path = write(tmp_path, "big.csv", "a,b,c,y\n" + "\n".join(lines) + "\n")
    fast, general, taken = both_ways(monkeypatch, lambda: load_dataset(path))
    assert taken == (["clean"] if bad_row is None else [])
    assert_same(fast, general)
    if bad_row is None:
        np.testing.assert_array_equal(fast.X, values)


def test_stream_chunks_take_the_fast_path_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from linfit.data.stream import stream_dataset

    path = write(tmp_path, "s.csv", "a,b,y\n" + "".join(f"{i}.5,{-i},{i % 2}\n" for i in range(50)))
    folders = iter(["fast", "general"])

    def stream() -> Any:
        folder = tmp_path / next(folders)
        folder.mkdir()
        return stream_dataset(path, folder, chunk_rows=7)

    streamed, general, taken = both_ways(monkeypatch, stream)
    assert taken == ["clean"] * 8  # 50 rows in chunks of 7, each from pandas' block
    whole = load_dataset(path)
    for result in (streamed, general):
        assert_same_array(np.asarray(result.X[0:50]), whole.X)
        assert_same_array(result.y, whole.y)


# Cells that matter to the fast path's checks: numbers in several spellings, zeros of
# both signs, NA markers, empty cells, infinities, text and booleans.
_CELLS = st.sampled_from(
    [
        "0", "-0", "1", "-7", "2.5", "-0.0", "1e3", "1E-3", ".5", "5.", "1e400", "1e-400",
        "3.4e38", "1e39", "nan", "NA", "", "inf", "-Infinity", "x", "True", '"4"', " 6 ",
    ]
)  # fmt: skip


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=st.lists(st.lists(_CELLS, min_size=3, max_size=3), min_size=1, max_size=8),
    missing=st.sampled_from(["error", "drop", "mean"]),
    encode=st.sampled_from(["none", "onehot"]),
    dtype=st.sampled_from([np.float64, np.float32]),
    threaded=st.booleans(),
)
def test_fast_and_general_paths_agree_on_any_small_table(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    rows: list[list[str]],
    missing: str,
    encode: str,
    dtype: type,
    threaded: bool,
) -> None:
    monkeypatch.setattr(fast_paths, "CLEAN_THREADED_CELLS", 1 if threaded else 1 << 22)
    path = tmp_path / "fuzz.csv"
    path.write_text("a,b,y\n" + "".join(",".join(row) + "\n" for row in rows), "utf-8")
    for read in (
        lambda: load_dataset(path, missing=missing, encode=encode, dtype=dtype),
        lambda: load_features(path, ["b", "a"], missing=missing, dtype=dtype),
        lambda: load_labeled(path, ["a", "b"], "y", missing=missing, dtype=dtype),
    ):
        fast, general, _ = both_ways(monkeypatch, read)
        assert_same(fast, general)
