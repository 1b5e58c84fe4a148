"""Every user error, through a real ``python -m linfit`` process.

The contract for each: exit code 2; exactly one non-empty line on stderr, starting with
``error:`` and saying what is wrong; no traceback; nothing on stdout (even with --json);
and no file in the working folder created, changed or removed (checked by checksums),
in particular a model or predictions file already at the output path.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helpers import DIABETES, IRIS, assert_one_error_line, checksums, run
from typer.main import get_command

from linfit.cli import app
from linfit.data import load_dataset
from linfit.errors import DivergenceError
from linfit.fitting import fit
from linfit.models import make_model
from linfit.storage import persist


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working folder: data files good and bad, a model, and earlier predictions."""
    folder = tmp_path_factory.mktemp("template")
    shutil.copy(IRIS, folder / "iris.csv")
    shutil.copy(DIABETES, folder / "diabetes.csv")
    iris = pd.read_csv(IRIS)

    (folder / "empty.csv").write_text("")
    (folder / "header.csv").write_text(",".join(iris.columns) + "\n")
    text = iris.copy()
    text["colour"] = np.where(np.arange(len(iris)) % 2, "red", "blue")
    text = text[["colour", *iris.columns]]
    text.to_csv(folder / "text_feature.csv", index=False)
    iris.assign(target="setosa").to_csv(folder / "single_class.csv", index=False)
    with_nan = iris.copy()
    with_nan.iloc[4, 1] = np.nan
    with_nan.to_csv(folder / "nan.csv", index=False)
    iris.drop(columns="petal width (cm)").to_csv(folder / "lacks_column.csv", index=False)
    iris.to_csv(folder / "iris_tab.txt", sep="\t", index=False)  # names hold spaces

    ds = load_dataset(IRIS)
    trained = fit(make_model("softmax"), ds.X, ds.y, feature_names=ds.feature_names, max_iter=50)
    persist.save(trained, folder / "model.linfit")
    (folder / "pred.csv").write_text("prediction\nold\n")
    return folder


@pytest.fixture
def workdir(template: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    shutil.copytree(template, folder)
    return folder


def expect_error(workdir: Path, args: list[str], *needles: str) -> str:
    """Run linfit in ``workdir``; assert the error contract; return the message line."""
    before = checksums(workdir)
    proc = run(args, workdir)
    line = assert_one_error_line(proc.stderr)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert proc.stdout == "", proc.stdout
    assert checksums(workdir) == before, "a file in the working folder was written"
    for needle in needles:
        assert needle.lower() in line.lower(), f"{needle!r} not in: {line}"
    return line


TRAIN = ["train", "--out", "model.linfit", "--json"]

CASES = {
    "missing file": ([*TRAIN, "nope.csv"], ["nope.csv", "not found"]),
    "empty file": ([*TRAIN, "empty.csv"], ["empty.csv", "empty"]),
    "header only": ([*TRAIN, "header.csv"], ["header.csv", "no data rows"]),
    "unknown target": ([*TRAIN, "iris.csv", "--target", "species"], ["'species'", "not found"]),
    "unknown model": ([*TRAIN, "iris.csv", "--model", "tree"], ["unknown model", "softmax"]),
    "unknown optimizer": (
        [*TRAIN, "iris.csv", "--optimizer", "adam"],
        ["unknown optimizer", "lbfgs"],
    ),
    "non-numeric feature": (
        [*TRAIN, "text_feature.csv"],
        ["non-numeric", "'colour'", "--encode onehot"],
    ),
    "single class": ([*TRAIN, "single_class.csv"], ["single class", "setosa", "check --target"]),
    "nan in data": ([*TRAIN, "nan.csv"], ["missing values", "sepal width (cm)", "--dropna"]),
    "newton on hinge": (
        [*TRAIN, "iris.csv", "--model", "svm", "--optimizer", "newton"],
        ["hessian", "lbfgs"],
    ),
    "negative reg": ([*TRAIN, "iris.csv", "--reg", "-1"], ["--reg", ">= 0"]),
    "test size 1": ([*TRAIN, "iris.csv", "--test-size", "1"], ["--test-size", "[0, 1)"]),
    "lr 0": ([*TRAIN, "iris.csv", "--optimizer", "gd", "--lr", "0"], ["--lr", "positive"]),
    "lr with lbfgs": (
        [*TRAIN, "iris.csv", "--lr", "0.1"],
        ["--lr", "sgd, adagrad and gd", "lbfgs"],
    ),
    "batch size with lbfgs": (
        [*TRAIN, "iris.csv", "--batch-size", "32"],
        ["--batch-size", "sgd", "not lbfgs"],
    ),
    "solve-ls by sgd": (
        ["solve-ls", "diabetes.csv", "--method", "sgd"],
        ["unknown solve-ls method 'sgd'", "pinv"],
    ),
    "output in a missing folder": (
        ["train", "iris.csv", "--out", "no/such/folder/m.linfit", "--json"],
        ["no/such/folder", "does not exist"],
    ),
    "output is the input": (
        ["train", "iris.csv", "--out", "iris.csv", "--json"],
        ["iris.csv", "input"],
    ),
    "bad flag value": ([*TRAIN, "iris.csv", "--reg", "abc"], ["--reg", "number"]),
    "dropna with impute": (
        [*TRAIN, "nan.csv", "--dropna", "--impute", "mean"],
        ["--dropna", "--impute"],
    ),
    "unknown flag": ([*TRAIN, "iris.csv", "--regularization", "1"], ["--regularization"]),
    "tab-separated .txt whose names hold spaces": (
        [*TRAIN, "iris_tab.txt"],
        ["only 1 column", "wrong delimiter? use --sep tab"],
    ),
    "regression on string labels": (
        [*TRAIN, "iris.csv", "--model", "least-squares"],
        ["not numeric", "least-squares"],
    ),
    "predict: a missing feature column": (
        ["predict", "model.linfit", "lacks_column.csv", "--out", "pred.csv", "--json"],
        ["lacks_column.csv", "'petal width (cm)'"],
    ),
    "predict: nan in data": (
        ["predict", "model.linfit", "nan.csv", "--out", "pred.csv", "--json"],
        ["missing values", "sepal width (cm)", "--impute mean"],
    ),
    "predict: model file is a CSV": (
        ["predict", "iris.csv", "iris.csv", "--json"],
        ["iris.csv", "not a linfit model"],
    ),
    "predict: output is the model": (
        ["predict", "model.linfit", "iris.csv", "--out", "model.linfit"],
        ["model.linfit", "input"],
    ),
    "predict: missing model": (
        ["predict", "nope.linfit", "iris.csv", "--json"],
        ["nope.linfit"],
    ),
    "evaluate: no target column": (
        ["evaluate", "model.linfit", "lacks_column.csv", "--json"],
        ["lacks_column.csv"],
    ),
    "evaluate: nan in data": (
        ["evaluate", "model.linfit", "nan.csv", "--json"],
        ["missing values", "--dropna", "--impute mean"],
    ),
    "gradcheck: non-numeric feature": (
        ["gradcheck", "text_feature.csv", "--json"],
        ["non-numeric", "'colour'", "--encode onehot"],
    ),
    "gradcheck: nan in data": (
        ["gradcheck", "nan.csv", "--json"],
        ["missing values", "--dropna", "--impute mean"],
    ),
    "solve-ls: unknown method": (
        ["solve-ls", "diabetes.csv", "--method", "cholesky", "--json"],
        ["unknown solve-ls method", "lstsq"],
    ),
    "solve-ls: string target": (["solve-ls", "iris.csv", "--json"], ["not numeric"]),
    "train: negative seed": ([*TRAIN, "iris.csv", "--seed", "-1"], ["--seed"]),
    "gradcheck: negative seed": (["gradcheck", "--seed", "-1", "--json"], ["--seed"]),
    "datasets: negative seed": (
        ["datasets", "make-regression", "new.csv", "--seed", "-1", "--json"],
        ["--seed"],
    ),
    "a data path holding a newline": (
        [*TRAIN, "no\nsuch.csv"],
        ["'no\\nsuch.csv'", "not found"],
    ),
    "compare: unknown model": (
        ["compare", "iris.csv", "--model", "tree", "--json"],
        ["unknown model"],
    ),
}


# an option named in a message: --word, not inside a longer word or a path
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]*")


def options_of(command: str) -> set[str]:
    """Every option name of ``linfit COMMAND``, both forms of a --x/--no-x flag included."""
    params = get_command(app).commands[command].params
    return {name for p in params for name in (*p.opts, *p.secondary_opts)} | {"--help"}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_user_error(workdir, case):
    """The contract, and advice that names only options the command has (an option the
    user typed may be named back, as an unknown flag is)."""
    args, needles = CASES[case]
    line = expect_error(workdir, args, *needles)
    suggested = set(FLAG.findall(line)) - set(args)
    assert suggested <= options_of(args[0]), f"{args[0]} lacks {suggested - options_of(args[0])}"


def test_options_of_sees_what_each_command_lacks():
    """The guard above can fail: predict has --impute but no --dropna or --encode."""
    assert {"--impute", "--sep", "--help"} <= options_of("predict")
    assert not {"--dropna", "--encode", "--optimizer"} & options_of("predict")
    assert {"--method", "--tol", "--max-iter", "--standardize"} <= options_of("solve-ls")
    assert "--optimizer" not in options_of("solve-ls")


@pytest.mark.parametrize(
    "run",
    [
        ["diabetes.csv", "--model", "least-squares", "--no-standardize", "--optimizer", "gd",
         "--lr", "1e3"],
        ["iris.csv", "--optimizer", "sgd", "--lr", "1e6"],  # finite: once ended at 5e40, saved
    ],
    ids=["gd-overflows", "sgd-finite-blow-up"],
)  # fmt: skip
def test_diverged_training_keeps_the_previous_model(workdir, run):
    """A fixed step far too long: the objective overflows (gd on raw diabetes) or climbs
    to a huge finite value (sgd). The command must say so, and the model already at --out
    must survive byte for byte."""
    before = (workdir / "model.linfit").read_bytes()
    expect_error(workdir, ["train", *run, "--out", "model.linfit", "--json"], "diverged", "--lr")
    assert (workdir / "model.linfit").read_bytes() == before
    assert persist.load(workdir / "model.linfit").model.name == "softmax"


def test_divergence_is_real(workdir):
    """The gd run in the library: fit refuses it, its result stopped DIVERGED, and its steps
    were blowing up: one more would take the objective a million times past its start, or
    out of the finite numbers (a test of the run, not of the 10x rule that stopped it)."""
    from linfit.optim import Status
    from linfit.preprocess import split_xy

    ds = load_dataset(workdir / "diabetes.csv")
    X_train, y_train, _, _ = split_xy(ds.X, ds.y, test_size=0.2, seed=0, stratify=False)
    model = make_model("least-squares")
    with pytest.raises(DivergenceError, match="diverged") as caught:
        fit(model, X_train, y_train, solver="gd", lr=1e3, standardize=False)
    result = caught.value.result
    assert result.status == Status.DIVERGED
    f0 = result.history[0].fun
    with np.errstate(over="ignore", invalid="ignore"):
        f_next = model.loss(result.x - 1e3 * result.jac, X_train, y_train)
    assert not f_next <= 1e6 * f0  # NaN counts as past it


def test_a_warning_of_linfit_names_the_commands_flags(tmp_path):
    """A library warning names parameters in backquotes; the command shows its flags:
    a softmax target of 60 distinct floats in 200 rows looks continuous."""
    rng = np.random.default_rng(0)
    path = tmp_path / "floats.csv"
    y = rng.choice(np.linspace(0.5, 30.5, 60), 200)
    np.savetxt(path, np.column_stack([rng.normal(size=(200, 2)), y]), delimiter=",",
               header="a,b,target", comments="")  # fmt: skip
    result = run(["train", path, "--out", tmp_path / "m.linfit", "--quiet"], tmp_path)
    assert result.returncode == 0, result.stderr
    (line,) = [s for s in result.stderr.splitlines() if s.startswith("warning:")]
    assert "looks continuous" in line and "use --model least-squares or relu" in line
