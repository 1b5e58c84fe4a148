"""`make reproduce`: rows for every model x optimizer, a verdict, and the committed tables."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import invoke, json_stdout

import linfit.evaluation.reproduce as reproduce_module
from linfit.data.bundled import BUNDLED
from linfit.evaluation.comparison import Row
from linfit.evaluation.reproduce import Verdict, reproduce, to_markdown
from linfit.models import LeastSquares, ReLURegressor
from linfit.optim import OPTIMIZERS

RESULTS = Path(__file__).resolve().parents[1] / "results"


@pytest.fixture(scope="module")
def iris():
    return reproduce(("iris",))


def test_every_applicable_optimizer_and_the_baselines_run(iris):
    (result,) = iris
    assert set(result.rows) == {"softmax", "svm (hinge)", "svm (squared hinge)"}
    for model, rows in result.rows.items():
        optimizers = {row.optimizer for row in rows if not row.is_baseline}
        exact = {name for name, opt in OPTIMIZERS.items() if not opt.stochastic}
        second_order = {name for name, opt in OPTIMIZERS.items() if opt.needs_hessian}
        expected = exact - (second_order if model == "svm (hinge)" else set())
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


def _cells(line: str) -> list[str]:
    """The cells of a markdown table row, stripped."""
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _section(lines: list[str], name: str) -> list[str]:
    """The lines of one dataset's section: its ``## name`` heading up to the next heading,
    trailing blank lines dropped."""
    start = next(i for i, line in enumerate(lines) if line.startswith(f"## {name} ("))
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    while end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end]


def test_the_committed_iris_section_is_what_the_run_regenerates(iris):
    """Only the iris section of the committed results/reproduce.md is checked against a
    regeneration here: iris takes seconds, the whole run minutes (``make reproduce``
    regenerates the rest). Within that section every line must match: the heading, the
    table header, every cell of every row except the last column, ``time (s)``, which
    varies between runs, and the verdict and note lines. The preamble (the settings) must
    match too, and the committed file must have a section for every bundled dataset."""
    committed_text = (RESULTS / "reproduce.md").read_text()
    regenerated_text = to_markdown(iris)
    committed, regenerated = committed_text.splitlines(), regenerated_text.splitlines()
    for name in BUNDLED:
        assert f"\n## {name} (" in committed_text, f"no {name} section in reproduce.md"
    preamble = regenerated[: regenerated.index(_section(regenerated, "iris")[0])]
    assert committed[: len(preamble)] == preamble

    committed, regenerated = _section(committed, "iris"), _section(regenerated, "iris")
    assert len(committed) == len(regenerated), "the iris section has a different number of lines"
    header = next(line for line in regenerated if line.startswith("| model |"))
    columns = _cells(header)
    assert columns[-1] == "time (s)"
    n_rows = 0
    for old, new in zip(committed, regenerated, strict=True):
        is_row = new.startswith("| ") and new != header
        if not is_row:  # heading, header, separator, verdicts, notes, blank lines
            assert old == new
            continue
        old_cells, new_cells = _cells(old), _cells(new)
        assert len(old_cells) == len(new_cells) == len(columns), old
        assert old_cells[:-1] == new_cells[:-1], f"committed:   {old}\nregenerated: {new}"
        assert float(old_cells[-1]) >= 0  # the time: any value, but a number
        n_rows += 1
    assert n_rows == sum(len(rows) for rows in iris[0].rows.values())


# ---- the command's exit code and the no-steps note (diabetes: the quickest dataset) -------------

DIABETES_ARGS = ["reproduce", "--dataset", "diabetes", "--no-plots", "--json"]


@pytest.fixture(scope="module")
def diabetes_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("reproduce_diabetes")
    result = invoke([*DIABETES_ARGS, "--quiet", "--out", out])
    return result, out


def test_cli_exits_0_when_every_model_is_within_tolerance(diabetes_run):
    result, out = diabetes_run
    assert result.exit_code == 0
    payload = json_stdout(result.stdout)
    assert payload["passed"] is True
    markdown = (out / "reproduce.md").read_text()
    assert "FAILS" not in markdown
    assert markdown.count(": passes") == 2  # least-squares and relu
    assert not (out / "plots").exists()  # --no-plots


def test_cli_exits_1_and_marks_the_row_when_a_model_trails(diabetes_run, tmp_path, monkeypatch):
    """A negative R^2 tolerance makes a model trail its baseline unless it beats it by that
    much: set between the two models' margins, exactly the closer one must fail."""
    passing, _ = diabetes_run
    (dataset,) = json_stdout(passing.stdout)["datasets"]
    margins = {v["model"]: v["linfit"] - v["baseline"] for v in dataset["verdicts"]}
    low, high = sorted(margins.values())
    assert high - low > 1e-5, margins  # the two models are distinguishable
    trailing = min(margins, key=margins.get)
    monkeypatch.setattr(reproduce_module, "R2_TOLERANCE", -(low + high) / 2)

    result = invoke([*DIABETES_ARGS, "--out", tmp_path], ok=False)
    assert result.exit_code == 1, (result.stderr, result.exception)
    payload = json_stdout(result.stdout)
    assert payload["passed"] is False
    verdicts = {v["model"]: v["passed"] for v in payload["datasets"][0]["verdicts"]}
    assert verdicts == {model: model != trailing for model in margins}
    verdict_lines = {
        line.split(":")[0].removeprefix("- "): line
        for line in (tmp_path / "reproduce.md").read_text().splitlines()
        if line.startswith("- ")
    }
    assert set(verdict_lines) == set(margins)
    for model, line in verdict_lines.items():
        assert line.endswith("**FAILS**" if model == trailing else ": passes"), line
    assert f"FAILS: diabetes {trailing}:" in result.stderr
    assert json.loads((tmp_path / "reproduce.json").read_text()) == payload


def test_a_model_that_starts_optimal_gets_a_note_under_its_table(diabetes_run):
    """On diabetes the ReLU starts at the least-squares solution, where every sample is
    active: it is already optimal, so every optimizer shows 0 iterations and there is no
    plot. The report says so under the table, and only for that model."""
    result, out = diabetes_run
    relu = [r for r in json_stdout(result.stdout)["datasets"][0]["rows"]["relu"] if r["converged"]]
    assert relu and all(r["n_iter"] == 0 for r in relu)
    section = _section((out / "reproduce.md").read_text().splitlines(), "diabetes")
    notes = [line for line in section if line.startswith("*Note:*")]
    assert len(notes) == 1
    (note,) = notes
    assert note.startswith(
        "*Note:* relu: 0 iterations for every optimizer, and no convergence plot"
    )
    assert "all 354 training samples are active" in note
    assert section.index(note) > max(i for i, line in enumerate(section) if line.startswith("|"))
    assert json_stdout(result.stdout)["datasets"][0]["notes"] == [note.removeprefix("*Note:* ")]


def _run(n_iter: int | None, optimizer: str | None = "lbfgs") -> Row:
    return Row(
        "s",
        1.0,
        {},
        n_iter,
        0.0,
        optimizer=optimizer,
        converged=None if optimizer is None else True,
    )


def test_the_no_steps_note_only_when_no_optimizer_stepped():
    X = np.random.default_rng(0).standard_normal((20, 3))
    y = X @ np.ones(3) + 10.0  # every least-squares prediction positive: all samples active
    note = reproduce_module._no_steps_note
    baseline = _run(None, optimizer=None)
    assert note(LeastSquares(), [_run(0), _run(3), baseline], X, y) is None
    assert note(LeastSquares(), [baseline], X, y) is None
    generic = note(LeastSquares(), [_run(0), _run(0), baseline], X, y)
    assert generic.startswith("least-squares: 0 iterations for every optimizer")
    assert "already meets the stopping test" in generic
    relu = note(ReLURegressor(reg=1e-3), [_run(0), baseline], X, y)
    assert "all 20 training samples are active" in relu


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
