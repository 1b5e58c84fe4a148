"""Least squares on raw features, with the diagnostics and the inference table that
``linfit solve-ls`` reports."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from linfit.engines.weights import check_sample_weight
from linfit.errors import (
    OptionError,
    RankWarning,
    SolverError,
    UnknownNameError,
)
from linfit.fitting import fit
from linfit.fitting.inference import Inference, infer, r_squared, total_sum_of_squares
from linfit.fitting.solvers import ClosedFormResult, least_squares_methods
from linfit.linalg.design import RowDesign, correlation
from linfit.linalg.lsq import Dependency, LeastSquaresFit, digits_of
from linfit.linalg.lsq import solve as solve_closed_form
from linfit.models import LeastSquares


@dataclass(frozen=True)
class LeastSquaresReport:
    """A least-squares fit in the raw features' units, and how well-posed the problem was.

    ``rank`` and ``cond`` are of the column-equilibrated design ``Xh`` (``[X, 1]``, or
    ``X`` without intercept); ``digits`` estimates the correct significant digits of the
    worst coefficient; ``solved_by`` is the method that produced the answer (``auto``
    picks one; ``normal`` hands an ill-conditioned problem to ``qr``), ``note`` why.
    """

    method: str
    coef: np.ndarray  # (n_features,)
    intercept: float
    r2: float
    residual_norm: float  # ||Xh theta - y||_2
    rank: int
    cond: float
    digits: float
    time_s: float  # the solve alone (standardizing included)
    solved_by: str
    converged: bool = True
    message: str = "closed form"
    note: str = ""
    dependencies: tuple[str, ...] = ()
    inference: Inference | None = None
    fit_intercept: bool = True  # False: ``intercept`` is held at 0, not estimated


def solve_least_squares(
    X: np.ndarray,
    y: np.ndarray,
    *,
    method: str = "auto",
    reg: float = 0.0,
    standardize: bool = False,
    fit_intercept: bool = True,
    max_iter: int = 10_000,
    gtol: float = 1e-10,
    feature_names: list[str] | None = None,
    require_full_rank: bool = False,
    alpha: float = 0.05,
    cov: str = "nonrobust",
    sample_weight: np.ndarray | None = None,
    exact: Callable[[np.ndarray], np.ndarray] | None = None,
) -> LeastSquaresReport:
    """Fit ``y (n,) ~ X (n, d) w + b`` (``b = 0`` without ``fit_intercept``) and report it
    in raw units, with the inference table when ``reg`` is 0 and the design full rank.

    Closed forms solve on ``Xh`` directly; an optimizer name trains iteratively
    (standardizing internally when ``standardize``) until max |gradient| <= ``gtol`` or
    ``max_iter`` iterations; its rank, condition and table come from ``auto`` on the same
    data, and its digits from the distance to that solution. A rank-deficient design warns
    (RankWarning) naming the dependencies, or raises SolverError with
    ``require_full_rank``.

    ``sample_weight`` (n,) makes it weighted least squares, reported as statsmodels' WLS
    reports it (residual and total sums of squares weighted); rows of weight 0 are left
    out, as R's ``lm`` leaves them, so they count in no degree of freedom.

    ``exact`` maps rows of ``X`` to extended precision where columns are known exactly
    (the powers of ``linalg.powers.expand``): the closed forms and the table solve for
    those columns, not their float64 roundings.
    """
    _check_options(method, gtol, max_iter)
    X, y, w = positive_rows(X, y, sample_weight)
    names = (
        list(feature_names) if feature_names is not None else [f"x{j}" for j in range(X.shape[1])]
    )
    trained = fit(
        LeastSquares(reg=reg, fit_intercept=fit_intercept), X, y, solver=method,
        standardize=standardize, gtol=gtol, max_iter=max_iter, sample_weight=w, exact=exact,
    )  # fmt: skip
    W, b = trained.coefficients()
    coef, intercept = W[:, 0], float(b[0])
    design = RowDesign(X, np.asarray(y, dtype=np.float64).reshape(-1, 1), fit_intercept, w, exact)
    result = trained.result
    closed = result.least_squares if isinstance(result, ClosedFormResult) else None
    # fit weighs by w / mean(w); the report by w itself, as statsmodels' WLS does
    analysis = _raw_units_fit(closed if w is None else None, design, reg, standardize)
    theta = np.append(coef, intercept) if fit_intercept else coef
    digits = closed.digits if closed is not None else _digits_of_iterate(theta, analysis)
    dependencies = tuple(describe(dep, names) for dep in analysis.dependencies)
    _check_rank(analysis, dependencies, require_full_rank, closed)  # warns to our caller
    rss = float(analysis.rss[0]) if analysis is closed else _rss(design, theta)
    tss = total_sum_of_squares(y, fit_intercept, w)
    table = None
    if reg == 0 and analysis.rank == analysis.theta.shape[0] and X.shape[0] > analysis.rank:
        table = infer(analysis, design, names, tss, alpha=alpha, cov=cov, weights=w)
    return _report(
        method, coef, intercept, trained.summary, closed, analysis, rss=rss, tss=tss,
        digits=digits, dependencies=dependencies, table=table, fit_intercept=fit_intercept,
    )  # fmt: skip


def positive_rows(
    X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``X`` (n, d), ``y`` (n,) and the checked weights (n,), without the rows of weight 0
    (all of them when unweighted)."""
    w = check_sample_weight(sample_weight, X.shape[0])
    if w is None or np.all(w > 0):
        return X, y, w
    keep = w > 0
    return X[keep], np.asarray(y)[keep], w[keep]


def _check_options(method: str, gtol: float, max_iter: int) -> None:
    """Refuse, before fitting, a method solve-ls does not know or a negative tolerance or
    iteration limit."""
    if method not in least_squares_methods():
        raise UnknownNameError("solve-ls method", method, least_squares_methods())
    for option, value in (("`gtol`", gtol), ("`max_iter`", max_iter)):
        if not value >= 0:  # checked for closed forms too, which ignore them
            raise OptionError(f"{option} must be >= 0, got {value}")


def _raw_units_fit(
    closed: LeastSquaresFit | None, design: RowDesign, reg: float, standardize: bool
) -> LeastSquaresFit:
    """The closed-form fit on ``design`` (raw units) that the diagnostics and the table
    read: the solver's own, unless it ran on standardized features or iterated (then
    ``auto`` solves it again)."""
    if closed is not None and not standardize:
        return closed
    return solve_closed_form(design, "auto", reg)


def _report(
    method: str,
    coef: np.ndarray,
    intercept: float,
    summary: dict[str, Any],
    closed: LeastSquaresFit | None,
    analysis: LeastSquaresFit,
    *,
    rss: float,
    tss: float,
    digits: float,
    dependencies: tuple[str, ...],
    table: Inference | None,
    fit_intercept: bool,
) -> LeastSquaresReport:
    """The report of a fit of ``coef`` (d,) and ``intercept`` by ``method`` (its run's
    ``summary``; ``closed`` when a closed form solved it), with ``analysis``'s rank and
    condition and the fit's residual and total sums of squares ``rss`` and ``tss``."""
    return LeastSquaresReport(
        method=method,
        coef=coef,
        intercept=intercept,
        r2=r_squared(rss, tss),
        residual_norm=float(np.sqrt(rss)),
        rank=analysis.rank,
        cond=analysis.cond,
        digits=digits,
        time_s=summary["time_s"],
        solved_by=closed.method if closed is not None else method,
        converged=summary["converged"],
        message=summary["message"],
        note=closed.note if closed is not None else "",
        dependencies=dependencies,
        inference=table,
        fit_intercept=fit_intercept,
    )


def _digits_of_iterate(theta: np.ndarray, analysis: LeastSquaresFit) -> float:
    """An optimizer's digits: as close as it came to the refined solution, no closer than
    that solution's own."""
    exact = analysis.theta[:, 0]
    gap = np.max(np.abs(theta - exact) / np.maximum(np.abs(exact), 1e-300))
    return min(analysis.digits, digits_of(float(gap)))


def _check_rank(
    fit: LeastSquaresFit,
    dependencies: tuple[str, ...],
    required: bool,
    closed: LeastSquaresFit | None,
) -> None:
    """Warn about (or, when ``required``, refuse) a rank-deficient design; warn when a
    method's cut-off dropped directions the design resolves (``closed.dropped``)."""
    p = fit.theta.shape[0]
    if fit.rank < p and dependencies:
        found = "; ".join(dependencies)
        more = p - fit.rank - len(dependencies)
        found += f"; and {more} more" if more > 0 else ""
        message = f"the design is rank-deficient (rank {fit.rank} of {p}): {found}"
        if required:
            raise SolverError(f"{message}; drop one column of each dependency")
        warnings.warn(f"{message}; the fit is the minimum-norm one", RankWarning, stacklevel=3)
    elif closed is not None and closed.dropped:
        if required:
            raise SolverError(closed.note)
        warnings.warn(closed.note, RankWarning, stacklevel=3)


def describe(dependency: Dependency, names: list[str]) -> str:
    """``x3 ≈ 2·x1 − x2 + 0.5``: a dependency among columns, by name (the intercept's
    column of ones is the constant term)."""
    d = len(names)
    if dependency.column >= d and dependency.on:
        # "1 ≈ 0.1333·c" reads better solved for the column: "c ≈ 7.5"
        pivot = max(dependency.on, key=lambda j: abs(dependency.on[j]))
        a = dependency.on[pivot]
        on = {j: -c / a for j, c in dependency.on.items() if j != pivot}
        dependency = Dependency(column=pivot, on={**on, dependency.column: 1.0 / a})
    terms, constant = [], 0.0
    for column, coef in sorted(dependency.on.items()):
        if column >= d:  # the intercept's column of ones
            constant = coef
            continue
        magnitude = abs(coef)
        factor = "" if np.isclose(magnitude, 1.0, rtol=1e-9) else f"{magnitude:.4g}·"
        terms.append(("−" if coef < 0 else "+", f"{factor}{names[column]}"))
    if constant:
        terms.append(("−" if constant < 0 else "+", f"{abs(constant):.4g}"))
    label = names[dependency.column] if dependency.column < d else "1"
    if not terms:
        return f"{label} ≈ 0"
    text = ("−" if terms[0][0] == "−" else "") + terms[0][1]
    text += "".join(f" {sign} {term}" for sign, term in terms[1:])
    return f"{label} ≈ {text}"


def _rss(design: RowDesign, theta: np.ndarray) -> float:
    """``||y - Xh theta||^2`` in extended precision (one pass)."""
    return float(correlation(theta.reshape(-1, 1), design)[1][0])
