"""Every model x optimizer on every bundled dataset, beside scikit-learn, with a verdict.

``make reproduce`` runs ``reproduce()`` and writes ``results/reproduce.md`` (a table per
dataset), ``results/reproduce.json`` and, where matplotlib is installed, convergence
plots. Splits and starting points are fixed, so the tables regenerate exactly except
for the timings. The run fails when a linfit model trails its best baseline by more
than ``ACCURACY_TOLERANCE`` of test accuracy (or one test sample, on a test set too small
to resolve 2 points) or ``R2_TOLERANCE`` of test R^2.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from linfit.data import load_dataset
from linfit.data.bundled import BUNDLED, bundled_path
from linfit.evaluation import plots
from linfit.evaluation.comparison import Row, compare_models
from linfit.models import LeastSquares, LinearModel, LinearSVM, ReLURegressor, SoftmaxClassifier
from linfit.optim import OPTIMIZERS
from linfit.preprocess import Scaler, split_xy

REG = 1e-3
TEST_SIZE = 0.2
SEED = 0
GTOL = 1e-6
MAX_ITER = 3000
ACCURACY_TOLERANCE = 0.02  # 2 points of test accuracy
R2_TOLERANCE = 0.02

MODELS_FOR_TASK: dict[str, tuple[LinearModel, ...]] = {
    "classification": (
        SoftmaxClassifier(reg=REG),
        LinearSVM(reg=REG),
        LinearSVM(reg=REG, variant="squared_hinge"),
    ),
    "regression": (LeastSquares(reg=REG), ReLURegressor(reg=REG)),
}


@dataclass(frozen=True)
class Verdict:
    """A linfit model's default-optimizer row against the best baseline's, on test data."""

    dataset: str
    model: str
    metric: str
    linfit: float
    baseline: float
    tolerance: float

    @property
    def passed(self) -> bool:
        return self.linfit >= self.baseline - self.tolerance - 1e-12  # k/n arithmetic rounds


@dataclass(frozen=True)
class DatasetResult:
    name: str
    task: str
    n_train: int
    n_test: int
    n_features: int
    rows: dict[str, list[Row]]  # model description -> linfit rows, then baselines
    verdicts: list[Verdict]
    notes: tuple[str, ...] = ()  # one line each, printed under the dataset's table


def reproduce(
    datasets: tuple[str, ...] | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[DatasetResult]:
    """Run every applicable model x optimizer (and the baselines) on the bundled datasets."""
    results = []
    for name in datasets or tuple(BUNDLED):
        task = BUNDLED[name].task
        ds = load_dataset(bundled_path(name))
        y = ds.y if task == "classification" else ds.y.astype(np.float64)
        X_train, y_train, X_test, y_test = split_xy(
            ds.X, y, test_size=TEST_SIZE, seed=SEED, stratify=task == "classification"
        )
        rows, verdicts, notes = {}, [], []
        for model in MODELS_FOR_TASK[task]:
            if progress is not None:
                progress(f"{name}: {model.describe()}")
            optimizers = [
                o
                for o, opt in OPTIMIZERS.items()
                if (model.has_hessian or not opt.needs_hessian) and not opt.stochastic
            ]
            optimizers.sort(key=lambda o: o != model.default_optimizer)  # the default first
            model_rows = compare_models(
                model,
                X_train,
                y_train,
                X_test,
                y_test,
                optimizers=optimizers,
                gtol=GTOL,
                max_iter=MAX_ITER,
            )
            rows[model.describe()] = model_rows
            verdicts.append(_verdict(name, model, model_rows, task, len(y_test)))
            note = _no_steps_note(model, model_rows, X_train, y_train)
            if note is not None:
                notes.append(note)
        results.append(
            DatasetResult(
                name=name,
                task=task,
                n_train=len(y_train),
                n_test=len(y_test),
                n_features=ds.X.shape[1],
                rows=rows,
                verdicts=verdicts,
                notes=tuple(notes),
            )
        )
    return results


def _no_steps_note(
    model: LinearModel, rows: list[Row], X_train: np.ndarray, y_train: np.ndarray
) -> str | None:
    """Why a model's table shows 0 iterations for every optimizer (and it has no plot):
    its start already meets the stopping test. None when any optimizer took a step."""
    runs = [row for row in rows if not row.is_baseline]
    if not runs or any(row.n_iter != 0 for row in runs):
        return None
    why = f"its start already meets the stopping test (max |gradient| <= {GTOL:g})"
    if isinstance(model, ReLURegressor):
        # where fit starts: the least-squares solution on the standardized training split
        Xs = Scaler.fit(X_train).transform(X_train)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a dead start has already warned during fit
            start = model.initial_params(Xs, y_train)
        active = model.kink_pattern(start, Xs, y_train)
        why = "training starts at the least-squares solution, " + (
            f"where all {active.size} training samples are active (w.x + b > 0), so there the "
            "ReLU objective is the least-squares one and the start is already optimal "
            f"(max |gradient| <= {GTOL:g})"
            if active.all()
            else f"which already meets the stopping test (max |gradient| <= {GTOL:g})"
        )
    return f"{model.describe()}: 0 iterations for every optimizer, and no convergence plot: {why}."


def _verdict(dataset: str, model: LinearModel, rows: list[Row], task: str, n_test: int) -> Verdict:
    metric = "test_accuracy" if task == "classification" else "test_r2"
    linfit = rows[0]  # the model's default optimizer
    best = max(r.metrics[metric] for r in rows if r.is_baseline)
    return Verdict(
        dataset=dataset,
        model=model.describe(),
        metric=metric,
        linfit=linfit.metrics[metric],
        baseline=best,
        tolerance=max(ACCURACY_TOLERANCE, 1 / n_test) if task == "classification" else R2_TOLERANCE,
    )


# ---- reports --------------------------------------------------------------------------------


def to_json(results: list[DatasetResult]) -> dict[str, Any]:
    return {
        "settings": {
            "reg": REG,
            "test_size": TEST_SIZE,
            "seed": SEED,
            "gtol": GTOL,
            "max_iter": MAX_ITER,
            "accuracy_tolerance": ACCURACY_TOLERANCE,
            "r2_tolerance": R2_TOLERANCE,
        },
        "datasets": [
            {
                "name": r.name,
                "task": r.task,
                "n_train": r.n_train,
                "n_test": r.n_test,
                "n_features": r.n_features,
                "rows": {
                    model: [row.as_dict() | {"converged": row.converged} for row in rows]
                    for model, rows in r.rows.items()
                },
                "verdicts": [v.__dict__ | {"passed": v.passed} for v in r.verdicts],
                "notes": list(r.notes),
            }
            for r in results
        ],
        "passed": all(v.passed for r in results for v in r.verdicts),
    }


def to_markdown(results: list[DatasetResult]) -> str:
    """One table per dataset; times are the only column that changes between runs."""
    lines = [
        "# linfit reproduction run",
        "",
        "Regenerate with `make reproduce` (`linfit reproduce`). Every model x optimizer on "
        "every bundled dataset, beside scikit-learn's closest models with the matched "
        f"penalty: reg = {REG:g}, a {1 - TEST_SIZE:.0%}/{TEST_SIZE:.0%} split (stratified "
        f"for classifiers, seed {SEED}), standardized features, stop at max |gradient| <= "
        f"{GTOL:g} or {MAX_ITER} iterations. *objective* is linfit's objective at each "
        "system's parameters on the training split, so all rows share one ruler; baselines "
        "with another loss (one-vs-rest) are there as a yardstick. A model *passes* when "
        f"its default optimizer's test score is within {ACCURACY_TOLERANCE:g} of accuracy "
        "(or one test sample, where the test set is too small to resolve that) or "
        f"{R2_TOLERANCE:g} of R^2 of its best baseline. Times vary between runs.",
        "",
    ]
    for r in results:
        metric = "accuracy" if r.task == "classification" else "R^2"
        lines += [
            f"## {r.name} ({r.task}; {r.n_train} train / {r.n_test} test, {r.n_features} features)",
            "",
            f"| model | system | converged | iterations | objective | train {metric} "
            f"| test {metric} | time (s) |",
            "|---|---|---|---:|---:|---:|---:|---:|",
        ]
        key = "accuracy" if r.task == "classification" else "r2"
        for model, rows in r.rows.items():
            for row in rows:
                system = row.optimizer if row.optimizer else row.system
                converged = "-" if row.converged is None else ("yes" if row.converged else "no")
                lines.append(
                    f"| {model} | {system} | {converged} | {_cell(row.n_iter)} "
                    f"| {row.objective:.8g} | {row.metrics[f'train_{key}']:.4f} "
                    f"| {row.metrics[f'test_{key}']:.4f} | {row.time_s:.3f} |"
                )
        lines.append("")
        for note in r.notes:
            lines += [f"*Note:* {note}", ""]
        for v in r.verdicts:
            mark = "passes" if v.passed else "**FAILS**"
            lines.append(
                f"- {v.model}: test {metric} {v.linfit:.4f} vs best baseline "
                f"{v.baseline:.4f} (tolerance {v.tolerance:.4f}): {mark}"
            )
        lines.append("")
    return "\n".join(lines)


def _cell(value: int | None) -> str:
    return "-" if value is None else str(value)


def plot_convergence(results: list[DatasetResult], folder: Path) -> list[Path]:
    """``f - f*`` on a log scale against iterations, every optimizer on one axis, per
    dataset and convex model; ``f*`` is the lowest objective any optimizer reached.

    Raises :class:`~linfit.optional.MissingExtraError` when matplotlib is not installed.
    """
    plots.require_matplotlib()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for r in results:
        for model, rows in r.rows.items():
            runs = [row for row in rows if not row.is_baseline]
            if not runs or "relu" in model:  # not convex: no common optimum to measure from
                continue
            if all(row.n_iter == 0 for row in runs):  # started optimal: no steps to plot
                continue
            f_star = min(min(row.history) for row in runs)
            figure = plots.new_figure(figsize=(6, 4))
            ax = figure.subplots()
            for row in runs:
                gap = np.asarray(row.history) - f_star
                plots.log_curve(ax, np.arange(gap.size), gap, label=row.optimizer)
            ax.set(title=f"{r.name}: {model}", xlabel="iteration", ylabel="f - f*")
            ax.legend()
            plots.grid(ax)
            path = (
                folder / f"{r.name}_{model.replace(' ', '_').replace('(', '').replace(')', '')}.png"
            )
            plots.save_figure(figure, path)
            paths.append(path)
    return paths
