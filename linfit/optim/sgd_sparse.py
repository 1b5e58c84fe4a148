"""sgd's iterate on sparse rows: each mini-batch costs the stored values it reads, never a
pass over all d features.

A mini-batch's gradient of ``mean loss + reg ||W||^2`` is ``X_B.T @ G + 2 reg W`` (and
``sum G`` for the bias): dense through the penalty, though ``X_B`` touches few features.
So the weights are kept as ``W = a V`` (the scale trick of Shalev-Shwartz et al.'s
Pegasos and Bottou's SGD): the step ``W <- (1 - 2 eta reg) W - eta X_B.T @ G`` multiplies
the number ``a`` and adds ``-(eta / a) X_B.T @ G`` to ``V`` on the batch's stored
features only.

The Polyak-Ruppert mean is kept lazily too (Xu 2011, "Towards optimal one pass large
scale learning with averaged stochastic gradient descent", gives such a form):
``mean = p V + q U``. The running mean's update ``mean_k = (1 - 1/k) mean_{k-1} + W_k / k``
after ``V`` moved by ``delta`` is ``U -= (p / q) delta`` on the same features, then
``q *= 1 - 1/k`` and ``p = (1 - 1/k) p + a / k``: numbers, and the batch's features.

The numbers are folded back into dense arrays (``canonical``: one pass over d) only when
``a`` or ``q`` falls below ``FOLD_BELOW`` or ``p`` outgrows ``a`` by ``FOLD_RATIO``, which
keeps ``V`` and ``U`` in float64's range and their difference from cancelling digits away
(a penalty's shrink takes many epochs to get there).

The batches are ``LinearRows``: what an engine holding CSR rows in memory hands out
(``engines/sparse_batches.py``); they are ordinary ``MiniBatch``es for every other reader.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from linfit.optim.objective import MiniBatch

# a or q below this: fold them into V and U (a dense pass, rare), before V = W / a or the
# mean's U grow out of float64's range
FOLD_BELOW = 1e-9
# p above this many times a: fold too. p is a mean of past scales, so once W has shrunk a
# lot since the mean began, p V and q U are large terms that cancel to the mean, losing
# log10(p / a) digits (measured: 1e-7 relative error at p / a ~ 1e8, with reg 1 and steps
# near 1 / (2 reg)). At ordinary penalties a shrinks by 1e-3 only over many epochs.
FOLD_RATIO = 1e3

Entries = tuple[np.ndarray, np.ndarray, np.ndarray]
ScoresLoss = Callable[[np.ndarray], tuple[float, np.ndarray]]


class Iterate(Protocol):
    """What the epochs of a stochastic optimizer (``sgd.epochs``) step: the iterate and the
    mean of the iterates since ``add_to_mean`` was first called."""

    def advance(self, batch: MiniBatch, step: float) -> bool:
        """One step on ``batch``; False (nothing moved) when it is not finite."""
        ...

    def add_to_mean(self) -> None: ...

    def point(self, average: bool) -> np.ndarray:
        """The mean (once begun, with ``average``) or the iterate, a new flat array."""
        ...

    def sample_loss(self, sample: Sequence[MiniBatch]) -> float:
        """The mean of the batches' ``f_B`` at the iterate; inf where not finite."""
        ...


IterateFor = Callable[[MiniBatch, np.ndarray], Iterate]


@dataclass(frozen=True)
class LinearRows(MiniBatch):
    """A mini-batch of a linear model's objective ``mean_B loss(X_B W + b) + reg ||W||^2``
    that also hands over its rows, for sgd's sparse iterate.

    ``X``: the whole CSR float64 matrix (n, d); ``index``: the batch's rows of it, sorted
    (m,); ``scores_loss``: scores ``S`` (m, K) -> ``(mean loss, G = dloss/dS (m, K))``
    (weights included; it may overwrite ``S``); ``reg``: the penalty's factor. Parameters
    are flat ``[W.ravel() (d, K) row-major, b (K,)]``, as every linfit model's.
    """

    X: Any = None
    index: np.ndarray | None = None
    scores_loss: ScoresLoss | None = None
    reg: float = 0.0


def hands_rows(batch: MiniBatch) -> bool:
    """Whether ``batch`` is ``LinearRows`` that hand their rows over."""
    return isinstance(batch, LinearRows) and batch.X is not None


def takes(batch: MiniBatch, x0: np.ndarray) -> bool:
    """Whether ``batch`` can drive a ``LazyIterate`` from ``x0``: rows handed over, CSR
    float64, and ``x0`` of size (d + 1) K."""
    if not hands_rows(batch):
        return False
    X = batch.X
    d = X.shape[1]
    return (
        getattr(X, "format", None) == "csr"
        and X.dtype == np.float64
        and x0.size % (d + 1) == 0
        and x0.size > 0
    )


class DenseIterate:
    """The plain iterate ``w`` (p,) and its running mean: each step reads the batch's full
    gradient from ``MiniBatch.fun``."""

    def __init__(self, x0: np.ndarray) -> None:
        self.w = x0.copy()
        self.mean, self.n_mean = self.w.copy(), 0

    def advance(self, batch: MiniBatch, step: float) -> bool:
        """``w -= step * g_B``; False (w untouched) when ``g_B`` is not finite."""
        with np.errstate(over="ignore", invalid="ignore"):  # reported by the caller
            _, g = batch.fun(self.w)
            if not np.isfinite(g).all():
                return False
            self.w -= step * g
        return True

    def add_to_mean(self) -> None:
        self.n_mean += 1
        self.mean += (self.w - self.mean) / self.n_mean  # running mean: no growing sum

    def point(self, average: bool) -> np.ndarray:
        """The mean (when averaging has begun) or the iterate, as a new (p,) array."""
        return self.mean.copy() if average and self.n_mean else self.w.copy()

    def sample_loss(self, sample: Sequence[MiniBatch]) -> float:
        """The mean of the batches' ``f_B`` at the iterate; inf where not finite."""
        with np.errstate(over="ignore", invalid="ignore"):
            loss = float(np.mean([batch.fun(self.w)[0] for batch in sample]))
        return loss if np.isfinite(loss) and np.isfinite(self.w).all() else np.inf


class LazyIterate:
    """The iterate ``W = a V`` (d, K), ``b`` (K,), and its mean ``p V + q U``, ``b_mean``,
    stepped on ``LinearRows`` in time proportional to each batch's stored values (see the
    module). The same arithmetic as ``DenseIterate``'s, in another order: the iterates
    agree to rounding."""

    def __init__(self, x0: np.ndarray, n_features: int) -> None:
        d = n_features
        K = x0.size // (d + 1)
        self.V = x0[: d * K].reshape(d, K).copy()
        self.b = x0[d * K :].copy()
        self.a = 1.0
        self.U = np.zeros((0, K))  # allocated when the mean starts
        self.p, self.q = 0.0, 1.0
        self.b_mean = self.b.copy()
        self.n_mean = 0

    def advance(self, batch: LinearRows, step: float) -> bool:
        """One step ``W <- (1 - 2 step reg) W - step X_B.T G``, ``b <- b - step sum(G)``;
        False (nothing moved) when the step is not finite."""
        entries = batch_entries(batch)
        rows, cols, vals = entries
        with np.errstate(over="ignore", invalid="ignore"):
            _, G = batch.scores_loss(scores(self.V, self.a, self.b, entries, batch.rows))
            G = np.asarray(G, dtype=np.float64)
            along = G[rows]  # (nnz_B, K): the terms of X_B.T @ G, before summing
            along *= vals[:, None]
            db = step * (np.ones(G.shape[0]) @ G)
            a_next = self.a * (1.0 - 2.0 * step * batch.reg)
        if not (np.isfinite(along).all() and np.isfinite(db).all()):
            return False
        self._shrink(1.0 - 2.0 * step * batch.reg, a_next)
        with np.errstate(over="ignore", invalid="ignore"):
            along *= -step / self.a  # V's move, on the batch's features
        if not np.isfinite(along).all():
            return False
        cells, delta = feature_cells(cols, self.V.shape[1]), along.ravel()
        # 1-D add.at on C-contiguous float64: 15x faster than on a (d, K) array
        np.add.at(self.V.reshape(-1), cells, delta)
        if self.n_mean:  # the mean's U follows V's move (see the module)
            delta *= -self.p / self.q
            np.add.at(self.U.reshape(-1), cells, delta)
        self.b -= db
        return True

    def _shrink(self, factor: float, a_next: float) -> None:
        """``W *= factor`` as ``a = a_next``; folded into V first when that gets tiny, or
        when the mean's ``p V`` would outgrow ``W = a V`` by ``FOLD_RATIO``."""
        if abs(a_next) < FOLD_BELOW:
            self.canonical()
            self.V *= factor  # a is 1 now; a factor near 0 is taken densely
            return
        self.a = a_next
        if self.n_mean and abs(self.p) > FOLD_RATIO * abs(self.a):
            self.canonical()

    def add_to_mean(self) -> None:
        self.n_mean += 1
        k = self.n_mean
        if k == 1:  # the mean starts at the iterate: p V + q U with U = 0
            self.U = np.zeros_like(self.V)
            self.p, self.q = self.a, 1.0
            self.b_mean = self.b.copy()
            return
        keep = 1.0 - 1.0 / k
        self.p = keep * self.p + self.a / k
        self.q *= keep
        self.b_mean += (self.b - self.b_mean) / k
        if self.q < FOLD_BELOW:
            self.canonical()

    def canonical(self) -> None:
        """Fold the numbers into the arrays: ``a = 1``, and ``p = 0``, ``q = 1`` (one pass)."""
        if self.n_mean:
            self.U *= self.q
            self.U += self.p * self.V
            self.p, self.q = 0.0, 1.0
        self.V *= self.a
        self.a = 1.0

    def weights(self) -> np.ndarray:
        """The iterate, flat (p,)."""
        return np.concatenate([(self.a * self.V).ravel(), self.b])

    def point(self, average: bool) -> np.ndarray:
        """The mean (when averaging has begun) or the iterate, as a new flat (p,) array."""
        if not (average and self.n_mean):
            return self.weights()
        return np.concatenate([(self.p * self.V + self.q * self.U).ravel(), self.b_mean])

    def sample_loss(self, sample: Sequence[LinearRows]) -> float:
        """The mean of the batches' ``f_B`` at the iterate; inf where not finite."""
        return sample_loss(sample, self.V, self.a, self.b)


def scores(V: np.ndarray, a: float, b: np.ndarray, entries: Entries, m: int) -> np.ndarray:
    """Scores ``X_B W + b`` (m, K) of a batch's ``entries`` (``batch_entries``) at the
    weights ``W = a V`` (d, K), ``b`` (K,): the rows' stored features alone."""
    rows, cols, vals = entries
    products = V.take(cols, axis=0)  # (nnz_B, K): the weights the rows read
    products *= vals[:, None]
    S = sums_by_row(products, rows, m)
    if a != 1.0:
        S *= a
    S += b
    return S


def sample_loss(sample: Sequence[LinearRows], V: np.ndarray, a: float, b: np.ndarray) -> float:
    """The mean of the batches' ``f_B`` (``LinearRows``: mean loss + reg ||W||^2) at
    ``W = a V`` (d, K), ``b`` (K,), reading each batch's stored features; inf where the
    loss or the weights are not finite."""
    with np.errstate(over="ignore", invalid="ignore"):
        flat = V.reshape(-1)  # einsum, not BLAS: a threaded dot took 10 ms under load
        penalty = sample[0].reg * a**2 * float(np.einsum("i,i->", flat, flat))
        losses = [
            batch.scores_loss(scores(V, a, b, batch_entries(batch), batch.rows))[0] + penalty
            for batch in sample
        ]
        loss = float(np.mean(losses))
    finite = np.isfinite(V).all() and np.isfinite(b).all()
    return loss if np.isfinite(loss) and finite else np.inf


def batch_entries(batch: LinearRows) -> Entries:
    """The stored values of the batch's rows of ``X``: ``(rows (nnz_B,) 0..m-1 in the
    batch, cols (nnz_B,), vals (nnz_B,))``, read straight from X's CSR arrays (scipy's
    ``X[index]`` costs 3-4x more for a few hundred rows)."""
    X, index = batch.X, batch.index
    starts, ends = X.indptr[index], X.indptr[index + 1]
    lengths = ends - starts
    offsets = np.cumsum(lengths) - lengths  # where each row starts in the batch's entries
    at = np.arange(int(lengths.sum()), dtype=np.intp)
    at += np.repeat(starts - offsets, lengths)
    rows = np.repeat(np.arange(index.size, dtype=np.intp), lengths)
    return rows, X.indices.take(at).astype(np.intp, copy=False), X.data.take(at)


def sums_by_row(products: np.ndarray, rows: np.ndarray, m: int) -> np.ndarray:
    """Sums (m, K) of ``products`` (nnz_B, K) by their ``rows`` (nondecreasing, 0..m-1),
    an empty row's 0: ``reduceat`` over the runs, 2-3x faster than ``bincount``'s scatter."""
    S = np.zeros((m, products.shape[1]))
    if rows.size:
        starts = np.searchsorted(rows, np.arange(m))  # each row's first entry (or the next's)
        filled = np.diff(starts, append=rows.size) > 0
        S[filled] = np.add.reduceat(products, starts[filled], axis=0)
    return S


def feature_cells(index: np.ndarray, K: int) -> np.ndarray:
    """Positions in a flat C-ordered (., K) array of the K cells of each row in ``index``,
    (len * K,): a feature's K weights, for 1-D ``add.at``."""
    if K == 1:
        return index
    return (index[:, None] * K + np.arange(K)).ravel()


def iterate_for(batch: MiniBatch, x0: np.ndarray) -> Iterate:
    """The lazy iterate when ``batch`` hands over CSR rows (``takes``), else the plain one."""
    if takes(batch, x0):
        return LazyIterate(x0, batch.X.shape[1])
    return DenseIterate(x0)
