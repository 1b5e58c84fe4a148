"""Training data held on a dask.distributed cluster as futures, one per row block.

The raw blocks are read once; statistics (row counts, exact means and variances merged
with Chan et al.'s update, non-finite counts, class labels) are computed where the
blocks live and merged on the client; the standardized blocks and the targets' codes are
then kept on the workers. A lost worker's blocks are recomputed from the files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from linfit.errors import DataError
from linfit.linalg.blocks import add_parts
from linfit.preprocess import Scaler, block_moments, encode_labels, merge_moments


@dataclass
class ClusterData:
    """Standardized features ``X`` and encoded targets ``y``, as lists of futures of
    aligned row blocks; ``weights`` are each block's share ``n_b / N`` of the rows."""

    client: Any
    X: list
    y: list
    weights: np.ndarray
    rows: tuple[int, ...]  # each block's rows
    n_samples: int
    n_features: int
    scaler: Scaler
    classes: np.ndarray | None  # (K,) original labels, classifiers only
    raw_means: np.ndarray  # (d,) the raw features' means, for imputing at prediction
    dtype: np.dtype  # the features' (float64 or float32)

    @property
    def offsets(self) -> np.ndarray:
        """(blocks + 1,) the first row of each block in the whole data, then ``n_samples``."""
        return np.concatenate([[0], np.cumsum(self.rows)])

    def map(self, fn: Any, *blocks: list, **kwargs: Any) -> list:
        """``fn(block..., **kwargs)`` on every row block, where it lives: futures."""
        return self.client.map(fn, *blocks, **kwargs)

    def tree_sum(self, parts: list) -> Any:
        """Sum (element-wise, tuples too) of futures ``parts`` by a pairwise tree on the
        workers: log2(blocks) levels, only the total comes back."""
        while len(parts) > 1:
            pairs = [parts[i : i + 2] for i in range(0, len(parts), 2)]
            parts = [self.client.submit(add_parts, *p) if len(p) == 2 else p[0] for p in pairs]
        return parts[0].result()

    def first_block(self) -> tuple[np.ndarray, np.ndarray]:
        return self.X[0].result(), self.y[0].result()


def load_blocks(
    client: Any, X: Any, y: Any, *, classify: bool, standardize: bool, target_name: str,
    center: bool = True,
) -> ClusterData:  # fmt: skip
    """Bring raw dask arrays ``X`` (n, d) and ``y`` (n,) into a :class:`ClusterData`;
    standardizing divides without centring when not ``center`` (a model without bias)."""
    if X.chunks[0] != y.chunks[0]:
        raise ValueError(f"X's row chunks {X.chunks[0]} differ from y's {y.chunks[0]}")
    if len(X.chunks[1]) != 1:
        X = X.rechunk({1: -1})
    keep = [i for i, rows in enumerate(X.chunks[0]) if rows > 0]
    raw_X = client.compute([X.to_delayed()[i, 0] for i in keep])
    raw_y = client.compute([y.to_delayed()[i] for i in keep])
    stats = client.gather(client.map(_block_stats, raw_X, raw_y, classify=classify))
    moments = merge_moments(s[:3] for s in stats)
    n, mean = moments[0], moments[1]
    if n == 0:
        raise DataError("the training data have no rows")
    bad = sum(s[3] for s in stats)
    if bad:
        raise DataError(
            f"the features have {bad} missing or infinite value(s); drop the rows with "
            "missing values (`dropna`) or fill them (`impute` mean), and fix infinite ones"
        )
    d = X.shape[1]
    scaler = Scaler.from_moments(moments) if standardize else Scaler.identity(d)
    if standardize and not center:
        scaler = scaler.uncentered()
    classes = None
    if classify:
        classes, _ = encode_labels(np.concatenate([s[4] for s in stats]))
        codes = client.map(_encode, raw_y, classes=classes)
    elif y.dtype.kind in "iufb":
        codes = client.map(_as_float, raw_y)
    else:
        raise DataError(
            f"target {target_name!r} is not numeric, but this is a regression model; "
            "use a classifier (softmax, svm) or a numeric `target`"
        )
    scaled = client.map(_scale, raw_X, scaler=scaler) if standardize else raw_X
    rows = np.array([X.chunks[0][i] for i in keep], dtype=np.float64)
    return ClusterData(
        client=client,
        X=scaled,
        y=codes,
        weights=rows / n,
        rows=tuple(int(r) for r in rows),
        n_samples=int(n),
        n_features=d,
        scaler=scaler,
        classes=classes,
        raw_means=mean,
        dtype=np.dtype(X.dtype),
    )


def _block_stats(X: np.ndarray, y: np.ndarray, *, classify: bool) -> tuple:
    """(rows, column means, sums of squared deviations, non-finite count, labels)."""
    labels = np.unique(y) if classify else None
    return *block_moments(X), int((~np.isfinite(X)).sum()), labels


def _encode(y: np.ndarray, *, classes: np.ndarray) -> np.ndarray:
    return np.searchsorted(classes, y).astype(np.int64)


def _as_float(y: np.ndarray) -> np.ndarray:
    return y.astype(np.float64)


def _scale(X: np.ndarray, *, scaler: Scaler) -> np.ndarray:
    return np.ascontiguousarray(scaler.transform(X))
