"""`make reproduce`: rows for every model x optimizer, a verdict, and the committed tables."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cli_helpers import invoke, json_stdout

from linfit.optim import OPTIMIZERS
from linfit.reproduce import Verdict, reproduce, to_markdown

RESULTS = Path(__file__).resolve().parents[1] / "results"


@pytest.fixture(scope="module")
def iris():
    return reproduce(("iris",))


def test_every_applicable_optimizer_and_the_baselines_run(iris):
    (result,) = iris
    assert set(result.rows) == {"softmax", "svm (hinge)", "svm (squared hinge)"}
    for model, rows in result.rows.items():
        optimizers = {row.optimizer for row in rows if not row.is_baseline}
        expected = set(OPTIMIZERS) - ({"newton"} if model == "svm (hinge)" else set())
        assert optimizers == expected
        assert any(row.is_baseline for row in rows)
        if model != "svm (hinge)":  # smooth: the gradient test holds for the quasi-Newtons
            assert all(row.converged for row in rows if row.optimizer in ("lbfgs", "newton"))


def test_linfit_matches_logistic_regression_on_its_own_objective(iris):
    rows = iris[0].rows["softmax"]
    linfit = rows[0].objective
    sklearn = next(r.objective for r in rows if "LogisticRegression" in r.system)
    assert linfit <= sklearn * (1 + 1e-6)


def test_a_model_that_trails_its_baseline_fails():
    assert not Verdict("d", "m", "test_accuracy", 0.90, 0.95, 0.02).passed
    assert Verdict("d", "m", "test_accuracy", 0.94, 0.95, 0.02).passed
    assert Verdict("d", "m", "test_accuracy", 34 / 36, 35 / 36, 1 / 36).passed  # exactly k/n


def _without_times(markdown: str) -> list[str]:
    """Table rows with the last (time) column dropped; other lines as they are."""
    return [re.sub(r"\| [0-9.]+ \|$", "|", line) for line in markdown.splitlines()]


def test_the_committed_tables_are_what_the_run_regenerates(iris):
    committed = _without_times((RESULTS / "reproduce.md").read_text())
    regenerated = _without_times(to_markdown(iris))
    first = next(line for line in regenerated if line.startswith("## "))
    section = regenerated[regenerated.index(first) :]
    start = committed.index(section[0])
    assert committed[start : start + len(section)] == section


def test_cli_writes_the_reports_and_plots(tmp_path):
    result = invoke(["reproduce", "--dataset", "iris", "--out", str(tmp_path), "--json", "--quiet"])
    payload = json_stdout(result.stdout)
    assert payload["passed"] is True
    assert (tmp_path / "reproduce.md").read_text().startswith("# linfit reproduction run")
    assert json.loads((tmp_path / "reproduce.json").read_text()) == payload
    plots = sorted(p.name for p in (tmp_path / "plots").glob("*.png"))
    assert plots == ["iris_softmax.png", "iris_svm_hinge.png", "iris_svm_squared_hinge.png"]


def test_cli_unknown_dataset_is_one_line(tmp_path):
    result = invoke(["reproduce", "--dataset", "nope", "--out", str(tmp_path)], ok=False)
    assert result.exit_code == 2
    assert "unknown dataset 'nope'" in result.stderr
