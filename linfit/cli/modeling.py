"""``linfit train``, ``predict``, ``evaluate`` and ``compare``."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.table import Table

from linfit.cli.app import app
from linfit.cli.options import (
    CacheOpt,
    ChunksizeOpt,
    DataArg,
    DropnaOpt,
    DtypeOpt,
    EncodeOpt,
    EngineOpt,
    FormatOpt,
    ImputeOpt,
    JsonOpt,
    ModelOpt,
    OptimizerOpt,
    QuietOpt,
    RegOpt,
    SchedulerOpt,
    SeedOpt,
    SepOpt,
    StandardizeOpt,
    TargetOpt,
    TestSizeOpt,
)
from linfit.cli.output import (
    Progress,
    check_output,
    console,
    emit_json,
    fmt,
    kv_table,
    write_csv,
)
from linfit.cli.progress import read_progress
from linfit.errors import ConvergenceWarning, OptionError, quote_path
from linfit.fitting import TrainedModel, prepare_solver
from linfit.models import LinearModel, make_model
from linfit.optim import OPTIMIZERS, IterationRecord, Status
from linfit.optim.registry import DEFAULT_MAX_ITER
from linfit.preprocess import check_test_size
from linfit.storage import persist
from linfit.storage.atomic import atomic_write
from linfit.storage.container import looks_like_model_file

LossOpt = Annotated[str | None, typer.Option(help="SVM loss: hinge (default) or squared-hinge.")]
MarginOpt = Annotated[float | None, typer.Option(help="SVM margin Delta (default 1).")]
MulticlassOpt = Annotated[
    str | None,
    typer.Option(help="SVM multiclass form: weston-watkins (default) or one-vs-rest."),
]
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
MaxIterOpt = Annotated[
    int | None,
    typer.Option(
        help=f"Iteration limit (default {DEFAULT_MAX_ITER}"
        + "".join(
            f"; {name}: {opt.default_max_iter}{' epochs' if opt.stochastic else ''}"
            for name, opt in OPTIMIZERS.items()
            if opt.default_max_iter != DEFAULT_MAX_ITER
        )
        + ").",
        show_default=False,
    ),
]
TolOpt = Annotated[
    float,
    typer.Option(help="Stop when max |gradient| <= tol (times |objective| where that is > 1)."),
]
HistoryOpt = Annotated[
    Path | None,
    typer.Option(help="Write the optimizer's per-iteration records to this CSV file."),
]


def _plot_option(what: str) -> Any:
    return typer.Option(help=f"Draw {what} into this .png, .svg or .pdf file (needs matplotlib).")


TrainPlotOpt = Annotated[
    Path | None,
    _plot_option("the convergence plot (objective and max |gradient| by iteration and time)"),
]
EvaluatePlotOpt = Annotated[
    Path | None,
    _plot_option("a confusion matrix (classifiers) or predicted vs actual values (regressors)"),
]


def _model(
    name: str, reg: float, loss: str | None, margin: float | None, multiclass: str | None = None
) -> LinearModel:
    svm_options = {
        "variant": loss and loss.replace("-", "_"),
        "margin": margin,
        "multiclass": multiclass,
    }
    given = {key: value for key, value in svm_options.items() if value is not None}
    if given and name != "svm":
        raise OptionError(f"--loss, --margin and --multiclass apply to --model svm, not {name}")
    return make_model(name, reg=reg, **given)


@app.command(
    epilog="Example: linfit train --model svm --reg 1e-3 datasets/wine.csv --out wine.linfit"
)
def train(
    data: DataArg,
    model: ModelOpt = "softmax",
    optimizer: OptimizerOpt = None,
    reg: RegOpt = 1e-4,
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
    sep: SepOpt = None,
    file_format: FormatOpt = None,
    encode: EncodeOpt = "none",
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
    check_output(out, data, what="model file")
    if out.exists() and not force and not looks_like_model_file(out):
        raise OptionError(
            f"{quote_path(out)} exists and is not a linfit model file; choose another --out, "
            "or pass --force to replace it"
        )
    _check_side_outputs({"--out": out, "--plot": plot, "--history": history}, data)
    estimator = _model(model, reg, loss, margin, multiclass)
    # before any data is read or a cluster started: a bad flag fails at once, in one line
    prepare_solver(estimator, optimizer, lr=lr, batch_size=batch_size, gtol=tol, max_iter=max_iter)
    check_test_size(test_size)
    from linfit.fitting.workflow import train_file  # reading data: pandas, the cache

    err = console(quiet)
    with read_progress(quiet, json), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the summary says it
        run = train_file(
            data, estimator, engine=engine, scheduler=scheduler, test_size=test_size, seed=seed,
            read=dict(target=target, sep=sep, file_format=file_format, encode=encode,
                      dropna=dropna, impute=impute, dtype=dtype, cache=cache,
                      chunk_rows=chunksize),
            progress=lambda title: Progress(err, title), solver=optimizer,
            standardize=standardize, gtol=tol, max_iter=max_iter, lr=lr, batch_size=batch_size,
        )  # fmt: skip
    trained, result = run.trained, run.trained.result
    summary, metrics = trained.summary, trained.summary["metrics"]
    if engine == "dask":
        where, data_path = {"engine": engine}, None
    else:
        where, data_path = _on_disk(run.data_on_disk), run.data_on_disk
    # drawn before anything is written, so a failure to draw leaves no model without its plot
    image = None
    if plot is not None:
        image = _convergence_image(result.history, plot, estimator, summary, data)
    persist.save(trained, out)
    if image is not None:
        atomic_write(plot, lambda fh: fh.write(image), binary=True, what="plot")
    if history is not None:
        from linfit.evaluation import plots

        plots.write_history(result.history, history)
    written = {"plot": plot, "history": history}

    err.print(
        kv_table(
            "result",
            {
                "model": estimator.describe(),
                "optimizer": summary["optimizer"],
                "converged": summary["converged"],
                "why": summary["message"],
                "iterations": summary["n_iter"],
                "objective": summary["objective"],
                "max |grad|": summary["grad_norm"],
                "time s": summary["time_s"],
                **metrics,
                "saved to": str(out),
                **where,
                **{key: str(path) for key, path in written.items() if path is not None},
            },
        )
    )
    if json:
        W, b = trained.coefficients()
        emit_json(
            {
                "model": estimator.name,
                **({"engine": where["engine"]} if "engine" in where else {}),
                "optimizer": summary["optimizer"],
                "converged": summary["converged"],
                "status": summary["status"],
                "message": summary["message"],
                "n_iter": summary["n_iter"],
                "objective": summary["objective"],
                "grad_norm": summary["grad_norm"],
                "time_s": summary["time_s"],
                "metrics": metrics,
                "model_path": str(out),
                **({"data_path": str(data_path)} if data_path is not None else {}),
                "coef": _coef_table(trained, W),
                "intercept": b[0] if b.size == 1 else b,  # a scalar, like each coef
                "classes": None if trained.classes is None else trained.classes,
                **{f"{key}_path": str(path) for key, path in written.items() if path is not None},
            }
        )
    if result.status == Status.STOPPED:
        raise typer.Exit(130)


def _check_side_outputs(outputs: dict[str, Path | None], *inputs: Path) -> None:
    """Refuse, before any work, a --plot or --history that --out's checks would refuse (a
    missing folder, a directory, an input file), that another option of ``outputs``
    also writes, or a --plot of another ending than .png/.svg/.pdf or without matplotlib."""
    given = {option: path for option, path in outputs.items() if path is not None}
    where = {option: os.path.realpath(path) for option, path in given.items()}
    for option, what in (("--plot", "plot"), ("--history", "history file")):
        if option not in given:
            continue
        check_output(given[option], *inputs, what=what)
        for other in given:
            if other != option and where[other] == where[option]:
                raise OptionError(
                    f"{option} and {other} name the same file {given[option]}; give each its own"
                )
    if "--plot" in given:
        from linfit.evaluation import plots  # matplotlib's checks: only when a plot is asked

        plots.plot_format(given["--plot"])
        plots.require_matplotlib("--plot")


def _on_disk(path: Path | None) -> dict[str, str]:
    """Where the parsed binary copy of an out-of-core table is, and its size (else none)."""
    if path is None:
        return {}
    return {"data on disk": f"{path} ({path.stat().st_size / 1e6:.1f} MB)"}


def _data_name(data: Path) -> str:
    return "standard input" if str(data) == "-" else data.name


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
        f"{model.describe()} by {summary['optimizer']} on {_data_name(data)}: {outcome}, "
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


@app.command(epilog="Example: linfit predict model.linfit new.csv --out predictions.csv")
def predict(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL", help="A .linfit model file.")],
    data: DataArg,
    out: Annotated[Path | None, typer.Option(help="Write predictions to this CSV.")] = None,
    proba: Annotated[bool, typer.Option("--proba", help="Class probabilities (softmax).")] = False,
    sep: SepOpt = None,
    file_format: FormatOpt = None,
    impute: ImputeOpt = None,
    quiet: QuietOpt = False,
    json: JsonOpt = False,
) -> None:
    """Predict with a saved model; DATA's columns are matched to the model's by name.

    Non-numeric columns are encoded as they were at training; --impute mean fills gaps
    with the training means.
    """
    if out is not None:
        check_output(out, data, model_path, what="predictions file")
    from linfit.data import load_features
    from linfit.data.source import missing_mode

    trained = persist.load(model_path)
    with read_progress(quiet, json):
        X = load_features(
            data,
            trained.feature_names,
            sep=sep,
            file_format=file_format,
            encode=trained.encode,
            missing=missing_mode(False, impute),
            fill_values=trained.feature_means,
            remedies=("impute",),  # no --dropna: every row gets its prediction
        )
    if proba:
        values = trained.predict_proba(X)
        header = [f"proba_{c}" for c in trained.classes]
    else:
        values = trained.predict(X)
        header = ["prediction"] if values.ndim == 1 else [str(k) for k in range(values.shape[1])]
    columns = [values] if values.ndim == 1 else list(values.T)
    if out is not None:
        atomic_write(
            out, lambda fh: write_csv(fh, header, columns), binary=False, what="predictions file"
        )
        console(quiet).print(f"wrote {len(values)} predictions to {out}")
    if json:
        emit_json(
            {"predictions": values, "model_path": str(model_path)}
            if out is None
            else {"path": str(out), "n": len(values)}
        )
    elif out is None:
        write_csv(typer.get_text_stream("stdout"), header, columns)


@app.command(epilog="Example: linfit evaluate model.linfit datasets/iris.csv")
def evaluate(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL", help="A .linfit model file.")],
    data: DataArg,
    plot: EvaluatePlotOpt = None,
    sep: SepOpt = None,
    file_format: FormatOpt = None,
    dropna: DropnaOpt = False,
    impute: ImputeOpt = None,
    quiet: QuietOpt = False,
    json: JsonOpt = False,
) -> None:
    """Score a saved model on labelled DATA: accuracy and confusion matrix, or R^2 and RMSE."""
    _check_side_outputs({"--plot": plot}, data, model_path)
    from linfit.data import load_labeled
    from linfit.data.source import missing_mode

    trained = persist.load(model_path)
    with read_progress(quiet, json):
        ds = load_labeled(
            data,
            trained.feature_names,
            trained.target_name,
            sep=sep,
            file_format=file_format,
            encode=trained.encode,
            missing=missing_mode(dropna, impute),
            fill_values=trained.feature_means,
            remedies=("dropna", "impute"),  # the encoding is the model's, not an option
        )
    err = console(quiet)
    metrics = trained.scores(ds.X, ds.y, "eval")
    payload: dict[str, Any] = {"metrics": metrics, "n": int(ds.y.shape[0])}
    err.print(
        kv_table(f"{trained.model.describe()} on {data.name}", {**metrics, "samples": len(ds.y)})
    )
    if trained.classes is not None:
        classes = trained.classes
        matrix, unknown = trained.confusion(ds.X, ds.y)
        payload.update(confusion_matrix=matrix, classes=classes, unknown_labels=unknown)
        table = Table(
            title="confusion matrix (rows: true, columns: predicted)", title_justify="left"
        )
        table.add_column("")
        for c in classes:
            table.add_column(fmt(c), justify="right")
        for c, row in zip(classes, matrix, strict=True):
            table.add_row(fmt(c), *map(str, row))
        err.print(table)
    if plot is not None:
        from linfit.evaluation import plots

        names = {"eval_accuracy": "accuracy", "eval_r2": "R²", "eval_rmse": "RMSE"}
        title = f"{trained.model.describe()} on {_data_name(data)}: " + ", ".join(
            f"{names.get(key, key)} {value:.4g}" for key, value in metrics.items()
        )
        if trained.classes is not None:
            unknown = payload["unknown_labels"]
            note = f" ({unknown} samples of unknown labels left out)" if unknown else ""
            figure = plots.confusion_figure(payload["confusion_matrix"], classes, title + note)
        else:
            figure = plots.prediction_figure(ds.y, trained.predict(ds.X), title)
        plots.save_figure(figure, plot)
        err.print(f"wrote the plot to {plot}")
        payload["plot_path"] = str(plot)
    if json:
        emit_json(payload)


@app.command(epilog="Example: linfit compare --model softmax datasets/wine.csv")
def compare(
    data: DataArg,
    model: ModelOpt = "softmax",
    reg: RegOpt = 1e-4,
    loss: LossOpt = None,
    margin: MarginOpt = None,
    multiclass: MulticlassOpt = None,
    optimizer: OptimizerOpt = None,
    max_iter: MaxIterOpt = None,
    tol: TolOpt = 1e-6,
    target: TargetOpt = None,
    test_size: TestSizeOpt = 0.2,
    seed: SeedOpt = 0,
    sep: SepOpt = None,
    file_format: FormatOpt = None,
    encode: EncodeOpt = "none",
    dropna: DropnaOpt = False,
    impute: ImputeOpt = None,
    cache: CacheOpt = True,
    quiet: QuietOpt = False,
    json: JsonOpt = False,
) -> None:
    """Train linfit's model and scikit-learn's closest ones on the same split, side by side.

    Every row is scored with linfit's objective, so a lower objective is a better fit of
    the same problem (for baselines with another loss, e.g. one-vs-rest, it is a yardstick).
    """
    estimator = _model(model, reg, loss, margin, multiclass)
    from linfit.data.formats import require_dense
    from linfit.evaluation.comparison import compare_models
    from linfit.fitting.workflow import load_split

    with read_progress(quiet, json):
        ds, (X_train, y_train, X_test, y_test) = load_split(
            data,
            estimator,
            test_size=test_size,
            seed=seed,
            target=target,
            sep=sep,
            file_format=file_format,
            encode=encode,
            dropna=dropna,
            impute=impute,
            cache=cache,
        )
    require_dense(ds.X, "compare")  # scikit-learn's baselines are fitted on dense X
    results = compare_models(
        estimator,
        X_train,
        y_train,
        X_test,
        y_test,
        optimizers=(optimizer,),
        gtol=tol,
        max_iter=max_iter,
        seed=seed,
    )
    rows = [row.as_dict() for row in results]
    # How linfit's run ended (and, if it did not converge, what to try) goes under the
    # table: a column could not say why, and would make the regressors' table too wide.
    table = Table(
        title=f"{estimator.describe()} vs scikit-learn, reg={reg:g}",
        title_justify="left",
        caption="\n".join(
            f"{fmt(row.system)}: {fmt(row.message)}" for row in results if not row.is_baseline
        ),
        caption_justify="left",
    )
    columns = [key for key in rows[0] if key != "converged"]
    for key in columns:
        table.add_column(key, justify="left" if key == "system" else "right")
    for row in rows:
        table.add_row(*(fmt(row.get(key)) for key in columns))
    console(quiet).print(table)
    if json:
        emit_json({"rows": rows})
