"""``linfit train --engine dask``: the options, and the command's path through the cluster.

The work is the library's (``linfit.engines.dask_fit.train_on_cluster``); this module
checks the options and opens the cluster; ``train`` saves and reports as for memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from linfit.cli.output import Progress
from linfit.errors import OptionError
from linfit.models import LinearModel
from linfit.optim import OptimizeResult
from linfit.training import TrainedModel, check_diverged

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
    err: Console,
    unsupported: dict[str, bool],
    **options: Any,
) -> tuple[TrainedModel, OptimizeResult, dict, int, int]:
    """``linfit train``'s training on ``engine`` (dask): ``(trained, result, metrics,
    n_train, n_test)``, as ``train_on_cluster`` gives them; ``unsupported`` maps the options
    that engine cannot honour to whether they were given."""
    if engine not in ENGINES:
        raise OptionError(f"--engine takes {' or '.join(ENGINES)}, got {engine!r}")
    if engine == "memory":
        raise OptionError("--scheduler needs --engine dask")
    given = [flag for flag, on in unsupported.items() if on]
    if given:
        raise OptionError(f"{given[0]} is not supported with --engine dask")
    from linfit.engines.dask_data import require_dask

    require_dask()
    from linfit.engines.dask_data import table_files
    from linfit.engines.dask_fit import dask_client, train_on_cluster

    table_files(data)  # a DATA that names no file, refused before the cluster takes seconds

    title = f"training {estimator.describe()} on {data} (dask)"
    with dask_client(scheduler) as client, Progress(err, title) as progress:
        trained, result, metrics, n_train, n_test = train_on_cluster(
            estimator, str(data), client=client, callback=progress, **options
        )
        check_diverged(result)  # inside: the progress table is not left on the screen
    return trained, result, metrics, n_train, n_test
