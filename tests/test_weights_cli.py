"""``--weights``, ``--class-weight`` and ``--weighted-metrics`` on the command line.

The oracle is a second file: the same table with each row repeated as many times as its
weight says, trained without weights. Refusals are one line, exit 2, nothing written.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from cli_helpers import invoke

# repetition only reorders sums
OBJECTIVE_RTOL = 1e-9


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """A weighted table ``d.csv`` (integer weights in column w) and ``rep.csv``, its rows
    repeated by weight (weight 0: left out)."""
    folder = tmp_path_factory.mktemp("weights")
    rng = np.random.default_rng(0)
    n = 300
    X = rng.normal(size=(n, 3)) * [1.0, 2.0, 0.5] + [0.0, 1.0, 3.0]
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    frame["w"] = rng.integers(0, 3, n)
    frame["label"] = np.where(X[:, 0] + 0.5 * rng.normal(size=n) > 0.8, "spam", "ham")
    frame.to_csv(folder / "d.csv", index=False)
    repeated = frame.loc[frame.index.repeat(frame["w"])].drop(columns="w")
    repeated.to_csv(folder / "rep.csv", index=False)
    return folder


def _train(args) -> dict:
    return json.loads(invoke(["train", *args, "--json", "-q"]).stdout)


@pytest.mark.parametrize("model", ["softmax", "least-squares"])
def test_a_weights_column_trains_as_repeated_rows(tables, model):
    target = ["--target", "c", "--drop", "label"] if model == "least-squares" else []
    common = ["--model", model, "--test-size", "0", *target]
    weighted = _train([tables / "d.csv", "--weights", "w", "--weighted-metrics", *common,
                       "--out", tables / f"w-{model}.linfit"])  # fmt: skip
    repeated = _train([tables / "rep.csv", *common, "--out", tables / f"r-{model}.linfit"])
    assert weighted["objective"] == pytest.approx(repeated["objective"], rel=OBJECTIVE_RTOL)
    for key, value in repeated["metrics"].items():
        assert weighted["metrics"][key] == pytest.approx(value, rel=1e-6)


def test_out_of_core_weights_equal_in_memory(tables):
    common = [tables / "d.csv", "--weights", "w", "--test-size", "0"]
    memory = _train([*common, "--out", tables / "m.linfit"])
    chunked = _train([*common, "--chunksize", "37", "--out", tables / "c.linfit"])
    assert chunked["objective"] == pytest.approx(memory["objective"], rel=1e-8)


def test_class_weights_from_the_files_labels(tables):
    balanced = _train(
        [tables / "d.csv", "--class-weight", "balanced", "--out", tables / "b.linfit"]
    )
    labels = pd.read_csv(tables / "d.csv")["label"]
    counts = labels.value_counts()
    pairs = ",".join(f"{k}={len(labels) / (2 * v)!r}" for k, v in counts.items())
    # the same weights by name, on the same (stratified) training split's rows: the test
    # split holds out a fifth, so 'balanced' there counts the training rows only
    by_name = _train([tables / "d.csv", "--class-weight", pairs, "--test-size", "0",
                      "--out", tables / "n.linfit"])  # fmt: skip
    all_rows = _train([tables / "d.csv", "--class-weight", "balanced", "--test-size", "0",
                       "--out", tables / "a.linfit"])  # fmt: skip
    assert by_name["objective"] == pytest.approx(all_rows["objective"], rel=1e-10)
    assert balanced["objective"] != pytest.approx(by_name["objective"], rel=1e-6)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--class-weight", "spam=5,nope=1"], "'nope', which is not among the labels"),
        (["--class-weight", "spam=-1"], "weights >= 0"),
        (["--class-weight", "spam"], "LABEL=WEIGHT"),
        (["--model", "least-squares", "--class-weight", "balanced"], "for classifiers"),
        (["--weighted-metrics"], "needs --weights or --class-weight"),
    ],
)
def test_bad_class_weights_are_one_line_and_write_nothing(tables, tmp_path, args, message):
    out = tmp_path / "m.linfit"
    result = invoke(["train", tables / "d.csv", *args, "--out", out], ok=False)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert not out.exists()


def test_compare_weighs_linfit_and_scikit_learn_alike(tables):
    """Under --weights, scikit-learn's LogisticRegression is fitted with the same weights:
    both reach the same weighted optimum, so their objectives agree to 1e-5."""
    result = invoke(["compare", tables / "d.csv", "--weights", "w", "--json", "-q"])
    rows = {row["system"]: row for row in json.loads(result.stdout)["rows"]}
    ours = next(row for name, row in rows.items() if name.startswith("linfit"))
    theirs = rows["sklearn LogisticRegression"]
    assert theirs["objective"] == pytest.approx(ours["objective"], rel=1e-5)


def test_dask_weights_equal_in_memory(tables):
    """--engine dask reads the weights column on the cluster and weighs the same rows."""
    pytest.importorskip("distributed", reason="the dask extra runs the cluster")
    common = [tables / "d.csv", "--weights", "w", "--drop", "c", "--test-size", "0"]
    memory = _train([*common, "--out", tables / "dm.linfit"])
    cluster = _train([*common, "--engine", "dask", "--out", tables / "dk.linfit"])
    assert cluster["objective"] == pytest.approx(memory["objective"], rel=1e-8)


def test_weighted_test_metrics_use_the_training_class_weights(tables):
    """--class-weight balanced --weighted-metrics: the test rows weigh as their classes
    weighed in training (n / (K count) over the training rows), not by the test split's
    own counts."""
    import linfit
    from linfit.fitting.metrics import accuracy
    from linfit.preprocess import split_rows

    out = tables / "bal.linfit"
    got = _train([tables / "d.csv", "--class-weight", "balanced", "--weighted-metrics",
                  "--out", out])  # fmt: skip
    frame = pd.read_csv(tables / "d.csv")
    X, y = frame[["a", "b", "c", "w"]].to_numpy(), frame["label"].to_numpy()
    train, test = split_rows(X, y, test_size=0.2, seed=0, stratify=True)
    trained = linfit.load(out)
    counts = pd.Series(y[train]).value_counts()
    per_class = {label: len(train) / (2 * count) for label, count in counts.items()}
    w_test = np.array([per_class[label] for label in y[test]])
    expected = accuracy(y[test], trained.predict(X[test]), w_test)
    assert got["metrics"]["test_accuracy"] == pytest.approx(expected, rel=1e-12)
