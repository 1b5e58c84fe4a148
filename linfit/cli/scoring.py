"""``linfit predict`` and ``linfit evaluate``: a saved model applied to a table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from linfit.cli.app import app
from linfit.cli.options import (
    DataArg,
    DropnaOpt,
    FormatOpt,
    ImputeOpt,
    JsonOpt,
    QuietOpt,
    SepOpt,
    plot_option,
)
from linfit.cli.output import (
    check_output,
    check_side_outputs,
    console,
    data_name,
    emit_json,
    fmt,
    kv_table,
    write_csv,
)
from linfit.cli.progress import read_progress
from linfit.fitting import TrainedModel
from linfit.storage import persist
from linfit.storage.atomic import atomic_write

ModelArg = Annotated[Path, typer.Argument(metavar="MODEL", help="A .linfit model file.")]
EvaluatePlotOpt = Annotated[
    Path | None,
    plot_option("a confusion matrix (classifiers) or predicted vs actual values (regressors)"),
]


def _read_for_model(
    model_path: Path,
    data: Path,
    *,
    labelled: bool,
    sep: str | None,
    file_format: str | None,
    dropna: bool,
    impute: str | None,
    quiet: bool,
    json: bool,
) -> tuple[TrainedModel, Any]:
    """The model saved at ``model_path``, and DATA read as it was trained on (its encoding,
    and its training means for --impute mean): the features for predict, or a Dataset
    holding the target too for evaluate (``labelled``)."""
    from linfit.data import load_features, load_labeled
    from linfit.data.source import missing_mode

    trained = persist.load(model_path)
    with read_progress(quiet, json):
        read: dict[str, Any] = dict(
            sep=sep,
            file_format=file_format,
            encode=trained.encode,  # the model's, not an option
            missing=missing_mode(dropna, impute),
            fill_values=trained.feature_means,
        )
        if not labelled:  # no --dropna: every row gets its prediction
            return trained, load_features(data, trained.feature_names, remedies=("impute",), **read)
        names, target = trained.feature_names, trained.target_name
        return trained, load_labeled(data, names, target, remedies=("dropna", "impute"), **read)


@app.command(epilog="Example: linfit predict model.linfit new.csv --out predictions.csv")
def predict(
    model_path: ModelArg,
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
    trained, X = _read_for_model(
        model_path, data, labelled=False, sep=sep, file_format=file_format, dropna=False,
        impute=impute, quiet=quiet, json=json,
    )  # fmt: skip
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
    model_path: ModelArg,
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
    check_side_outputs({"--plot": plot}, data, model_path)
    trained, ds = _read_for_model(
        model_path, data, labelled=True, sep=sep, file_format=file_format, dropna=dropna,
        impute=impute, quiet=quiet, json=json,
    )  # fmt: skip
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
        title = f"{trained.model.describe()} on {data_name(data)}: " + ", ".join(
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
