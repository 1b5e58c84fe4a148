"""``linfit gradcheck``: the math, checked."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.table import Table

from linfit.cli.app import app
from linfit.cli.options import (
    DropnaOpt,
    EncodeOpt,
    FormatOpt,
    ImputeOpt,
    JsonOpt,
    QuietOpt,
    SepOpt,
    TargetOpt,
)
from linfit.cli.output import console, emit_json, fmt
from linfit.cli.progress import read_progress
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
        from linfit.data.source import ReadOptions, load_data

        read = ReadOptions(target=target, sep=sep, file_format=file_format, encode=encode,
                           dropna=dropna, impute=impute, cache=False)  # fmt: skip
        with read_progress(quiet, json):
            dataset = load_data(data, read)
        require_dense(dataset.X, "gradcheck")
        X = Scaler.fit(dataset.X).transform(dataset.X)  # every model is checked on it
    reports = []
    for m in _models_to_check(model, reg):
        if dataset is None:
            X, y, params = random_problem(m, rng)
        else:
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
    rows = [
        {
            "model": r.model,
            "max_rel_error": r.max_rel_error,
            "checked": r.checked,
            "skipped": r.skipped,
            "hessp_rel_error": r.hessp_rel_error,
            "passed": r.passed,
        }
        for r in reports
    ]
    _finish(table, rows, reports[0].tolerance, quiet, json)


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
    rows = [
        {
            "identity": r.name,
            "layout": r.layout,
            "max_rel_error": r.max_rel_error,
            "holds": r.holds,
            "counter_example": r.counter_example,
            "passed": r.passed,
        }
        for r in results
    ]
    _finish(table, rows, IDENTITY_TOLERANCE, quiet, json)


def _finish(
    table: Table, rows: list[dict[str, Any]], tolerance: float, quiet: bool, json: bool
) -> None:
    """Print a check's table, and with --json its rows; exit 1 when any row did not pass."""
    console(quiet).print(table)
    passed = all(row["passed"] for row in rows)
    if json:
        emit_json({"results": rows, "tolerance": tolerance, "passed": passed})
    if not passed:
        raise typer.Exit(1)


def _numeric(y: np.ndarray) -> np.ndarray:
    """A numeric target for regressors; labels become their codes (any y checks a gradient)."""
    if y.dtype.kind in "iuf":
        return y.astype(np.float64)
    return encode_labels(y)[1].astype(np.float64)
