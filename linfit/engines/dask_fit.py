"""The Dask engine: training data on a dask.distributed cluster, the solver here.

``OnCluster`` is what ``linfit.fit`` uses for dask arrays: the rows stay on the workers,
and the optimizer runs in this process on (d + 1) K numbers. ``train_on_cluster`` is
``linfit train --engine dask``'s read, split, fit and score."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from linfit.data import align_labels
from linfit.data.features import Missing
from linfit.engines.base import zeros_start
from linfit.engines.dask_blocks import ClusterData, compute_blocks, load_blocks
from linfit.engines.dask_data import require_dask
from linfit.engines.dask_lstsq import solve_on_cluster
from linfit.engines.dask_objective import cluster_objective
from linfit.engines.weights import ClassWeight
from linfit.fitting import TrainedModel, fit
from linfit.linalg.lsq import LeastSquaresFit
from linfit.models import LeastSquares, LinearModel, ReLURegressor
from linfit.optim import Objective


@contextlib.contextmanager
def dask_client(scheduler: str | None = None) -> Iterator[Any]:
    """A client of the cluster at ``scheduler`` (e.g. ``tcp://host:8786``), or of a
    ``LocalCluster`` of worker processes (one per core) started here and closed on exit."""
    require_dask()
    from distributed import Client, LocalCluster

    if scheduler is not None:
        with Client(scheduler) as client:
            yield client
        return
    workers = max(1, min(os.cpu_count() or 1, 8))
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


@dataclass(frozen=True)
class OnCluster:
    """The Dask engine: a :class:`ClusterData`'s scaled blocks on the workers."""

    data: ClusterData

    @classmethod
    def prepare(
        cls, model: LinearModel, X: Any, y: Any, *, client: Any, standardize: bool,
        target_name: str, sample_weight: Any = None, class_weight: ClassWeight = None,
    ) -> OnCluster:  # fmt: skip
        """Bring raw dask arrays ``X`` (n, d) and ``y`` (n,) onto ``client``'s cluster
        (default: the current client), standardized, targets encoded, the rows weighed
        by ``sample_weight`` (n,) (a dask array or an array) and ``class_weight`` as in
        memory (``linfit.engines.weights``), checked on the cluster."""
        require_dask()
        if client is None:
            from distributed import get_client

            client = get_client()
        data = load_blocks(
            client, X, y, classify=model.is_classifier, standardize=standardize,
            target_name=target_name, center=model.fit_intercept, sample_weight=sample_weight,
            class_weight=class_weight,
        )  # fmt: skip
        return cls(data)

    n_samples = property(lambda self: self.data.n_samples)
    n_features = property(lambda self: self.data.n_features)
    scaler = property(lambda self: self.data.scaler)
    classes = property(lambda self: self.data.classes)
    feature_means = property(lambda self: self.data.raw_means)

    @property
    def n_outputs(self) -> int:
        return self.data.classes.size if self.data.classes is not None else 1

    def objective(self, model: LinearModel) -> Objective:
        # the model's own column count: one for a binary classifier searched on its mirror
        codes = np.arange(self.n_outputs)
        outputs = model.n_outputs(codes) if model.is_classifier else self.n_outputs
        return cluster_objective(model, self.data, outputs)

    def start(self, model: LinearModel) -> np.ndarray:
        """Zeros for convex models; ReLU's (weighted) least-squares start, solved on the
        cluster; another model's own rule, on the first block and its weights."""
        if model.convex:
            return zeros_start(model, self.n_features, self.n_outputs)
        if isinstance(model, ReLURegressor):
            ridge = LeastSquares(reg=max(model.reg, 1e-8))
            return solve_on_cluster(ridge, self.data, "lstsq").params
        return model.initial_params(*self.data.first_block())

    def least_squares(self, model: LinearModel, method: str) -> LeastSquaresFit:
        return solve_on_cluster(model, self.data, method)

    def check_solution(self, model: LinearModel, params: np.ndarray) -> None:
        model.check_solution(params, *self.data.first_block()[:2])


def cluster_scores(trained: TrainedModel, X: Any, y: Any, prefix: str, client: Any) -> dict:
    """``trained.scores(X, y, prefix)`` for raw dask arrays, from per-block counts and sums."""
    if X.shape[0] == 0:
        return {}
    blocks = [compute_blocks(client, X), compute_blocks(client, y)]
    parts = client.gather(client.map(_score_block, *blocks, trained=trained))
    if trained.classes is not None:
        return {f"{prefix}_accuracy": sum(p[0] for p in parts) / sum(p[1] for p in parts)}
    n = sum(p[1] for p in parts)
    ss_res = sum(p[0] for p in parts)
    mean = sum(p[2] * p[1] for p in parts) / n
    ss_tot = sum(p[3] + p[1] * (p[2] - mean) ** 2 for p in parts)
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else (0.0 if ss_res > 0 else 1.0)
    return {f"{prefix}_r2": float(r2), f"{prefix}_rmse": float(np.sqrt(ss_res / n))}


def _score_block(X: np.ndarray, y: np.ndarray, *, trained: TrainedModel) -> tuple:
    if X.shape[0] == 0:
        return 0, 0, 0.0, 0.0
    if trained.classes is not None:
        return int((trained.predict_codes(X) == align_labels(y, trained.classes)).sum()), X.shape[0]
    y = y.astype(np.float64)
    residual = trained.predict(X) - y
    return (
        float(residual @ residual),
        X.shape[0],
        float(y.mean()),
        float(((y - y.mean()) ** 2).sum()),
    )


def train_on_cluster(
    model: LinearModel,
    source: Any,
    *,
    client: Any,
    target: str | None = None,
    sep: str | None = None,
    file_format: str | None = None,
    test_size: float = 0.2,
    seed: int = 0,
    missing: Missing = "error",
    dtype: DTypeLike = np.float64,
    columns: dict[str, Any] | None = None,
    **fit_options: Any,
) -> tuple[TrainedModel, dict, int, int]:
    """Read ``source`` (a file, glob or folder) on the cluster, hold out ``test_size`` of
    the rows, train, and score: ``(trained, metrics, n_train, n_test)``.
    ``missing``, ``dtype`` and ``columns`` (``features``, ``drop``, ``weights``: the
    column of sample weights, which weighs the training rows) as in
    :func:`linfit.engines.dask_data.read_table`."""
    from linfit.engines.dask_data import read_table, split_table

    table = read_table(
        source, target=target, sep=sep, file_format=file_format, missing=missing, dtype=dtype,
        **(columns or {}),
    )  # fmt: skip
    train, test = split_table(table, test_size, seed) if test_size > 0 else (table, None)
    trained = fit(
        model,
        train.X,
        train.y,
        engine="dask",
        client=client,
        feature_names=table.feature_names,
        target_name=table.target_name,
        seed=seed,
        sample_weight=train.weights,
        **fit_options,
    )
    metrics = cluster_scores(trained, train.X, train.y, "train", client)
    if test is not None:
        metrics.update(cluster_scores(trained, test.X, test.y, "test", client))
    return trained, metrics, train.n_rows, 0 if test is None else test.n_rows
