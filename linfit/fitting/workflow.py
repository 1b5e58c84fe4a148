"""A training run on a file: read it, hold out a test split, ``fit``, score both splits.

``train_file`` is ``linfit train``'s work, on any engine: the table is read into memory,
or out of core when it exceeds the memory budget (``linfit.data.source``), or onto a Dask
cluster when asked, and the same ``fit`` trains on it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from linfit.data import Dataset
from linfit.data.source import ReadOptions, dtype_of, encode_mode, load_table, missing_mode
from linfit.errors import OptionError
from linfit.fitting.entry import fit
from linfit.fitting.trained import TrainedModel
from linfit.models import LinearModel
from linfit.optim import Callback
from linfit.preprocess import split_xy

# Where ``train_file`` trains: "memory" reads the table into this process (out of core
# when it exceeds the memory budget), "dask" onto a dask.distributed cluster.
FILE_ENGINES = ("memory", "dask")

# Given the title of the run, a context that yields the optimizer's callback.
ProgressFactory = Callable[[str], AbstractContextManager[Callback | None]]

Splits = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class FileRun:
    """A model trained on a file: its ``summary`` holds ``metrics``, ``n_train`` and
    ``n_test`` beside how the solver ended; ``data_on_disk`` is the parsed binary copy
    the run read out of core (None in memory or on a cluster)."""

    trained: TrainedModel
    data_on_disk: Path | None = None


def load_split(
    data: Path, model: LinearModel, read: ReadOptions, *, test_size: float, seed: int
) -> tuple[Dataset, Splits]:
    """The table (read as :func:`linfit.data.source.load_table` reads it) and its
    ``(X_train, y_train, X_test, y_test)``, stratified for classifiers; a matrix on disk
    stays there, the split selecting its rows without reading them."""
    ds = load_table(data, read)
    return ds, split_xy(ds.X, ds.y, test_size=test_size, seed=seed, stratify=model.is_classifier)


def _no_progress(title: str) -> AbstractContextManager[Callback | None]:
    return contextlib.nullcontext()


def train_file(
    data: Path,
    model: LinearModel,
    *,
    engine: str = "memory",
    scheduler: str | None = None,
    test_size: float = 0.2,
    seed: int = 0,
    read: ReadOptions | None = None,
    progress: ProgressFactory = _no_progress,
    **fit_options: Any,
) -> FileRun:
    """Train ``model`` on the file ``data``, holding out ``test_size`` of its rows.

    ``read``: how to read the table (default: as :class:`ReadOptions` defaults it);
    ``fit_options`` go to
    :func:`linfit.fit`. ``progress(title)`` is entered around the fit and yields its
    callback. On ``engine="dask"`` DATA may be a glob or a folder, read on the cluster at
    ``scheduler`` (default: a local cluster, closed on return).
    """
    read = read or ReadOptions()
    if engine not in FILE_ENGINES:
        raise OptionError(f"`engine` takes {' or '.join(FILE_ENGINES)}, got {engine!r}")
    if engine == "dask":
        return _train_on_cluster(data, model, scheduler, test_size, seed, read, progress,
                                 fit_options)  # fmt: skip
    if scheduler is not None:
        raise OptionError("`scheduler` needs `engine` dask")
    # load_table makes the library's choice: in memory, or out of core (a RowFile, which
    # fit reads by chunks) when the table exceeds the memory budget
    ds, (X_train, y_train, X_test, y_test) = load_split(
        data, model, read, test_size=test_size, seed=seed
    )
    title = f"training {model.describe()} on {X_train.shape[0]} x {X_train.shape[1]}"
    with progress(title) as callback:
        trained = fit(
            model, X_train, y_train, feature_names=ds.feature_names,
            target_name=ds.target_name, seed=seed, callback=callback,
            chunk_rows=read.chunk_rows, **fit_options,
        )  # fmt: skip
    metrics = {
        **trained.scores(X_train, y_train, "train"),
        **trained.scores(X_test, y_test, "test"),
    }
    summary = {**trained.summary, "metrics": metrics, "n_train": len(y_train),
               "n_test": len(y_test)}  # fmt: skip
    trained = replace(trained, summary=summary, encode=encode_mode(read.encode))
    return FileRun(trained, getattr(ds.X, "path", None))


def _train_on_cluster(
    data: Path,
    model: LinearModel,
    scheduler: str | None,
    test_size: float,
    seed: int,
    read: ReadOptions,
    progress: ProgressFactory,
    fit_options: dict[str, Any],
) -> FileRun:
    """``train_file`` on a Dask cluster: options it cannot honour are refused before the
    cluster starts, and so is a DATA that names no file."""
    unsupported = {
        "`chunk_rows`": read.chunk_rows is not None,
        "`encode`": read.encode != "none",
    }
    given = [flag for flag, on in unsupported.items() if on]
    if given:
        raise OptionError(f"{given[0]} is not supported with `engine` dask")
    from linfit.engines.dask_data import require_dask

    require_dask()
    from linfit.engines.dask_data import table_files
    from linfit.engines.dask_fit import dask_client, train_on_cluster

    table_files(data)  # a DATA that names no file, refused before the cluster takes seconds
    title = f"training {model.describe()} on {data} (dask)"
    with dask_client(scheduler) as client, progress(title) as callback:
        trained, metrics, n_train, n_test = train_on_cluster(
            model, str(data), client=client, callback=callback, target=read.target,
            sep=read.sep, file_format=read.file_format, test_size=test_size, seed=seed,
            missing=missing_mode(read.dropna, read.impute), dtype=dtype_of(read.dtype),
            **fit_options,
        )  # fmt: skip
    summary = {**trained.summary, "metrics": metrics, "n_train": n_train, "n_test": n_test}
    return FileRun(replace(trained, summary=summary))
