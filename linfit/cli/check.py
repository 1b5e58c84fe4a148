"""``linfit gradcheck`` and ``linfit solve-ls``: the math, checked and in closed form."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.table import Table

from linfit.cli.app import app
from linfit.cli.options import (
    CacheOpt,
    ChunksizeOpt,
    DataArg,
    DropnaOpt,
    EncodeOpt,
    FormatOpt,
    ImputeOpt,
    JsonOpt,
    QuietOpt,
    SepOpt,
    TargetOpt,
)
from linfit.cli.output import console, emit_json, fmt, kv_table
from linfit.cli.progress import read_progress
from linfit.errors import ConvergenceWarning, DataError
from linfit.fitting.solvers import least_squares_methods
from linfit.models import MODELS, LinearModel, LinearSVM, make_model
from linfit.preprocess import Scaler, encode_labels


def _models_to_check(name: str, reg: float) -> list[LinearModel]:
    """Every model (and both SVM losses) for ``all``, else the one named."""
    if name != "all":
        return [make_model(name, reg=reg)]
    models: list[LinearModel] = []
    for cls in MODELS.values():
        models.append(cls(reg=reg))
        if cls is LinearSVM:
            models.append(LinearSVM(reg=reg, variant="squared_hinge"))
            models.append(LinearSVM(reg=reg, variant="squared_hinge", multiclass="one-vs-rest"))
    return models


@app.command(epilog="Example: linfit gradcheck --model all datasets/iris.csv")
def gradcheck(
    data: Annotated[
        Path | None, typer.Argument(help="Optional CSV to check on (default: random data).")
    ] = None,
    model: Annotated[str, typer.Option("--model", "-m", help="A model name, or all.")] = "all",
    reg: Annotated[float, typer.Option(help="L2 penalty at which to check.")] = 0.1,
    seed: Annotated[int, typer.Option(min=0, help="Seed for data, points and coordinates.")] = 0,
    identities: Annotated[
        bool,
        typer.Option("--identities", help="Check the notes' matrix-calculus identities instead."),
    ] = False,
    target: TargetOpt = None,
    sep: SepOpt = None,
    file_format: FormatOpt = None,
    encode: EncodeOpt = "none",
    dropna: DropnaOpt = False,
    impute: ImputeOpt = None,
    quiet: QuietOpt = False,
    json: JsonOpt = False,
) -> None:
    """Compare each model's gradient (and Hessian-vector product) with finite differences.

    DATA is read as train reads it (--target, --sep, --encode, --dropna, --impute).
    Exits 1 when any check fails.
    """
    from linfit.checks.gradcheck import check_model, random_params, random_problem

    if identities:
        _check_identities(seed, quiet, json)
        return
    rng = np.random.default_rng(seed)
    dataset = None
    if data is not None:
        from linfit.data.formats import require_dense
        from linfit.data.source import load_data

        with read_progress(quiet, json):
            dataset = load_data(
                data,
                target=target,
                sep=sep,
                file_format=file_format,
                encode=encode,
                dropna=dropna,
                impute=impute,
                cache=False,
            )
        require_dense(dataset.X, "gradcheck")
    reports = []
    for m in _models_to_check(model, reg):
        if dataset is None:
            X, y, params = random_problem(m, rng)
        else:
            X = Scaler.fit(dataset.X).transform(dataset.X)
            codes = encode_labels(dataset.y)[1] if m.is_classifier else _numeric(dataset.y)
            y, params = codes, random_params(m, X, codes, rng)
        reports.append(check_model(m, X, y, params, rng=rng))

    table = Table(title="gradient check (fourth-order central differences)", title_justify="left")
    for name in ("model", "max rel error", "H v rel error", "checked", "skipped (kinks)", "pass"):
        table.add_column(name, justify="left" if name == "model" else "right")
    for r in reports:
        table.add_row(
            r.model,
            f"{r.max_rel_error:.2e}",
            "-" if r.hessp_rel_error is None else f"{r.hessp_rel_error:.2e}",
            str(r.checked),
            str(r.skipped),
            "[green]yes[/]" if r.passed else "[red]NO[/]",
        )
    console(quiet).print(table)
    passed = all(r.passed for r in reports)
    if json:
        emit_json(
            {
                "results": [
                    {
                        "model": r.model,
                        "max_rel_error": r.max_rel_error,
                        "checked": r.checked,
                        "skipped": r.skipped,
                        "hessp_rel_error": r.hessp_rel_error,
                        "passed": r.passed,
                    }
                    for r in reports
                ],
                "tolerance": reports[0].tolerance,
                "passed": passed,
            }
        )
    if not passed:
        raise typer.Exit(1)


def _check_identities(seed: int, quiet: bool, json: bool) -> None:
    from linfit.checks.identities import TOLERANCE as IDENTITY_TOLERANCE
    from linfit.checks.identities import check_identities

    results = check_identities(seed)
    table = Table(
        title=f"matrix-calculus identities (tolerance {IDENTITY_TOLERANCE:g} relative)",
        title_justify="left",
    )
    for name in ("identity", "layout", "max rel error", "pass"):
        table.add_column(name, justify="right" if name == "max rel error" else "left")
    for r in results:
        verdict = "[green]yes[/]" if r.passed else "[red]NO[/]"
        if r.counter_example:
            verdict += " (fails, as expected)" if r.passed else " (should fail)"
        table.add_row(fmt(r.name), r.layout, f"{r.max_rel_error:.2e}", verdict)
    console(quiet).print(table)
    passed = all(r.passed for r in results)
    if json:
        emit_json(
            {
                "results": [
                    {
                        "identity": r.name,
                        "layout": r.layout,
                        "max_rel_error": r.max_rel_error,
                        "holds": r.holds,
                        "counter_example": r.counter_example,
                        "passed": r.passed,
                    }
                    for r in results
                ],
                "tolerance": IDENTITY_TOLERANCE,
                "passed": passed,
            }
        )
    if not passed:
        raise typer.Exit(1)


def _numeric(y: np.ndarray) -> np.ndarray:
    """A numeric target for regressors; labels become their codes (any y checks a gradient)."""
    if y.dtype.kind in "iuf":
        return y.astype(np.float64)
    return encode_labels(y)[1].astype(np.float64)


@app.command("solve-ls", epilog="Example: linfit solve-ls --method pinv datasets/diabetes.csv")
def solve_ls(
    data: DataArg,
    method: Annotated[
        str,
        typer.Option(
            help=f"One of: {', '.join(least_squares_methods())}.",
            autocompletion=least_squares_methods,
        ),
    ] = "normal",
    reg: Annotated[float, typer.Option(help="L2 penalty on the weights (not the bias).")] = 0.0,
    standardize: Annotated[
        bool, typer.Option(help="Standardize features first (coefficients reported raw).")
    ] = False,
    max_iter: Annotated[
        int, typer.Option(help="Iteration limit of the iterative methods (not closed forms).")
    ] = 10_000,
    tol: Annotated[
        float,
        typer.Option(
            help="Iterative methods stop when max |gradient| <= tol (times |objective| "
            "where that is > 1); closed forms ignore it."
        ),
    ] = 1e-10,
    target: TargetOpt = None,
    sep: SepOpt = None,
    file_format: FormatOpt = None,
    encode: EncodeOpt = "none",
    dropna: DropnaOpt = False,
    impute: ImputeOpt = None,
    cache: CacheOpt = True,
    chunksize: ChunksizeOpt = None,
    quiet: QuietOpt = False,
    json: JsonOpt = False,
) -> None:
    """Least squares on raw features, the bias as the coefficient of a column of ones."""
    from linfit.data.formats import require_dense
    from linfit.data.source import load_table

    with read_progress(quiet, json):
        ds = load_table(
            data,
            chunksize,
            target=target,
            sep=sep,
            file_format=file_format,
            encode=encode,
            dropna=dropna,
            impute=impute,
            cache=cache,
        )
    require_dense(ds.X, "solve-ls")
    if ds.y.dtype.kind not in "iuf":
        raise DataError(f"target {ds.target_name!r} is not numeric; least squares needs numbers")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the status row says it
        from linfit.fitting.solve_ls import solve_least_squares

        report = solve_least_squares(
            ds.X,
            ds.y.astype(np.float64),
            method=method,
            reg=reg,
            standardize=standardize,
            max_iter=max_iter,
            gtol=tol,
        )
    err = console(quiet)
    table = Table(title=fmt(f"least squares ({method}) on {data.name}"), title_justify="left")
    table.add_column("feature")
    table.add_column("coefficient", justify="right")
    for name, value in zip(ds.feature_names, report.coef, strict=True):
        table.add_row(fmt(name), f"{value:.10g}")
    table.add_row("(intercept)", f"{report.intercept:.10g}")
    err.print(table)
    err.print(
        kv_table(
            "fit",
            {
                "R^2": report.r2,
                "residual norm": report.residual_norm,
                "rank of [X, 1]": report.rank,
                "cond([X, 1])": report.cond,
                "time s": report.time_s,
                "status": report.message,
            },
        )
    )
    if json:
        emit_json(
            {
                "method": method,
                "coef": dict(zip(ds.feature_names, report.coef, strict=True)),
                "intercept": report.intercept,
                "r2": report.r2,
                "residual_norm": report.residual_norm,
                "rank": report.rank,
                "cond": report.cond,
                "time_s": report.time_s,
                "converged": report.converged,
                "message": report.message,
            }
        )
