"""Train/test splitting, standardization and class-label encoding."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from linfit.errors import DataError, OptionError
from linfit.lazy import issparse

if TYPE_CHECKING:
    from scipy.sparse import sparray, spmatrix


# (rows, column means (d,), sums of squared deviations from them (d,)) of a block of rows;
# with sample weights, (the rows' total weight, weighted means, weighted sums of squares)
Moments = tuple[float, np.ndarray, np.ndarray]


def block_moments(X: np.ndarray, weights: np.ndarray | None = None) -> Moments:
    """The moments of a block of rows ``X`` (n, d), in float64, each row counted
    ``weights[i]`` times (once without weights)."""
    block = np.asarray(X, dtype=np.float64)
    if weights is None:
        n = block.shape[0]
        mean = block.mean(axis=0) if n else np.zeros(block.shape[1])
        return n, mean, ((block - mean) ** 2).sum(axis=0)
    total = float(weights.sum())
    mean = weights @ block / total if total > 0 else np.zeros(block.shape[1])
    return total, mean, weights @ (block - mean) ** 2


def merge_moments(parts: Iterable[Moments]) -> Moments:
    """Blocks' moments merged in order by Chan et al.'s update, which stays exact where a
    running sum of squares would cancel; the one merge that chunks on disk and a
    cluster's blocks share."""
    count, mean, m2 = 0, None, None
    for n_b, mean_b, m2_b in parts:
        if mean is None:
            mean, m2 = np.zeros_like(mean_b), np.zeros_like(m2_b)
        if n_b == 0:  # no rows, or rows of weight 0
            continue
        delta, total = mean_b - mean, count + n_b
        mean = mean + delta * (n_b / total)
        m2 = m2 + m2_b + delta**2 * (count * n_b / total)
        count = total
    return count, mean, m2


def _unit_if_constant(scale: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """``scale`` with 1 for each constant feature (left centred, not blown up)."""
    scale[scale <= 1e-12 * np.maximum(np.abs(mean), 1.0)] = 1.0
    return scale


@dataclass(frozen=True)
class Scaler:
    """Per-feature ``(x - mean) / scale``; a constant feature gets scale 1 (left centred)."""

    mean: np.ndarray  # (n_features,)
    scale: np.ndarray  # (n_features,)

    def uncentered(self) -> Scaler:
        """The scaler for a model without intercept: centring would put one back (the bias
        absorbs the means), so features are only divided, by their root mean square."""
        return Scaler(mean=np.zeros_like(self.mean), scale=np.hypot(self.mean, self.scale))

    @classmethod
    def fit(cls, X: np.ndarray, weights: np.ndarray | None = None) -> Scaler:
        """The means and standard deviations of ``X`` (n, d), dense or sparse, each row
        counted ``weights[i]`` times (n,) when given: a row of integer weight m scales as
        m copies of it would."""
        if issparse(X):
            return cls.fit_sparse(X, weights)
        if weights is not None:
            return cls.from_moments(block_moments(X, weights))
        mean = X.mean(axis=0, dtype=np.float64)
        return cls(mean=mean, scale=_unit_if_constant(X.std(axis=0, dtype=np.float64), mean))

    @classmethod
    def fit_chunks(
        cls, X: np.ndarray, chunk_rows: int, weights: np.ndarray | None = None
    ) -> Scaler:
        """As ``fit``, reading ``X`` (n, d) a chunk of rows at a time (e.g. a memmap).

        Per-chunk means and sums of squared deviations are merged with Chan et al.'s
        update, which stays exact where a running sum of squares would cancel.
        """
        chunks = (slice(start, start + chunk_rows) for start in range(0, X.shape[0], chunk_rows))
        return cls.from_moments(
            merge_moments(
                block_moments(X[rows], None if weights is None else weights[rows])
                for rows in chunks
            )
        )

    @classmethod
    def from_moments(cls, moments: Moments) -> Scaler:
        """The scaler of data whose merged ``(rows, means, sums of squared deviations)``
        are ``moments`` (see ``merge_moments``)."""
        count, mean, m2 = moments
        return cls(mean=mean, scale=_unit_if_constant(np.sqrt(m2 / count), mean))

    @classmethod
    def fit_sparse(cls, X: spmatrix | sparray, weights: np.ndarray | None = None) -> Scaler:
        """For a sparse ``X`` (n, d): scale each column by its standard deviation, and
        centre only the columns stored in every row (a one-hot table's numeric features,
        ``linfit.data.features.sparse_columns_matrix``): subtracting a mean from their
        stored values fills nothing in, where centring any other column would fill in its
        zeros (``mean`` is 0 for those). The deviation is exact (two passes over the stored
        values), as ``fit``'s; ``weights`` (n,) count each row as ``fit``'s do."""
        X = X.tocsr()
        n, d = X.shape
        # one temporary as long as the stored values, where there were four: each is
        # faulted in page by page (480,000 x 3,017 one-hot, 8.6 M values: 0.3-0.6 s cold)
        values = X.data.astype(np.float64, copy=False)
        stored = np.bincount(X.indices, minlength=d)
        if weights is None:
            total, w_value = float(n), None
            present = stored
        else:  # each stored value carries its row's weight
            total = float(weights.sum())
            w_value = np.repeat(weights, np.diff(X.indptr))
            present = np.bincount(X.indices, weights=w_value, minlength=d)
        weighted = values if w_value is None else values * w_value
        mean = np.bincount(X.indices, weights=weighted, minlength=d) / total
        squared = mean[X.indices]
        np.subtract(values, squared, out=squared)  # the deviation, squared in place
        np.multiply(squared, squared, out=squared)
        if w_value is not None:
            squared *= w_value
        squares = np.bincount(X.indices, weights=squared, minlength=d)
        scale = np.sqrt((squares + (total - present) * mean * mean) / total)
        # a column stored twice in a row (uncanonical CSR) would count as full: not centred
        full = (stored == n) & X.has_canonical_format
        return cls(mean=np.where(full, mean, 0.0), scale=_unit_if_constant(scale, mean))

    @classmethod
    def identity(cls, n_features: int) -> Scaler:
        return cls(mean=np.zeros(n_features), scale=np.ones(n_features))

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Scaled copy of ``X`` (n_samples, n_features), same dtype, C-contiguous; a sparse
        ``X`` gives a CSR copy whose centred columns (``fit_sparse``) are stored in every
        row: a row that lacks one gets it stored (its -mean / scale), so only those columns
        fill in; where that would more than double the stored values, a ValueError."""
        if issparse(X):
            return self._transform_sparse(X)
        out = X - self.mean.astype(X.dtype, copy=False)
        out /= self.scale.astype(X.dtype, copy=False)
        return out

    def _transform_sparse(self, X: spmatrix | sparray) -> spmatrix:
        out = X.tocsr(copy=True)
        out.sum_duplicates()  # canonical: each (row, column) stored once
        centred = np.flatnonzero(self.mean)
        if centred.size:
            lacking = out.shape[0] * centred.size - int(
                np.bincount(out.indices, minlength=out.shape[1])[centred].sum()
            )
            if lacking > out.nnz:  # e.g. a scaler fit on dense data, applied to sparse
                raise ValueError(
                    "centring would make a sparse matrix dense; fit the Scaler on sparse data "
                    "(it centres only the columns stored in every row), or fold the centring "
                    "into the weights"
                )
            if lacking:
                out = _stored_in_every_row(out, centred)
            out.data -= self.mean[out.indices].astype(X.dtype, copy=False)
        out.data /= self.scale[out.indices].astype(X.dtype, copy=False)
        return out

    def lazy_transform(self, X: Any) -> Any:
        """``transform(X)`` for an array; for a matrix on disk, a view that scales each
        block of rows as it is read, so nothing is read now."""
        return self.transform(X) if isinstance(X, np.ndarray) else ScaledRows(X, self)

    def unscale(self, W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weights for scaled inputs to weights for raw inputs: ``x.W' + b' == z.W + b``."""
        W_raw = W / self.scale[:, None]
        return W_raw, b - self.mean @ W_raw


def _stored_in_every_row(X: spmatrix, columns: np.ndarray) -> spmatrix:
    """CSR ``X`` (n, d), canonical, with an explicit zero wherever a row does not store
    one of ``columns``: the same matrix, with those columns stored in every row."""
    import scipy.sparse as sp  # X is sparse: scipy is loaded already

    n, d = X.shape
    rows = np.repeat(np.arange(n), np.diff(X.indptr))
    wanted = np.zeros(d, dtype=bool)
    wanted[columns] = True
    has = np.zeros((n, columns.size), dtype=bool)
    slot = np.full(d, -1)
    slot[columns] = np.arange(columns.size)
    on = wanted[X.indices]
    has[rows[on], slot[X.indices[on]]] = True
    lack_rows, lack_slots = np.nonzero(~has)
    # the COO-to-CSR conversion keeps explicit zeros (a sum would drop them)
    return sp.csr_matrix(
        (
            np.concatenate([X.data, np.zeros(lack_rows.size, dtype=X.dtype)]),
            (np.concatenate([rows, lack_rows]), np.concatenate([X.indices, columns[lack_slots]])),
        ),
        shape=(n, d),
    )


@dataclass(frozen=True)
class ScaledRows:
    """Rows of a matrix on disk (e.g. a RowFile), scaled by ``scaler`` as they are read."""

    source: Any
    scaler: Scaler

    @property
    def shape(self) -> tuple[int, int]:
        return self.source.shape

    @property
    def dtype(self) -> np.dtype:
        return self.source.dtype

    ndim = 2

    def __len__(self) -> int:
        return self.source.shape[0]

    def __getitem__(self, rows: slice) -> np.ndarray:
        return self.scaler.transform(np.asarray(self.source[rows]))


def encode_labels(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Class labels to codes: returns ``(classes (K,), codes (n,) int64)``, classes sorted."""
    classes, codes = np.unique(y, return_inverse=True)
    if classes.size < 2:
        found = f"a single class ({classes.tolist()[0]!r})" if classes.size else "no labels"
        raise DataError(
            f"the target has {found}; a classifier needs at least two "
            "(check `target`, or use a regression model)"
        )
    return classes, codes.astype(np.int64)


def check_test_size(test_size: float) -> None:
    """Refuse a ``test_size`` outside [0, 1)."""
    if not 0.0 <= test_size < 1.0:
        raise OptionError(
            f"`test_size` must be in [0, 1) (0 trains on everything), got {test_size}"
        )


def train_test_split(
    n_samples: int,
    test_size: float,
    *,
    seed: int,
    strata: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Index arrays ``(train, test)``; stratified on ``strata`` (class codes) when given.

    Stratified: the test set has ``round(test_size * n_samples)`` samples, shared among
    classes in proportion to their counts (largest remainders get the rounding), and
    every class keeps at least one training sample, so a model sees every class.
    """
    check_test_size(test_size)
    rng = np.random.default_rng(seed)
    if test_size == 0.0:
        return rng.permutation(n_samples), np.empty(0, dtype=np.int64)
    if strata is None:
        order = rng.permutation(n_samples)
        n_test = max(1, round(test_size * n_samples))
        train, test = order[n_test:], order[:n_test]
    else:
        order = rng.permutation(n_samples)
        codes = strata[order]
        # rank of each sample within its class, in shuffled order
        sort = np.argsort(codes, kind="stable")
        counts = np.bincount(codes)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        rank = np.empty(n_samples, dtype=np.int64)
        rank[sort] = np.arange(n_samples) - np.repeat(starts, counts)
        in_test = rank < _stratified_test_counts(counts, test_size)[codes]
        train, test = order[~in_test], order[in_test]
    if train.size == 0:
        raise OptionError(f"`test_size` {test_size} leaves no training samples; use a smaller one")
    return np.sort(train), np.sort(test)


def _stratified_test_counts(counts: np.ndarray, test_size: float) -> np.ndarray:
    """Test samples per class (K,): proportional, summing to the overall test size where
    the caps allow, never taking a class's last training sample."""
    ideal = test_size * counts
    cap = np.maximum(counts - 1, 0)
    n_test = np.minimum(np.floor(ideal), cap).astype(np.int64)
    short = min(round(test_size * counts.sum()), int(cap.sum())) - int(n_test.sum())
    while short > 0:  # one class at a time: at most a few rounds over K classes
        order = np.argsort(-(ideal - n_test), kind="stable")  # largest remainders first
        room = order[n_test[order] < cap[order]]
        n_test[room[:short]] += 1
        short -= min(short, room.size)
    return n_test


def split_rows(
    X: Any, y: np.ndarray, *, test_size: float, seed: int, stratify: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices ``(train, test)`` of ``X`` (n, d) and ``y`` (n,), stratified on the labels
    of ``y`` if asked; in file order for a matrix on disk, so its reads go forward."""
    strata = np.unique(y, return_inverse=True)[1] if stratify else None
    train, test = train_test_split(X.shape[0], test_size, seed=seed, strata=strata)
    if hasattr(X, "subset"):
        return np.sort(train), np.sort(test)
    return train, test


def take_rows(X: Any, rows: np.ndarray) -> Any:
    """``X[rows]``; for a matrix on disk, a view selecting them (nothing is read)."""
    return X.subset(rows) if hasattr(X, "subset") else X[rows]


def split_xy(
    X: np.ndarray, y: np.ndarray, *, test_size: float, seed: int, stratify: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(X_train, y_train, X_test, y_test)``; stratified on the labels of ``y`` if asked."""
    train, test = split_rows(X, y, test_size=test_size, seed=seed, stratify=stratify)
    return take_rows(X, train), y[train], take_rows(X, test), y[test]
