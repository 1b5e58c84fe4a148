"""Bundled datasets and streamed synthetic CSVs."""

from __future__ import annotations

import filecmp

import numpy as np
import pandas as pd
import pytest
import sklearn.datasets
from cli_helpers import DATASETS, invoke, json_stdout

from linfit.data import bundled as ds_module
from linfit.data.bundled import BUNDLED, write_bundled, write_synthetic
from linfit.errors import OptionError
from linfit.fitting.solve_ls import solve_least_squares


def test_make_datasets_regenerates_the_committed_files_byte_for_byte(tmp_path):
    for path in write_bundled(tmp_path):
        assert filecmp.cmp(path, DATASETS / path.name, shallow=False), path.name


def test_datasets_list_reports_scikit_learns_shapes():
    payload = json_stdout(invoke(["datasets", "list", "--json", "--quiet"]).stdout)
    rows = {row["name"]: row for row in payload["datasets"]}
    assert set(rows) == set(BUNDLED)
    for name, dataset in BUNDLED.items():
        bunch = getattr(sklearn.datasets, dataset.loader)()
        assert (rows[name]["samples"], rows[name]["features"]) == bunch.data.shape
        assert rows[name]["task"] == dataset.task
        if dataset.task == "classification":
            assert rows[name]["classes"] == len(np.unique(bunch.target))


def test_synthetic_files_are_deterministic_and_seeded(tmp_path):
    a, b, c = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    for path, seed in ((a, 1), (b, 1), (c, 2)):
        write_synthetic(path, "classification", n_samples=500, n_features=4, n_classes=3, seed=seed)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    frame = pd.read_csv(a)
    assert list(frame.columns) == ["x0", "x1", "x2", "x3", "target"]
    assert frame.shape == (500, 5)
    assert set(frame["target"]) == {0, 1, 2}


def test_synthetic_files_are_written_in_bounded_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(ds_module, "CHUNK_VALUES", 1000)
    sizes = []
    real_savetxt = np.savetxt
    monkeypatch.setattr(
        np, "savetxt", lambda f, a, **k: (sizes.append(a.shape[0]), real_savetxt(f, a, **k))
    )
    write_synthetic(tmp_path / "s.csv", "regression", n_samples=1234, n_features=10)
    assert max(sizes) == 100 and sum(sizes) == 1234  # 1000 values / 10 features per chunk
    assert len(pd.read_csv(tmp_path / "s.csv")) == 1234


def test_noiseless_regression_is_recovered_exactly_by_least_squares(tmp_path):
    path = tmp_path / "r.csv"
    write_synthetic(path, "regression", n_samples=400, n_features=5, noise=0.0, seed=3)
    frame = pd.read_csv(path)
    X, y = frame.iloc[:, :-1].to_numpy(), frame["target"].to_numpy()
    report = solve_least_squares(X, y, method="lstsq")
    assert report.r2 > 1 - 1e-10  # the file holds 7 significant digits


def test_nearly_noiseless_labels_come_from_a_linear_model(tmp_path):
    path = tmp_path / "c.csv"
    write_synthetic(
        path, "classification", n_samples=2000, n_features=5, n_classes=4, noise=1e-3, seed=0
    )
    result = invoke(
        [
            "train",
            str(path),
            "--reg",
            "1e-6",
            "--max-iter",
            "3000",
            "--json",
            "--quiet",
            "--out",
            str(tmp_path / "m.linfit"),
        ]
    )
    assert json_stdout(result.stdout)["metrics"]["test_accuracy"] >= 0.97


@pytest.mark.parametrize(
    "kwargs",
    [dict(n_samples=0), dict(n_features=0), dict(n_classes=1), dict(noise=-1.0)],
)
def test_bad_shapes_are_option_errors(tmp_path, kwargs):
    args = dict(n_samples=10, n_features=2, n_classes=2, noise=1.0) | kwargs
    with pytest.raises(OptionError):
        write_synthetic(tmp_path / "x.csv", "classification", **args)
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_cli_make_regression_json(tmp_path):
    out = tmp_path / "reg.csv"
    payload = json_stdout(
        invoke(
            [
                "datasets",
                "make-regression",
                "--n-samples",
                "50",
                "--n-features",
                "3",
                "--json",
                "--quiet",
                str(out),
            ]
        ).stdout
    )
    assert payload["path"] == str(out) and payload["bytes"] == out.stat().st_size
    assert pd.read_csv(out).shape == (50, 4)
