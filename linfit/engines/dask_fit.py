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
from linfit.engines.weights import ClassWeight, class_weights
from linfit.fitting import TrainedModel, fit
from linfit.fitting.workflow import row_weights
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


def cluster_scores(
    trained: TrainedModel, X: Any, y: Any, prefix: str, client: Any, weights: Any = None,
    per_class: np.ndarray | None = None,
) -> dict:  # fmt: skip
    """``trained.scores(X, y, prefix, w)`` for raw dask arrays, from per-block sums: each
    row counted by its ``weights`` (n,) (a dask array chunked as ``y``, or None: 1) times
    its class's weight ``per_class`` (K,) (None: 1), as ``fitting.workflow.row_weights``
    counts them in memory. {} when there are no rows or they weigh nothing."""
    if X.shape[0] == 0:
        return {}
    blocks = [compute_blocks(client, X), compute_blocks(client, y)]
    w_blocks = compute_blocks(client, weights) if weights is not None else [None] * len(blocks[0])
    parts = client.gather(
        client.map(_score_block, *blocks, w_blocks, trained=trained, per_class=per_class)
    )
    total = sum(p[1] for p in parts)
    if not total > 0:
        return {}
    if trained.classes is not None:
        return {f"{prefix}_accuracy": sum(p[0] for p in parts) / total}
    ss_res = sum(p[0] for p in parts)
    mean = sum(p[2] * p[1] for p in parts) / total
    ss_tot = sum(p[3] + p[1] * (p[2] - mean) ** 2 for p in parts)
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else (0.0 if ss_res > 0 else 1.0)
    return {f"{prefix}_r2": float(r2), f"{prefix}_rmse": float(np.sqrt(ss_res / total))}


def _score_block(
    X: np.ndarray, y: np.ndarray, w: np.ndarray | None, *, trained: TrainedModel,
    per_class: np.ndarray | None,
) -> tuple:  # fmt: skip
    """A block's weighted sums: (correct, weight) for a classifier; (squared residuals,
    weight, weighted mean of y, weighted squares about it) for a regressor."""
    if X.shape[0] == 0:
        return 0.0, 0.0, 0.0, 0.0
    w = np.ones(X.shape[0]) if w is None else np.asarray(w, dtype=np.float64)
    if trained.classes is not None:
        codes = trained.class_codes(y)  # the labels matched once, for the weights and the hits
        w = row_weights(trained, y, w, per_class, codes)  # times the class's, as in memory
        return float(w @ (trained.predict_codes(X) == codes)), float(w.sum())
    y = y.astype(np.float64)
    residual = trained.predict(X) - y
    weight = float(w.sum())
    mean = float(w @ y) / weight if weight > 0 else 0.0
    return float(w @ residual**2), weight, mean, float(w @ (y - mean) ** 2)


def class_counts(client: Any, y: Any, classes: np.ndarray) -> np.ndarray:
    """How many rows of dask labels ``y`` fall in each of ``classes`` (K,), block by block."""
    parts = client.gather(client.map(_count_block, compute_blocks(client, y), classes=classes))
    return np.sum(parts, axis=0) if parts else np.zeros(classes.size, dtype=np.int64)


def _count_block(y: np.ndarray, *, classes: np.ndarray) -> np.ndarray:
    codes = align_labels(y, classes)
    return np.bincount(codes[codes >= 0], minlength=classes.size)


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
    weighted_metrics: bool = False,
    **fit_options: Any,
) -> tuple[TrainedModel, dict, int, int]:
    """Read ``source`` (a file, glob or folder) on the cluster, hold out ``test_size`` of
    the rows, train, and score: ``(trained, metrics, n_train, n_test)``.
    ``missing``, ``dtype`` and ``columns`` (``features``, ``drop``, ``weights``: the
    column of sample weights, which weighs the training rows) as in
    :func:`linfit.engines.dask_data.read_table`. With ``weighted_metrics`` each row is
    scored by its sample weight times its class's weight (``class_weight``, "balanced" by
    the training rows' counts), as in memory."""
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
    per_class, class_weight = None, fit_options.get("class_weight")
    if weighted_metrics and class_weight is not None and trained.classes is not None:
        counts = class_counts(client, train.y, trained.classes)
        per_class = class_weights(class_weight, trained.classes, counts)
    scored = [("train", train)] + ([("test", test)] if test is not None else [])
    metrics: dict[str, float] = {}
    for prefix, part in scored:
        w = part.weights if weighted_metrics else None
        metrics.update(cluster_scores(trained, part.X, part.y, prefix, client, w, per_class))
    return trained, metrics, train.n_rows, 0 if test is None else test.n_rows
