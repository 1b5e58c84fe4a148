"""Contracts of the ``linfit`` command line on the bundled data sets.

Numbers the CLI prints are checked against independent oracles: the library called
directly on the same split (``linfit.fit``), numpy's ``lstsq`` on ``[X, 1]``,
scikit-learn's ``r2_score``, and counts made here from the predictions. Most runs are
in-process (typer's CliRunner, which keeps stdout and stderr apart); real subprocesses
are used where the process boundary is the point: exit codes, JSON alone on stdout,
tables alone on stderr, piping through stdin/stdout, NO_COLOR, ``python -m linfit``.
"""

from __future__ import annotations

import io
import os
import re
import select
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helpers import (
    ANSI,
    DIABETES,
    IRIS,
    WINE,
    assert_one_error_line,
    invoke,
    json_stdout,
    run,
)
from sklearn.metrics import r2_score
from typer.main import get_command

from linfit import __version__
from linfit.cli import app
from linfit.data import load_dataset
from linfit.fitting import fit
from linfit.models import LeastSquares, make_model
from linfit.preprocess import split_xy
from linfit.storage import persist

COMMANDS = (
    "train",
    "predict",
    "evaluate",
    "compare",
    "solve-ls",
    "gradcheck",
    "datasets",
    "reproduce",
    "cv",
)
TRAIN_KEYS = {
    "model",
    "optimizer",
    "converged",
    "n_iter",
    "objective",
    "time_s",
    "metrics",
    "model_path",
}
CLASSIFIER_METRICS = {"train_accuracy", "test_accuracy"}
REGRESSOR_METRICS = {"train_r2", "train_rmse", "test_r2", "test_rmse"}
# Both are deterministic computations of the same numbers, in the same process.
SAME = 1e-9


def library_fit(
    model: str,
    data: Path,
    *,
    reg: float = 1e-4,
    optimizer: str | None = None,
    test_size: float = 0.2,
    seed: int = 0,
    standardize: bool = True,
    max_iter: int = 1000,
    dtype: type = np.float64,
):
    """The oracle: the library on the split the CLI documents (seeded, stratified for
    classifiers), with the CLI's defaults. Returns (trained, result, split)."""
    ds = load_dataset(data, dtype=dtype)
    estimator = make_model(model, reg=reg)
    split = split_xy(ds.X, ds.y, test_size=test_size, seed=seed, stratify=estimator.is_classifier)
    trained = fit(
        estimator,
        split[0],
        split[1],
        solver=optimizer,
        standardize=standardize,
        feature_names=ds.feature_names,
        target_name=ds.target_name,
        max_iter=max_iter,
    )
    result = trained.result
    return trained, result, split


def independent_metrics(is_classifier: bool, y: np.ndarray, pred: np.ndarray, prefix: str):
    if is_classifier:
        return {f"{prefix}_accuracy": float(np.mean(np.asarray(y) == np.asarray(pred)))}
    return {
        f"{prefix}_r2": r2_score(y, pred),
        f"{prefix}_rmse": float(np.sqrt(np.mean((np.asarray(y) - pred) ** 2))),
    }


def raw_frame(path: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(X raw float64, y, feature names) read with pandas, independently of linfit.data."""
    frame = pd.read_csv(path)
    features = [c for c in frame.columns if c != "target"]
    return frame[features].to_numpy(dtype=np.float64), frame["target"].to_numpy(), features


def train_json(tmp: Path, data: Path, *extra: str, name: str = "m.linfit") -> dict:
    out = tmp / name
    result = invoke(["train", data, "--out", out, "--json", *extra])
    payload = json_stdout(result.stdout)
    assert Path(payload["model_path"]) == out
    assert out.is_file()
    return payload


@pytest.fixture(scope="module")
def iris_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """softmax on iris, trained once through the CLI; (model path, train --json payload)."""
    tmp = tmp_path_factory.mktemp("iris_model")
    return tmp / "iris.linfit", train_json(tmp, IRIS, name="iris.linfit")


@pytest.fixture(scope="module")
def diabetes_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """least-squares on all of diabetes with reg 0, solved by Newton (exact in one step)."""
    tmp = tmp_path_factory.mktemp("diabetes_model")
    payload = train_json(
        tmp,
        DIABETES,
        "--model", "least-squares", "--reg", "0", "--optimizer", "newton", "--test-size", "0",
        name="diabetes.linfit",
    )  # fmt: skip
    return tmp / "diabetes.linfit", payload


# --------------------------------------------------------------------------- train


@pytest.mark.parametrize(
    ("model", "data"),
    [("softmax", IRIS), ("svm", IRIS), ("least-squares", DIABETES), ("relu", DIABETES)],
)
def test_train_json_matches_the_library_on_the_same_split(tmp_path, model, data):
    payload = train_json(tmp_path, data, "--model", model)
    trained, result, (X_tr, y_tr, X_te, y_te) = library_fit(model, data)

    assert payload.keys() >= TRAIN_KEYS
    assert payload["model"] == model
    assert payload["optimizer"] == result.method == make_model(model).default_optimizer
    assert payload["converged"] is bool(result.success)
    assert payload["n_iter"] == result.nit
    assert payload["objective"] == pytest.approx(result.fun, rel=SAME)
    assert payload["time_s"] >= 0

    is_classifier = trained.classes is not None
    expected = {
        **independent_metrics(is_classifier, y_tr, trained.predict(X_tr), "train"),
        **independent_metrics(is_classifier, y_te, trained.predict(X_te), "test"),
    }
    assert set(payload["metrics"]) == (CLASSIFIER_METRICS if is_classifier else REGRESSOR_METRICS)
    assert payload["metrics"] == pytest.approx(expected, rel=1e-12, abs=1e-12)

    # the saved model is the trained one: same predictions on the whole file
    saved = persist.load(payload["model_path"])
    X_all = load_dataset(data).X
    np.testing.assert_array_equal(saved.predict(X_all), trained.predict(X_all))


@pytest.mark.parametrize("optimizer", ["gd", "newton", "bfgs", "lbfgs"])
def test_every_optimizer_reaches_the_same_softmax_optimum(tmp_path, optimizer):
    """Softmax with reg > 0 is strongly convex (mu = 2 reg), so at max |grad| <= 1e-6 every
    optimizer's objective is within ~1e-8 relative of the minimum; 1e-6 is the stated bound."""
    payload = train_json(tmp_path, IRIS, "--optimizer", optimizer)
    _, reference, _ = library_fit("softmax", IRIS, optimizer="newton")
    assert payload["optimizer"] == optimizer
    assert payload["converged"] is True
    assert payload["objective"] == pytest.approx(reference.fun, rel=1e-6)
    assert payload["metrics"]["test_accuracy"] == pytest.approx(1.0)


def test_least_squares_trains_with_newton_and_svm_with_lbfgs(tmp_path):
    ls = train_json(tmp_path, DIABETES, "--model", "least-squares", "--optimizer", "newton")
    _, ls_ref, _ = library_fit("least-squares", DIABETES, optimizer="newton")
    assert ls["optimizer"] == "newton" and ls["converged"] is True
    assert ls["objective"] == pytest.approx(ls_ref.fun, rel=SAME)

    svm = train_json(tmp_path, IRIS, "--model", "svm", "--optimizer", "lbfgs", name="s.linfit")
    _, svm_ref, _ = library_fit("svm", IRIS, optimizer="lbfgs")
    assert svm["optimizer"] == "lbfgs"
    assert svm["objective"] == pytest.approx(svm_ref.fun, rel=SAME)


def test_test_size_zero_reports_no_test_metrics(tmp_path):
    out = tmp_path / "m.linfit"
    result = invoke(["train", IRIS, "--test-size", "0", "--out", out, "--json"])
    payload = json_stdout(result.stdout)
    assert set(payload["metrics"]) == {"train_accuracy"}
    assert "test_accuracy" not in result.stderr and "train_accuracy" in result.stderr
    trained, _, (_, y_tr, _, y_te) = library_fit("softmax", IRIS, test_size=0)
    assert y_te.size == 0 and y_tr.size == 150
    assert payload["metrics"]["train_accuracy"] == pytest.approx(
        np.mean(trained.predict(load_dataset(IRIS).X) == load_dataset(IRIS).y), abs=1e-12
    )


def test_no_standardize_trains_on_raw_features(tmp_path):
    payload = train_json(tmp_path, IRIS, "--no-standardize")
    _, reference, _ = library_fit("softmax", IRIS, standardize=False)
    assert payload["objective"] == pytest.approx(reference.fun, rel=SAME)
    saved = persist.load(payload["model_path"])
    np.testing.assert_array_equal(saved.scaler.mean, 0.0)
    np.testing.assert_array_equal(saved.scaler.scale, 1.0)
    # with an identity scaler, the reported raw coefficients are the parameters themselves
    W, b = saved.model.unpack(saved.params, saved.n_features)
    coef = np.array([payload["coef"][name] for name in saved.feature_names])
    np.testing.assert_allclose(coef, W, rtol=1e-12)
    np.testing.assert_allclose(payload["intercept"], b, rtol=1e-12)


def test_float32_data_trains_to_the_float64_optimum(tmp_path):
    """float32 limits how finely the objective can be resolved (the run may stop on its line
    search rather than at tol), but the fit must be the same one to float32 accuracy."""
    payload = train_json(tmp_path, IRIS, "--dtype", "float32")
    double = train_json(tmp_path, IRIS, name="f64.linfit")
    _, reference, _ = library_fit("softmax", IRIS)
    assert double["objective"] == pytest.approx(reference.fun, rel=SAME)
    assert payload["objective"] == pytest.approx(reference.fun, rel=1e-5)
    # at most one sample of the 120 train / 30 test may change sides
    assert payload["metrics"]["train_accuracy"] == pytest.approx(
        double["metrics"]["train_accuracy"], abs=1 / 120 + 1e-12
    )
    assert payload["metrics"]["test_accuracy"] == pytest.approx(
        double["metrics"]["test_accuracy"], abs=1 / 30 + 1e-12
    )
    X, _, _ = raw_frame(IRIS)
    single = persist.load(payload["model_path"]).predict(X)
    agree = np.mean(single == persist.load(double["model_path"]).predict(X))
    assert agree >= 149 / 150


def test_max_iter_2_is_reported_not_converged_and_still_saved(tmp_path):
    """A real process: exit 0, JSON alone on stdout, the table alone on stderr, no colour."""
    proc = run(
        ["train", IRIS, "--max-iter", "2", "--out", "m.linfit", "--json"],
        tmp_path,
        env={"NO_COLOR": "1", "TERM": "xterm-256color", "COLUMNS": "250"},
    )
    assert proc.returncode == 0, proc.stderr
    payload = json_stdout(proc.stdout)
    assert payload["converged"] is False
    assert payload["n_iter"] == 2
    assert payload["status"] == "max_iter"
    grad = f"{payload['grad_norm']:.3g}"
    assert payload["grad_norm"] > 1e-6
    assert "not converged" in payload["message"] and grad in payload["message"]

    err = proc.stderr
    assert "Traceback" not in err and not ANSI.search(err) and "\x1b" not in err
    assert "not converged" in err
    assert f"max |gradient| {grad}" in err
    assert "try more --max-iter" in err and "--optimizer" in err
    assert "iter" in err and "result" in err  # the progress and result tables

    saved = persist.load(tmp_path / "m.linfit")
    assert saved.summary["converged"] is False
    assert saved.summary["n_iter"] == 2


# --------------------------------------------------------------------------- coefficients


@pytest.mark.parametrize("model", ["softmax", "svm"])
def test_json_coefficients_are_in_raw_feature_units(tmp_path, model):
    payload = train_json(tmp_path, IRIS, "--model", model)
    saved = persist.load(payload["model_path"])
    X, _, names = raw_frame(IRIS)
    assert list(payload["coef"]) == names == list(saved.feature_names)
    W = np.array([payload["coef"][name] for name in names])  # (d, K)
    b = np.array(payload["intercept"])  # (K,)
    assert W.shape == (4, 3) and b.shape == (3,)

    scores = X @ W + b
    expected = saved.decision_function(X)  # standardizes X internally
    np.testing.assert_allclose(scores, expected, rtol=1e-9, atol=1e-9 * np.abs(expected).max())
    assert payload["classes"] == ["setosa", "versicolor", "virginica"]
    np.testing.assert_array_equal(
        np.array(payload["classes"])[scores.argmax(axis=1)], saved.predict(X)
    )


def test_least_squares_json_coefficients_match_numpy_lstsq_on_raw_data(diabetes_model):
    _, payload = diabetes_model
    X, y, names = raw_frame(DIABETES)
    theta, *_ = np.linalg.lstsq(np.column_stack([X, np.ones(len(y))]), y, rcond=None)
    coef = np.array([payload["coef"][name] for name in names])
    assert isinstance(payload["intercept"], float)
    np.testing.assert_allclose(coef, theta[:-1], rtol=1e-8)
    assert payload["intercept"] == pytest.approx(theta[-1], rel=1e-8)


# --------------------------------------------------------------------------- predict


def test_pipe_train_from_stdin_and_predict_to_stdout(tmp_path):
    """``linfit train -`` and ``linfit predict MODEL -`` in real processes, through pipes."""
    text = IRIS.read_text()
    trained = run(["train", "-", "--out", "piped.linfit", "--json", "-q"], tmp_path, input=text)
    assert trained.returncode == 0, trained.stderr
    assert trained.stderr == ""  # --quiet
    payload = json_stdout(trained.stdout)
    _, reference, _ = library_fit("softmax", IRIS)
    assert payload["objective"] == pytest.approx(reference.fun, rel=SAME)

    predicted = run(["predict", "piped.linfit", "-"], tmp_path, input=text)
    assert predicted.returncode == 0, predicted.stderr
    assert predicted.stderr == ""
    frame = pd.read_csv(io.StringIO(predicted.stdout))
    assert list(frame.columns) == ["prediction"]
    X, _, _ = raw_frame(IRIS)
    np.testing.assert_array_equal(
        frame["prediction"].to_numpy(), persist.load(tmp_path / "piped.linfit").predict(X)
    )
    assert set(frame["prediction"]) == {"setosa", "versicolor", "virginica"}


def test_predict_out_writes_a_csv_and_nothing_to_stdout(tmp_path, iris_model):
    model, _ = iris_model
    out = tmp_path / "pred.csv"
    result = invoke(["predict", model, IRIS, "--out", out])
    assert result.stdout == ""
    assert "wrote 150 predictions" in result.stderr
    X, _, _ = raw_frame(IRIS)
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["prediction"]
    np.testing.assert_array_equal(frame["prediction"], persist.load(model).predict(X))

    as_json = json_stdout(invoke(["predict", model, IRIS, "--out", out, "--json"]).stdout)
    assert as_json == {"path": str(out), "n": 150}


def test_predict_proba_rows_are_distributions_agreeing_with_predict(tmp_path, iris_model):
    model, _ = iris_model
    result = invoke(["predict", model, IRIS, "--proba"])
    frame = pd.read_csv(io.StringIO(result.stdout))
    classes = ["setosa", "versicolor", "virginica"]
    assert list(frame.columns) == [f"proba_{c}" for c in classes]
    P = frame.to_numpy()
    assert P.shape == (150, 3)
    assert (P >= 0).all()
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-12)
    X, _, _ = raw_frame(IRIS)
    np.testing.assert_array_equal(
        np.array(classes)[P.argmax(axis=1)], persist.load(model).predict(X)
    )


def test_predict_json_lists_predictions(iris_model):
    model, _ = iris_model
    payload = json_stdout(invoke(["predict", model, IRIS, "--json"]).stdout)
    X, _, _ = raw_frame(IRIS)
    assert payload["predictions"] == persist.load(model).predict(X).tolist()


@pytest.mark.parametrize("which", ["iris", "diabetes"])
def test_predict_matches_columns_by_name(tmp_path, which, iris_model, diabetes_model):
    """Reordered columns, an extra id column and no target: the same predictions exactly."""
    model, _ = iris_model if which == "iris" else diabetes_model
    data = IRIS if which == "iris" else DIABETES
    frame = pd.read_csv(data)
    shuffled = frame.drop(columns="target").iloc[:, ::-1]
    shuffled.insert(1, "id", np.arange(len(frame)) * 7.0)
    assert list(shuffled.columns) != list(frame.columns)
    moved = tmp_path / "moved.csv"
    shuffled.to_csv(moved, index=False)

    original = json_stdout(invoke(["predict", model, data, "--json"]).stdout)["predictions"]
    reordered = json_stdout(invoke(["predict", model, moved, "--json"]).stdout)["predictions"]
    assert reordered == original
    if which == "iris":  # predictions in the original string labels
        assert set(original) <= {"setosa", "versicolor", "virginica"}


# --------------------------------------------------------------------------- evaluate


def test_evaluate_classifier_metrics_and_confusion_matrix(iris_model):
    model, _ = iris_model
    payload = json_stdout(invoke(["evaluate", model, IRIS, "--json", "-q"]).stdout)
    predictions = json_stdout(invoke(["predict", model, IRIS, "--json"]).stdout)["predictions"]
    _, y, _ = raw_frame(IRIS)
    pred = np.array(predictions)

    assert payload["n"] == 150
    assert payload["metrics"] == {"eval_accuracy": pytest.approx(np.mean(pred == y), abs=1e-15)}
    classes = payload["classes"]
    assert classes == ["setosa", "versicolor", "virginica"]
    M = np.array(payload["confusion_matrix"])
    assert M.sum() == 150
    expected = [[int(np.sum((y == t) & (pred == p))) for p in classes] for t in classes]
    np.testing.assert_array_equal(M, expected)
    np.testing.assert_array_equal(M.sum(axis=1), [50, 50, 50])  # rows are the true classes
    assert np.trace(M) / 150 == pytest.approx(payload["metrics"]["eval_accuracy"])
    assert payload["unknown_labels"] == 0


def test_evaluate_classifier_table_goes_to_stderr(iris_model):
    model, _ = iris_model
    result = invoke(["evaluate", model, IRIS])
    assert result.stdout == ""
    assert "eval_accuracy" in result.stderr and "confusion matrix" in result.stderr


def test_evaluate_regressor_metrics(diabetes_model):
    model, _ = diabetes_model
    payload = json_stdout(invoke(["evaluate", model, DIABETES, "--json", "-q"]).stdout)
    predictions = np.array(
        json_stdout(invoke(["predict", model, DIABETES, "--json"]).stdout)["predictions"]
    )
    _, y, _ = raw_frame(DIABETES)
    assert payload["n"] == len(y) == 442
    assert payload["metrics"]["eval_r2"] == pytest.approx(r2_score(y, predictions), rel=1e-12)
    assert payload["metrics"]["eval_rmse"] == pytest.approx(
        np.sqrt(np.mean((y - predictions) ** 2)), rel=1e-12
    )
    assert "confusion_matrix" not in payload


# --------------------------------------------------------------------------- solve-ls

SOLVE_LS_KEYS = {"method", "coef", "intercept", "r2", "residual_norm", "rank", "cond"}


def lstsq_oracle(path: Path):
    X, y, names = raw_frame(path)
    Xh = np.column_stack([X, np.ones(len(y))])
    theta, *_ = np.linalg.lstsq(Xh, y, rcond=None)
    residual = Xh @ theta - y
    r2 = 1.0 - residual @ residual / np.sum((y - y.mean()) ** 2)
    return Xh, theta, names, r2, float(np.linalg.norm(residual))


@pytest.mark.parametrize("method", ["normal", "pinv", "lstsq"])
def test_solve_ls_closed_forms_match_numpy_lstsq(method):
    payload = json_stdout(invoke(["solve-ls", DIABETES, "--method", method, "--json"]).stdout)
    Xh, theta, names, r2, residual_norm = lstsq_oracle(DIABETES)
    assert payload.keys() >= SOLVE_LS_KEYS
    assert payload["method"] == method
    assert list(payload["coef"]) == names
    np.testing.assert_allclose([payload["coef"][n] for n in names], theta[:-1], rtol=1e-8)
    assert payload["intercept"] == pytest.approx(theta[-1], rel=1e-8)
    assert payload["r2"] == pytest.approx(r2, rel=1e-10)
    assert payload["residual_norm"] == pytest.approx(residual_norm, rel=1e-10)
    assert payload["rank"] == np.linalg.matrix_rank(Xh) == 11
    # the condition of the design with its columns scaled to unit norm
    assert payload["cond"] == pytest.approx(
        np.linalg.cond(Xh / np.linalg.norm(Xh, axis=0)), rel=1e-8
    )
    assert payload["digits"] >= 12  # cond ~ 22: every method keeps 12 or more digits


def test_solve_ls_gradient_descent_reports_a_consistent_near_optimal_fit():
    """gd on these correlated features (cond(X^T X) ~ 5e4) stalls before its gradient test,
    so only its objective is pinned down: R^2 within 1e-7 of lstsq's. Its coefficients
    must be the ones that produce that fit: for a quadratic, exactly
    f - f* = (t - t*)^T H (t - t*) / 2 with H = (2/N) Xh^T Xh."""
    payload = json_stdout(
        invoke(["solve-ls", DIABETES, "--method", "gd", "--standardize", "--json"]).stdout
    )
    Xh, theta, names, r2, residual_norm = lstsq_oracle(DIABETES)
    assert payload["method"] == "gd" and payload["message"]
    assert payload["r2"] == pytest.approx(r2, abs=1e-7)
    got = np.array([*(payload["coef"][n] for n in names), payload["intercept"]])
    n = len(Xh)
    excess = (payload["residual_norm"] ** 2 - residual_norm**2) / n  # f - f*
    delta = got - theta
    quadratic = delta @ (Xh.T @ (Xh @ delta)) / n  # (t - t*)^T H (t - t*) / 2
    assert excess > 0
    assert quadratic == pytest.approx(excess, rel=1e-3)


def test_solve_ls_rank_deficient_reports_rank_and_strict_json(tmp_path):
    """b = 2a: [X, 1] has rank 2 and an infinite condition number, which JSON (which has
    no Infinity) must carry as null; lstsq still gives the minimum-norm solution."""
    X = np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0], [4.0, 8.0]])
    y = np.array([3.0, 5.0, 8.0, 9.0])
    data = tmp_path / "deficient.csv"
    pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "y": y}).to_csv(data, index=False)
    payload = json_stdout(invoke(["solve-ls", data, "--method", "lstsq", "--json"]).stdout)
    Xh = np.column_stack([X, np.ones(4)])
    theta, *_ = np.linalg.lstsq(Xh, y, rcond=None)
    assert payload["rank"] == np.linalg.matrix_rank(Xh) == 2
    assert payload["cond"] is None
    np.testing.assert_allclose([payload["coef"]["a"], payload["coef"]["b"]], theta[:2], rtol=1e-8)
    assert payload["intercept"] == pytest.approx(theta[2], rel=1e-8)


def _options(command: str) -> set[str]:
    params = get_command(app).commands[command].params
    return {name for p in params for name in (*p.opts, *p.secondary_opts)}


def test_solve_ls_iterative_advice_names_only_its_own_options(tmp_path):
    """solve-ls chooses the optimizer with --method (it has no --optimizer), and has
    --max-iter, --tol and --standardize: the advice must name exactly those."""
    args = ["solve-ls", DIABETES, "--method", "gd", "--max-iter", "5", "--json", "-q"]
    payload = json_stdout(invoke(args).stdout)
    message = payload["message"]
    assert payload["converged"] is False and "max_iter=5" in message
    assert message.endswith(
        "try standardized features (--standardize), more --max-iter, another --method, "
        "a larger --tol"
    ), message
    assert set(re.findall(r"--[a-z-]+", message)) <= _options("solve-ls")
    assert "--optimizer" not in _options("solve-ls")
    # train's advice still names train's options, in its output and its model file
    args = ["train", IRIS, "--max-iter", "2", "--out", tmp_path / "m.linfit", "--json", "-q"]
    train = json_stdout(invoke(args).stdout)
    assert train["message"].endswith("try more --max-iter, another --optimizer, a larger --tol")
    assert persist.load(tmp_path / "m.linfit").summary["message"] == train["message"]
    unscaled = json_stdout(invoke([*args, "--no-standardize"]).stdout)["message"]
    assert "try standardized features (--standardize), more --max-iter" in unscaled
    assert set(re.findall(r"--[a-z-]+", unscaled)) <= _options("train")


def test_solve_ls_tol_and_max_iter_steer_the_iterative_method():
    def gd(*extra):
        args = ["solve-ls", DIABETES, "--method", "gd", "--standardize", *extra, "--json", "-q"]
        return json_stdout(invoke(args).stdout)

    tight = gd("--max-iter", "200", "--tol", "1e-10")
    assert tight["converged"] is False and "max_iter=200, tol 1e-10" in tight["message"]
    loose = gd("--max-iter", "200", "--tol", "0.5")
    assert loose["converged"] is True
    assert loose["r2"] < tight["r2"]  # stopped earlier, on a worse fit
    closed = json_stdout(invoke(["solve-ls", DIABETES, "--tol", "0.5", "--json"]).stdout)
    assert closed["converged"] is True and closed["message"] == "closed form (auto)"


def test_solve_ls_json_alone_on_stdout_in_a_real_process(tmp_path):
    proc = run(["solve-ls", DIABETES, "--method", "lstsq", "--json"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    payload = json_stdout(proc.stdout)
    _, theta, _, _, _ = lstsq_oracle(DIABETES)
    assert payload["intercept"] == pytest.approx(theta[-1], rel=1e-8)
    assert "estimate" in proc.stderr and "std err" in proc.stderr and "(intercept)" in proc.stderr
    assert "Traceback" not in proc.stderr


# --------------------------------------------------------------------------- gradcheck

GRADCHECK_RESULT_KEYS = {"model", "max_rel_error", "checked", "skipped", "passed"}


def test_gradcheck_json_in_a_real_process(tmp_path):
    proc = run(["gradcheck", "--json"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    payload = json_stdout(proc.stdout)
    assert payload["passed"] is True
    results = payload["results"]
    assert {r["model"] for r in results} == {
        "svm (hinge)", "svm (squared hinge)", "svm (squared hinge, one-vs-rest)", "softmax",
        "least-squares", "relu",
    }  # fmt: skip
    for r in results:
        assert r.keys() >= GRADCHECK_RESULT_KEYS
        assert r["passed"] is True
        assert r["checked"] > 0 and r["skipped"] >= 0
        assert 0 <= r["max_rel_error"] <= payload["tolerance"]
    assert "gradient check" in proc.stderr and "Traceback" not in proc.stderr


def test_gradcheck_on_a_data_file():
    result = invoke(["gradcheck", IRIS, "--model", "softmax", "--json", "-q"])
    payload = json_stdout(result.stdout)
    assert result.stderr == ""
    assert [r["model"] for r in payload["results"]] == ["softmax"]
    assert payload["passed"] is True and payload["results"][0]["checked"] > 0


@pytest.mark.parametrize("missing", [["--dropna"], ["--impute", "mean"]])
def test_gradcheck_reads_data_as_train_does(tmp_path, missing):
    """--encode onehot and --dropna/--impute, which gradcheck's errors suggest, work."""
    frame = pd.read_csv(IRIS)
    frame.insert(0, "colour", np.where(np.arange(len(frame)) % 2, "red", "blue"))
    frame.iloc[4, 1] = np.nan
    frame.to_csv(tmp_path / "mixed.csv", index=False)
    args = ["gradcheck", tmp_path / "mixed.csv", "--model", "softmax", "--json", "-q"]
    payload = json_stdout(invoke([*args, "--encode", "onehot", *missing]).stdout)
    assert payload["passed"] is True and payload["results"][0]["checked"] == 3 * (
        2 + 4 + 1
    )  # colour=blue, colour=red, 4 numbers, bias


def test_gradcheck_fails_with_exit_1_on_a_wrong_gradient(monkeypatch):
    """least-squares' gradient scaled by 1.01: a 1% error, far above the tolerance. The
    command must mark that model (and only it) failed, and exit 1."""
    exact = LeastSquares.loss_gradient

    def skewed(self, params, X, y):
        f, grad = exact(self, params, X, y)
        return f, 1.01 * grad

    monkeypatch.setattr(LeastSquares, "loss_gradient", skewed)
    result = invoke(["gradcheck", "--model", "all", "--json"], ok=False)
    assert result.exit_code == 1, (result.stderr, result.exception)
    payload = json_stdout(result.stdout)
    assert payload["passed"] is False
    verdicts = {r["model"]: r["passed"] for r in payload["results"]}
    assert verdicts.pop("least-squares") is False
    assert all(verdicts.values()), verdicts
    broken = next(r for r in payload["results"] if r["model"] == "least-squares")
    assert broken["max_rel_error"] == pytest.approx(0.01 / 1.01, rel=1e-3)
    assert "NO" in result.stderr  # the table says which failed


# --------------------------------------------------------------------------- compare


@pytest.mark.parametrize("data", [IRIS, WINE], ids=["iris", "wine"])
def test_compare_softmax_agrees_with_logistic_regression(data):
    """Both minimize mean cross-entropy + reg ||W||^2 (the baseline's C is mapped), so the
    optima agree: linfit is no worse than 1e-6 relative and no better than 1e-6 relative."""
    result = invoke(["compare", data, "--model", "softmax", "--json", "-q"])
    rows = json_stdout(result.stdout)["rows"]
    assert [r["system"] for r in rows] == ["linfit softmax (lbfgs)", "sklearn LogisticRegression"]
    ours, theirs = rows[0]["objective"], rows[1]["objective"]
    assert ours <= theirs * (1 + 1e-6)
    assert abs(ours - theirs) <= 1e-6 * abs(theirs)
    _, reference, _ = library_fit("softmax", data)
    assert ours == pytest.approx(reference.fun, rel=SAME)
    assert rows[0]["train_accuracy"] == pytest.approx(rows[1]["train_accuracy"])


@pytest.mark.parametrize(
    ("model", "data", "extra", "systems"),
    [
        ("svm", IRIS, [], 3),
        ("least-squares", DIABETES, ["--reg", "1e-2"], 3),
        ("relu", DIABETES, [], 2),
    ],
)
def test_compare_has_one_row_per_system(model, data, extra, systems):
    result = invoke(["compare", data, "--model", model, *extra, "--json"])
    rows = json_stdout(result.stdout)["rows"]
    assert len(rows) == systems
    assert rows[0]["system"].startswith(f"linfit {model}")
    assert len({r["system"] for r in rows}) == systems
    for row in rows:
        assert np.isfinite(row["objective"])
        assert row["system"].split()[0] in ("linfit", "sklearn")
        # the table, on stderr (long names may wrap inside their cell)
        assert " ".join(row["system"].split()[:2]) in result.stderr
    # every row is scored with linfit's objective, which linfit minimizes: no baseline beats it
    best_baseline = min(r["objective"] for r in rows[1:])
    assert rows[0]["objective"] <= best_baseline * (1 + 1e-6)
    if model == "least-squares":
        # sklearn Ridge (alpha = N reg) minimizes the same objective as linfit
        ridge = next(r for r in rows if r["system"] == "sklearn Ridge")
        assert rows[0]["objective"] <= ridge["objective"] * (1 + 1e-6)
        assert abs(rows[0]["objective"] - ridge["objective"]) <= 1e-6 * ridge["objective"]


def test_linfits_warnings_name_the_commands_flags_others_are_shown_as_they_are(
    monkeypatch, tmp_path
):
    """A warning of linfit's own names parameters in backquotes, as its errors do, and the
    command line shows them as its flags; another package's warning is left as it is."""
    from linfit.errors import OptionError, RankWarning

    def warn_then_stop(test_size):
        warnings.warn("`reg` and `solver` as flags", RankWarning, stacklevel=2)
        warnings.warn("`reg` as written", UserWarning, stacklevel=2)
        raise OptionError("stopped")

    monkeypatch.setattr("linfit.cli.train.check_test_size", warn_then_stop)
    result = invoke(["train", IRIS, "--out", tmp_path / "m.linfit"], ok=False)
    err = " ".join(result.stderr.split())
    assert "warning: --reg and --optimizer as flags" in err
    assert "warning: `reg` as written" in err and "error: stopped" in err


def test_compare_says_when_linfits_run_did_not_converge():
    result = invoke(["compare", IRIS, "--max-iter", "3", "--json"])
    rows = json_stdout(result.stdout)["rows"]
    assert all("converged" in row for row in rows)
    assert rows[0]["converged"] is False and rows[0]["n_iter"] == 3
    assert all(row["converged"] is None for row in rows[1:])  # scikit-learn's: not judged
    err = " ".join(result.stderr.split())  # the status under the table may wrap
    assert (
        "linfit softmax (lbfgs): not converged: stopped at max_iter=3, tol 1e-06 (max |gradient| "
    ) in err
    assert "try more --max-iter, another --optimizer, a larger --tol" in err

    result = invoke(["compare", IRIS, "--json"])
    assert json_stdout(result.stdout)["rows"][0]["converged"] is True
    assert "linfit softmax (lbfgs): converged: " in " ".join(result.stderr.split())


# --------------------------------------------------------------------------- help, version


def test_version():
    result = invoke(["--version"])
    assert result.stdout.strip() == f"linfit {__version__}"


def test_every_command_is_tested_here():
    assert set(get_command(app).commands) == set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_command_help_shows_an_example(command):
    result = invoke([command, "--help"])
    assert "Usage" in result.stdout
    assert "Example:" in result.stdout
    assert re.search(rf"linfit {command}\b", result.stdout)


def test_root_help_shows_an_example():
    result = invoke(["--help"])
    assert "Usage" in result.stdout
    assert re.search(r"Example: linfit (train|predict|evaluate|compare)\b", result.stdout)


def test_no_arguments_shows_help_without_an_empty_error():
    result = invoke([], ok=False)
    assert "Usage" in result.stdout
    assert "error" not in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_python_dash_m_linfit_help(tmp_path):
    proc = run(["--help"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Usage" in proc.stdout
    for command in COMMANDS:
        assert command in proc.stdout
    assert proc.stderr == ""


# --------------------------------------------------------------------------- colour


def test_no_color_in_piped_stderr_on_error(tmp_path):
    proc = run(["train", IRIS, "--reg", "-1"], tmp_path, env={"NO_COLOR": "1", "TERM": "xterm"})
    assert proc.returncode == 2
    assert "\x1b" not in proc.stderr
    assert_one_error_line(proc.stderr)


SGR = re.compile(r"\x1b\[([0-9;]*)m")


def _colour_codes(stderr: str) -> set[int]:
    """SGR parameters that set a foreground/background colour (30-49, 90-107)."""
    codes = {int(p) for m in SGR.finditer(stderr) for p in m.group(1).split(";") if p}
    return {c for c in codes if 30 <= c <= 49 or 90 <= c <= 107}


def _stderr_on_a_terminal(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    import pty  # POSIX only

    master, slave = pty.openpty()
    environ = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    process = subprocess.Popen(
        [sys.executable, "-m", "linfit", *args],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=slave,
        env={**environ, "TERM": "xterm-256color", **env},
    )
    os.close(slave)
    chunks = []
    try:
        while select.select([master], [], [], 60)[0]:  # a hung child ends the test, not CI
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
    return process.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_no_color_on_a_terminal_drops_the_colour(tmp_path):
    """On a real terminal the error line is red, and NO_COLOR=1 takes the colour away."""
    args = ["train", str(IRIS), "--reg", "-1"]
    code, coloured = _stderr_on_a_terminal(args, tmp_path, {})
    assert code == 2 and _colour_codes(coloured), repr(coloured)  # the check can fail
    code, plain = _stderr_on_a_terminal(args, tmp_path, {"NO_COLOR": "1"})
    assert code == 2 and "error:" in plain
    assert _colour_codes(plain) == set(), repr(plain)
