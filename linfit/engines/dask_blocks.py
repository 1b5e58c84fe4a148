"""Training data held on a dask.distributed cluster as futures, one per row block.

The raw blocks are read once; statistics (row counts, exact means and variances merged
with Chan et al.'s update, non-finite counts, class labels, the sample weights' counts
and sums) are computed where the blocks live and merged on the client; the standardized
blocks, the targets' codes and the rows' multipliers are then kept on the workers. A lost
worker's blocks are recomputed from the files.

Sample and class weights are those of the in-memory engine (``linfit.engines.weights``):
each row's multiplier ``u_i = w_i c_(y_i) n / sum_j w_j c_(y_j)``, of mean 1 over all the
rows, held beside its block; only counts and sums per block reach the client.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from linfit.data.weights import check_weight_counts
from linfit.engines.weights import (
    ClassWeight,
    check_sample_weight,
    class_weights,
    row_multipliers,
)
from linfit.errors import DataError, OptionError
from linfit.linalg.blocks import add_parts
from linfit.preprocess import Moments, Scaler, block_moments, encode_labels, merge_moments


@dataclass
class ClusterData:
    """Standardized features ``X`` and encoded targets ``y``, as lists of futures of
    aligned row blocks; ``weights`` are each block's share ``n_b / N`` of the rows, and
    ``row_weights`` futures of each block's row multipliers (n_b,), of mean 1 over all
    the rows (None: unweighted)."""

    client: Any
    X: list
    y: list
    weights: np.ndarray
    rows: tuple[int, ...]  # each block's rows
    n_samples: int
    n_features: int
    scaler: Scaler
    classes: np.ndarray | None  # (K,) original labels, classifiers only
    raw_means: np.ndarray  # (d,) the raw features' plain means, for imputing at prediction
    dtype: np.dtype  # the features' (float64 or float32)
    row_weights: list | None = None

    @property
    def offsets(self) -> np.ndarray:
        """(blocks + 1,) the first row of each block in the whole data, then ``n_samples``."""
        return np.concatenate([[0], np.cumsum(self.rows)])

    @property
    def row_weight_blocks(self) -> list:
        """Each block's multipliers (futures), or a None per block when unweighted: an
        argument of ``map`` beside ``X`` and ``y`` either way."""
        return [None] * len(self.rows) if self.row_weights is None else self.row_weights

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

    def first_block(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """The first block's scaled rows (m, d), codes (m,) and multipliers (m,) or None."""
        w = self.row_weights[0].result() if self.row_weights is not None else None
        return self.X[0].result(), self.y[0].result(), w


class _BlockStats(NamedTuple):
    """What a block tells the client (``_block_stats``)."""

    moments: Moments  # plain, unweighted: their means are kept for prediction
    bad: int  # missing or infinite features
    labels: np.ndarray | None  # classifiers: the block's distinct labels (L,)
    label_rows: np.ndarray | None  # with class weights: each label's rows (L,)
    label_weights: np.ndarray | None  # and its sample weight (L,)
    weight_counts: tuple[int, int, int, int] | None  # missing, infinite, negative, positive
    weight_examples: tuple[np.ndarray, np.ndarray] | None  # an infinite, a negative value
    weight_sum: float


def load_blocks(
    client: Any, X: Any, y: Any, *, classify: bool, standardize: bool, target_name: str,
    center: bool = True, sample_weight: Any = None, class_weight: ClassWeight = None,
) -> ClusterData:  # fmt: skip
    """Bring raw dask arrays ``X`` (n, d) and ``y`` (n,) into a :class:`ClusterData`;
    standardizing divides without centring when not ``center`` (a model without bias).
    ``sample_weight`` (n,) (a dask array or an array here) and ``class_weight`` weigh
    the rows as the in-memory engine does, standardizing by the weighted moments."""
    if X.chunks[0] != y.chunks[0]:
        raise ValueError(f"X's row chunks {X.chunks[0]} differ from y's {y.chunks[0]}")
    if not classify:  # row_multipliers' refusal of a class weight for a regression
        row_multipliers(None, class_weight, None, np.zeros(0, dtype=np.int64))
    w = weight_array(sample_weight, X)
    if len(X.chunks[1]) != 1:
        X = X.rechunk({1: -1})
    keep = [i for i, rows in enumerate(X.chunks[0]) if rows > 0]
    raw_X, raw_y = compute_blocks(client, X, keep), compute_blocks(client, y, keep)
    raw_w = None if w is None else compute_blocks(client, w, keep)
    stats = client.gather(
        client.map(
            _block_stats, raw_X, raw_y, raw_w or [None] * len(keep), classify=classify,
            per_class=class_weight is not None,
        )
    )  # fmt: skip
    moments = merge_moments(s.moments for s in stats)
    n, mean = moments[0], moments[1]
    if n == 0:
        raise DataError("the training data have no rows")
    _refuse_values(stats, weighted=w is not None)
    classes, codes = _targets(client, raw_y, y, stats, classify=classify, target_name=target_name)
    multipliers = _multipliers(client, raw_w, codes, stats, classes, class_weight, int(n))
    if standardize and multipliers is not None:  # the weighted moments: a second pass
        moments = merge_moments(client.gather(client.map(block_moments, raw_X, multipliers)))
    d = X.shape[1]
    scaler = Scaler.from_moments(moments) if standardize else Scaler.identity(d)
    if standardize and not center:
        scaler = scaler.uncentered()
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
        row_weights=multipliers,
    )


def compute_blocks(client: Any, array: Any, keep: list[int] | None = None) -> list:
    """Futures of the row blocks ``keep`` (default: all) of a dask ``array`` whose columns
    are one chunk. Unoptimized: fusing a block with its persisted partition renames its
    key's task, which the read's checks and the split submitted as it is (the scheduler
    then logs "Detected different run_spec")."""
    delayed = array.to_delayed(optimize_graph=False)
    delayed = delayed[:, 0] if array.ndim == 2 else delayed
    return client.compute(list(delayed) if keep is None else [delayed[i] for i in keep])


def weight_array(sample_weight: Any, X: Any) -> Any:
    """``sample_weight`` as a float64 dask array (n,) chunked as ``X``'s rows, or None.
    An array here is checked here, as ``check_sample_weight`` checks it for the other
    engines; a dask array by its shape now and its values on the cluster."""
    if sample_weight is None:
        return None
    import dask.array as da

    n = X.shape[0]
    if not isinstance(sample_weight, da.Array):
        return da.from_array(check_sample_weight(sample_weight, n), chunks=(X.chunks[0],))
    if sample_weight.shape != (n,):
        raise OptionError(
            f"`sample_weight` has shape {sample_weight.shape}, but the data have {n} rows; "
            "give one weight per row"
        )
    w = sample_weight.astype(np.float64)
    return w if w.chunks[0] == X.chunks[0] else w.rechunk({0: X.chunks[0]})


def _refuse_values(stats: list[_BlockStats], *, weighted: bool) -> None:
    """Refuse bad sample weights (first, as ``make_engine`` checks them before the data
    for the other engines: ``check_weights``' refusals from the blocks' counts and
    examples), then missing or infinite features."""
    if weighted:
        missing, infinite, negative, positive = np.sum([s.weight_counts for s in stats], axis=0)
        examples = [np.concatenate([s.weight_examples[i] for s in stats])[:1] for i in (0, 1)]
        check_weight_counts(
            "sample_weight", "the data", missing=int(missing), infinite=int(infinite),
            negative=int(negative), positive=int(positive), examples=tuple(examples),
            subject="`sample_weight`",
        )  # fmt: skip
    bad = sum(s.bad for s in stats)
    if bad:
        raise DataError(
            f"the features have {bad} missing or infinite value(s); drop the rows with "
            "missing values (`dropna`) or fill them (`impute` mean), and fix infinite ones"
        )


def _targets(
    client: Any, raw_y: list, y: Any, stats: list[_BlockStats], *, classify: bool,
    target_name: str,
) -> tuple[np.ndarray | None, list]:  # fmt: skip
    """``(classes (K,) or None, futures of each block's codes or float targets)``."""
    if classify:
        classes, _ = encode_labels(np.concatenate([s.labels for s in stats]))
        return classes, client.map(_encode, raw_y, classes=classes)
    if y.dtype.kind in "iufb":
        return None, client.map(_as_float, raw_y)
    raise DataError(
        f"target {target_name!r} is not numeric, but this is a regression model; "
        "use a classifier (softmax, svm) or a numeric `target`"
    )


def _multipliers(
    client: Any, raw_w: list | None, codes: list, stats: list[_BlockStats],
    classes: np.ndarray | None, class_weight: ClassWeight, n: int,
) -> list | None:  # fmt: skip
    """Futures of each block's row multipliers (n_b,), ``row_multipliers``' of the whole
    data: the total weight comes from the blocks' sums (per class with class weights)."""
    if raw_w is None and class_weight is None:
        return None
    per_class = None
    if class_weight is None:
        total = sum(s.weight_sum for s in stats)
    else:
        rows, weight = _per_class(stats, classes)
        per_class = class_weights(class_weight, classes, rows)  # rows: each class's count
        total = float(per_class @ weight)
        if not total > 0:
            raise DataError(
                "every row weighs zero once the class weights are applied; give a class with "
                "rows a positive `class_weight`"
            )
    blocks = raw_w or [None] * len(codes)
    return client.map(_block_multipliers, blocks, codes, per_class=per_class, scale=n / total)


def _per_class(stats: list[_BlockStats], classes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each class's rows (K,) and total sample weight (K,) (its rows, unweighted), merged
    from the blocks' counts by label."""
    rows, weight = np.zeros(classes.size, dtype=np.int64), np.zeros(classes.size)
    for s in stats:
        at = np.searchsorted(classes, s.labels)
        rows[at] += s.label_rows  # a block's labels are distinct: no repeated index
        weight[at] += s.label_weights
    return rows, weight


def _block_stats(
    X: np.ndarray, y: np.ndarray, w: np.ndarray | None, *, classify: bool, per_class: bool
) -> _BlockStats:
    """The statistics of a block: ``X`` (m, d), ``y`` (m,), sample weights ``w`` (m,) or None."""
    labels = label_rows = label_weights = None
    if classify and per_class:
        labels, inverse = np.unique(y, return_inverse=True)
        label_rows = np.bincount(inverse, minlength=labels.size)
        label_weights = label_rows if w is None else np.bincount(inverse, w, labels.size)
    elif classify:
        labels = np.unique(y)
    counts = examples = None
    if w is not None:
        infinite, negative = np.isinf(w), w < 0
        counts = (
            int(np.isnan(w).sum()),
            int(infinite.sum()),
            int(negative.sum()),
            int((w > 0).sum()),
        )
        examples = w[infinite][:1], w[negative][:1]
    weight_sum = 0.0 if w is None else float(w.sum())
    return _BlockStats(
        block_moments(X), int((~np.isfinite(X)).sum()), labels, label_rows, label_weights,
        counts, examples, weight_sum,
    )  # fmt: skip


def _block_multipliers(
    w: np.ndarray | None, codes: np.ndarray, *, per_class: np.ndarray | None, scale: float
) -> np.ndarray:
    """A block's multipliers (m,): ``row_multipliers``' arithmetic, in its order."""
    u = np.ones(codes.shape[0]) if w is None else w.copy()
    if per_class is not None:
        u *= per_class[codes]
    u *= scale
    return u


def _encode(y: np.ndarray, *, classes: np.ndarray) -> np.ndarray:
    return np.searchsorted(classes, y).astype(np.int64)


def _as_float(y: np.ndarray) -> np.ndarray:
    return y.astype(np.float64)


def _scale(X: np.ndarray, *, scaler: Scaler) -> np.ndarray:
    return np.ascontiguousarray(scaler.transform(X))
