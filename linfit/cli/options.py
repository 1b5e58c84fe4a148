"""Options shared by several commands, declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from linfit.errors import OptionError
from linfit.models import MODELS, LinearModel, make_model
from linfit.optim import OPTIMIZERS
from linfit.optim.registry import DEFAULT_MAX_ITER

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
        help=(
            f"Optimizer: {', '.join(OPTIMIZERS)}, or dcd (dual coordinate descent, for "
            "one-vs-rest SVMs). Default: tron on sparse rows for a model with a Hessian, "
            "else the model's own (lbfgs; bfgs for a small hinge SVM)."
        ),
        autocompletion=lambda: [*OPTIMIZERS, "dcd"],
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
FeaturesOpt = Annotated[
    str | None,
    typer.Option(
        metavar="A,B,...",
        help="Only these columns (comma-separated) are features; the others are not read.",
    ),
]
DropOpt = Annotated[
    str | None,
    typer.Option(metavar="A,B,...", help="Every column but these (comma-separated) is a feature."),
]
WeightsOpt = Annotated[
    str | None,
    typer.Option(
        metavar="COLUMN",
        help="The column of sample weights (numbers >= 0), not a feature.",
    ),
]
ClassWeightOpt = Annotated[
    str | None,
    typer.Option(
        metavar="balanced|LABEL=W,...",
        help="Class weights (classifiers): 'balanced' (n / (classes x count)) or the file's "
        "labels with weights, e.g. 'spam=5,ham=1' (others weigh 1).",
    ),
]
WeightedMetricsOpt = Annotated[
    bool,
    typer.Option(
        "--weighted-metrics", help="Weigh the train/test metrics as the rows weigh in training."
    ),
]
CacheOpt = Annotated[
    bool,
    typer.Option(help="Reuse the parsed copy of an unchanged file (see docs/cache.md)."),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No tables or progress on stderr.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
InterceptOpt = Annotated[
    bool,
    typer.Option(
        "--intercept/--no-intercept",
        help="Fit a bias; --no-intercept holds it at zero (features are then scaled, not centred).",
    ),
]


ChunksizeOpt = Annotated[
    int | None,
    typer.Option(
        help="Train out of core: parse DATA this many rows at a time into a binary copy on "
        "disk and read it a block at a time (automatic for files over a quarter of the "
        "memory available).",
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

LossOpt = Annotated[str | None, typer.Option(help="SVM loss: hinge (default) or squared-hinge.")]
MarginOpt = Annotated[float | None, typer.Option(help="SVM margin Delta (default 1).")]
MulticlassOpt = Annotated[
    str | None,
    typer.Option(help="SVM multiclass form: weston-watkins (default) or one-vs-rest."),
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


def plot_option(what: str) -> Any:
    """The option of a plot file drawing ``what``."""
    return typer.Option(help=f"Draw {what} into this .png, .svg or .pdf file (needs matplotlib).")


def model_from_flags(
    name: str,
    reg: float,
    loss: str | None,
    margin: float | None,
    multiclass: str | None = None,
    intercept: bool = True,
) -> LinearModel:
    """The model --model, --reg, --no-intercept and the SVM's --loss, --margin and
    --multiclass describe."""
    svm_options = {
        "variant": loss and loss.replace("-", "_"),
        "margin": margin,
        "multiclass": multiclass,
    }
    given = {key: value for key, value in svm_options.items() if value is not None}
    if given and name != "svm":
        raise OptionError(f"--loss, --margin and --multiclass apply to --model svm, not {name}")
    return make_model(name, reg=reg, fit_intercept=intercept, **given)


def read_options(*, features: str | None = None, drop: str | None = None, **flags: Any) -> Any:
    """The reader flags as ``linfit.data.source.ReadOptions``, --features and --drop
    parsed from their comma-separated lists (``column_names``); the others as given."""
    from linfit.data.source import ReadOptions  # the data layer: loaded when a command reads

    return ReadOptions(features=column_names(features), drop=column_names(drop) or (), **flags)


def column_names(text: str | None) -> tuple[str, ...] | None:
    """The names of a comma-separated list (--features, --drop), spaces around each
    stripped and empty names left out; None when the flag is not given (an empty list
    given is refused by the reader, which names the flag)."""
    if text is None:
        return None
    return tuple(name.strip() for name in text.split(",") if name.strip())


def class_weight_of(text: str | None, model: LinearModel) -> str | dict[str, float] | None:
    """--class-weight as ``linfit.fit`` takes it: "balanced", or labels (as text, matched
    to the file's labels after reading) mapped to weights; refused before any data is read
    when malformed or given to a regressor."""
    if text is None:
        return None
    if not model.is_classifier:
        raise OptionError(f"--class-weight is for classifiers, not --model {model.name}")
    if text.strip() == "balanced":
        return "balanced"
    weights: dict[str, float] = {}
    for pair in filter(None, (part.strip() for part in text.split(","))):
        label, sep, value = pair.rpartition("=")
        try:
            weight = float(value)
        except ValueError:
            weight = float("nan")
        if not sep or not label.strip() or not (weight >= 0 and weight != float("inf")):
            raise OptionError(
                f"--class-weight takes 'balanced' or LABEL=WEIGHT pairs with weights >= 0, "
                f"e.g. 'spam=5,ham=1'; got {pair!r}"
            )
        weights[label.strip()] = weight
    if not weights:
        raise OptionError("--class-weight is empty; give 'balanced' or LABEL=WEIGHT pairs")
    return weights


def _formats() -> tuple[str, ...]:
    """The data formats' names, for shell completion (the readers load pandas: not at start)."""
    from linfit.data.formats import FORMATS

    return tuple(FORMATS)
