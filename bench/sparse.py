"""Sparse, wide workloads (issue 16): text-like CSR matrices generated with fixed seeds.

``text_like`` builds what rcv1 and news20 look like to a linear model: rows of a few dozen
stored values over tens of thousands of features, feature popularity following Zipf's law
(a few features in most rows, most features in a handful), tf-idf values, rows
l2-normalized, and labels from a sparse linear model plus noise. Everything is vectorized
(one ``choice`` for all the draws, one ``sum_duplicates``): the full rcv1-like matrix of
200,000 x 47,236 with 15 M stored values takes a few seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

# Zipf's exponent and a shift that flattens the head a little: with s = 1.1 and shift 5 the
# most popular feature is in ~95% of the rows and half the features in fewer than 0.1%,
# about what rcv1's document frequencies look like.
ZIPF_EXPONENT = 1.1
ZIPF_SHIFT = 5.0
# Document lengths: lognormal around the mean, as real documents (a few very long ones).
LENGTH_SIGMA = 0.6


@dataclass(frozen=True)
class SparseData:
    """A train/test split of a generated sparse problem: CSR float64 rows, class codes."""

    X_train: sp.csr_matrix  # (n_train, d)
    y_train: np.ndarray  # (n_train,) int codes 0..K-1
    X_test: sp.csr_matrix  # (n_test, d)
    y_test: np.ndarray  # (n_test,)

    @property
    def n_classes(self) -> int:
        return int(self.y_train.max()) + 1


def zipf_popularity(n_features: int, rng: np.random.Generator) -> np.ndarray:
    """Probabilities (n_features,) of each feature being drawn, Zipf-like by rank, the ranks
    dealt to feature ids at random (a dictionary's ids do not follow popularity, which is
    what makes the products' reads of a vector scattered)."""
    ranks = np.arange(n_features, dtype=np.float64)
    p = (ranks + ZIPF_SHIFT) ** -ZIPF_EXPONENT
    p /= p.sum()
    return p[rng.permutation(n_features)]


def text_matrix(
    n_samples: int, n_features: int, nnz_per_row: float, rng: np.random.Generator
) -> sp.csr_matrix:
    """A tf-idf-like CSR matrix (n_samples, n_features), float64, rows of unit l2 norm,
    about ``nnz_per_row`` distinct stored features a row (at least one).

    Each row draws its words from the Zipf popularity with replacement; repeats are
    summed into a term count (so the draws are ~25% more than the distinct values asked
    for, a ratio measured at these sizes), weighted by ``log(1 / p_j)`` (the idf).
    """
    p = zipf_popularity(n_features, rng)
    mu = np.log(1.25 * nnz_per_row) - LENGTH_SIGMA**2 / 2  # lognormal with that mean
    lengths = np.maximum(1, np.rint(rng.lognormal(mu, LENGTH_SIGMA, n_samples))).astype(np.int64)
    indptr = np.zeros(n_samples + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    indices = rng.choice(n_features, size=int(indptr[-1]), p=p).astype(np.int32)
    X = sp.csr_matrix((np.ones(indices.size), indices, indptr), shape=(n_samples, n_features))
    X.sum_duplicates()  # sorts each row's indices and turns repeats into counts
    X.data *= -np.log(p)[X.indices]
    norms = np.sqrt(np.add.reduceat(X.data**2, X.indptr[:-1]))  # every row has a value
    X.data /= np.repeat(norms, np.diff(X.indptr))
    X.indptr = X.indptr.astype(np.int32) if X.nnz < 2**31 else X.indptr
    return X


def text_like(
    n_samples: int,
    n_features: int,
    nnz_per_row: float,
    n_classes: int = 2,
    *,
    informative: float = 0.2,
    noise: float = 0.5,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> SparseData:
    """A text-like classification problem, split into train and test.

    Labels come from a sparse linear model: a random ``informative`` fraction of the
    features carry Gaussian weights (one column per class), scores are standardized and
    get Gaussian noise of ``noise`` times their spread; binary labels are the scores'
    sign about their median (balanced classes), multiclass ones the argmax.
    """
    rng = np.random.default_rng(seed)
    X = text_matrix(n_samples, n_features, nnz_per_row, rng)
    columns = 1 if n_classes == 2 else n_classes
    W = rng.standard_normal((n_features, columns))
    W[rng.random(n_features) >= informative] = 0.0
    S = X @ W
    S = (S - S.mean(axis=0)) / S.std(axis=0)
    S += noise * rng.standard_normal(S.shape)
    y = (S[:, 0] > np.median(S[:, 0])).astype(np.int64) if n_classes == 2 else S.argmax(axis=1)
    split = round((1 - test_fraction) * n_samples)
    return SparseData(X[:split], y[:split], X[split:], y[split:])


# The workloads, which `python -m bench --only rcv1 news20` fits (bench/sparse_fit.py):
# text_like(**RCV1_LIKE)'s training rows are the 200,000 x 47,236 matrix that
# fitting/entry.py's default_solver quotes timings on.
RCV1_LIKE = {"n_samples": 250_000, "n_features": 47_236, "nnz_per_row": 75}  # 200k to train
NEWS20_LIKE = {"n_samples": 25_000, "n_features": 62_000, "nnz_per_row": 80, "n_classes": 20}
