"""Every way to find a model's parameters, by name: the optimizers and the closed forms.

A solver takes a :class:`Problem` (a model and the engine holding its data) and returns
an :class:`~linfit.optim.OptimizeResult`. An optimizer sees only the objective the engine
builds (f, g, Hessian products, mini-batches) and the problem's start; a solver that needs
the data itself (the closed forms of least squares today; dual coordinate descent next)
asks the engine for it, and plugs in the same way: one entry in ``SOLVERS``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from linfit.engines.base import Engine
from linfit.errors import CapabilityError, UnknownNameError
from linfit.fitting.per_class import solve_per_class, solves_per_class
from linfit.models import CLOSED_FORMS, LeastSquares, LinearModel, LinearSVM
from linfit.models.mirrored import Mirrored, fold, mirrors, unfold
from linfit.optim import OPTIMIZERS, Objective, OptimizeResult, Status
from linfit.optim.objective import MiniBatch
from linfit.optim.registry import Optimizer
from linfit.optim.result import IterationRecord
from linfit.optim.run import Callback

if TYPE_CHECKING:
    from linfit.linalg.lsq import LeastSquaresFit


@dataclass(frozen=True)
class Problem:
    """A model and the engine holding its (scaled) training data; ``init`` (flat, in the
    engine's scaled units), where an iterative solver starts instead of the engine's rule
    (a warm start)."""

    model: LinearModel
    engine: Engine
    init: np.ndarray | None = None

    @cached_property
    def objective(self) -> Objective:
        objective = self.engine.objective(self.model)
        if self.model.fit_intercept:
            return objective
        return bias_held(objective, self.start.size // (self.engine.n_features + 1))

    @cached_property
    def start(self) -> np.ndarray:
        """Where an iterative solver starts (the engine's rule for the model); a model
        without intercept starts, and stays, at bias zero."""
        start = self.engine.start(self.model) if self.init is None else self.init
        if not self.model.fit_intercept:
            start = start.copy()
            start[start.size - start.size // (self.engine.n_features + 1) :] = 0.0
        return start


def bias_held(objective: Objective, n_outputs: int) -> Objective:
    """``objective`` restricted to bias zero: the gradient's last ``n_outputs`` entries (the
    bias) are zero and the Hessian (and its diagonal) is the identity there, so no
    optimizer moves the bias from the zero it starts at."""
    K = n_outputs
    changes: dict[str, Any] = {"fun": _held_fun(objective.fun, K)}
    if objective.hess is not None:
        changes["hess"] = _held_hess(objective.hess, K)
    if objective.hess_operator is not None:
        changes["hess_operator"] = _held_hess_operator(objective.hess_operator, K)
    if objective.hess_diagonal is not None:
        changes["hess_diagonal"] = _held_hess_diagonal(objective.hess_diagonal, K)
    if objective.batches is not None:
        batches = objective.batches
        changes["batches"] = lambda rng, rows: (_held_batch(mb, K) for mb in batches(rng, rows))
    if objective.sample is not None:
        sample = objective.sample
        changes["sample"] = lambda rng, n, rows: [_held_batch(mb, K) for mb in sample(rng, n, rows)]
    return dataclasses.replace(objective, **changes)


def _held(g: np.ndarray, K: int) -> np.ndarray:
    """A copy of the gradient ``g`` (p,) with its last ``K`` entries (the bias) zero."""
    g = np.array(g)
    g[g.size - K :] = 0.0
    return g


def _held_fun(
    fun: Callable[[np.ndarray], tuple[float, np.ndarray]], K: int
) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """``x -> (f, g)`` of ``fun`` with the bias's gradient (the last ``K`` entries) zero."""

    def held_fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        f, g = fun(x)
        return f, _held(g, K)

    return held_fun


def _held_batch(mb: MiniBatch, K: int) -> MiniBatch:
    """The mini-batch ``mb`` with the bias's gradient zero."""
    return MiniBatch(rows=mb.rows, fun=_held_fun(mb.fun, K))


def _held_hess(
    hess: Callable[[np.ndarray], np.ndarray], K: int
) -> Callable[[np.ndarray], np.ndarray]:
    """``x -> H`` (p, p) of ``hess`` with the bias's last ``K`` rows and columns those of
    the identity."""

    def held_hess(x: np.ndarray) -> np.ndarray:
        H = np.array(hess(x))
        H[-K:, :] = 0.0
        H[:, -K:] = 0.0
        H[np.arange(H.shape[0] - K, H.shape[0]), np.arange(H.shape[0] - K, H.shape[0])] = 1.0
        return H

    return held_hess


def _held_hess_operator(
    hess_operator: Callable[[np.ndarray], Callable[[np.ndarray], np.ndarray]], K: int
) -> Callable[[np.ndarray], Callable[[np.ndarray], np.ndarray]]:
    """``x -> (v -> H v)`` with ``H`` as ``_held_hess`` makes it: the product of ``v`` (p,)
    with its bias part zero, its own bias part passed through."""

    def held_hess_operator(x: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        hvp = hess_operator(x)

        def held_hvp(v: np.ndarray) -> np.ndarray:
            out = _held(hvp(_held(v, K)), K)
            out[out.size - K :] = v[v.size - K :]
            return out

        return held_hvp

    return held_hess_operator


def _held_hess_diagonal(
    hess_diagonal: Callable[[np.ndarray], np.ndarray], K: int
) -> Callable[[np.ndarray], np.ndarray]:
    """``x -> diag(H)`` (p,) with the bias's last ``K`` entries 1, as ``H`` is the identity
    there (tron's preconditioner)."""

    def held_hess_diagonal(x: np.ndarray) -> np.ndarray:
        diagonal = np.array(hess_diagonal(x))
        diagonal[diagonal.size - K :] = 1.0
        return diagonal

    return held_hess_diagonal


@dataclass(frozen=True)
class Solver:
    """A named way to minimize a model's objective.

    ``run(problem, gtol=, ftol=, max_iter=, callback=, **options)`` returns the
    result. The flags say what a caller must check before any work: ``needs_hessian`` (a
    model without one is refused), ``stochastic`` (it approaches the optimum only in
    expectation), ``closed_form`` (it solves least squares exactly, ignoring the start,
    the tolerances and the iteration limit). ``options`` are its own keyword options,
    ``nonsmooth_options`` those it recommends when the objective has kinks.
    """

    name: str
    run: Callable[..., OptimizeResult]
    needs_hessian: bool = False
    stochastic: bool = False
    closed_form: bool = False
    default_max_iter: int = 1
    options: tuple[str, ...] = ()
    nonsmooth_options: dict[str, Any] = field(default_factory=dict)
    accepts: Callable[[LinearModel], None] | None = None  # raises for a model it cannot solve

    def check_model(self, model: LinearModel) -> None:
        """Refuse, before any work, a model this solver cannot minimize."""
        if self.needs_hessian:
            model.require_hessian()
        if self.accepts is not None:
            self.accepts(model)
        if self.closed_form and not isinstance(model, LeastSquares):
            raise CapabilityError(
                f"{self.name} is a closed form of least squares, not of {model.describe()}; "
                f"use an optimizer ({', '.join(OPTIMIZERS)})"
            )


def optimizer_solver(name: str, optimizer: Optimizer) -> Solver:
    """The registered optimizer ``name`` as a solver: it minimizes the engine's objective."""

    def run(problem: Problem, **options: Any) -> OptimizeResult:
        d = problem.engine.n_features
        if solves_per_class(problem, optimizer):  # one-vs-rest on sparse rows, K > 2
            return solve_per_class(
                optimizer, problem, lambda model, init: Problem(model, problem.engine, init),
                **options,
            )  # fmt: skip
        if not mirrors(problem.model, problem.start.size // (d + 1)):
            return optimizer(problem.objective, problem.start, **options)
        # a binary classifier: the search runs on the mirror, one score column, from the
        # engine's start (or the warm start) folded onto it
        half = Problem(Mirrored.of(problem.model), problem.engine, fold(problem.start, d))
        if options.get("callback") is not None:
            options["callback"] = _full_records(options["callback"])
        return _unfolded(optimizer(half.objective, half.start, **options), d)

    return Solver(
        name=name,
        run=run,
        needs_hessian=optimizer.needs_hessian,
        stochastic=optimizer.stochastic,
        default_max_iter=optimizer.default_max_iter,
        options=optimizer.options,
        nonsmooth_options=optimizer.nonsmooth_options,
    )


def _full_record(record: IterationRecord) -> IterationRecord:
    """A record of the search on the mirror in the classifier's terms: the objective is
    twice the mirror's, a step ``[s, -s]`` is sqrt(2) times as long, the gradient's max
    is the same (``models/mirrored.py``)."""
    return dataclasses.replace(record, fun=2.0 * record.fun, step=math.sqrt(2.0) * record.step)


def _full_records(callback: Callback) -> Callback:
    return lambda record: callback(_full_record(record))


def _unfolded(result: OptimizeResult, n_features: int) -> OptimizeResult:
    """A result found on the mirror, as the two-column classifier's."""
    return dataclasses.replace(
        result, x=unfold(result.x, n_features), jac=unfold(result.jac, n_features),
        fun=2.0 * result.fun, history=tuple(_full_record(r) for r in result.history),
    )  # fmt: skip


@dataclass(frozen=True)
class ClosedFormResult(OptimizeResult):
    """An optimizer's result for a closed form, with the solver's own report: the method
    that solved it, rank, condition, estimated digits, dependencies among columns."""

    least_squares: LeastSquaresFit | None = None


def closed_form_solver(method: str) -> Solver:
    """Least squares in closed form by ``method``, reported as an optimizer's result: the
    objective and its gradient at the solution come from the factorization (no pass over
    the data more), so every solver states how close to stationary its answer is."""

    def run(problem: Problem, **ignored: Any) -> OptimizeResult:
        solution = problem.engine.least_squares(problem.model, method)
        fun, jac = solution.objective()
        return ClosedFormResult(
            x=solution.params, fun=fun, jac=jac, nit=1, nfev=0, njev=0,
            status=Status.CLOSED_FORM, method=method, least_squares=solution,
        )  # fmt: skip

    return Solver(name=method, run=run, closed_form=True)


def dual_cd_solver() -> Solver:
    """Dual coordinate descent for the linear SVMs: a binary dual per class for one-vs-rest
    (``fitting/dual_cd.py``), each sample's K - 1 variables as one block for Weston-Watkins
    (``fitting/dual_ww.py``). It needs the rows themselves, in memory, and their weights."""
    from linfit.fitting import dual_cd, dual_ww

    def dual_of(model: LinearModel) -> tuple[Callable[..., OptimizeResult], Callable]:
        """The model's dual solver and the check that refuses what it does not solve."""
        if isinstance(model, LinearSVM) and not model.one_vs_rest:
            return dual_ww.dual_ww, dual_ww.check_ww_model
        return dual_cd.dual_cd, dual_cd.check_dual_model

    def run(problem: Problem, *, gtol: float, ftol: float, max_iter: int, seed: int = 0,
            **ignored: Any) -> OptimizeResult:  # fmt: skip
        X, y = getattr(problem.engine, "X", None), getattr(problem.engine, "y", None)
        if X is None or y is None or not hasattr(X, "shape"):
            raise CapabilityError("dcd needs the rows in memory (`engine` memory)")
        # the rows' multipliers (n,) of mean 1, None unweighted: each sample's dual cost
        weights = getattr(problem.engine, "weights", None)
        solve, _ = dual_of(problem.model)
        return solve(
            problem.model, X, y, problem.objective.fun, gtol=gtol, ftol=ftol,
            max_iter=max_iter, seed=seed, weights=weights,
        )  # fmt: skip

    return Solver(
        name="dcd", run=run, default_max_iter=1000, options=("seed",),
        accepts=lambda model: dual_of(model)[1](model),
    )  # fmt: skip


def _registry() -> dict[str, Solver]:
    solvers = {name: optimizer_solver(name, opt) for name, opt in OPTIMIZERS.items()}
    solvers.update({method: closed_form_solver(method) for method in CLOSED_FORMS})
    solvers["dcd"] = dual_cd_solver()
    return solvers


SOLVERS: dict[str, Solver] = _registry()


def least_squares_methods() -> tuple[str, ...]:
    """The solvers ``solve-ls`` offers: the closed forms first, then every registered
    optimizer but the stochastic ones, which approach the solution only in expectation
    (solve-ls reports solutions to ~1e-10), and the solvers of other models (``accepts``)."""
    return tuple(CLOSED_FORMS) + tuple(n for n, s in SOLVERS.items() if not (
        s.stochastic or s.closed_form or s.accepts))  # fmt: skip


def get_solver(name: str) -> Solver:
    """The solver called ``name``, or an error listing the valid names."""
    try:
        return SOLVERS[name]
    except KeyError:
        raise UnknownNameError("optimizer", name, list(OPTIMIZERS)) from None
