"""The out-of-core engine: objectives as sums over row chunks, for data larger than memory.

Every linfit objective is a mean over samples plus a penalty,
``J = sum_c (n_c / N) J_c + reg ||W||^2`` where ``J_c`` is the data term on chunk ``c``,
so the value, gradient and Hessian-vector products are sums of per-chunk pieces and the
optimizers do not change. ``X`` may be a read-only ``np.memmap``: each chunk is read,
standardized in memory, used, and dropped, so memory holds one chunk at a time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from linfit.engines.base import RowsHere, add_penalty, add_penalty_hvp, encode_targets, zeros_start
from linfit.engines.weights import ClassWeight, row_multipliers
from linfit.errors import OptionError
from linfit.lazy import issparse
from linfit.models import LinearModel
from linfit.models.blocks import minibatches
from linfit.optim import Objective
from linfit.optim.objective import MiniBatch
from linfit.preprocess import ScaledRows, Scaler, block_moments, merge_moments

if TYPE_CHECKING:
    from linfit.linalg.lsq import LeastSquaresFit

# How sgd draws an epoch's chunks from a file on disk (see mixed_chunks): blocks of about
# a 64th of a chunk, no smaller than a page (a smaller read costs a page anyway, and the
# per-block work would outweigh the bytes) and no larger than 1 MB (so large chunks of
# wide rows still gather from many places).
MIX_BLOCKS_PER_CHUNK = 64
MIX_MIN_BLOCK_BYTES = 1 << 12
MIX_MAX_BLOCK_BYTES = 1 << 20


def row_chunks(n_samples: int, chunk_rows: int) -> Iterator[slice]:
    """Consecutive row slices of at most ``chunk_rows`` rows covering ``range(n_samples)``."""
    for start in range(0, n_samples, chunk_rows):
        yield slice(start, min(start + chunk_rows, n_samples))


def mixed_chunks(
    n_samples: int, row_bytes: int, chunk_rows: int, rng: np.random.Generator
) -> Iterator[list[slice]]:
    """One epoch of chunks for sgd, each of about ``chunk_rows`` rows gathered from blocks
    (row slices) drawn at random from all of ``range(n_samples)``; every row is in one chunk.

    Visiting whole chunks in a random order would not mix a file sorted by label: each
    chunk would hold one class. With blocks a ``MIX_BLOCKS_PER_CHUNK``-th of a chunk (within
    the byte limits above, and at most a chunk) a chunk holds rows from that many places
    in the file. A chunk's blocks come in file order, so its reads go forward.
    """
    by_share = chunk_rows // MIX_BLOCKS_PER_CHUNK
    block_rows = min(
        max(by_share, MIX_MIN_BLOCK_BYTES // row_bytes), MIX_MAX_BLOCK_BYTES // row_bytes
    )
    block_rows = max(1, min(block_rows, chunk_rows))
    n_blocks = -(-n_samples // block_rows)
    per_chunk = max(1, chunk_rows // block_rows)
    order = rng.permutation(n_blocks)
    for start in range(0, n_blocks, per_chunk):
        starts = np.sort(order[start : start + per_chunk]) * block_rows
        yield [slice(s, min(s + block_rows, n_samples)) for s in starts.tolist()]


def chunked_objective(
    model: LinearModel,
    X: np.ndarray,
    y: np.ndarray,
    *,
    chunk_rows: int,
    scaler: Scaler | None = None,
    weights: np.ndarray | None = None,
) -> Objective:
    """The objective of ``model`` on ``X`` (n, d) and ``y`` (n,), evaluated chunk by chunk,
    each row's loss multiplied by ``weights`` (n,) of mean 1 when given.

    Equal to ``model.objective(scaler.transform(X), y, sample_weight=weights)`` up to
    summation order. No dense
    Hessian is offered: Newton solves by conjugate gradient on products, each of which
    reads the chunks again, so memory never holds more than one chunk of ``X``.
    """
    n_samples, n_features = X.shape
    data_term = dataclasses.replace(model, reg=0.0)  # the penalty is added once, below
    rows = ScaledRows(X, scaler) if scaler is not None else X  # scaled as each chunk is read
    slices = list(row_chunks(n_samples, chunk_rows))
    chunks = _Chunks(rows, y, weights, slices, n_samples, n_features)
    chunk, w = chunks.read, chunks.weights_of

    def penalized(params: np.ndarray, f: float, g: np.ndarray | None) -> tuple:
        return add_penalty(model, n_features, params, f, g)

    def fun(params: np.ndarray) -> tuple[float, np.ndarray]:
        f, g = 0.0, np.zeros_like(params)
        for sl in slices:
            fc, gc = data_term.loss_gradient(params, chunk(sl), y[sl], w(sl))
            weight = (sl.stop - sl.start) / n_samples
            f += weight * fc
            g += weight * gc
        return penalized(params, f, g)

    def value(params: np.ndarray) -> float:
        f = sum(
            (sl.stop - sl.start) / n_samples * data_term.loss(params, chunk(sl), y[sl], w(sl))
            for sl in slices
        )
        return penalized(params, f, None)[0]

    def batches(rng: np.random.Generator, batch_rows: int) -> Iterator[MiniBatch]:
        groups = mixed_chunks(n_samples, X.dtype.itemsize * n_features, chunk_rows, rng)
        return minibatches(model.loss_gradient, map(chunks.gather, groups), rng, batch_rows)

    return Objective(
        fun=fun,
        value=value,
        hess_operator=_hessian_operator(model, data_term, chunks) if model.has_hessian else None,
        hess_diagonal=_hessian_diagonal(model, data_term, chunks) if model.has_hessian else None,
        batches=batches,
        n_samples=n_samples,
    )


@dataclass(frozen=True)
class _Chunks:
    """The rows of ``X`` (n, d) by ``slices`` of ``chunk_rows``, each read (and scaled,
    when ``rows`` is a ``ScaledRows``) as it is used, the targets ``y`` (n,) and the rows'
    ``weights`` (n,) or None."""

    rows: Any  # X, or ScaledRows over it
    y: np.ndarray
    weights: np.ndarray | None
    slices: list[slice]
    n_samples: int
    n_features: int

    def read(self, sl: slice) -> np.ndarray:
        """The chunk ``X[sl]`` (m, d), scaled, in memory."""
        return np.asarray(self.rows[sl])

    def weights_of(self, sl: slice) -> np.ndarray | None:
        """The weights of the rows ``sl`` (m,), or None."""
        return None if self.weights is None else self.weights[sl]

    def gather(self, group: list[slice]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """``(X, y, weights)`` of the rows of ``group``'s slices, concatenated in order:
        (m, d), (m,), (m,) or None."""
        # filled block by block: memory holds the chunk and one block, not two chunks
        size = sum(sl.stop - sl.start for sl in group)
        X_g = np.empty((size, self.n_features), dtype=self.rows.dtype)
        at = 0
        for sl in group:
            X_g[at : at + sl.stop - sl.start] = self.read(sl)
            at += sl.stop - sl.start
        weights = (
            None if self.weights is None else np.concatenate([self.weights[sl] for sl in group])
        )
        return X_g, np.concatenate([self.y[sl] for sl in group]), weights


def _hessian_operator(
    model: LinearModel, data_term: LinearModel, chunks: _Chunks
) -> Callable[[np.ndarray], Callable[[np.ndarray], np.ndarray]]:
    """``params -> (v -> H v)`` over the chunks, ``v`` and ``H v`` of the parameters'
    shape: ``data_term``'s products summed by chunk, then ``model``'s penalty added."""

    def hess_operator(params: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        def hvp(v: np.ndarray) -> np.ndarray:
            # chunks are read again for every product (holding them would hold X)
            out = np.zeros_like(params)
            for sl in chunks.slices:
                weight = (sl.stop - sl.start) / chunks.n_samples
                X_c, y_c, w_c = chunks.read(sl), chunks.y[sl], chunks.weights_of(sl)
                out += weight * data_term.hessian_operator(params, X_c, y_c, w_c)(v)
            return add_penalty_hvp(model, chunks.n_features, v, out)

        return hvp

    return hess_operator


def _hessian_diagonal(
    model: LinearModel, data_term: LinearModel, chunks: _Chunks
) -> Callable[[np.ndarray], np.ndarray]:
    """``params -> D``, the preconditioner's diagonal (``model.preconditioner_diagonal``,
    of the parameters' shape) summed by chunk as the products are, then the penalty's
    ``2 reg`` on W's entries: what tron preconditions its conjugate gradient with, for one
    read of the chunks per accepted step."""

    def hess_diagonal(params: np.ndarray) -> np.ndarray:
        out = np.zeros_like(params)
        for sl in chunks.slices:
            weight = (sl.stop - sl.start) / chunks.n_samples
            X_c, y_c, w_c = chunks.read(sl), chunks.y[sl], chunks.weights_of(sl)
            out += weight * data_term.preconditioner_diagonal(params, X_c, y_c, w_c)
        return add_penalty_hvp(model, chunks.n_features, np.ones_like(params), out)

    return hess_diagonal


@dataclass(frozen=True)
class OutOfCore(RowsHere):
    """Raw ``X`` (n, d) read ``chunk_rows`` rows at a time (a RowFile on disk, a memmap or
    an array) and scaled as each chunk is read; encoded targets ``y`` (n,) and the rows'
    multipliers ``weights`` (n,), of mean 1 (None: unweighted), in memory."""

    X: Any
    y: np.ndarray
    chunk_rows: int
    scaler: Scaler
    classes: np.ndarray | None
    feature_means: np.ndarray
    weights: np.ndarray | None = None

    @classmethod
    def prepare(
        cls, model: LinearModel, X: Any, y: np.ndarray, *, standardize: bool, target_name: str,
        chunk_rows: int, sample_weight: np.ndarray | None = None,
        class_weight: ClassWeight = None,
    ) -> OutOfCore:  # fmt: skip
        """Encode ``y``, weigh the rows and take the features' moments (weighted) and
        plain means in one pass over ``X``'s chunks."""
        if issparse(X):
            raise OptionError(
                "`chunk_rows` reads a dense array or memmap by chunks, not a sparse X"
            )
        if chunk_rows < 1:
            raise OptionError(f"`chunk_rows` must be at least 1 row, got {chunk_rows}")
        classes, targets = encode_targets(model, y, target_name)
        weights = row_multipliers(sample_weight, class_weight, classes, targets)
        moments, means = chunk_moments(X, chunk_rows, weights)
        scaler = moments if standardize else Scaler.identity(X.shape[1])
        if standardize and not model.fit_intercept:
            scaler = scaler.uncentered()
        return cls(X, targets, chunk_rows, scaler, classes, means, weights)

    def first_chunk(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """The first chunk's scaled rows, targets and weights."""
        rows = slice(0, self.chunk_rows)
        weights = None if self.weights is None else self.weights[rows]
        return self.scaler.transform(np.asarray(self.X[rows])), self.y[rows], weights

    def objective(self, model: LinearModel) -> Objective:
        return chunked_objective(
            model, self.X, self.y, chunk_rows=self.chunk_rows, scaler=self.scaler,
            weights=self.weights,
        )  # fmt: skip

    def start(self, model: LinearModel) -> np.ndarray:
        """Zeros for a convex model; another model's own rule, on the first chunk."""
        if model.convex:
            return zeros_start(model, self.n_features, model.n_outputs(self.y))
        return model.initial_params(*self.first_chunk())

    def least_squares(self, model: LinearModel, method: str) -> LeastSquaresFit:
        rows = self.scaler.lazy_transform(self.X)
        return model.solution(rows, self.y, method, self.weights)

    def check_solution(self, model: LinearModel, params: np.ndarray) -> None:
        model.check_solution(params, *self.first_chunk()[:2])


def chunk_moments(X: Any, chunk_rows: int, weights: np.ndarray | None) -> tuple[Scaler, np.ndarray]:
    """The scaler of ``X`` (n, d) by its (weighted) moments and the plain column means
    (d,), which fill missing values at prediction as they did at reading: one pass,
    ``chunk_rows`` rows at a time."""
    if weights is None:
        scaler = Scaler.fit_chunks(X, chunk_rows)
        return scaler, scaler.mean
    plain, weighted = [], []
    for rows in row_chunks(X.shape[0], chunk_rows):
        chunk = np.asarray(X[rows], dtype=np.float64)  # read once for both
        plain.append(block_moments(chunk))
        weighted.append(block_moments(chunk, weights[rows]))
    return Scaler.from_moments(merge_moments(weighted)), merge_moments(plain)[1]
