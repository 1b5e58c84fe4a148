"""What the CLI writes, and what a saved model remembers: nothing a user owns is clobbered."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from cli_helpers import IRIS, assert_one_error_line, checksums, invoke, json_stdout

from linfit.storage import persist


def _train(tmp_path, data, *extra, out="m.linfit", ok=True):
    return invoke(["train", data, "--out", tmp_path / out, "--quiet", *extra], ok=ok)


def test_train_refuses_to_replace_a_file_that_is_not_a_model(tmp_path):
    precious = tmp_path / "notes.csv"
    precious.write_text("a,b\n1,2\n")
    before = checksums(tmp_path)
    result = _train(tmp_path, IRIS, out="notes.csv", ok=False)
    assert result.exit_code == 2
    assert "--force" in assert_one_error_line(result.stderr)
    assert checksums(tmp_path) == before
    _train(tmp_path, IRIS, "--force", out="notes.csv")  # asked for: replaced
    assert persist.load(precious).model.name == "softmax"


def test_train_replaces_an_existing_model(tmp_path):
    _train(tmp_path, IRIS, "--model", "svm")
    _train(tmp_path, IRIS)
    assert persist.load(tmp_path / "m.linfit").model.name == "softmax"


@pytest.mark.parametrize("target", ["symlink", "directory"])
def test_outputs_that_are_not_regular_files_are_refused_before_training(tmp_path, target):
    out = tmp_path / "out.linfit"
    if target == "symlink":
        (tmp_path / "real.linfit").write_bytes(b"x")
        out.symlink_to(tmp_path / "real.linfit")
    else:
        out.mkdir()
    result = invoke(["train", IRIS, "--out", out, "--quiet"], ok=False)
    assert result.exit_code == 2
    assert_one_error_line(result.stderr)
    assert (tmp_path / "real.linfit").read_bytes() == b"x" if target == "symlink" else out.is_dir()


def test_predictions_file_is_written_whole(tmp_path):
    _train(tmp_path, IRIS)
    out = tmp_path / "p.csv"
    invoke(["predict", tmp_path / "m.linfit", IRIS, "--out", out, "--quiet"])
    assert len(pd.read_csv(out)) == 150
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left


def test_a_onehot_model_predicts_without_being_told_again(tmp_path):
    rng = np.random.default_rng(0)
    color = rng.choice(["red", "green", "blue"], 200)
    x = rng.standard_normal(200)
    y = np.where((color == "red") | (x > 1), "yes", "no")
    pd.DataFrame({"color": color, "x": x, "target": y}).to_csv(tmp_path / "c.csv", index=False)
    _train(tmp_path, tmp_path / "c.csv", "--encode", "onehot")
    assert persist.load(tmp_path / "m.linfit").encode == "onehot"
    payload = json_stdout(
        invoke(["evaluate", tmp_path / "m.linfit", tmp_path / "c.csv", "--json"]).stdout
    )
    assert payload["metrics"]["eval_accuracy"] > 0.9


def test_impute_mean_at_predict_uses_the_training_means(tmp_path):
    _train(tmp_path, IRIS)
    frame = pd.read_csv(IRIS).drop(columns="target")
    gappy = frame.copy()
    gappy.iloc[::7, 1] = np.nan
    gappy.to_csv(tmp_path / "gappy.csv", index=False)
    filled = frame.copy()
    filled.iloc[::7, 1] = persist.load(tmp_path / "m.linfit").feature_means[1]
    filled.to_csv(tmp_path / "filled.csv", index=False)
    got = invoke(["predict", tmp_path / "m.linfit", tmp_path / "gappy.csv", "--impute", "mean"])
    want = invoke(["predict", tmp_path / "m.linfit", tmp_path / "filled.csv"])
    assert got.stdout == want.stdout


def test_evaluate_matches_labels_read_back_as_numbers(tmp_path):
    """Trained on labels 1, 2, x (text); evaluated on a file holding only 1 and 2, which
    pandas reads as integers: the labels must still match."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((90, 2))
    labels = np.array(["1", "2", "x"])[np.argmax(X @ rng.standard_normal((2, 3)), axis=1)]
    frame = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "target": labels})
    frame.to_csv(tmp_path / "train.csv", index=False)
    frame[frame.target != "x"].to_csv(tmp_path / "eval.csv", index=False)
    _train(tmp_path, tmp_path / "train.csv", "--test-size", "0")
    payload = json_stdout(
        invoke(["evaluate", tmp_path / "m.linfit", tmp_path / "eval.csv", "--json"]).stdout
    )
    assert payload["unknown_labels"] == 0
    assert payload["metrics"]["eval_accuracy"] > 0.8
