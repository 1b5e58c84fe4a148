"""``linfit cv``: k-fold cross-validation over a path of penalties; the best one refitted
on every row and saved."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.table import Table

from linfit.cli.app import app
from linfit.cli.options import (
    CacheOpt,
    ClassWeightOpt,
    DataArg,
    DropnaOpt,
    DropOpt,
    EncodeOpt,
    FeaturesOpt,
    FormatOpt,
    ImputeOpt,
    InterceptOpt,
    JsonOpt,
    LossOpt,
    MarginOpt,
    MaxIterOpt,
    ModelOpt,
    MulticlassOpt,
    OptimizerOpt,
    QuietOpt,
    SeedOpt,
    SepOpt,
    TargetOpt,
    TolOpt,
    WeightsOpt,
    class_weight_of,
    model_from_flags,
    plot_option,
    read_options,
)
from linfit.cli.output import check_output, check_side_outputs, console, emit_json, fmt
from linfit.cli.progress import read_progress
from linfit.errors import ConvergenceWarning, OptionError

PathOpt = Annotated[
    str,
    typer.Option(
        "--reg",
        metavar="LOW:HIGH:N | A,B,...",
        help="The penalties to try: N log-spaced values from LOW to HIGH, or a list.",
    ),
]
FoldsOpt = Annotated[int, typer.Option(help="Folds (stratified for classifiers).")]
MetricOpt = Annotated[
    str | None,
    typer.Option(help="accuracy or log-loss (classifiers), r2 or rmse (regressors)."),
]
OneSeOpt = Annotated[
    bool,
    typer.Option("--one-se", help="Choose the strongest penalty within one standard error."),
]


def parse_path(text: str) -> tuple[float, ...]:
    """--reg as penalties: ``LOW:HIGH:N`` (N log-spaced values, LOW and HIGH > 0) or
    ``A,B,...``; refused in one line otherwise."""
    try:
        if ":" in text:
            low, high, count = text.split(":")
            lo, hi, n = float(low), float(high), int(count)
            if not (lo > 0 and hi > 0 and n >= 1):
                raise ValueError
            return tuple(np.logspace(np.log10(lo), np.log10(hi), n).tolist())
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        values = ()
    if not values or not all(np.isfinite(v) and v >= 0 for v in values):
        raise OptionError(
            f"--reg takes LOW:HIGH:N (e.g. 1e-6:1e-1:12, LOW and HIGH > 0) or a list of "
            f"values >= 0 (e.g. 0.1,0.01); got {text!r}"
        )
    return values


@app.command(epilog="Example: linfit cv --model softmax --reg 1e-6:1e-1:12 datasets/wine.csv")
def cv(
    data: DataArg,
    model: ModelOpt = "softmax",
    reg: PathOpt = "1e-6:1e-1:12",
    folds: FoldsOpt = 5,
    metric: MetricOpt = None,
    one_se: OneSeOpt = False,
    optimizer: OptimizerOpt = None,
    intercept: InterceptOpt = True,
    loss: LossOpt = None,
    margin: MarginOpt = None,
    multiclass: MulticlassOpt = None,
    max_iter: MaxIterOpt = None,
    tol: TolOpt = 1e-6,
    seed: SeedOpt = 0,
    target: TargetOpt = None,
    out: Annotated[Path, typer.Option(help="Where to save the refitted model.")] = Path(
        "model.linfit"
    ),
    plot: Annotated[Path | None, plot_option("the validation score against reg")] = None,
    sep: SepOpt = None,
    file_format: FormatOpt = None,
    encode: EncodeOpt = "none",
    features: FeaturesOpt = None,
    drop: DropOpt = None,
    weights: WeightsOpt = None,
    class_weight: ClassWeightOpt = None,
    dropna: DropnaOpt = False,
    impute: ImputeOpt = None,
    cache: CacheOpt = True,
    quiet: QuietOpt = False,
    json: JsonOpt = False,
) -> None:
    """Cross-validate a path of penalties; refit the best on all rows and save it."""
    from linfit.fitting import prepare_solver
    from linfit.fitting.cv import check_cv_options, default_metric

    regs = parse_path(reg)
    estimator = model_from_flags(model, regs[0], loss, margin, multiclass, intercept)
    prepare_solver(estimator, optimizer, gtol=tol, max_iter=max_iter)
    metric = metric or default_metric(estimator)
    check_cv_options(estimator, regs, folds, metric)
    classes_weigh = class_weight_of(class_weight, estimator)
    check_output(out, data, what="model file")
    check_side_outputs({"--out": out, "--plot": plot}, data)
    read = read_options(target=target, sep=sep, file_format=file_format, encode=encode,
                        dropna=dropna, impute=impute, cache=cache, features=features, drop=drop,
                        weights=weights)  # fmt: skip
    result = _run(data, read, quiet, json, model=estimator, regs=regs, folds=folds, seed=seed,
                  metric=metric, one_se=one_se, class_weight=classes_weigh, solver=optimizer,
                  gtol=tol, max_iter=max_iter)  # fmt: skip
    _write(result, out, plot, data)
    console(quiet).print(_table(result, f"{estimator.describe()}, {folds} folds, {metric}"))
    if json:
        emit_json(_payload(result, out))


def _run(data: Path, read: Any, quiet: bool, json: bool, **options: Any) -> Any:
    """Read DATA into memory and cross-validate it (``options`` as ``cross_validate``
    takes them, flags checked)."""
    from linfit.data.source import load_table
    from linfit.fitting.cv import cross_validate
    from linfit.lazy import issparse

    with read_progress(quiet, json):
        ds = load_table(data, read)
    if not (isinstance(ds.X, np.ndarray) or issparse(ds.X)):
        raise OptionError(
            "cv holds the table in memory, and this one is over the memory budget; "
            "cross-validate a sample of its rows"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the table shows iterations
        return cross_validate(
            X=ds.X, y=ds.y, sample_weight=ds.weights, feature_names=ds.feature_names,
            target_name=ds.target_name, **options,
        )  # fmt: skip


def _write(result, out: Path, plot: Path | None, data: Path) -> None:
    """The refitted model, and the plot (drawn first: a failure to draw writes nothing)."""
    from linfit.storage import persist
    from linfit.storage.atomic import atomic_write

    image = None
    if plot is not None:
        from linfit.evaluation import plots

        image = plots.figure_bytes(plots.cv_figure(result, data.name), plots.plot_format(plot))
    persist.save(result.trained, out)
    if image is not None:
        atomic_write(plot, lambda fh: fh.write(image), binary=True, what="plot")


def _table(result, title: str) -> Table:
    """One row per reg: the mean and sd of the validation score, the mean iterations."""
    table = Table(title=fmt(title), title_justify="left")
    for column in ("reg", "mean", "sd", "iterations", ""):
        table.add_column(column, justify="right")
    mean, sd, nit = result.mean, result.sd, result.n_iter.mean(axis=0)
    for j, reg in enumerate(result.regs):
        mark = "best" + (" (one se)" if result.one_se else "") if j == result.best else ""
        table.add_row(f"{reg:.3g}", f"{mean[j]:.5f}", f"{sd[j]:.5f}", f"{nit[j]:.1f}", mark)
    return table


def _payload(result, out: Path) -> dict[str, Any]:
    """--json's object: the path, the scores per fold, the choice and the saved model."""
    return {
        "metric": result.metric,
        "regs": result.regs,
        "mean": result.mean,
        "sd": result.sd,
        "scores": result.scores,
        "n_iter": result.n_iter,
        "best_reg": result.best_reg,
        "one_se": result.one_se,
        "model_path": str(out),
        "time_s": result.time_s,
    }
