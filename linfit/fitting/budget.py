"""A training run's memory, estimated before any of it is allocated (see
:mod:`linfit.memory` for the budget).

The estimate counts what grows with the problem, each part an upper bound of what the
engine and the solver hold at once:

- the optimizer's vectors: ``(d + 1) K`` parameters, times the copies the optimizer keeps
  (L-BFGS 2m + 8 with its m pairs; the others 8 to 12);
- a ``p x p`` matrix for BFGS (its inverse Hessian and the update's temporaries, 4 p^2)
  and for Newton's dense Cholesky (at most ``newton.DENSE_LIMIT`` parameters);
- the closed forms' Gram matrix (normal equations) or the copy of X they factor;
- scores: 3 arrays of rows x K (the scores, their gradient, probabilities or margins)
  for each block of rows in flight (one per thread), blocks being cut so that their
  scores stay small (``linalg.blocks.block_rows``, which predictions use too);
- the standardized copy of X in memory (X's dtype; a CSR copy of the stored values).

A classifier's target is checked first: nearly one distinct value per row is refused as
an identifier taken for the label (``engines.base.refuse_identifier``), whatever memory
its ``n x n`` scores would take.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from linfit.engines.base import refuse_identifier
from linfit.fitting.solvers import Solver
from linfit.lazy import issparse
from linfit.linalg.blocks import block_rows, worker_count
from linfit.memory import require
from linfit.models import LinearModel
from linfit.optim.lbfgs import MEMORY as LBFGS_MEMORY
from linfit.optim.newton import DENSE_LIMIT

FLOAT = 8  # bytes of a float64
# Copies of the parameter vector each optimizer keeps at once (iterate, gradient, step,
# trial point, line-search state, history); L-BFGS adds 2 per saved pair.
VECTORS = {"gd": 8, "sgd": 10, "newton": 12, "tron": 12, "bfgs": 8}
LBFGS_VECTORS = 8
SCORE_ARRAYS = 3


def check_training_memory(
    model: LinearModel,
    solver: Solver,
    options: dict[str, Any],
    X: Any,
    y: Any,
    *,
    engine: str,
    chunk_rows: int | None,
    standardize: bool,
    target_name: str,
) -> None:
    """Refuse, before the engine is built, a run whose memory exceeds the budget (a
    ``MemoryBudgetError`` naming the sizes and a way out); a classifier's target with
    nearly one distinct value per row first (a ``DataError``)."""
    if engine == "dask" or type(X).__module__.split(".")[0] == "dask":
        return  # the data and the scores live on the cluster's workers
    y = np.asarray(y)
    n, d = int(X.shape[0]), int(X.shape[1])
    if model.is_classifier:
        n_classes = int(np.unique(y).size)
        refuse_identifier(n_classes, y, target_name)
        K = max(n_classes, 1)
    else:
        K = 1 if y.ndim == 1 else int(y.shape[1])
    in_memory = isinstance(X, np.ndarray) or issparse(X)
    out_of_core = engine == "out-of-core" or chunk_rows is not None or not in_memory
    rows = min(n, chunk_rows or 65_536) if out_of_core else n
    parts = _solver_parts(solver, options, n, d, K)
    itemsize = np.dtype(getattr(X, "dtype", np.float64)).itemsize
    in_flight = min(rows, block_rows(rows, d * itemsize, K, issparse(X))) * worker_count()
    parts["scores"] = SCORE_ARRAYS * min(rows, in_flight) * K * FLOAT
    parts["the standardized copy of X"] = _copy_bytes(X, out_of_core, rows, standardize)
    parts["per-feature arrays"] = 8 * d * FLOAT
    require(
        f"training {model.describe()} by {solver.name} on {n:,} rows x {d:,} features "
        f"with {K:,} outputs",
        parts,
        _remedy(max(parts, key=parts.__getitem__), solver.name),
    )


def _solver_parts(
    solver: Solver, options: dict[str, Any], n: int, d: int, K: int
) -> dict[str, int]:
    p = (d + 1) * K
    name = solver.name
    if name in ("normal", "pinv", "lstsq"):  # closed forms of least squares
        gram = 3 * (d + 1) ** 2 * FLOAT
        if name == "normal":
            return {"the Gram matrix": gram * K}
        return {"the factored copy of X": 2 * n * (d + 1) * FLOAT, "the Gram matrix": gram}
    if name == "lbfgs":
        pairs = int(options.get("memory", LBFGS_MEMORY))
        vectors = 2 * pairs + LBFGS_VECTORS
    else:
        vectors = VECTORS.get(name, 12)
    parts = {"the optimizer's vectors": vectors * p * FLOAT}
    if name == "bfgs":
        parts["BFGS's p x p inverse Hessian"] = 4 * p * p * FLOAT
    elif name == "newton" and p <= DENSE_LIMIT:  # above it, CG on H v
        parts["Newton's p x p Hessian"] = 3 * p * p * FLOAT
    return parts


def _copy_bytes(X: Any, out_of_core: bool, rows: int, standardize: bool) -> int:
    """The scaled copy the engine makes of X (a chunk of it out of core)."""
    itemsize = np.dtype(getattr(X, "dtype", np.float64)).itemsize
    if issparse(X):
        return int(X.nnz) * (itemsize + 4) + (int(X.shape[0]) + 1) * 8
    if out_of_core:
        return 2 * rows * int(X.shape[1]) * FLOAT
    if not standardize and isinstance(X, np.ndarray) and X.flags.c_contiguous:
        return 0
    return int(X.shape[0]) * int(X.shape[1]) * itemsize


def _remedy(largest: str, solver: str) -> str:
    if largest.startswith("BFGS") or largest.startswith("Newton"):
        return (
            "use `solver` lbfgs, which keeps a few vectors of the parameters instead of a "
            "p x p matrix"
        )
    if largest.startswith("the optimizer"):
        fewer = " or `solver` gd, which keeps fewer copies" if solver == "lbfgs" else ""
        return (
            "the weights are features x outputs: use fewer features (a LIBSVM file keeps "
            f"only the indices it uses) or fewer classes{fewer}"
        )
    if largest == "scores":
        return "use fewer rows or classes, or `chunk_rows` to score a chunk of rows at a time"
    return (
        "use `dtype` float32 (half the bytes), `chunk_rows` to keep X on disk and read it "
        "by chunks, or a sparse format (LIBSVM) for mostly-zero data"
    )
