"""Contracts of linfit.data: what a data file turns into, and how each bad file is reported."""

from __future__ import annotations

import contextlib
import gzip
import io
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linfit.data import (
    MAX_CATEGORIES,
    Dataset,
    align_labels,
    feature_matrix,
    load_dataset,
    load_features,
    load_labeled,
    read_table,
)
from linfit.errors import DataError, OptionError


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def assert_one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


# --------------------------------------------------------------------------- reading


def test_round_trip_reordered_columns(tmp_path: Path) -> None:
    train = write(tmp_path, "train.csv", "a,b,c,y\n1,2,3,0\n4,5,6,1\n7,8,9.5,0\n")
    data = load_dataset(train)
    assert data.feature_names == ("a", "b", "c")
    assert data.target_name == "y"
    np.testing.assert_array_equal(data.X, [[1, 2, 3], [4, 5, 6], [7, 8, 9.5]])

    predict = write(tmp_path, "new.csv", "c,id,y,b,a\n3,x,0,2,1\n6,y,1,5,4\n9.5,z,0,8,7\n")
    X = load_features(predict, data.feature_names)
    np.testing.assert_array_equal(X, data.X)
    assert X.flags.c_contiguous and X.dtype == np.float64


def test_prediction_file_without_target_column(tmp_path: Path) -> None:
    predict = write(tmp_path, "new.csv", "b,a\n2,1\n")
    np.testing.assert_array_equal(load_features(predict, ["a", "b"]), [[1, 2]])


@pytest.mark.parametrize("name", ["data.tsv", "data.TAB", "data.tsv.gz"])
def test_tab_separated_by_extension(tmp_path: Path, name: str) -> None:
    text = "a\tb\ty\n1\t2\t3\n4\t5\t6\n"
    content = gzip.compress(text.encode()) if name.endswith(".gz") else text
    data = load_dataset(write(tmp_path, name, content))
    assert data.feature_names == ("a", "b")
    np.testing.assert_array_equal(data.y, [3, 6])


@pytest.mark.parametrize(("sep", "char"), [(";", ";"), ("tab", "\t"), ("\\t", "\t"), ("|", "|")])
def test_explicit_separator(tmp_path: Path, sep: str, char: str) -> None:
    path = write(tmp_path, "data.csv", f"a{char}y\n1{char}2\n")
    frame = read_table(path, sep=sep)
    assert list(frame.columns) == ["a", "y"]


def test_bad_separator_option(tmp_path: Path) -> None:
    path = write(tmp_path, "data.csv", "a,y\n1,2\n")
    with pytest.raises(OptionError, match=r"sep"):
        read_table(path, sep=";;")


def test_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    stdin = io.TextIOWrapper(io.BytesIO(b"x,y\n1,a\n2,b\n"), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", stdin)
    data = load_dataset("-")
    np.testing.assert_array_equal(data.X, [[1], [2]])
    assert data.y.dtype == object and list(data.y) == ["a", "b"]


def test_stdin_predict_rereads_buffered_input(monkeypatch: pytest.MonkeyPatch) -> None:
    # A one-hot column that parses as numbers here forces a second (text) read of stdin.
    stdin = io.TextIOWrapper(io.BytesIO(b"size,a\n1,3\n2,4\n"), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", stdin)
    X = load_features("-", ["a", "size=1", "size=L"], encode="onehot")
    np.testing.assert_array_equal(X, [[3, 1, 0], [4, 0, 0]])


def test_empty_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b""), encoding="utf-8"))
    with pytest.raises(DataError, match=r"standard input is empty"):
        load_dataset("-")


def test_utf8_bom_is_transparent(tmp_path: Path) -> None:
    path = write(tmp_path, "bom.csv", b"\xef\xbb\xbfage,y\n1,2\n")
    data = load_dataset(path, target="y")
    assert data.feature_names == ("age",)
    assert read_table(path).columns[0] == "age"


def test_bom_with_duplicate_check(tmp_path: Path) -> None:
    # The raw-header re-read must also strip the BOM, or 'a' and '\ufeffa' look different.
    path = write(tmp_path, "bom.csv", b"\xef\xbb\xbfa,a,y\n1,2,3\n")
    with pytest.raises(DataError, match=r"duplicate column name.*'a'"):
        read_table(path)


def test_not_utf8(tmp_path: Path) -> None:
    path = write(tmp_path, "latin.csv", "name,y\ncafé,1\n".encode("latin-1"))
    with pytest.raises(DataError) as exc:
        load_dataset(path)
    message = assert_one_line(exc)
    assert "latin.csv" in message and "UTF-8" in message and "0xe9" in message


def test_ragged_row_names_line(tmp_path: Path) -> None:
    path = write(tmp_path, "ragged.csv", "a,b,y\n1,2,3\n4,5,6,7\n")
    with pytest.raises(DataError) as exc:
        read_table(path)
    message = assert_one_line(exc)
    assert "ragged.csv" in message and "line 3" in message and "sep" in message


def test_first_row_longer_than_header(tmp_path: Path) -> None:
    # pandas would otherwise silently use the first column as the index (or drop data).
    path = write(tmp_path, "long.csv", "a,y\n1,2,3\n4,5,6\n")
    with pytest.raises(DataError, match=r"more fields than the header"):
        read_table(path)


def test_unclosed_quote(tmp_path: Path) -> None:
    path = write(tmp_path, "quote.csv", 'a,y\n"1,2\n')
    with pytest.raises(DataError, match=r"quote.csv"):
        read_table(path)


@pytest.mark.parametrize("content", ["", "\n\n", "   \n"])
def test_empty_file(tmp_path: Path, content: str) -> None:
    path = write(tmp_path, "empty.csv", content)
    with pytest.raises(DataError) as exc:
        load_dataset(path)
    assert "empty.csv" in str(exc.value)


def test_header_only(tmp_path: Path) -> None:
    path = write(tmp_path, "header.csv", "a,b,y\n")
    with pytest.raises(DataError, match=r"header.csv.*no data rows"):
        load_dataset(path)


def test_duplicate_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "dup.csv", "x,a,a,y\n1,2,3,4\n")
    with pytest.raises(DataError) as exc:
        load_dataset(path)
    message = assert_one_line(exc)
    assert "dup.csv" in message and "'a'" in message and "'x'" not in message


def test_column_named_like_pandas_mangling_is_not_a_duplicate(tmp_path: Path) -> None:
    path = write(tmp_path, "ok.csv", "a,a.1,y\n1,2,3\n")
    assert load_dataset(path).feature_names == ("a", "a.1")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope.csv.*not found"):
        load_dataset(tmp_path / "nope.csv")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"is a directory"):
        load_dataset(tmp_path)


def test_corrupt_gzip(tmp_path: Path) -> None:
    path = write(tmp_path, "data.csv.gz", gzip.compress(b"a,y\n1,2\n" * 100)[:-20])
    with pytest.raises(DataError, match=r"data\.csv\.gz"):
        load_dataset(path)


# --------------------------------------------------------------------------- target


@pytest.mark.parametrize(
    ("target", "expected"),
    [(None, "y"), ("a", "a"), (0, "a"), ("1", "b"), (-1, "y"), ("-2", "b"), (2, "y")],
)
def test_target_selection(tmp_path: Path, target: str | int | None, expected: str) -> None:
    path = write(tmp_path, "t.csv", "a,b,y\n1,2,3\n4,5,6\n")
    data = load_dataset(path, target=target)
    assert data.target_name == expected
    assert data.feature_names == tuple(c for c in ("a", "b", "y") if c != expected)
    column = {"a": [1, 4], "b": [2, 5], "y": [3, 6]}[expected]
    np.testing.assert_array_equal(data.y, column)
    assert data.X.shape == (2, 2)


def test_digit_string_target_prefers_column_name(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", "0,1,label\n5,6,7\n")
    assert load_dataset(path, target="1").target_name == "1"
    assert load_dataset(path, target=1).target_name == "1"
    assert load_dataset(path, target="2").target_name == "label"


def test_unknown_target_lists_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", "a,b,y\n1,2,3\n")
    with pytest.raises(DataError) as exc:
        load_dataset(path, target="price")
    message = assert_one_line(exc)
    assert "'price'" in message and "'a', 'b', 'y'" in message


def test_unknown_target_truncates_long_column_list(tmp_path: Path) -> None:
    header = ",".join(f"c{i}" for i in range(40))
    path = write(tmp_path, "wide.csv", header + "\n" + ",".join(["1"] * 40) + "\n")
    with pytest.raises(DataError) as exc:
        load_dataset(path, target="nope")
    message = str(exc.value)
    assert "'c0'" in message and "'c39'" not in message and "30 more" in message


@pytest.mark.parametrize("target", [3, -4, "7"])
def test_target_index_out_of_range(tmp_path: Path, target: int | str) -> None:
    path = write(tmp_path, "t.csv", "a,b,y\n1,2,3\n")
    with pytest.raises(DataError, match=r"out of range.*3 column"):
        load_dataset(path, target=target)


def test_only_target_column_suggests_delimiter(tmp_path: Path) -> None:
    path = write(tmp_path, "semi.csv", "a;b;y\n1;2;3\n")
    with pytest.raises(DataError) as exc:
        load_dataset(path)
    message = assert_one_line(exc)
    assert "only 1 column" in message and "sep ';'" in message
    assert load_dataset(path, sep=";").feature_names == ("a", "b")


def test_prediction_file_with_wrong_delimiter(tmp_path: Path) -> None:
    path = write(tmp_path, "new.tsv", "a,b\n1,2\n")  # commas in a .tsv: read as tab-separated
    with pytest.raises(DataError) as exc:
        load_features(path, ["a", "b"])
    message = assert_one_line(exc)
    assert "'a'" in message and "sep ','" in message


IRIS_HEADER = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "target"]
IRIS_ROWS = [["5.1", "3.5", "1.4", "setosa"], ["7.0", "3.2", "4.7", "versicolor"]]


@pytest.mark.parametrize(("sep", "shown"), [("\t", "tab"), (";", "';'"), ("|", "'|'")])
def test_delimiter_hint_ignores_spaces_inside_column_names(
    tmp_path: Path, sep: str, shown: str
) -> None:
    """Names like 'sepal length (cm)' hold more spaces than the file has delimiters: the
    hint must name the delimiter that splits the header and the rows alike."""
    text = "".join(sep.join(line) + "\n" for line in [IRIS_HEADER, *IRIS_ROWS])
    path = write(tmp_path, "iris_copy.txt", text)
    with pytest.raises(DataError) as exc:
        load_dataset(path)
    message = assert_one_line(exc)
    assert message.endswith(f"wrong delimiter? use sep {shown}"), message
    with pytest.raises(DataError) as exc:  # prediction files get the same hint
        load_features(path, IRIS_HEADER[:3])
    assert assert_one_line(exc).endswith(f"use sep {shown}")
    assert load_dataset(path, sep=sep).feature_names == tuple(IRIS_HEADER[:3])


def test_delimiter_hint_prefers_the_delimiter_consistent_across_rows(tmp_path: Path) -> None:
    """';' is commoner in the header, but only tab splits every line alike."""
    path = write(tmp_path, "d.txt", "a;b;c;d\ty\n1\t2\n3\t4\n")
    with pytest.raises(DataError) as exc:
        load_dataset(path)
    assert assert_one_line(exc).endswith("use sep tab")


def test_delimiter_hint_falls_back_to_a_space_only_when_nothing_else_fits(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "spaced.txt", "a b y\n1 2 3\n4 5 6\n")
    with pytest.raises(DataError) as exc:
        load_dataset(path)
    assert assert_one_line(exc).endswith("use sep ' '")
    # spaces in a name of a truly one-column file, and rows without any: no guess
    path = write(tmp_path, "one.txt", "total (cm)\n1\n2\n")
    with pytest.raises(DataError) as exc:
        load_dataset(path)
    assert "use sep" not in assert_one_line(exc)


def test_target_values_keep_their_type(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", "a,n,f,s,b\n1,3,0.5,cat,True\n2,4,1.5,dog,False\n")
    assert load_dataset(path, target="n", encode="onehot").y.dtype == np.int64
    assert load_dataset(path, target="f", encode="onehot").y.dtype == np.float64
    labels = load_dataset(path, target="s", encode="onehot").y
    assert labels.dtype == object and list(labels) == ["cat", "dog"]
    flags = load_dataset(path, target="b", encode="onehot").y
    assert flags.dtype == object and list(flags) == ["True", "False"]


# --------------------------------------------------------------------------- values


def test_missing_values_error_names_columns_and_counts(tmp_path: Path) -> None:
    path = write(tmp_path, "nan.csv", "age,h,y\n1,,1\n,2,0\n,3,\n4,5,1\n")
    with pytest.raises(DataError) as exc:
        load_dataset(path)
    message = assert_one_line(exc)
    assert "'age' (2)" in message and "'h' (1)" in message and "'y' (1)" in message
    assert "dropna" in message and "impute mean" in message


def test_missing_values_drop(tmp_path: Path) -> None:
    path = write(tmp_path, "nan.csv", "age,h,y\n1,,1\n,2,0\n5,3,\n4,5,1\n6,7,0\n")
    data = load_dataset(path, missing="drop")
    np.testing.assert_array_equal(data.X, [[4, 5], [6, 7]])
    np.testing.assert_array_equal(data.y, [1, 0])


def test_missing_values_mean(tmp_path: Path) -> None:
    path = write(tmp_path, "nan.csv", "age,h,y\n1,,1\n,2,0\n5,3,\n4,5,1\n6,7,0\n")
    data = load_dataset(path, missing="mean")
    # The row with a missing target is dropped first; means are over the kept rows.
    kept_age = [1, 4, 6]
    kept_h = [2, 5, 7]
    np.testing.assert_allclose(data.X[:, 0], [1, np.mean(kept_age), 4, 6])
    np.testing.assert_allclose(data.X[:, 1], [np.mean(kept_h), 2, 5, 7])
    np.testing.assert_array_equal(data.y, [1, 0, 1, 0])
    assert not np.isnan(data.X).any()


def test_mean_of_an_empty_column(tmp_path: Path) -> None:
    path = write(tmp_path, "nan.csv", "a,b,y\n1,,1\n2,,0\n")
    with pytest.raises(DataError, match=r"'b'.*no values"):
        load_dataset(path, missing="mean")


def test_prediction_fills_from_training_means(tmp_path: Path) -> None:
    path = write(tmp_path, "new.csv", "b,a\n,1\n4,\n6,3\n")
    # Default: this file's column means.
    np.testing.assert_allclose(
        load_features(path, ["a", "b"], missing="mean"), [[1, 5], [2, 4], [3, 6]]
    )
    # With fill_values: the training means, in model feature order, whatever the file holds.
    X = load_features(path, ["a", "b"], missing="mean", fill_values=[10.0, 20.0])
    np.testing.assert_allclose(X, [[1, 20], [10, 4], [3, 6]])
    X32 = load_features(
        path, ["b", "a"], missing="mean", fill_values=np.array([20.0, 10.0]), dtype=np.float32
    )
    assert X32.dtype == np.float32
    np.testing.assert_allclose(X32, [[20, 1], [4, 10], [6, 3]])


def test_fill_values_fill_a_column_with_no_values(tmp_path: Path) -> None:
    path = write(tmp_path, "new.csv", "a,b\n1,\n2,\n")
    with pytest.raises(DataError, match=r"'b'.*no values to take a mean of"):
        load_features(path, ["a", "b"], missing="mean")
    X = load_features(path, ["a", "b"], missing="mean", fill_values=[0.0, 7.5])
    np.testing.assert_allclose(X, [[1, 7.5], [2, 7.5]])


def test_fill_values_only_under_mean(tmp_path: Path) -> None:
    path = write(tmp_path, "new.csv", "a,b\n1,\n2,3\n")
    with pytest.raises(DataError, match=r"missing values"):
        load_features(path, ["a", "b"], fill_values=[0.0, 0.0])
    dropped = load_features(path, ["a", "b"], missing="drop", fill_values=[0.0, 9.0])
    np.testing.assert_array_equal(dropped, [[2, 3]])


def test_fill_values_leave_onehot_features_to_the_file(tmp_path: Path) -> None:
    # A missing category cell: its indicators take this file's category frequencies.
    path = write(tmp_path, "new.csv", "c,x\na,\nb,2\n,3\na,4\n")
    names = ["c=a", "c=b", "x"]
    X = load_features(path, names, encode="onehot", missing="mean", fill_values=[0.9, 0.1, 100])
    np.testing.assert_allclose(X[:, 2], [100, 2, 3, 4])
    np.testing.assert_allclose(X[2, :2], [2 / 3, 1 / 3])


def test_fill_values_in_load_labeled_and_feature_matrix(tmp_path: Path) -> None:
    path = write(tmp_path, "eval.csv", "a,y\n,1\n2,0\n4,\n")
    data = load_labeled(path, ["a"], "y", missing="mean", fill_values=[-1.0])
    # The unlabelled row is dropped; the gap takes the training mean, not this file's (2).
    np.testing.assert_array_equal(data.X, [[-1], [2]])
    np.testing.assert_array_equal(data.y, [1, 0])
    frame = pd.DataFrame({"a": [np.nan, 2.0]})
    X, _ = feature_matrix(frame, ["a"], missing="mean", fill_values=[5.0])
    np.testing.assert_array_equal(X, [[5], [2]])


@pytest.mark.parametrize("fill", [[1.0], [1.0, 2.0, 3.0], [[1.0, 2.0]], [1.0, np.nan]])
def test_bad_fill_values_are_programming_errors(tmp_path: Path, fill: list) -> None:
    path = write(tmp_path, "new.csv", "a,b\n1,\n")
    with pytest.raises(ValueError, match="fill_values"):
        load_features(path, ["a", "b"], missing="mean", fill_values=fill)
    with pytest.raises(ValueError, match="fill_values"):
        feature_matrix(pd.DataFrame({"a": [1.0]}), missing="mean", fill_values=[1.0])


def test_nothing_left_after_dropping(tmp_path: Path) -> None:
    path = write(tmp_path, "nan.csv", "a,b,y\n1,,1\n,2,0\n")
    with pytest.raises(DataError, match=r"no rows left in .*nan.csv.*impute mean"):
        load_dataset(path, missing="drop")


def test_missing_target_only(tmp_path: Path) -> None:
    path = write(tmp_path, "nan.csv", "a,y\n1,\n2,0\n")
    with pytest.raises(DataError, match=r"target 'y' \(1\); drop those rows with dropna$"):
        load_dataset(path)


def test_messages_suggest_only_the_remedies_offered(tmp_path: Path) -> None:
    """A command without --dropna (predict) or --encode must not be told to use them."""
    gappy = write(tmp_path, "nan.csv", "a,b,y\n1,,1\n2,3,0\n")
    with pytest.raises(DataError) as exc:
        load_features(gappy, ["a", "b"], remedies=("impute",))
    message = assert_one_line(exc)
    assert message.endswith("; fill the features with impute mean") and "dropna" not in message
    with pytest.raises(DataError) as exc:
        load_labeled(gappy, ["a", "b"], "y", remedies=("dropna",))
    message = assert_one_line(exc)
    assert message.endswith("; drop those rows with dropna") and "impute mean" not in message
    with pytest.raises(DataError) as exc:
        load_dataset(gappy, remedies=())
    message = assert_one_line(exc)
    assert message.endswith("; fill in or remove those cells in the file"), message
    with pytest.raises(DataError) as exc:
        load_dataset(
            write(tmp_path, "all.csv", "a,b,y\n1,,1\n,3,0\n"), missing="drop", remedies=("dropna",)
        )
    assert "impute mean" not in assert_one_line(exc)

    text = write(tmp_path, "text.csv", "a,c,y\n1,red,1\n2,blue,0\n")
    with pytest.raises(DataError) as exc:
        load_dataset(text, remedies=("dropna", "impute"))
    message = assert_one_line(exc)
    assert "'c'" in message and "encode onehot" not in message and "fix the values" in message
    with pytest.raises(DataError) as exc:
        feature_matrix(pd.read_csv(text), remedies=())
    assert "encode onehot" not in assert_one_line(exc)
    with pytest.raises(DataError) as exc:  # the default offers all three, as before
        load_dataset(text)
    assert "encode onehot" in assert_one_line(exc)


@pytest.mark.parametrize("value", ["1e400", "inf", "-inf", "-1e999", "Infinity"])
def test_infinite_feature(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, "inf.csv", f"a,big,y\n1,2,3\n4,{value},6\n")
    for missing in ("error", "drop", "mean"):
        with pytest.raises(DataError) as exc:
            load_dataset(path, missing=missing)  # type: ignore[arg-type]
        message = assert_one_line(exc)
        assert "'big'" in message and "infinite" in message


def test_infinite_target(tmp_path: Path) -> None:
    path = write(tmp_path, "inf.csv", "a,y\n1,2\n4,1e400\n")
    with pytest.raises(DataError, match=r"'y'.*infinite"):
        load_dataset(path)


def test_infinite_in_prediction_file(tmp_path: Path) -> None:
    path = write(tmp_path, "inf.csv", "a\n1\n1e400\n")
    with pytest.raises(DataError, match=r"'a'.*infinite"):
        load_features(path, ["a"])


def test_string_in_numeric_column(tmp_path: Path) -> None:
    path = write(tmp_path, "typo.csv", "a,x,y\n1,2,3\n2,abc,4\n3,5,6\n")
    with pytest.raises(DataError) as exc:
        load_dataset(path)
    message = assert_one_line(exc)
    assert "'x'" in message and "'abc'" in message and "'a'" not in message
    assert "encode onehot" in message


def test_string_in_numeric_column_at_prediction(tmp_path: Path) -> None:
    path = write(tmp_path, "typo.csv", "a,x\n1,2\n2,abc\n")
    with pytest.raises(DataError) as exc:
        load_features(path, ["a", "x"])
    message = assert_one_line(exc)
    assert "'x'" in message and "'abc'" in message


def test_nul_byte_in_a_number_is_not_a_number(tmp_path: Path) -> None:
    # numpy's str arrays drop trailing NULs: '2\x00' must not quietly read as 2
    path = write(tmp_path, "nul.csv", b"a,x,y\n1,2\x00,3\n2,4,4\n")
    with pytest.raises(DataError) as exc:
        load_dataset(path)
    message = assert_one_line(exc)
    assert "'x'" in message and "'2\\x00'" in message


def test_a_path_with_a_newline_stays_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "new\nline.csv"
    with pytest.raises(DataError) as exc:
        load_dataset(missing)
    assert "new\\nline.csv" in assert_one_line(exc)
    with pytest.raises(DataError) as exc:
        load_dataset(write(tmp_path, "bad\nname.csv", "a,y\n1,x\n2,\n"))
    assert "bad\\nname.csv" in assert_one_line(exc)


def test_boolean_feature_is_numeric(tmp_path: Path) -> None:
    path = write(tmp_path, "b.csv", "flag,y\nTrue,1\nFalse,2\n,3\n")
    data = load_dataset(path, missing="mean")
    np.testing.assert_array_equal(data.X[:, 0], [1, 0, 0.5])


# --------------------------------------------------------------------------- one-hot


def test_onehot_train_and_rebuild_at_predict(tmp_path: Path) -> None:
    train = write(
        tmp_path, "train.csv", "city,x,size,y\nRome,1,S,0\nOslo,2,M,1\nParis,3,S,1\nOslo,4,L,0\n"
    )
    data = load_dataset(train, encode="onehot")
    assert data.feature_names == (
        "city=Oslo",
        "city=Paris",
        "city=Rome",
        "x",
        "size=L",
        "size=M",
        "size=S",
    )
    np.testing.assert_array_equal(
        data.X,
        [
            [0, 0, 1, 1, 0, 0, 1],
            [1, 0, 0, 2, 0, 1, 0],
            [0, 1, 0, 3, 0, 0, 1],
            [1, 0, 0, 4, 1, 0, 0],
        ],
    )

    # Columns reordered, an unseen city (Berlin), and no row with size=L or city=Paris.
    predict = write(tmp_path, "new.csv", "size,x,city\nM,10,Berlin\nS,20,Oslo\n")
    X = load_features(predict, data.feature_names, encode="onehot")
    np.testing.assert_array_equal(
        X,
        [
            [0, 0, 0, 10, 0, 1, 0],
            [1, 0, 0, 20, 0, 0, 1],
        ],
    )


def test_onehot_category_column_parsed_as_numbers_at_predict(tmp_path: Path) -> None:
    train = write(tmp_path, "train.csv", "grade,y\n01,1\n2,0\nA,1\n")
    data = load_dataset(train, encode="onehot")
    assert data.feature_names == ("grade=01", "grade=2", "grade=A")
    # Here the column is all digits, so pandas reads numbers: 01 must still match '01'.
    predict = write(tmp_path, "new.csv", "grade\n01\n2\n1\n")
    X = load_features(predict, data.feature_names, encode="onehot")
    np.testing.assert_array_equal(X, [[1, 0, 0], [0, 1, 0], [0, 0, 0]])


def test_onehot_missing_category_modes(tmp_path: Path) -> None:
    path = write(tmp_path, "cat.csv", "c,y\na,1\nb,2\n,3\na,4\n")
    with pytest.raises(DataError, match=r"'c' \(1\)"):
        load_dataset(path, encode="onehot")
    dropped = load_dataset(path, encode="onehot", missing="drop")
    np.testing.assert_array_equal(dropped.X, [[1, 0], [0, 1], [1, 0]])
    # Mean imputation of indicators gives each category's frequency.
    filled = load_dataset(path, encode="onehot", missing="mean")
    np.testing.assert_allclose(filled.X[2], [2 / 3, 1 / 3])


def test_onehot_name_with_equals_sign(tmp_path: Path) -> None:
    train = write(tmp_path, "train.csv", "k=v,y\na=b,1\nc,0\n")
    data = load_dataset(train, encode="onehot")
    assert data.feature_names == ("k=v=a=b", "k=v=c")
    predict = write(tmp_path, "new.csv", "k=v\nc\na=b\n")
    X = load_features(predict, data.feature_names, encode="onehot")
    np.testing.assert_array_equal(X, [[0, 1], [1, 0]])


def test_onehot_name_clashing_with_a_numeric_column(tmp_path: Path) -> None:
    # 'color=red' the number and 'color=red' the indicator would be one name, two features.
    path = write(tmp_path, "t.csv", "color=red,color,y\n0.5,red,1\n0.7,blue,0\n")
    with pytest.raises(DataError) as exc:
        load_dataset(path, encode="onehot")
    message = assert_one_line(exc)
    assert "'color=red'" in message and "'color'" in message and "rename" in message


def test_onehot_name_clashing_with_another_onehot_name(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", "a,a=b,y\nb=c,c,1\nz,d,0\n")
    with pytest.raises(DataError, match=r"'a=b=c'.*one-hot feature 'a=b=c'"):
        load_dataset(path, encode="onehot")


def test_onehot_name_clashing_with_the_target(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", "color,color=red\nred,1\nblue,0\n")
    with pytest.raises(DataError, match=r"'color=red'.*the column 'color=red'"):
        load_dataset(path, encode="onehot")


def test_onehot_name_clashing_in_feature_matrix() -> None:
    frame = pd.DataFrame({"k=v": [1.0, 2.0], "k": ["v", "w"]})
    with pytest.raises(DataError, match=r"'k=v'"):
        feature_matrix(frame, encode="onehot")


def test_onehot_names_that_do_not_clash(tmp_path: Path) -> None:
    # A numeric 'color=green' beside a categorical 'color' without 'green' is fine.
    path = write(tmp_path, "t.csv", "color=green,color,y\n0.5,red,1\n0.7,blue,0\n")
    data = load_dataset(path, encode="onehot")
    assert data.feature_names == ("color=green", "color=blue", "color=red")


def test_onehot_too_many_categories(tmp_path: Path) -> None:
    rows = "\n".join(f"id{i},{i}" for i in range(MAX_CATEGORIES + 1))
    path = write(tmp_path, "ids.csv", "id,y\n" + rows + "\n")
    with pytest.raises(DataError, match=r"'id'.*1001 distinct values"):
        load_dataset(path, encode="onehot")


def test_predict_missing_columns_named(tmp_path: Path) -> None:
    path = write(tmp_path, "new.csv", "a,zz\n1,2\n")
    with pytest.raises(DataError) as exc:
        load_features(path, ["a", "b", "city=Rome"], encode="onehot")
    message = assert_one_line(exc)
    assert "2 of the 3" in message and "'b'" in message and "'city=Rome'" in message


def test_predict_onehot_name_without_onehot_is_missing(tmp_path: Path) -> None:
    path = write(tmp_path, "new.csv", "city\nRome\n")
    with pytest.raises(DataError, match=r"'city=Rome'"):
        load_features(path, ["city=Rome"])


# --------------------------------------------------------------------------- dtype & core


def test_float32(tmp_path: Path) -> None:
    path = write(tmp_path, "f.csv", "a,b,y\n1.5,2,0\n3,4.25,1\n")
    data = load_dataset(path, dtype=np.float32)
    assert data.X.dtype == np.float32 and data.X.flags.c_contiguous
    np.testing.assert_array_equal(data.X, np.array([[1.5, 2], [3, 4.25]], dtype=np.float32))
    X = load_features(path, ["b", "a"], dtype="float32")
    assert X.dtype == np.float32 and X.flags.c_contiguous
    np.testing.assert_array_equal(X, data.X[:, ::-1])


def test_float32_overflow(tmp_path: Path) -> None:
    path = write(tmp_path, "f.csv", "a,big,y\n1,1e39,0\n")
    with pytest.raises(DataError, match=r"'big'.*float32"):
        load_dataset(path, dtype=np.float32)


def test_integer_dtype_is_a_programming_error(tmp_path: Path) -> None:
    path = write(tmp_path, "f.csv", "a,y\n1,0\n")
    with pytest.raises(ValueError, match=r"floating"):
        load_dataset(path, dtype=np.int64)


def test_feature_matrix_on_a_frame() -> None:
    frame = pd.DataFrame({"n": [1.0, np.nan, 3.0], "c": ["u", "v", "u"]})
    X, names = feature_matrix(frame, encode="onehot", missing="mean")
    assert names == ("n", "c=u", "c=v")
    np.testing.assert_array_equal(X, [[1, 1, 0], [2, 0, 1], [3, 1, 0]])
    X2, names2 = feature_matrix(frame, ["c=v", "n"], encode="onehot", missing="drop")
    assert names2 == ("c=v", "n")
    np.testing.assert_array_equal(X2, [[0, 1], [0, 3]])


def test_dataset_is_frozen(tmp_path: Path) -> None:
    data = load_dataset(write(tmp_path, "d.csv", "a,y\n1,2\n"))
    assert isinstance(data, Dataset)
    with pytest.raises(AttributeError):
        data.target_name = "z"  # type: ignore[misc]


# --------------------------------------------------------------------------- fuzzing

_CSV_ALPHABET = st.sampled_from([*",;\t\n\r\"' .-+eE0123456789abcxyzé=\\#", "\x00", "\ufeff"])


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    text=st.text(alphabet=_CSV_ALPHABET, max_size=80),
    encode=st.sampled_from(["none", "onehot"]),
    missing=st.sampled_from(["error", "drop", "mean"]),
    target=st.sampled_from([None, 0, -1, "a", "3"]),
)
def test_arbitrary_text_gives_dataset_or_data_error(
    tmp_path: Path, text: str, encode: str, missing: str, target: str | int | None
) -> None:
    path = tmp_path / "fuzz.csv"
    path.write_text(text, encoding="utf-8")
    try:
        data = load_dataset(path, target=target, encode=encode, missing=missing)  # type: ignore[arg-type]
    except DataError as exc:
        assert "\n" not in str(exc)
        return
    assert data.X.ndim == 2 and data.X.shape[0] == data.y.shape[0] >= 1
    assert data.X.shape[1] == len(data.feature_names) >= 1
    assert np.isfinite(data.X).all() and data.X.flags.c_contiguous


@settings(max_examples=100, deadline=None)
@given(content=st.binary(max_size=64))
def test_arbitrary_bytes_gives_dataset_or_data_error(content: bytes) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.csv"
        path.write_bytes(content)
        with contextlib.suppress(DataError):
            load_dataset(path)


def test_load_labeled_checks_target(tmp_path: Path) -> None:
    path = write(tmp_path, "eval.csv", "y,b,a\n1,2,3\n0,5,6\n")
    data = load_labeled(path, ["a", "b"], "y")
    np.testing.assert_array_equal(data.X, [[3, 2], [6, 5]])
    np.testing.assert_array_equal(data.y, [1, 0])
    inf = write(tmp_path, "inf.csv", "y,b,a\n1e400,2,3\n")
    with pytest.raises(DataError, match=r"'y'.*infinite"):
        load_labeled(inf, ["a", "b"], "y")


def test_load_labeled_rereads_onehot_text(tmp_path: Path) -> None:
    train = write(tmp_path, "train.csv", "grade,y\n01,1\n2,0\nA,1\n")
    data = load_dataset(train, encode="onehot")
    path = write(tmp_path, "eval.csv", "grade,y\n01,1\n2,0\n")
    labelled = load_labeled(path, data.feature_names, "y", encode="onehot")
    np.testing.assert_array_equal(labelled.X, [[1, 0, 0], [0, 1, 0]])


# --------------------------------------------------------------------------- labels


def test_align_labels_string_model_int_file(tmp_path: Path) -> None:
    # Trained on 1, 2, x: the labels are text. A file holding only 1, 2 reads as ints.
    train = load_dataset(write(tmp_path, "train.csv", "a,y\n1,1\n2,2\n3,x\n"))
    classes = np.unique(train.y)
    assert classes.tolist() == ["1", "2", "x"]
    evaluation = load_labeled(write(tmp_path, "eval.csv", "a,y\n1,2\n2,1\n"), ["a"], "y")
    assert evaluation.y.dtype.kind == "i"
    np.testing.assert_array_equal(align_labels(evaluation.y, classes), [1, 0])
    # A gap makes pandas read floats: 2.0 still means the label "2".
    gap = write(tmp_path, "gap.csv", "a,y\n1,2\n2,\n3,1\n")
    gappy = load_labeled(gap, ["a"], "y", missing="drop")
    assert gappy.y.dtype.kind == "f"
    np.testing.assert_array_equal(align_labels(gappy.y, classes), [1, 0])


def test_align_labels_int_model_string_file(tmp_path: Path) -> None:
    classes = np.array([1, 2, 3])
    evaluation = load_labeled(write(tmp_path, "eval.csv", "a,y\n1,2\n2,x\n3,3\n"), ["a"], "y")
    assert evaluation.y.dtype == object
    np.testing.assert_array_equal(align_labels(evaluation.y, classes), [1, -1, 2])
    np.testing.assert_array_equal(align_labels(np.array([3.0, 1.5, 1.0]), classes), [2, -1, 0])


@pytest.mark.parametrize(
    ("y", "classes", "codes"),
    [
        (np.array(["b", "z", "a"], dtype=object), np.array(["a", "b"], dtype=object), [1, -1, 0]),
        (np.array(["b", None, np.nan], dtype=object), np.array(["a", "b"]), [1, -1, -1]),
        (np.array([1.5, np.nan, 0.5]), np.array([0.5, 1.5]), [1, -1, 0]),
        (np.array(["0.5", "x"], dtype=object), np.array([0.5, 1.5]), [0, -1]),
        (np.array([True, False]), np.array(["False", "True"], dtype=object), [1, 0]),
        (np.array([True, False]), np.array([0, 1]), [-1, -1]),
        (np.array([1.0, 2.5]), np.array(["1", "1.0", "2.5"], dtype=object), [1, 2]),
        (np.array([7, 8]), np.array([1, 2]), [-1, -1]),
        (np.array([], dtype=object), np.array([1, 2]), []),
    ],
)
def test_align_labels_cases(y: np.ndarray, classes: np.ndarray, codes: list[int]) -> None:
    result = align_labels(y, classes)
    assert result.dtype == np.int64 and result.shape == y.shape
    np.testing.assert_array_equal(result, codes)


def test_align_labels_programming_errors() -> None:
    with pytest.raises(ValueError, match="1-D"):
        align_labels(np.zeros((2, 2)), np.array([0, 1]))
    with pytest.raises(ValueError, match="unique"):
        align_labels(np.array([1]), np.array([1, 1]))
