"""The loaders' fast path for clean numeric tables gives exactly what the general path gives.

``linfit.data.load._clean_numeric`` builds X straight from pandas' column block when a
table has nothing to repair (every feature float64 or int64, every value finite, the
target complete); anything else goes to the general path (``_keep_rows``,
``_train_columns``, ``_matrix``), which also words every refusal. Each test here reads a
file twice, once as the loaders do and once with the fast path switched off, and holds
the two to byte equality: the same X (bytes, so the sign of a zero counts too), dtype
and memory order, the same y and its dtype, the same names, or the same error message.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import linfit.data.load as load_module
from linfit.data import Dataset, load_dataset, load_features, load_labeled
from linfit.errors import DataError

# Valid files the fast path takes: (name, content, load_dataset keyword arguments).
CLEAN = [
    ("ints.csv", "a,b,y\n1,2,0\n3,-4,1\n5,6,0\n", {}),
    ("floats.csv", "a,b,y\n1.5,2.25,0.5\n-3.125,4e-3,1.25\n", {}),
    ("scientific.csv", "a,b,y\n1e5,-2.5E-3,1\n6.02214076e23,1e-300,0\n.5,5.,1\n", {}),
    ("mixed int float.csv", "a,b,y\n1,2.5,0\n3,4,1\n", {}),
    ("negative zero.csv", "a,b,y\n-0.0,-0,0\n1.5,2,1\n", {}),
    ("long digits.csv", "a,b,y\n0.1000000000000000055511151231257827,3,0\n2,4,1\n", {}),
    ("text labels.csv", "a,b,label\n1,2,cat\n3,4,dog\n5,6,cat\n", {}),
    ("quoted.csv", 'a,"b, quoted",y\n"1.5",2,"yes, sure"\n3,"4",no\n', {}),
    ("bom.csv", "\ufeffa,b,y\n1,2,0\n3,4,1\n", {}),
    ("crlf.csv", "a,b,y\r\n1,2,0\r\n3,4,1\r\n", {}),
    ("tabs.tsv", "a\tb\ty\n1.5\t2\t0\n3\t4.5\t1\n", {}),
    ("semicolons.csv", "a;b;y\n1;2;0\n3;4;1\n", {"sep": ";"}),
    ("target first.csv", "y,a,b\n0,1,2\n1,3,4\n", {"target": "y"}),
    ("target by index.csv", "a,y,b\n1,0,2\n3,1,4\n", {"target": 1}),
    ("float target.csv", "a,b,y\n1,2,0.25\n3,4,-1e3\n", {}),
    ("boolean labels.csv", "a,b,y\n1,2,True\n3,4,False\n", {}),
    ("float32.csv", "a,b,y\n1.1,2.2,0\n3.3,3.4028234e38,1\n", {"dtype": np.float32}),
    ("onehot asked, all numeric.csv", "a,b,y\n1,2,0\n3,4,1\n", {"encode": "onehot"}),
    ("policies with nothing to do.csv", "a,b,y\n1,2,0\n3,4,1\n", {"missing": "mean"}),
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


def general_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(load_module, "_clean_numeric", lambda *args, **kwargs: None)


def both_ways(
    monkeypatch: pytest.MonkeyPatch, read: Callable[[], Any]
) -> tuple[Any, Any, list[bool]]:
    """``read()`` as the loaders run it, and again with the fast path off; and, for each
    call of the fast path in the first read, whether it returned a result."""
    taken: list[bool] = []
    fast = load_module._clean_numeric

    def spy(*args: Any, **kwargs: Any) -> Any:
        result = fast(*args, **kwargs)
        taken.append(result is not None)
        return result

    with monkeypatch.context() as patch:
        patch.setattr(load_module, "_clean_numeric", spy)
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


PATHS = [(*case, True) for case in CLEAN] + [(*case, False) for case in GENERAL]


@pytest.mark.parametrize(
    ("name", "content", "options", "clean"), PATHS, ids=[c[0] for c in CLEAN + GENERAL]
)
def test_each_file_takes_its_path_and_loads_as_the_general_path_does(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    content: str,
    options: dict,
    clean: bool,
) -> None:
    """Clean tables take the fast path; tables needing repair fall back to the general one;
    either way the result equals the general path's, bit for bit."""
    path = write(tmp_path, name, content)
    fast, general, taken = both_ways(monkeypatch, lambda: load_dataset(path, **options))
    assert taken == [clean]
    assert_same(fast, general)
    assert clean or isinstance(general, Dataset)


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
    assert True not in taken


def test_prediction_loaders_take_the_fast_path_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "p.csv", "id,b,a,y\n7,2.5,1,x\n8,-0.0,3e2,z\n")
    fast, general, taken = both_ways(monkeypatch, lambda: load_features(path, ["a", "b"]))
    assert taken == [True]
    assert_same(fast, general)
    fast, general, taken = both_ways(
        monkeypatch, lambda: load_labeled(path, ["a", "b"], "y", dtype=np.float32)
    )
    assert taken == [True]
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
        assert True not in taken
        assert_same(fast, general)


@pytest.mark.parametrize("bad_row", [None, 0, 700, 1999])
def test_threaded_fill_matches_and_stops_at_a_bad_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad_row: int | None
) -> None:
    """A matrix big enough for the threaded fill (made small here) fills alike, and a bad
    value in any thread's share sends the file to the general path."""
    monkeypatch.setattr(load_module, "CLEAN_THREADED_CELLS", 10)
    rng = np.random.default_rng(0)
    values = rng.standard_normal((2000, 3))
    lines = [",".join(repr(float(v)) for v in row) + f",{i % 3}" for i, row in enumerate(values)]
    if bad_row is not None:
        lines[bad_row] = "1,inf,2,0"
    path = write(tmp_path, "big.csv", "a,b,c,y\n" + "\n".join(lines) + "\n")
    fast, general, taken = both_ways(monkeypatch, lambda: load_dataset(path))
    assert taken == [bad_row is None]
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
    assert taken == [True] * 8  # 50 rows in chunks of 7, each by the fast path
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
    monkeypatch.setattr(load_module, "CLEAN_THREADED_CELLS", 1 if threaded else 1 << 22)
    path = tmp_path / "fuzz.csv"
    path.write_text("a,b,y\n" + "".join(",".join(row) + "\n" for row in rows), "utf-8")
    for read in (
        lambda: load_dataset(path, missing=missing, encode=encode, dtype=dtype),
        lambda: load_features(path, ["b", "a"], missing=missing, dtype=dtype),
        lambda: load_labeled(path, ["a", "b"], "y", missing=missing, dtype=dtype),
    ):
        fast, general, _ = both_ways(monkeypatch, read)
        assert_same(fast, general)
