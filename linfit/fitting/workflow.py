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
from linfit.engines.weights import ClassWeight, class_weights
from linfit.errors import OptionError
from linfit.fitting.entry import fit
from linfit.fitting.trained import TrainedModel
from linfit.models import LinearModel
from linfit.optim import Callback
from linfit.preprocess import split_rows, take_rows

# Where ``train_file`` trains: "memory" reads the table into this process (out of core
# when it exceeds the memory budget), "dask" onto a dask.distributed cluster.
FILE_ENGINES = ("memory", "dask")

# Given the title of the run, a context that yields the optimizer's callback.
ProgressFactory = Callable[[str], AbstractContextManager[Callback | None]]


@dataclass(frozen=True)
class Split:
    """A table's rows held out: features, targets and sample weights (None when the
    table has none) of the training and the test rows."""

    X_train: Any
    y_train: np.ndarray
    w_train: np.ndarray | None
    X_test: Any
    y_test: np.ndarray
    w_test: np.ndarray | None


@dataclass(frozen=True)
class FileRun:
    """A model trained on a file: its ``summary`` holds ``metrics``, ``n_train`` and
    ``n_test`` beside how the solver ended; ``data_on_disk`` is the parsed binary copy
    the run read out of core (None in memory or on a cluster)."""

    trained: TrainedModel
    data_on_disk: Path | None = None


def load_split(
    data: Path, model: LinearModel, read: ReadOptions, *, test_size: float, seed: int
) -> tuple[Dataset, Split]:
    """The table (read as :func:`linfit.data.source.load_table` reads it) and its rows
    split, stratified for classifiers; a matrix on disk stays there, the split selecting
    its rows without reading them."""
    ds = load_table(data, read)
    train, test = split_rows(ds.X, ds.y, test_size=test_size, seed=seed,
                             stratify=model.is_classifier)  # fmt: skip
    w = ds.weights
    return ds, Split(
        take_rows(ds.X, train), ds.y[train], None if w is None else w[train],
        take_rows(ds.X, test), ds.y[test], None if w is None else w[test],
    )  # fmt: skip


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
    weighted_metrics: bool = False,
    **fit_options: Any,
) -> FileRun:
    """Train ``model`` on the file ``data``, holding out ``test_size`` of its rows.

    ``read``: how to read the table (default: as :class:`ReadOptions` defaults it); its
    ``weights`` column weighs the training rows, and the metrics too with
    ``weighted_metrics``; ``fit_options`` go to :func:`linfit.fit`. ``progress(title)``
    is entered around the fit and yields its callback. On ``engine="dask"`` DATA may be a
    glob or a folder, read on the cluster at
    ``scheduler`` (default: a local cluster, closed on return).
    """
    read = read or ReadOptions()
    if weighted_metrics and read.weights is None and fit_options.get("class_weight") is None:
        raise OptionError("`weighted_metrics` needs `weights` or `class_weight` to weigh by")
    if engine not in FILE_ENGINES:
        raise OptionError(f"`engine` takes {' or '.join(FILE_ENGINES)}, got {engine!r}")
    if engine == "dask":
        return _train_on_cluster(data, model, scheduler, test_size, seed, read, progress,
                                 weighted_metrics, fit_options)  # fmt: skip
    if scheduler is not None:
        raise OptionError("`scheduler` needs `engine` dask")
    # load_table makes the library's choice: in memory, or out of core (a RowFile, which
    # fit reads by chunks) when the table exceeds the memory budget
    ds, split = load_split(data, model, read, test_size=test_size, seed=seed)
    title = f"training {model.describe()} on {split.X_train.shape[0]} x {ds.X.shape[1]}"
    with progress(title) as callback:
        trained = fit(
            model, split.X_train, split.y_train, feature_names=ds.feature_names,
            target_name=ds.target_name, seed=seed, callback=callback,
            chunk_rows=read.chunk_rows, sample_weight=split.w_train, **fit_options,
        )  # fmt: skip
    metrics = split_scores(trained, split, weighted_metrics, fit_options.get("class_weight"))
    summary = {**trained.summary, "metrics": metrics, "n_train": len(split.y_train),
               "n_test": len(split.y_test)}  # fmt: skip
    trained = replace(trained, summary=summary, encode=encode_mode(read.encode))
    return FileRun(trained, getattr(ds.X, "path", None))


def split_scores(
    trained: TrainedModel, split: Split, weighted: bool, class_weight: ClassWeight = None
) -> dict[str, float]:
    """The train and test metrics; with ``weighted``, each row counted by its sample
    weight times its class's weight, as it counted in training (the class weights of
    the training rows, "balanced" by their counts, weigh the test rows too)."""
    per_class = None
    if weighted and class_weight is not None and trained.classes is not None:
        counts = np.bincount(trained.class_codes(split.y_train), minlength=trained.classes.size)
        per_class = class_weights(class_weight, trained.classes, counts)
    parts = []
    for X, y, w, prefix in ((split.X_train, split.y_train, split.w_train, "train"),
                            (split.X_test, split.y_test, split.w_test, "test")):  # fmt: skip
        weights = row_weights(trained, y, w, per_class) if weighted else None
        parts.append(trained.scores(X, y, prefix, weights))
    return {**parts[0], **parts[1]}


def row_weights(
    trained: TrainedModel,
    y: np.ndarray,
    w: np.ndarray | None,
    per_class: np.ndarray | None,
    codes: np.ndarray | None = None,
) -> np.ndarray | None:
    """Each row's weight (n,) for weighted metrics: ``w`` times its class's weight
    ``per_class`` (K,) (a label the model never saw weighs 1); ``codes``, ``y``'s class
    codes (``trained.class_codes(y)``), when the caller has them already."""
    if per_class is None:
        return w
    codes = trained.class_codes(y) if codes is None else codes
    by_row = np.where(codes >= 0, per_class[np.maximum(codes, 0)], 1.0)
    return by_row if w is None else by_row * w


def _train_on_cluster(
    data: Path,
    model: LinearModel,
    scheduler: str | None,
    test_size: float,
    seed: int,
    read: ReadOptions,
    progress: ProgressFactory,
    weighted_metrics: bool,
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
            columns={"features": read.features, "drop": read.drop, "weights": read.weights},
            weighted_metrics=weighted_metrics, **fit_options,
        )  # fmt: skip
    summary = {**trained.summary, "metrics": metrics, "n_train": n_train, "n_test": n_test}
    return FileRun(replace(trained, summary=summary))
