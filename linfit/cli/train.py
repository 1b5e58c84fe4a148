"""``linfit train``: read a table, hold out a test split, fit, score both splits, save."""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from linfit.cli.app import app, as_flags
from linfit.cli.options import (
    CacheOpt,
    ChunksizeOpt,
    ClassWeightOpt,
    DataArg,
    DropnaOpt,
    DropOpt,
    DtypeOpt,
    EncodeOpt,
    EngineOpt,
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
    RegOpt,
    SchedulerOpt,
    SeedOpt,
    SepOpt,
    StandardizeOpt,
    TargetOpt,
    TestSizeOpt,
    TolOpt,
    WeightedMetricsOpt,
    WeightsOpt,
    class_weight_of,
    model_from_flags,
    plot_option,
    read_options,
)
from linfit.cli.output import (
    Progress,
    check_output,
    check_side_outputs,
    console,
    data_name,
    emit_json,
    kv_table,
)
from linfit.cli.progress import read_progress
from linfit.errors import ConvergenceWarning, OptionError, quote_path
from linfit.fitting import TrainedModel, prepare_solver
from linfit.models import LinearModel
from linfit.optim import IterationRecord, Status
from linfit.preprocess import check_test_size
from linfit.storage import persist
from linfit.storage.atomic import atomic_write
from linfit.storage.container import looks_like_model_file

LrOpt = Annotated[
    float | None,
    typer.Option(
        help="gd: a fixed step (default: line search); sgd: the first step (default: "
        "calibrated on a sample)."
    ),
]
BatchSizeOpt = Annotated[
    int | None, typer.Option(min=1, help="sgd: rows per mini-batch (default 256).")
]
HistoryOpt = Annotated[
    Path | None,
    typer.Option(help="Write the optimizer's per-iteration records to this CSV file."),
]
InitOpt = Annotated[
    Path | None,
    typer.Option(
        help="Start from this saved model's coefficients (a warm start): the same "
        "features and classes."
    ),
]
TrainPlotOpt = Annotated[
    Path | None,
    plot_option("the convergence plot (objective and max |gradient| by iteration and time)"),
]


@app.command(
    epilog="Example: linfit train --model svm --reg 1e-3 datasets/wine.csv --out wine.linfit"
)
def train(
    data: DataArg,
    model: ModelOpt = "softmax",
    optimizer: OptimizerOpt = None,
    reg: RegOpt = 1e-4,
    intercept: InterceptOpt = True,
    loss: LossOpt = None,
    margin: MarginOpt = None,
    multiclass: MulticlassOpt = None,
    lr: LrOpt = None,
    batch_size: BatchSizeOpt = None,
    max_iter: MaxIterOpt = None,
    tol: TolOpt = 1e-6,
    target: TargetOpt = None,
    test_size: TestSizeOpt = 0.2,
    seed: SeedOpt = 0,
    standardize: StandardizeOpt = True,
    out: Annotated[Path, typer.Option(help="Where to save the model.")] = Path("model.linfit"),
    force: Annotated[
        bool, typer.Option("--force", help="Replace --out even if it is not a model file.")
    ] = False,
    plot: TrainPlotOpt = None,
    history: HistoryOpt = None,
    init: InitOpt = None,
    sep: SepOpt = None,
    file_format: FormatOpt = None,
    encode: EncodeOpt = "none",
    features: FeaturesOpt = None,
    drop: DropOpt = None,
    weights: WeightsOpt = None,
    class_weight: ClassWeightOpt = None,
    weighted_metrics: WeightedMetricsOpt = False,
    dropna: DropnaOpt = False,
    impute: ImputeOpt = None,
    dtype: DtypeOpt = "float64",
    cache: CacheOpt = True,
    chunksize: ChunksizeOpt = None,
    engine: EngineOpt = "memory",
    scheduler: SchedulerOpt = None,
    quiet: QuietOpt = False,
    json: JsonOpt = False,
) -> None:
    """Train a model on DATA, report train/test metrics, and save it."""
    _check_model_out(out, data, force)
    check_side_outputs({"--out": out, "--plot": plot, "--history": history}, data)
    estimator = model_from_flags(model, reg, loss, margin, multiclass, intercept)
    # before any data is read or a cluster started: a bad flag fails at once, in one line
    prepare_solver(estimator, optimizer, lr=lr, batch_size=batch_size, gtol=tol, max_iter=max_iter)
    check_test_size(test_size)
    classes_weigh = class_weight_of(class_weight, estimator)
    previous = persist.load(init) if init is not None else None  # a bad file: before reading
    from linfit.fitting.workflow import train_file  # reading data: pandas, the cache

    err = console(quiet)
    with read_progress(quiet, json), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the summary says it
        run = train_file(
            data, estimator, engine=engine, scheduler=scheduler, test_size=test_size, seed=seed,
            read=read_options(target=target, sep=sep, file_format=file_format, encode=encode,
                              dropna=dropna, impute=impute, dtype=dtype, cache=cache,
                              chunk_rows=chunksize, features=features, drop=drop,
                              weights=weights),
            progress=lambda title: Progress(err, title), solver=optimizer,
            class_weight=classes_weigh, weighted_metrics=weighted_metrics, init=previous,
            standardize=standardize, gtol=tol, max_iter=max_iter, lr=lr, batch_size=batch_size,
        )  # fmt: skip
    # the advice in the summary (shown, and saved in the model file) names train's flags
    summary = {**run.trained.summary, "message": as_flags(run.trained.summary["message"], "train")}
    trained, result = replace(run.trained, summary=summary), run.trained.result
    if engine == "dask":
        where, data_path = {"engine": engine}, None
    else:
        where, data_path = _on_disk(run.data_on_disk), run.data_on_disk
    # drawn before anything is written, so a failure to draw leaves no model without its plot
    image = None
    if plot is not None:
        image = _convergence_image(result.history, plot, estimator, trained.summary, data)
    persist.save(trained, out)
    if image is not None:
        atomic_write(plot, lambda fh: fh.write(image), binary=True, what="plot")
    if history is not None:
        from linfit.evaluation import plots

        plots.write_history(result.history, history)
    written = {
        key: path for key, path in (("plot", plot), ("history", history)) if path is not None
    }
    err.print(kv_table("result", _result_rows(estimator, trained, out, where, written)))
    if json:
        emit_json(_result_json(estimator, trained, out, where, data_path, written))
    if result.status == Status.STOPPED:
        raise typer.Exit(130)


def _check_model_out(out: Path, data: Path, force: bool) -> None:
    """Refuse an --out that is an input, or an existing file that is no model (unless
    --force)."""
    check_output(out, data, what="model file")
    if out.exists() and not force and not looks_like_model_file(out):
        raise OptionError(
            f"{quote_path(out)} exists and is not a linfit model file; choose another --out, "
            "or pass --force to replace it"
        )


def _result_rows(
    model: LinearModel,
    trained: TrainedModel,
    out: Path,
    where: dict[str, str],
    written: dict[str, Path],
) -> dict[str, Any]:
    """The rows of the result table: how training ended, the metrics, what was written."""
    summary = trained.summary
    return {
        "model": model.describe(),
        "optimizer": summary["optimizer"],
        "converged": summary["converged"],
        "why": summary["message"],
        "iterations": summary["n_iter"],
        "objective": summary["objective"],
        "max |grad|": summary["grad_norm"],
        "time s": summary["time_s"],
        **summary["metrics"],
        "saved to": str(out),
        **where,
        **{key: str(path) for key, path in written.items()},
    }


def _result_json(
    model: LinearModel,
    trained: TrainedModel,
    out: Path,
    where: dict[str, str],
    data_path: Path | None,
    written: dict[str, Path],
) -> dict[str, Any]:
    """--json's object: the result table's facts, with the coefficients and the classes."""
    summary = trained.summary
    W, b = trained.coefficients()
    return {
        "model": model.name,
        **({"engine": where["engine"]} if "engine" in where else {}),
        "optimizer": summary["optimizer"],
        "converged": summary["converged"],
        "status": summary["status"],
        "message": summary["message"],
        "n_iter": summary["n_iter"],
        "objective": summary["objective"],
        "grad_norm": summary["grad_norm"],
        "time_s": summary["time_s"],
        "metrics": summary["metrics"],
        "model_path": str(out),
        **({"data_path": str(data_path)} if data_path is not None else {}),
        "coef": _coef_table(trained, W),
        "intercept": b[0] if b.size == 1 else b,  # a scalar, like each coef
        "classes": None if trained.classes is None else trained.classes,
        **{f"{key}_path": str(path) for key, path in written.items()},
    }


def _on_disk(path: Path | None) -> dict[str, str]:
    """Where the parsed binary copy of an out-of-core table is, and its size (else none)."""
    if path is None:
        return {}
    return {"data on disk": f"{path} ({path.stat().st_size / 1e6:.1f} MB)"}


def _convergence_image(
    history: tuple[IterationRecord, ...],
    path: Path,
    model: LinearModel,
    summary: dict[str, Any],
    data: Path,
) -> bytes:
    """The convergence plot of a training run, rendered in the format ``path`` asks for."""
    outcome = summary["message"].split(":")[0]  # converged, stalled, not converged, stopped
    title = (
        f"{model.describe()} by {summary['optimizer']} on {data_name(data)}: {outcome}, "
        f"{summary['n_iter']} iterations"
    )
    from linfit.evaluation import plots

    figure = plots.convergence_figure(history, title)
    return plots.figure_bytes(figure, plots.plot_format(path))


def _coef_table(trained: TrainedModel, W: np.ndarray) -> dict[str, Any]:
    """Feature name -> coefficient (a list, one per class or output, when K > 1)."""
    return {
        name: (row[0] if row.size == 1 else row)
        for name, row in zip(trained.feature_names, W, strict=True)
    }
