"""Pictures and per-iteration history: ``train --plot/--history``, ``evaluate --plot``.

Images are checked as files (PNG signature and header, then decoded by matplotlib to the
same size), not by their pixels; the history is checked against an independent run of the
library on the same split, row by row.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helpers import DIABETES, IRIS, assert_one_error_line, invoke, json_stdout

from linfit.data import load_dataset
from linfit.evaluation import plots
from linfit.fitting import fit
from linfit.models import make_model
from linfit.optim import IterationRecord
from linfit.preprocess import split_xy

pytest.importorskip("matplotlib")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from the PNG header, after checking the signature and that
    matplotlib decodes the file to the same size."""
    from matplotlib import image

    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    pixels = image.imread(path)
    assert pixels.shape[:2] == (height, width)
    assert pixels.std() > 0, "a blank image"
    return width, height


def assert_sensible_png(path: Path) -> None:
    width, height = png_size(path)
    assert 400 <= width <= 2500 and 300 <= height <= 2500, (width, height)
    assert path.stat().st_size > 5_000


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory):
    """softmax on iris through the CLI with --plot and --history; (folder, --json payload)."""
    tmp = tmp_path_factory.mktemp("iris_run")
    result = invoke(
        [
            "train", IRIS, "--out", tmp / "m.linfit", "--plot", tmp / "curve.png",
            "--history", tmp / "history.csv", "--json", "--quiet",
        ]
    )  # fmt: skip
    return tmp, json_stdout(result.stdout)


# ----------------------------------------------------------------------------- train


def test_train_plot_is_a_png_of_sensible_size(iris_run):
    tmp, payload = iris_run
    assert payload["plot_path"] == str(tmp / "curve.png")
    assert_sensible_png(tmp / "curve.png")


def test_history_rows_are_the_optimizers_records(iris_run):
    """One row per record (the start, then each iteration), equal to a library run of the
    same model on the same split; only the timings differ."""
    tmp, payload = iris_run
    assert payload["history_path"] == str(tmp / "history.csv")
    table = pd.read_csv(tmp / "history.csv")
    assert tuple(table.columns) == ("nit", "fun", "grad_norm", "step", "nfev", "elapsed")

    ds = load_dataset(IRIS)
    X_train, y_train, _, _ = split_xy(ds.X, ds.y, test_size=0.2, seed=0, stratify=True)
    result = fit(make_model("softmax", reg=1e-4), X_train, y_train).result
    assert len(table) == result.nit + 1 == payload["n_iter"] + 1
    expected = pd.DataFrame([r.__dict__ for r in result.history])
    for column in ("nit", "nfev"):
        np.testing.assert_array_equal(table[column], expected[column])
    for column in ("fun", "grad_norm", "step"):
        np.testing.assert_allclose(table[column], expected[column], rtol=1e-12, atol=0)
    assert table["fun"].iloc[-1] == payload["objective"]
    assert table["grad_norm"].iloc[-1] == payload["grad_norm"]
    assert (np.diff(table["elapsed"]) >= 0).all()


def test_history_csv_keeps_every_digit(tmp_path):
    """write_history round-trips the records exactly."""
    records = tuple(
        IterationRecord(nit=i, fun=1 / 3**i, grad_norm=np.pi / 7**i, step=0.1 * i, nfev=2 * i,
                        elapsed=1e-7 * i)
        for i in range(5)
    )  # fmt: skip
    plots.write_history(records, tmp_path / "h.csv")
    table = pd.read_csv(tmp_path / "h.csv")
    rows = [IterationRecord(**row) for row in table.to_dict("records")]
    assert tuple(rows) == records


def test_without_plot_or_history_json_has_no_such_keys(tmp_path):
    result = invoke(["train", IRIS, "--out", tmp_path / "m.linfit", "--json", "--quiet"])
    payload = json_stdout(result.stdout)
    assert "plot_path" not in payload and "history_path" not in payload
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.linfit"]


@pytest.mark.parametrize(("name", "magic"), [("c.svg", b"<?xml"), ("c.pdf", b"%PDF")])
def test_plot_format_follows_the_file_ending(tmp_path, name, magic):
    invoke(["train", IRIS, "--out", tmp_path / "m.linfit", "--plot", tmp_path / name, "-q"])
    assert (tmp_path / name).read_bytes().startswith(magic)


def test_table_names_the_written_files(tmp_path):
    result = invoke(
        ["train", IRIS, "--out", tmp_path / "m.linfit", "--plot", tmp_path / "c.png",
         "--history", tmp_path / "h.csv"]
    )  # fmt: skip
    assert f"{tmp_path / 'c.png'}" in result.stderr.replace("\n", "")
    assert "history" in result.stderr


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--plot", "{tmp}/missing/c.png"], "folder '{tmp}/missing' does not exist"),
        (["--history", "{tmp}/missing/h.csv"], "folder '{tmp}/missing' does not exist"),
        (["--plot", "{data}"], "is the input file"),
        (["--history", "{data}"], "is the input file"),
        (["--plot", "{tmp}/m.linfit"], "--plot and --out name the same file"),
        (["--history", "{tmp}/m.linfit"], "--history and --out name the same file"),
        (["--plot", "{tmp}/x.png", "--history", "{tmp}/x.png"], "--plot and --history"),
        (["--plot", "{tmp}/c.jpg"], "ending in .png, .svg, .pdf"),
        (["--plot", "{tmp}"], "is a directory"),
    ],
)
def test_bad_output_paths_are_one_line_and_write_nothing(tmp_path, args, message):
    data = tmp_path / "iris.csv"
    data.write_bytes(IRIS.read_bytes())
    fill = {"tmp": str(tmp_path), "data": str(data)}
    args = [a.format(**fill) for a in args]
    result = invoke(["train", data, "--out", tmp_path / "m.linfit", *args], ok=False)
    assert result.exit_code == 2
    line = assert_one_error_line(result.stderr)
    assert message.format(**fill) in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["iris.csv"]
    assert data.read_bytes() == IRIS.read_bytes()


def test_evaluate_plot_equal_to_an_input_is_refused(tmp_path, iris_run):
    model = iris_run[1]["model_path"]
    before = Path(model).read_bytes()
    result = invoke(["evaluate", model, IRIS, "--plot", model], ok=False)
    assert result.exit_code == 2
    assert "is the input file" in assert_one_error_line(result.stderr)
    assert Path(model).read_bytes() == before


@pytest.fixture
def no_matplotlib(monkeypatch):
    """matplotlib made unimportable (None in sys.modules makes ``import`` raise)."""
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)


def test_train_plot_without_matplotlib_is_one_line(tmp_path, no_matplotlib):
    result = invoke(
        ["train", IRIS, "--out", tmp_path / "m.linfit", "--plot", tmp_path / "c.png"], ok=False
    )
    assert result.exit_code == 2
    line = assert_one_error_line(result.stderr)
    assert "--plot needs matplotlib" in line and "pip install 'linfit[plot]'" in line
    assert list(tmp_path.iterdir()) == []  # checked before training: no model either


def test_evaluate_plot_without_matplotlib_is_one_line(tmp_path, iris_run, no_matplotlib):
    model = iris_run[1]["model_path"]
    result = invoke(["evaluate", model, IRIS, "--plot", tmp_path / "c.png"], ok=False)
    assert result.exit_code == 2
    assert "pip install 'linfit[plot]'" in assert_one_error_line(result.stderr)
    assert list(tmp_path.iterdir()) == []


def test_history_needs_no_matplotlib(tmp_path, no_matplotlib):
    invoke(["train", IRIS, "--out", tmp_path / "m.linfit", "--history", tmp_path / "h.csv"])
    assert len(pd.read_csv(tmp_path / "h.csv")) > 1


def test_reproduce_without_matplotlib_says_so_and_writes_the_reports(tmp_path, no_matplotlib):
    result = invoke(["reproduce", "--dataset", "diabetes", "--out", tmp_path])
    assert "pip install 'linfit[plot]'" in result.stderr
    assert (tmp_path / "reproduce.md").is_file() and not (tmp_path / "plots").exists()


# -------------------------------------------------------------------------- evaluate


def test_evaluate_classifier_plot(tmp_path, iris_run):
    model = iris_run[1]["model_path"]
    result = invoke(["evaluate", model, IRIS, "--plot", tmp_path / "cm.png", "--json", "-q"])
    payload = json_stdout(result.stdout)
    assert payload["plot_path"] == str(tmp_path / "cm.png")
    assert_sensible_png(tmp_path / "cm.png")


def test_evaluate_regressor_plot(tmp_path):
    invoke(["train", DIABETES, "--model", "least-squares", "--out", tmp_path / "d.linfit", "-q"])
    result = invoke(
        ["evaluate", tmp_path / "d.linfit", DIABETES, "--plot", tmp_path / "s.png", "--json"]
    )
    assert json_stdout(result.stdout)["plot_path"] == str(tmp_path / "s.png")
    assert_sensible_png(tmp_path / "s.png")


# --------------------------------------------------------------------------- library


def test_a_run_without_steps_still_draws(tmp_path):
    """A start that already meets the test has one record: no gap to show, a note instead."""
    record = IterationRecord(nit=0, fun=0.5, grad_norm=1e-9, step=0.0, nfev=1, elapsed=0.0)
    plots.save_figure(plots.convergence_figure([record], "no steps"), tmp_path / "c.png")
    assert_sensible_png(tmp_path / "c.png")


def test_many_classes_and_many_samples_draw(tmp_path):
    rng = np.random.default_rng(0)
    matrix = rng.integers(0, 20, size=(60, 60))
    plots.save_figure(plots.confusion_figure(matrix, range(60), "60 classes"), tmp_path / "a.png")
    assert_sensible_png(tmp_path / "a.png")
    actual = rng.standard_normal(50_000)
    figure = plots.prediction_figure(actual, actual + rng.standard_normal(50_000), "dense")
    plots.save_figure(figure, tmp_path / "b.png")
    assert_sensible_png(tmp_path / "b.png")


def test_convergence_gap_and_gradient_are_on_log_axes():
    history = [
        IterationRecord(nit=i, fun=1 + 2.0**-i, grad_norm=2.0**-i, step=1.0, nfev=i + 1,
                        elapsed=0.01 * i)
        for i in range(10)
    ]  # fmt: skip
    figure = plots.convergence_figure(history, "t")
    axes = figure.axes
    assert len(axes) == 4
    assert all(ax.get_yscale() == "log" for ax in axes)
    assert [ax.get_xlabel() for ax in axes[2:]] == ["iteration", "time (s)"]
    assert axes[0].get_ylabel().startswith("objective") and "gradient" in axes[2].get_ylabel()
    gap = axes[0].lines[0].get_ydata()
    np.testing.assert_allclose(gap, [2.0**-i - 2.0**-9 for i in range(9)], rtol=1e-12)
