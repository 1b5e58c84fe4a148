"""``linfit compare``: linfit's model beside scikit-learn's closest ones, on one split."""

from __future__ import annotations

from rich.table import Table

from linfit.cli.app import app, as_flags
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
    JsonOpt,
    LossOpt,
    MarginOpt,
    MaxIterOpt,
    ModelOpt,
    MulticlassOpt,
    OptimizerOpt,
    QuietOpt,
    RegOpt,
    SeedOpt,
    SepOpt,
    TargetOpt,
    TestSizeOpt,
    TolOpt,
    WeightsOpt,
    class_weight_of,
    model_from_flags,
    read_options,
)
from linfit.cli.output import console, emit_json, fmt
from linfit.cli.progress import read_progress


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
    """Train linfit's model and scikit-learn's closest ones on the same split, side by side.

    Every row is scored with linfit's objective, so a lower objective is a better fit of
    the same problem (for baselines with another loss, e.g. one-vs-rest, it is a yardstick).
    """
    estimator = model_from_flags(model, reg, loss, margin, multiclass)
    classes_weigh = class_weight_of(class_weight, estimator)
    from linfit.data.formats import require_dense
    from linfit.evaluation.comparison import compare_models
    from linfit.fitting.workflow import load_split

    read = read_options(target=target, sep=sep, file_format=file_format, encode=encode,
                        dropna=dropna, impute=impute, cache=cache, features=features, drop=drop,
                        weights=weights)  # fmt: skip
    with read_progress(quiet, json):
        ds, split = load_split(data, estimator, read, test_size=test_size, seed=seed)
    require_dense(ds.X, "compare")  # scikit-learn's baselines are fitted on dense X
    results = compare_models(
        estimator, split.X_train, split.y_train, split.X_test, split.y_test,
        optimizers=(optimizer,), gtol=tol, max_iter=max_iter, seed=seed,
        sample_weight=split.w_train, class_weight=classes_weigh,
    )  # fmt: skip
    rows = [row.as_dict() for row in results]
    # How linfit's run ended (and, if it did not converge, what to try) goes under the
    # table: a column could not say why, and would make the regressors' table too wide.
    table = Table(
        title=f"{estimator.describe()} vs scikit-learn, reg={reg:g}",
        title_justify="left",
        caption="\n".join(
            f"{fmt(row.system)}: {fmt(as_flags(row.message, 'compare'))}"
            for row in results
            if not row.is_baseline
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
