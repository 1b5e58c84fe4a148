"""``linfit datasets``: list the bundled datasets, write synthetic ones of any size."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.table import Table

from linfit.cli.app import app
from linfit.cli.options import JsonOpt, QuietOpt
from linfit.cli.output import check_output, console, emit_json, fmt

datasets = typer.Typer(
    help="The bundled datasets, and synthetic CSVs of any size.",
    epilog="Example: linfit datasets make-regression --n-samples 1000 reg.csv",
)
app.add_typer(datasets, name="datasets")

OutArg = Annotated[Path, typer.Argument(metavar="OUT.csv", help="The CSV to write.")]
SamplesOpt = Annotated[int, typer.Option(help="Rows.")]
FeaturesOpt = Annotated[int, typer.Option(help="Feature columns.")]
NoiseOpt = Annotated[float, typer.Option(help="Label/target noise (0: noiseless).")]
SeedOpt = Annotated[int, typer.Option(min=0, help="Seed: the same seed writes the same file.")]


@datasets.command("list", epilog="Example: linfit datasets list --json")
def list_(quiet: QuietOpt = False, json: JsonOpt = False) -> None:
    """The bundled datasets with their shape and task."""
    rows = []
    from linfit.data import load_dataset
    from linfit.data.bundled import BUNDLED, bundled_path

    for dataset in BUNDLED.values():
        path = bundled_path(dataset.name)
        ds = load_dataset(path) if path.exists() else None
        rows.append(
            {
                "name": dataset.name,
                "task": dataset.task,
                "samples": None if ds is None else ds.X.shape[0],
                "features": None if ds is None else ds.X.shape[1],
                "classes": None
                if ds is None or dataset.task == "regression"
                else int(np.unique(ds.y).size),
                "path": _shown(path) if ds is not None else "missing: run make datasets",
            }
        )
    table = Table(title="bundled datasets (from scikit-learn's package)", title_justify="left")
    for key in rows[0]:
        table.add_column(
            key, justify="right" if key in ("samples", "features", "classes") else "left"
        )
    for row in rows:
        table.add_row(*(fmt(value) for value in row.values()))
    console(quiet).print(table)
    if json:
        emit_json({"datasets": rows})


def _shown(path: Path) -> str:
    """The path relative to the working folder when it lies below it, else absolute."""
    relative = os.path.relpath(path)
    return path.as_posix() if relative.startswith("..") else relative


def _write(out: Path, task: str, quiet: bool, json: bool, **shape: int | float) -> None:
    check_output(out)
    start = time.perf_counter()
    from linfit.data.bundled import write_synthetic

    size = write_synthetic(out, task, **shape)
    elapsed = time.perf_counter() - start
    console(quiet).print(
        f"wrote {out}: {shape['n_samples']} rows, {size / 1e6:.1f} MB in {elapsed:.1f} s"
    )
    if json:
        emit_json({"path": str(out), "bytes": size, "time_s": elapsed, **shape})


@datasets.command(
    "make-classification",
    epilog="Example: linfit datasets make-classification --n-samples 1000000 big.csv",
)
def make_classification(
    out: OutArg,
    n_samples: SamplesOpt = 10_000,
    n_features: FeaturesOpt = 20,
    n_classes: Annotated[int, typer.Option(help="Classes (labels 0..K-1).")] = 3,
    noise: NoiseOpt = 1.0,
    seed: SeedOpt = 0,
    quiet: QuietOpt = False,
    json: JsonOpt = False,
) -> None:
    """Labels drawn from a known softmax model; written in chunks, any size."""
    _write(
        out,
        "classification",
        quiet,
        json,
        n_samples=n_samples,
        n_features=n_features,
        n_classes=n_classes,
        noise=noise,
        seed=seed,
    )


@datasets.command(
    "make-regression", epilog="Example: linfit datasets make-regression --noise 0.1 reg.csv"
)
def make_regression(
    out: OutArg,
    n_samples: SamplesOpt = 10_000,
    n_features: FeaturesOpt = 20,
    noise: NoiseOpt = 1.0,
    seed: SeedOpt = 0,
    quiet: QuietOpt = False,
    json: JsonOpt = False,
) -> None:
    """A linear target plus Gaussian noise; written in chunks, any size."""
    _write(
        out,
        "regression",
        quiet,
        json,
        n_samples=n_samples,
        n_features=n_features,
        noise=noise,
        seed=seed,
    )
