"""``linfit solve-ls``: least squares on raw features, with its diagnostics and the
regression table."""

from __future__ import annotations

import warnings
from typing import Annotated

import numpy as np
import typer
from rich.table import Table

from linfit.cli.app import app, as_flags
from linfit.cli.options import (
    CacheOpt,
    ChunksizeOpt,
    DataArg,
    DropnaOpt,
    DropOpt,
    EncodeOpt,
    EngineOpt,
    FeaturesOpt,
    FormatOpt,
    ImputeOpt,
    JsonOpt,
    QuietOpt,
    SchedulerOpt,
    SepOpt,
    TargetOpt,
    WeightsOpt,
    read_options,
)
from linfit.cli.output import console, emit_json, fmt, kv_table
from linfit.cli.progress import read_progress
from linfit.errors import ConvergenceWarning, DataError, OptionError
from linfit.fitting.inference import COVARIANCES
from linfit.fitting.solvers import least_squares_methods


@app.command("solve-ls", epilog="Example: linfit solve-ls --method pinv datasets/diabetes.csv")
def solve_ls(
    data: DataArg,
    method: Annotated[
        str,
        typer.Option(
            help=f"One of: {', '.join(least_squares_methods())}. auto: the normal equations "
            "when the problem is well-conditioned, else a pivoted QR; both refined.",
            autocompletion=least_squares_methods,
        ),
    ] = "auto",
    reg: Annotated[float, typer.Option(help="L2 penalty on the weights (not the bias).")] = 0.0,
    intercept: Annotated[
        bool, typer.Option("--intercept/--no-intercept", help="Fit a bias (a column of ones).")
    ] = True,
    require_full_rank: Annotated[
        bool,
        typer.Option(
            "--require-full-rank",
            help="Refuse (exit 2) a rank-deficient design instead of warning.",
        ),
    ] = False,
    alpha: Annotated[float, typer.Option(help="Confidence intervals at level 1 - alpha.")] = 0.05,
    cov: Annotated[
        str,
        typer.Option(
            help=f"Standard errors: {', '.join(COVARIANCES)} (heteroskedasticity-robust).",
            autocompletion=lambda: COVARIANCES,
        ),
    ] = "nonrobust",
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
    poly: Annotated[
        list[str] | None,
        typer.Option(
            help="COLUMN:DEGREE: the column and its powers 2..DEGREE as features "
            "(repeatable). Refinement computes them exactly from the column, in extended "
            "precision: NIST's Filip to 11 digits where its float64 powers allow 7.6."
        ),
    ] = None,
    reference: Annotated[
        list[str] | None,
        typer.Option(
            help="COLUMN=LEVEL: the level a one-hot column is measured against (repeatable). "
            "With an intercept and no penalty each categorical column leaves out one level, "
            "its first unless named here, as R and statsmodels do."
        ),
    ] = None,
    target: TargetOpt = None,
    sep: SepOpt = None,
    file_format: FormatOpt = None,
    encode: EncodeOpt = "none",
    features: FeaturesOpt = None,
    drop: DropOpt = None,
    weights: WeightsOpt = None,
    dropna: DropnaOpt = False,
    impute: ImputeOpt = None,
    cache: CacheOpt = True,
    chunksize: ChunksizeOpt = None,
    engine: EngineOpt = "memory",
    scheduler: SchedulerOpt = None,
    quiet: QuietOpt = False,
    json: JsonOpt = False,
) -> None:
    """Least squares on raw features, the bias as the coefficient of a column of ones."""
    from linfit.data.formats import require_dense
    from linfit.data.source import load_table
    from linfit.fitting.inference import check_options
    from linfit.fitting.solve_ls import solve_least_squares
    from linfit.linalg.powers import expand, parse_powers

    check_options(alpha, cov)  # before any data is read
    powers = parse_powers(poly or [])
    # contrasts only with one-hot columns: a reference, even empty, makes the read uncached
    levels = reference_levels(reference or [], intercept and reg == 0 and encode == "onehot")
    options = dict(
        method=method, reg=reg, standardize=standardize, fit_intercept=intercept,
        max_iter=max_iter, gtol=tol, require_full_rank=require_full_rank, alpha=alpha, cov=cov,
    )  # fmt: skip
    if engine == "dask":
        given = {"--encode": encode != "none", "--chunksize": chunksize is not None,
                 "--poly": bool(poly), "--reference": bool(reference),
                 "--weights": weights is not None}  # fmt: skip
        _on_cluster(data, scheduler, [flag for flag, on in given.items() if on], quiet, json,
                    read_options(target=target, sep=sep, file_format=file_format,
                                 dropna=dropna, impute=impute, features=features, drop=drop),
                    options)  # fmt: skip
        return
    if engine != "memory":
        raise OptionError(f"--engine takes memory or dask, got {engine!r}")
    with read_progress(quiet, json):
        ds = load_table(data, read_options(
            target=target, sep=sep, file_format=file_format, encode=encode, dropna=dropna,
            impute=impute, cache=cache, chunk_rows=chunksize, features=features, drop=drop,
            weights=weights, reference=levels,
        ))  # fmt: skip
    require_dense(ds.X, "solve-ls")
    if ds.y.dtype.kind not in "iuf":
        raise DataError(f"target {ds.target_name!r} is not numeric; least squares needs numbers")
    X, names, exact = ds.X, list(ds.feature_names), None
    if powers:  # a matrix on disk (--chunksize) is read into memory: powers need it there
        X, names, exact = expand(np.asarray(X, dtype=np.float64), names, powers)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the status row says it
        report = solve_least_squares(
            X, ds.y.astype(np.float64), feature_names=names, sample_weight=ds.weights,
            exact=exact, **options,
        )  # fmt: skip
    _show(report, names, f"least squares ({method}) on {data.name}", ds.reference_levels,
          quiet, json)  # fmt: skip


def _on_cluster(
    data, scheduler: str | None, refused: list[str], quiet: bool, json: bool, read, options: dict
) -> None:
    """solve-ls on a Dask cluster: the table read there, the closed forms and the table
    computed block by block (``engines/dask_lstsq.py``); the flags it cannot honour refused
    before the cluster starts."""
    if refused:
        raise OptionError(f"{refused[0]} is not supported with --engine dask")
    from linfit.data.source import missing_mode
    from linfit.engines.dask_data import read_table, require_dask, table_files
    from linfit.engines.dask_fit import dask_client
    from linfit.fitting.solve_ls import solve_least_squares

    require_dask()
    table_files(data)  # a DATA that names no file, refused before the cluster takes seconds
    with dask_client(scheduler), read_progress(quiet, json):
        table = read_table(
            str(data), target=read.target, sep=read.sep, file_format=read.file_format,
            missing=missing_mode(read.dropna, read.impute), features=read.features,
            drop=read.drop,
        )  # fmt: skip
        if table.y.dtype.kind not in "iuf":
            raise DataError(
                f"target {table.target_name!r} is not numeric; least squares needs numbers"
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # the status row says it
            report = solve_least_squares(
                table.X, table.y.astype(np.float64), feature_names=list(table.feature_names),
                **options,
            )  # fmt: skip
    title = f"least squares ({options['method']}) on {data.name} (dask)"
    _show(report, list(table.feature_names), title, {}, quiet, json)


def _show(report, names: list[str], title: str, levels: dict[str, str], quiet: bool,
          json: bool) -> None:  # fmt: skip
    """The coefficient table and the fit's, on stderr; ``--json``'s object on stdout."""
    err = console(quiet)
    err.print(_coefficients(report, names, title))
    rows = _fit_rows(report)
    if levels:
        rows["reference levels"] = ", ".join(f"{c}={v}" for c, v in levels.items())
    err.print(kv_table("fit", rows))
    if json:
        emit_json({**_payload(report, names), "reference_levels": levels})


def reference_levels(entries: list[str], contrasts: bool) -> tuple[tuple[str, str], ...] | None:
    """--reference COLUMN=LEVEL entries as the reader's pairs: with ``contrasts`` (one-hot
    encoding, an intercept, no penalty) every categorical column gets a reference level,
    the ones named or its first; without, only the columns named do (None when none is,
    so that a read of numbers alone keeps its cache entry)."""
    pairs = []
    for entry in entries:
        column, sep, level = entry.partition("=")
        if not sep or not column:
            raise OptionError(f"--reference takes COLUMN=LEVEL, e.g. cut=Fair, got {entry!r}")
        pairs.append((column, level))
    return tuple(pairs) if pairs or contrasts else None


def _coefficients(report, names: list[str], title: str) -> Table:
    """The coefficient table: with the inference table, every column of it."""
    table = Table(title=fmt(title), title_justify="left")
    table.add_column("feature")
    if report.inference is None:
        table.add_column("coefficient", justify="right")
        for name, value in zip(names, report.coef, strict=True):
            table.add_row(fmt(name), f"{value:.10g}")
        if report.fit_intercept:
            table.add_row("(intercept)", f"{report.intercept:.10g}")
        return table
    level = f"{100 * (1 - report.inference.alpha):g}%"
    for column in ("estimate", "std err", "t", "p", f"{level} low", f"{level} high"):
        table.add_column(column, justify="right")
    for name, row in report.inference.coef.items():
        table.add_row(
            fmt(name), f"{row.estimate:.10g}", f"{row.std_err:.4g}", f"{row.t:.3f}",
            f"{row.p:.3g}", f"{row.ci_low:.6g}", f"{row.ci_high:.6g}",
        )  # fmt: skip
    return table


def _fit_rows(report) -> dict[str, object]:
    rows: dict[str, object] = {"R^2": report.r2, "residual norm": report.residual_norm}
    if report.inference is not None:
        inf = report.inference
        rows.update({
            "adjusted R^2": inf.adj_r2, "residual std err": inf.residual_se,
            f"F ({inf.df_model}, {inf.df_resid})": inf.f, "p(F)": inf.f_p,
            "log-likelihood": inf.loglik, "AIC": inf.aic, "BIC": inf.bic,
            "n": inf.n, "standard errors": inf.cov,
        })  # fmt: skip
    rows.update({
        "rank of the design": report.rank, "cond (columns scaled)": report.cond,
        "digits (estimated)": round(report.digits, 1), "solved by": report.solved_by,
        "time s": report.time_s, "status": as_flags(report.message, "solve-ls"),
    })  # fmt: skip
    if report.note:
        rows["note"] = report.note
    return rows


def _payload(report, names: list[str]) -> dict[str, object]:
    payload: dict[str, object] = {
        "method": report.method,
        "solved_by": report.solved_by,
        "coef": dict(zip(names, report.coef, strict=True)),
        "intercept": report.intercept,
        "r2": report.r2,
        "residual_norm": report.residual_norm,
        "rank": report.rank,
        "cond": report.cond,
        "digits": report.digits,
        "dependencies": list(report.dependencies),
        "time_s": report.time_s,
        "converged": report.converged,
        "message": as_flags(report.message, "solve-ls"),
        "note": report.note,
    }
    if report.inference is not None:
        payload["inference"] = report.inference.to_dict()
    return payload
