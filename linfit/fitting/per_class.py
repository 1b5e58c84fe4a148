"""A one-vs-rest classifier's classes searched one at a time, as LIBLINEAR does.

A one-vs-rest objective is a sum of one binary problem per class, each reading its own
score column only (``models/mirrored.separable``). So its minimum is the K minima found
apart: each class is searched as :class:`~linfit.models.mirrored.ClassColumn`, a
one-column problem. On sparse rows this is what pays (measured on a 20-class text-like
problem, ``docs/benchmarks.md``): a one-column Hessian product is one compiled pass over
the rows (``linalg/sparse.py``) where K columns go through scipy's generic products, and
each class stops at its own iteration count instead of all at the hardest class's.

The run reads as one search over the whole parameter vector in which one class moves at a
time: every record (history and callback) gives the full objective at the current point
(the classes done at their answers, the class running at its iterate, the rest at the
start), the largest gradient over all classes, and iterations and evaluations counted
over every class's run. A callback that stops the run leaves the classes not yet reached
at the start. Each class gets the caller's ``max_iter``, ``gtol`` (against its own term's
scale) and ``ftol``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from linfit.lazy import issparse
from linfit.models import LinearModel
from linfit.models.mirrored import ClassColumn, separable
from linfit.optim import OptimizeResult, Status
from linfit.optim.registry import Optimizer
from linfit.optim.result import IterationRecord


def solves_per_class(problem: Any, optimizer: Optimizer) -> bool:
    """Whether ``problem`` (a ``solvers.Problem``) is searched class by class: a separable
    model with more than two classes, on sparse rows held in memory, by a deterministic
    optimizer (sgd's epochs read the rows once for all K columns; one class at a time
    would read them K times)."""
    n_outputs = problem.start.size // (problem.engine.n_features + 1)
    return (
        separable(problem.model, n_outputs)
        and issparse(getattr(problem.engine, "X", None))
        and not optimizer.stochastic
    )


def columns(params: np.ndarray, n_features: int) -> np.ndarray:
    """Flat ``params`` ((n_features + 1) K,) as ``[W; b]`` (n_features + 1, K): column k is
    class k's one-column parameters ``[w_k, b_k]``."""
    W, b = LinearModel.unpack(params, n_features)
    return np.vstack([W, b[None, :]])


def flat(theta: np.ndarray) -> np.ndarray:
    """``[W; b]`` (n_features + 1, K) back to flat parameters."""
    return LinearModel.pack(theta[:-1], theta[-1])


def solve_per_class(
    optimizer: Optimizer,
    problem: Any,
    problem_of: Callable[[LinearModel, np.ndarray], Any],
    **options: Any,
) -> OptimizeResult:
    """Minimize ``problem``'s objective (a separable model's, ``solves_per_class``) one
    class at a time with ``optimizer``; ``problem_of(model, init)`` makes a one-column
    problem on the same engine. ``options`` are the optimizer's (``gtol``, ``max_iter``,
    ``callback``, ...)."""
    d = problem.engine.n_features
    theta = columns(problem.start, d)  # (d + 1, K): a class's column replaced once solved
    f_start, g_start = problem.objective.fun(problem.start)
    grad = columns(np.asarray(g_start, dtype=np.float64), d)
    trace = _Trace(float(f_start), np.max(np.abs(grad), axis=0), time.perf_counter(), nfev=1)
    callback = options.pop("callback", None)
    results: list[OptimizeResult] = []
    for k in range(theta.shape[1]):
        column = problem_of(ClassColumn.of_class(problem.model, k), theta[:, k].copy())
        whole = trace.class_started(k)
        live = None if callback is None else _shown(callback, whole, first=k == 0)
        result = optimizer(column.objective, column.start, callback=live, **options)
        mapped = [whole(record) for record in result.history]
        trace.history += mapped[1 if k else 0 :]  # class k's start is class k-1's end
        trace.fun = mapped[-1].fun if mapped else trace.fun
        trace.nit, trace.nfev = trace.nit + result.nit, trace.nfev + result.nfev
        trace.norms[k] = result.grad_norm
        theta[:, k], grad[:, k] = result.x, result.jac
        results.append(result)
        if result.status in (Status.STOPPED, Status.DIVERGED):
            break  # the classes not reached stay at the start
    failed = [r.status for r in results if not r.status.success]
    return OptimizeResult(
        x=flat(theta), fun=trace.fun, jac=flat(grad), nit=trace.nit, nfev=trace.nfev,
        njev=1 + sum(r.njev for r in results), nhev=sum(r.nhev for r in results),
        status=failed[0] if failed else results[-1].status, method=results[0].method,
        history=tuple(trace.history),
    )  # fmt: skip


def _shown(
    callback: Callable[[IterationRecord], Any],
    whole: Callable[[IterationRecord], IterationRecord],
    first: bool,
) -> Callable[[IterationRecord], Any]:
    """The callback of one class's search: each record as the whole search's, skipping a
    later class's start (the same point as the class before's end, shown already)."""

    def shown(record: IterationRecord) -> Any:
        mapped = whole(record)  # always: a class's first record sets its start's objective
        return callback(mapped) if first or record.nit else None

    return shown


@dataclasses.dataclass
class _Trace:
    """The whole search's running totals while the classes are solved in turn: the full
    objective ``fun``, each class's max |gradient| ``norms`` (K,), iterations and
    evaluations so far, and the records."""

    fun: float
    norms: np.ndarray
    started: float
    nit: int = 0
    nfev: int = 0
    history: list[IterationRecord] = dataclasses.field(default_factory=list)

    def class_started(self, k: int) -> Callable[[IterationRecord], IterationRecord]:
        """The map from class ``k``'s records to the whole search's: the full objective
        moves by class k's change since its first record (its start)."""
        fun, nit, nfev = self.fun, self.nit, self.nfev
        offset = time.perf_counter() - self.started
        first: list[float] = []

        def whole(record: IterationRecord) -> IterationRecord:
            if not first:
                first.append(record.fun)
            norms = self.norms.copy()
            norms[k] = record.grad_norm
            return IterationRecord(
                nit=nit + record.nit, fun=fun + (record.fun - first[0]),
                grad_norm=float(norms.max()), step=record.step, nfev=nfev + record.nfev,
                elapsed=offset + record.elapsed,
            )  # fmt: skip

        return whole
