"""Options shared by several commands, declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from linfit.models import MODELS
from linfit.optim import OPTIMIZERS

DataArg = Annotated[
    Path,
    typer.Argument(
        metavar="DATA",
        help="CSV or TSV file with a header row, Parquet, or LIBSVM (see --format); - reads stdin.",
    ),
]
ModelOpt = Annotated[
    str,
    typer.Option(
        "--model", "-m", help=f"Model: {', '.join(MODELS)}.", autocompletion=lambda: list(MODELS)
    ),
]
OptimizerOpt = Annotated[
    str | None,
    typer.Option(
        help=f"Optimizer: {', '.join(OPTIMIZERS)} (default: the model's, lbfgs).",
        autocompletion=lambda: list(OPTIMIZERS),
    ),
]
RegOpt = Annotated[float, typer.Option(help="L2 penalty: objective = mean loss + reg * ||W||^2.")]
TargetOpt = Annotated[
    str | None, typer.Option(help="Target column, by name or 0-based index (default: the last).")
]
SepOpt = Annotated[
    str | None, typer.Option(help="Field separator (default: by extension, , or tab).")
]
FormatOpt = Annotated[
    str | None,
    typer.Option(
        "--format",
        help="DATA's format: csv, tsv, parquet or libsvm (default: by extension: .parquet; "
        ".svm, .libsvm, .svmlight; .tsv, .tab; else csv).",
        autocompletion=lambda: list(_formats()),
    ),
]
EncodeOpt = Annotated[
    str, typer.Option(help="Non-numeric features: 'none' (an error) or 'onehot'.")
]
DropnaOpt = Annotated[bool, typer.Option("--dropna", help="Drop rows with missing values.")]
ImputeOpt = Annotated[
    str | None, typer.Option(help="Fill missing feature values: 'mean' (the column's mean).")
]
DtypeOpt = Annotated[str, typer.Option(help="Floating type for the data: float64 or float32.")]
SeedOpt = Annotated[
    int, typer.Option(min=0, help="Seed of the train/test split (and of sgd's shuffles).")
]
TestSizeOpt = Annotated[
    float, typer.Option(help="Fraction held out for testing, in [0, 1); 0 trains on everything.")
]
StandardizeOpt = Annotated[
    bool, typer.Option(help="Scale features to zero mean and unit variance (kept in the model).")
]
CacheOpt = Annotated[
    bool,
    typer.Option(help="Reuse the parsed copy of an unchanged file (see docs/cache.md)."),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No tables or progress on stderr.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


ChunksizeOpt = Annotated[
    int | None,
    typer.Option(
        help="Train out of core: parse DATA this many rows at a time into a binary copy on "
        "disk and read it a block at a time (automatic for files over a quarter of RAM).",
    ),
]


EngineOpt = Annotated[
    str,
    typer.Option(
        help="Where training runs: memory (this process) or dask (a dask.distributed "
        "cluster; DATA may be a glob or a folder of CSV or Parquet files).",
    ),
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option(
        help="With --engine dask: the scheduler to connect to, e.g. tcp://host:8786 "
        "(default: a local cluster of one worker process per core).",
    ),
]


def _formats() -> tuple[str, ...]:
    """The data formats' names, for shell completion (the readers load pandas: not at start)."""
    from linfit.data.formats import FORMATS

    return tuple(FORMATS)
