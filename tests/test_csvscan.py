"""The compiled CSV scanner (linfit/data/_csvscan.c, driven by linfit/data/fastcsv.py).

Its contract: a number it accepts is read as Python's ``float`` reads it (correctly rounded);
anything it cannot read with certainty stops the scan with a nonzero status, and the loader
reads that file through pandas instead. test_fast_read.py holds whole files read through
it to the general path; this file holds the scanner to its own contract.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import linfit.data.load as load_module
from linfit.data import fastcsv, load_dataset, load_features, load_labeled
from linfit.errors import DataError

_csvscan = fastcsv._csvscan
OK, NOT_NUMBER, FIELDS, TEXT, BLANK, NO_TARGET, RANGE, ROWS, _, SIGNED_ZERO = range(10)


def test_the_scanner_is_built() -> None:
    assert fastcsv.available(), (
        "linfit/data/_csvscan.c was not compiled: `pip install -e .` needs a C compiler"
    )


def parse(text: str, roles: list[int], rows: int, dtype: type = np.float64, k: int = 1):
    """``_csvscan.parse`` over all of ``text``: (status, X, target text)."""
    data = text.encode()
    X = np.zeros((rows, k), dtype)
    status, target = _csvscan.parse(data, 0, len(data), b",", np.array(roles, np.int32), X, 0, rows)
    return status, X, target


def read_number(token: str, dtype: type = np.float64) -> tuple[int, np.ndarray]:
    status, X, _ = parse(f"0,{token}\n", [0, 1], 1, dtype, k=2)
    return status, X[0, 1]


SPELLINGS: list[Callable[[float], str]] = [
    repr,
    lambda v: f"{v:.1g}",
    lambda v: f"{v:.7g}",
    lambda v: f"{v:.15g}",
    lambda v: f"{v:.17g}",
    lambda v: f"{v:.3e}",
    lambda v: f"{v:.16E}",
    lambda v: f"{v:.6f}",
    lambda v: ("" if repr(v).startswith("-") else "+") + repr(v),
    lambda v: repr(v).upper(),
    lambda v: ("-" if repr(v).startswith("-") else "") + "00" + repr(abs(v)),
]


@settings(max_examples=400, deadline=None, database=None)
@given(st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(SPELLINGS))
def test_a_float_written_any_usual_way_reads_back_bit_for_bit(value: float, spell) -> None:
    token = spell(value)
    status, x = read_number(token)
    assert status == expected_status(token), token  # "2e+308" overflows, "-0" is left
    if status == OK:
        assert x.tobytes() == np.float64(float(token)).tobytes(), token


DECIMALS = st.from_regex(
    r"[+-]?(0{0,3}[0-9]{1,22}(\.[0-9]{0,24})?|\.[0-9]{1,24})([eE][+-]?[0-9]{1,3})?",
    fullmatch=True,
)


@settings(max_examples=600, deadline=None, database=None)
@given(DECIMALS)
def test_any_decimal_is_read_correctly_rounded_or_left_to_pandas(token: str) -> None:
    """Exact rounding on the fast path (at most 19 digits, scaled by at most 10^22) and on
    strtod's (all others); infinities and integers of 19 digits or more go to pandas."""
    status, x = read_number(token)
    assert status == expected_status(token), token
    if status == OK:
        assert x.tobytes() == np.float64(float(token)).tobytes(), token


def expected_status(token: str) -> int:
    """What the scanner must make of a decimal: pandas reads an integer of 19 digits or
    more as uint64 or text, ``-0`` as 0 in an integer column but -0.0 in a float one, and
    an overflow as inf, so those are left to it."""
    integer = token.lstrip("+-").isdigit()
    significant = len(token.lstrip("+-").lstrip("0"))
    if np.isinf(float(token)) or (integer and significant > 18):
        return RANGE
    if integer and token.startswith("-") and significant == 0:
        return SIGNED_ZERO
    return OK


@pytest.mark.parametrize("token", ["1.1", "3.4028234e38", "-1e-46", "16777217", "0.1"])
def test_float32_is_the_float64_value_rounded(token: str) -> None:
    status, x = read_number(token, np.float32)
    assert status == OK
    assert x.tobytes() == np.float32(np.float64(float(token))).tobytes()


@pytest.mark.parametrize(("token", "dtype"), [("3.5e38", np.float32), ("1e309", np.float64)])
def test_a_value_beyond_the_dtype_goes_to_pandas(token: str, dtype: type) -> None:
    assert read_number(token, dtype)[0] == RANGE


@pytest.mark.parametrize(
    "token",
    ["", "-", "+", ".", "-.", "e5", "1e", "1e+", "1.5x", " 1", "1 ", "0x10", "nan", "NaN",
     "inf", "-Infinity", '"1"', "1_000", "1..2", "1e5.5", "\t2", "١",
     "0." + "0" * 99999 + "1e100000", "1" + "0" * 500 + "e-500"],
)  # fmt: skip
def test_anything_but_a_plain_decimal_goes_to_pandas(token: str) -> None:
    assert read_number(token)[0] == NOT_NUMBER


@pytest.mark.parametrize(
    ("text", "rows", "status"),
    [
        ("1,2\n", 1, FIELDS),  # more fields than columns
        ("1\n", 1, OK),
        ("1\n\n2\n", 3, BLANK),  # pandas skips blank lines
        ("1\r\n2\r\n", 2, OK),
        ("1\r2\n", 1, NOT_NUMBER),  # a bare carriage return ends a line for pandas
        ("1\n2", 2, OK),  # no newline at the end
        ("1\n2\n", 3, ROWS),
        ("1\n2\n3\n", 2, ROWS),
    ],
)
def test_lines_and_fields(text: str, rows: int, status: int) -> None:
    assert parse(text, [0], rows)[0] == status


def test_roles_place_features_and_collect_the_target() -> None:
    status, X, target = parse("7,a b,1.5\n8,c,-2\n", [1, -1, 0], 2, k=2)
    assert status == OK
    np.testing.assert_array_equal(X, [[1.5, 7.0], [-2.0, 8.0]], strict=True)
    assert target == b"a b\nc\n"


@pytest.mark.parametrize(
    ("text", "status"),
    [("1,\n", NO_TARGET), ('1,"x"\n', TEXT), ("1,x\ry\n", TEXT), ("1,x,\n", FIELDS)],
)
def test_a_target_field_only_pandas_can_read_stops_the_scan(text: str, status: int) -> None:
    assert parse(text, [0, -1], 1)[0] == status


def test_signed_zero_is_left_to_pandas_unless_it_is_a_float() -> None:
    assert read_number("-0")[0] == read_number("-000")[0] == SIGNED_ZERO
    for token in ("-0.0", "-0e0", "-.0"):
        status, x = read_number(token)
        assert status == OK and np.signbit(x)


def test_bad_arguments_are_value_errors() -> None:
    data, roles = b"1,2\n", np.array([0, 1], np.int32)
    with pytest.raises(ValueError, match="2-D float64 or float32"):
        _csvscan.parse(data, 0, 4, b",", roles, np.zeros((1, 2), np.int64), 0, 1)
    with pytest.raises(ValueError, match="role 5"):
        _csvscan.parse(data, 0, 4, b",", np.array([0, 5], np.int32), np.zeros((1, 2)), 0, 1)
    with pytest.raises(ValueError, match="outside the 4 bytes"):
        _csvscan.parse(data, 0, 9, b",", roles, np.zeros((1, 2)), 0, 1)
    with pytest.raises(ValueError, match="outside the 1 rows"):
        _csvscan.parse(data, 0, 4, b",", roles, np.zeros((1, 2)), 1, 1)
    with pytest.raises(ValueError, match="C-contiguous"):
        _csvscan.parse(data, 0, 4, b",", roles, np.zeros((2, 2)).T, 0, 1)
    with pytest.raises(ValueError, match="outside the 1 rows"):  # no overflow of the sum
        _csvscan.parse(data, 0, 4, b",", roles, np.zeros((1, 2)), 1, sys.maxsize)
    with pytest.raises(ValueError, match="int32"):
        _csvscan.parse(data, 0, 4, b",", roles.astype(np.int64), np.zeros((1, 2)), 0, 1)


@pytest.mark.parametrize(("text", "lines"), [("", 0), ("a", 1), ("a\n", 1), ("a\nb", 2)])
def test_count_lines(text: str, lines: int) -> None:
    assert _csvscan.count_lines(text.encode(), 0, len(text)) == lines


def _table(rng: np.random.Generator, n: int, target_at: int, newline: str) -> tuple[str, list]:
    values = rng.standard_normal((n, 4)) * 10.0 ** rng.integers(-5, 6, (n, 4))
    rows = []
    for i, row in enumerate(values):
        cells = [repr(float(v)) for v in row]
        cells.insert(target_at, ["cat", "dog", "emu"][i % 3])
        rows.append(",".join(cells))
    names = ["a", "b", "c", "d"]
    names.insert(target_at, "y")
    return ",".join(names) + newline + newline.join(rows) + newline, values.tolist()


def _general(monkeypatch: pytest.MonkeyPatch, path: Path, load=load_dataset, **options):
    """``load(path, **options)`` by the general path alone."""
    with monkeypatch.context() as patch:
        patch.setattr(load_module, "scan_named", lambda *args: None)
        patch.setattr(load_module, "clean_numeric", lambda *args, **kwargs: None)
        return load(path, **options)


def _scanned(monkeypatch: pytest.MonkeyPatch, path: Path, **options):
    """load_dataset's result, and whether the scanner read the file."""
    return _spied(monkeypatch, lambda: load_dataset(path, **options))


def _spied(monkeypatch: pytest.MonkeyPatch, read: Callable[[], Any]) -> tuple[Any, bool]:
    """``read()``'s result, and whether the scanner read the file."""
    taken = []
    scan = load_module.scan_named

    def spy(*args):
        result = scan(*args)
        taken.append(result is not None)
        return result

    with monkeypatch.context() as patch:
        patch.setattr(load_module, "scan_named", spy)
        return read(), taken == [True]


@pytest.mark.parametrize(("target_at", "newline"), [(4, "\n"), (0, "\r\n"), (2, "\n")])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_file_split_into_many_ranges_reads_as_pandas_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target_at: int, newline: str, dtype: type
) -> None:
    monkeypatch.setattr(fastcsv, "PARALLEL_BYTES", 64)  # ranges of ~5 rows, on all cores
    text, values = _table(np.random.default_rng(target_at), 3000, target_at, newline)
    path = tmp_path / "t.csv"
    path.write_text(text, newline="")
    data, scanned = _scanned(monkeypatch, path, target="y", dtype=dtype)
    assert scanned
    general = _general(monkeypatch, path, target="y", dtype=dtype)
    np.testing.assert_array_equal(data.X, np.asarray(values, dtype), strict=True)
    np.testing.assert_array_equal(data.X, general.X, strict=True)
    assert data.X.flags.c_contiguous
    assert data.y.tolist() == general.y.tolist() and data.y.dtype == general.y.dtype
    assert data.feature_names == general.feature_names == ("a", "b", "c", "d")


@pytest.mark.parametrize("bad_row", [0, 1500, 2999])
def test_a_bad_row_in_any_range_sends_the_file_to_pandas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad_row: int
) -> None:
    monkeypatch.setattr(fastcsv, "PARALLEL_BYTES", 64)
    text, _ = _table(np.random.default_rng(1), 3000, 4, "\n")
    lines = text.split("\n")
    lines[1 + bad_row] = "1,,2,3,cat"  # a missing cell: --impute mean fills it
    path = tmp_path / "t.csv"
    path.write_text("\n".join(lines))
    data, scanned = _scanned(monkeypatch, path, missing="mean")
    assert not scanned
    general = _general(monkeypatch, path, missing="mean")
    np.testing.assert_array_equal(data.X, general.X, strict=True)


def test_without_the_scanner_pandas_reads_every_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a,b,y\n1,2,0\n3,4,1\n")
    monkeypatch.setattr(fastcsv, "_csvscan", None)
    data, scanned = _scanned(monkeypatch, path)
    assert not scanned and not fastcsv.available()
    np.testing.assert_array_equal(data.X, [[1.0, 2.0], [3.0, 4.0]], strict=True)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("bom label", "a,y\n1,\ufeffcat\n2,cat\n3,dog\n"),  # pandas keeps a BOM inside
        ("numbers among labels", "a,y\n1,007\n2,cat\n3,1.50\n"),  # typed chunk by chunk
        ("blank lines", "a,b,y\n1,2,0\n" + "\n" * 10_000),  # X not sized by line count
        ("huge zero run", "a,b,y\n1,0." + "0" * 99_999 + "1e100000,0\n3,4,1\n"),  # inf
    ],
)
def test_a_file_pandas_might_read_otherwise_goes_to_pandas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str
) -> None:
    path = tmp_path / f"{name}.csv"
    path.write_bytes(text.encode())
    outcomes = []
    for read in (lambda: _scanned(monkeypatch, path), lambda: (_general(monkeypatch, path), 0)):
        try:
            data, scanned = read()
            assert not scanned
            outcomes.append((data.X.tobytes(), data.y.tolist(), data.y.dtype))
        except DataError as exc:
            outcomes.append(str(exc))
    assert outcomes[0] == outcomes[1]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_pipe_is_left_whole_to_pandas(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading a pipe's header would take it from pandas, as `linfit train <(...)` gives."""
    path = tmp_path / "pipe.csv"
    os.mkfifo(path)
    writer = threading.Thread(target=path.write_text, args=("a,b,y\n1,2,0\n3,4,1\n",))
    writer.start()
    try:
        data, scanned = _scanned(monkeypatch, path)
    finally:
        writer.join(timeout=10)
    assert not scanned
    np.testing.assert_array_equal(data.X, [[1.0, 2.0], [3.0, 4.0]], strict=True)


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(st.lists(DECIMALS, min_size=3, max_size=3), min_size=1, max_size=6),
    st.sampled_from([",", ";", "\t", "|", " "]),
)
def test_a_table_of_any_decimals_reads_as_pandas_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows: list[list[str]], sep: str
) -> None:
    path = tmp_path / "d.csv"
    path.write_text(sep.join("abc") + "\n" + "".join(sep.join(r) + "\n" for r in rows))
    outcomes = []
    for read in (lambda: load_dataset(path, sep=sep), lambda: _general(monkeypatch, path, sep=sep)):
        try:
            outcomes.append(read())
        except DataError as exc:
            outcomes.append(exc)
    fast, general = outcomes
    if isinstance(general, DataError):
        assert isinstance(fast, DataError) and str(fast) == str(general)
    else:
        assert fast.X.tobytes() == general.X.tobytes()  # bitwise: the sign of a zero too
        assert fast.y.tolist() == general.y.tolist() and fast.y.dtype == general.y.dtype


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
def test_a_skipped_column_beyond_ascii_goes_to_pandas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, encoding: str
) -> None:
    """Prediction skips the columns a model does not use; pandas would still check their
    encoding (a Latin-1 file is refused), so the scanner leaves such text to it."""
    path = tmp_path / "p.csv"
    path.write_bytes("id,a,b\ncafé,1,2\nx,3,4\n".encode(encoding))
    outcomes = _left_to_pandas(monkeypatch, path, lambda p: load_features(p, ["b", "a"]))
    if encoding == "utf-8":
        expected = np.array([[2.0, 1.0], [4.0, 3.0]])
        assert outcomes[0] == (expected.tobytes(), expected.dtype, expected.shape)
    else:
        assert "not UTF-8" in outcomes[0]


@pytest.mark.parametrize(
    ("text", "read"),
    [
        ("a,y\n1,2\n3,4\n", lambda p: load_features(p, ["a", "a"])),  # a repeated name
        ("a,y\n1,2\n3,4\n", lambda p: load_labeled(p, ["a", "a"], "y").X),
        ("\n2020\n5\n", lambda p: load_features(p, ["2020"])),  # pandas skips the blank line
        (" \n1\n", lambda p: load_features(p, ["1"])),
        ("a,y\n1,-0\n2,1.5\n", lambda p: load_dataset(p).y),  # -0 typed per chunk
        ("a,y\n1,1\n2,18446744073709551615\n", lambda p: load_dataset(p).y),  # uint64
    ],
)
def test_what_the_scanner_could_misread_goes_to_pandas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, read
) -> None:
    path = tmp_path / "t.csv"
    path.write_text(text)
    _left_to_pandas(monkeypatch, path, read)


def _left_to_pandas(monkeypatch: pytest.MonkeyPatch, path: Path, read) -> list:
    """``read(path)`` as the loaders run it, which must not take the scanner, and by the
    general path alone; asserts the two alike (bytes, dtype and shape, or the message)."""
    outcomes = []
    for reader in (
        lambda: _spied(monkeypatch, lambda: read(path)),
        lambda: (_general(monkeypatch, path, load=lambda p, **_: read(p)), False),
    ):
        try:
            result, scanned = reader()
            assert not scanned
            outcomes.append((result.tobytes(), result.dtype, result.shape))
        except DataError as exc:
            outcomes.append(str(exc))
    assert outcomes[0] == outcomes[1]
    return outcomes
