"""``linfit train --engine dask``: the options, and the command's path through the cluster.

The work is the library's (``linfit.engines.dask_fit.train_on_cluster``); this module
checks the options, opens the cluster, saves the model and reports as ``train`` does.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any

import typer

from linfit import persist
from linfit.cli.output import Progress, console, emit_json, kv_table
from linfit.errors import DivergenceError, OptionError
from linfit.models import LinearModel
from linfit.optim import Status

ENGINES = ("memory", "dask")
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


def train_on_engine(
    engine: str,
    scheduler: str | None,
    data: Path,
    estimator: LinearModel,
    *,
    out: Path,
    quiet: bool,
    json: bool,
    unsupported: dict[str, bool],
    **options: Any,
) -> None:
    """``linfit train`` on ``engine`` (dask); ``unsupported`` maps the options that engine
    cannot honour to whether they were given."""
    if engine not in ENGINES:
        raise OptionError(f"--engine takes {' or '.join(ENGINES)}, got {engine!r}")
    if engine == "memory":
        raise OptionError("--scheduler needs --engine dask")
    given = [flag for flag, on in unsupported.items() if on]
    if given:
        raise OptionError(f"{given[0]} is not supported with --engine dask")
    from linfit.engines.dask_data import require_dask

    require_dask()
    from linfit.engines.dask_fit import dask_client, train_on_cluster

    err = console(quiet)
    with dask_client(scheduler) as client:
        with Progress(err, f"training {estimator.describe()} on {data} (dask)") as progress:
            trained, result, metrics, n_train, n_test = train_on_cluster(
                estimator, str(data), client=client, callback=progress, **options
            )
        if result.status == Status.NONFINITE:
            raise DivergenceError(
                "training diverged (the objective became NaN or infinite), so no model was "
                "saved; use the line search (drop --lr), or standardized features"
            )
    summary = {**trained.summary, "metrics": metrics, "n_train": n_train, "n_test": n_test}
    trained = dataclasses.replace(trained, summary=summary)
    persist.save(trained, out)
    keys = ("optimizer", "converged", "n_iter", "objective", "grad_norm", "time_s")
    err.print(
        kv_table(
            "result",
            {
                "model": estimator.describe(),
                "engine": "dask",
                "why": summary["message"],
                **{key: summary[key] for key in keys},
                **metrics,
                "saved to": str(out),
            },
        )
    )
    if json:
        emit_json(
            {
                "model": estimator.name,
                "engine": "dask",
                **{key: summary[key] for key in (*keys, "status", "message")},
                "metrics": metrics,
                "model_path": str(out),
                "classes": None if trained.classes is None else trained.classes,
            }
        )
    if result.status == Status.STOPPED:
        raise typer.Exit(130)
