"""``fit``: the one path from raw data to a fitted model, for every caller.

The command line, the scikit-learn estimators, ``compare``, ``reproduce`` and the bench
all train through here. ``fit`` checks the options before any work, puts the data in an
engine (memory, out of core or a Dask cluster: standardized, targets encoded), runs the
solver on it, refuses a diverged run, and keeps what prediction needs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from linfit.engines.base import Engine
from linfit.engines.memory import InMemory
from linfit.engines.out_of_core import OutOfCore
from linfit.engines.weights import ClassWeight, check_sample_weight
from linfit.errors import ConvergenceWarning, OptionError
from linfit.fitting.budget import check_training_memory
from linfit.fitting.path import continuation
from linfit.fitting.report import SGD_SMALL_DATA_ROWS, check_diverged, summarize
from linfit.fitting.solvers import SOLVERS, Problem, Solver, get_solver
from linfit.fitting.trained import TrainedModel
from linfit.fitting.warm import warm_start
from linfit.lazy import issparse
from linfit.linalg.blocks import single_blas_thread
from linfit.models import LinearModel, LinearSVM
from linfit.models.mirrored import mirrors
from linfit.optim import Callback, OptimizeResult, Status
from linfit.optim.registry import DEFAULT_FTOL, DEFAULT_GTOL, check_options

ENGINES = ("auto", "memory", "out-of-core", "dask")


def fit(
    model: LinearModel,
    X: Any,
    y: Any,
    *,
    solver: str | None = None,
    standardize: bool = True,
    feature_names: tuple[str, ...] | None = None,
    target_name: str = "target",
    gtol: float = DEFAULT_GTOL,
    ftol: float = DEFAULT_FTOL,
    max_iter: int | None = None,
    lr: float | None = None,
    batch_size: int | None = None,
    seed: int = 0,
    callback: Callback | None = None,
    engine: str = "auto",
    chunk_rows: int | None = None,
    client: Any = None,
    sample_weight: Any = None,
    class_weight: ClassWeight = None,
    init: TrainedModel | None = None,
    path: Sequence[float] = (),
    exact: Callable[[np.ndarray], np.ndarray] | None = None,
) -> TrainedModel:
    """Train ``model`` on raw features ``X`` (n_samples, n_features) and targets ``y``
    (n_samples,) (least squares also (n_samples, n_outputs)).

    ``sample_weight`` (n_samples,), finite and >= 0, and ``class_weight`` (classifiers:
    ``"balanced"``, or a mapping from labels to weights) weigh the rows: the objective is
    ``sum_i w_i L_i / sum_i w_i + reg ||W||^2``, and standardization takes the weighted
    moments, so a row of integer weight m trains as m copies of it and a row of weight 0
    as no row. ``init``, a model trained before on the same features (and classes),
    warm-starts the iterative solvers from its coefficients (closed forms and dcd solve
    from scratch).

    ``path``: penalties to fit first, in order, each fit starting where the one before
    ended, before ``model.reg`` itself (a regularization path, strongest penalty first);
    the data are prepared once for all of them, and the fits before the last are kept in
    the result's ``path``.

    ``exact``: raw rows (m, d) of ``X`` to extended precision, where some columns are
    known more exactly than their float64 values (``linalg.powers.Powers``); least
    squares' closed forms then solve for those columns, on unstandardized rows in memory.

    ``X`` may be a dense array or a sparse matrix (in memory), a matrix on disk such as
    the RowFile of an out-of-core read (read ``chunk_rows`` rows at a time), or a dask
    array (trained on ``client``'s cluster, default the current client); ``engine="auto"``
    picks by that, ``"out-of-core"`` reads an array by chunks too. Classifiers take any
    labels (encoded here, predicted back in the originals).

    ``solver``: a name of ``SOLVERS``, an optimizer (default: ``default_solver``) or, for least
    squares, a closed form (``CLOSED_FORMS``: ``auto``, ``normal``, ``qr``, ``pinv``,
    ``lstsq``). ``max_iter`` defaults to the solver's own limit; ``lr`` and ``batch_size``
    go to the optimizers that take them, ``seed`` to those that draw random numbers (sgd's
    shuffles).

    Returns the trained model; its ``summary`` says how training ended and ``result`` is
    the solver's full result. Raises ``DivergenceError`` (with the result) when the
    objective diverged, and warns ``ConvergenceWarning`` at ``max_iter``.
    """
    models = [dataclasses.replace(model, reg=float(reg)) for reg in path] + [model]
    solvers = [  # every penalty's solver checked before any work
        prepare_solver(m, solver or default_solver(m, X, y), lr=lr, batch_size=batch_size,
                       seed=seed, gtol=gtol, max_iter=max_iter)
        for m in models
    ]  # fmt: skip
    check_training_memory(
        model, *solvers[-1], X, y, engine=engine, chunk_rows=chunk_rows,
        standardize=standardize, target_name=target_name,
    )  # fmt: skip
    data = make_engine(
        engine, model, X, y, standardize=standardize, target_name=target_name,
        chunk_rows=chunk_rows, client=client, sample_weight=sample_weight,
        class_weight=class_weight, exact=exact,
    )  # fmt: skip
    start = None if init is None else warm_start(init, model, data, feature_names)
    # named once for every fit of a path (47,236 strings took 7% of a sparse cv search)
    names = tuple(feature_names or (f"x{i}" for i in range(data.n_features)))
    fits: list[TrainedModel] = []
    warm: dict[str, Any] = {}  # along a path: the last fit's curvature (fitting/path.py)
    for i, (m, (chosen, options)) in enumerate(zip(models, solvers, strict=True)):
        result, summary = solve(
            Problem(m, data, start), chosen, {**options, **warm}, gtol=gtol, ftol=ftol,
            callback=callback, max_iter=chosen.default_max_iter if max_iter is None else max_iter,
            standardized=standardize,
        )  # fmt: skip
        fits.append(_accepted(m, data, result, summary, names, target_name))
        if i + 1 < len(models):  # the same engine, the same scaling: no conversion
            regs = [f.model.reg for f in fits]
            start, warm = continuation([f.result for f in fits], regs, models[i + 1],
                                       data.n_features)  # fmt: skip
            nxt = solvers[i + 1][0]
            warm = {key: value for key, value in warm.items() if key in nxt.options}
    return dataclasses.replace(fits[-1], path=tuple(fits[:-1]))


def _accepted(
    model: LinearModel,
    data: Engine,
    result: OptimizeResult,
    summary: dict[str, Any],
    feature_names: tuple[str, ...],
    target_name: str,
) -> TrainedModel:
    """The trained model of a finished run (``result.x`` the parameters, ``summary`` how
    it ended), once the run is accepted: ``DivergenceError`` if it diverged, then the
    engine's check of the solution on its data (a ReLU's dead units warn)."""
    check_diverged(result)
    data.check_solution(model, result.x)
    return TrainedModel(
        model=model,
        params=result.x,
        feature_names=feature_names,
        target_name=target_name,
        scaler=data.scaler,
        classes=data.classes,
        summary=summary,
        feature_means=data.feature_means,
        result=result,
    )


# Full BFGS keeps an n_params x n_params inverse Hessian and updates all of it each
# iteration: 32 MB and milliseconds at 2,000 parameters, but 12 TB for a 20-class model on
# 62,000 features. Above this the hinge's default is L-BFGS (which stalls 1e-5 to 1e-3
# above the hinge's exact optimum, where BFGS reaches it; see svm.default_optimizer).
BFGS_MAX_PARAMS = 2000


def default_solver(model: LinearModel, X: Any, y: Any = None) -> str:
    """The solver ``fit`` uses when none is named: the model's optimizer, except on sparse
    rows
    - dcd for a penalized linear SVM, as LIBLINEAR's default (measured by the bench on the
      rcv1-like 200,000 x 47,236 CSR matrix against LIBLINEAR -s 1 in the same run:
      squared hinge by dcd 0.46x, by tron 0.59x; the hinge has no Hessian and dcd alone
      reaches its optimum fast; the 20-class Weston-Watkins hinge on news20-like rows: dcd
      1.65x LIBLINEAR -s 4, lbfgs stopped at 1,000 iterations after 637 s);
    - tron for another convex model with a Hessian, where the diagonal preconditioner
      matters most (softmax; the squared hinge measured tron 8.5 s, newton 50 s, lbfgs
      65 s);
    and lbfgs where the model's bfgs would hold more than ``BFGS_MAX_PARAMS`` parameters
    (counted from ``y``'s classes when they are in memory). Dense data keeps the model's
    default otherwise."""
    if issparse(X) and isinstance(model, LinearSVM) and model.reg > 0:
        return "dcd"
    if issparse(X) and model.has_hessian and model.convex:
        return "tron"
    if model.default_optimizer == "bfgs" and _parameter_count(model, X, y) > BFGS_MAX_PARAMS:
        return "lbfgs"
    return model.default_optimizer


def _parameter_count(model: LinearModel, X: Any, y: Any) -> int:
    """``(n_features + 1) K`` searched, with K the classes of an in-memory ``y`` (at least 2
    for a classifier whose labels are elsewhere, e.g. on a cluster; one column for two
    classes, ``models/mirrored.py``), or ``y``'s columns."""
    if model.is_classifier:
        try:
            outputs = 2 if y is None or _is_dask(y) else max(2, np.unique(np.asarray(y)).size)
        except TypeError:  # labels that do not sort
            outputs = 2
        outputs = 1 if mirrors(model, outputs) else outputs  # two classes: one column
    else:
        outputs = 1 if getattr(y, "ndim", 1) == 1 else y.shape[1]
    return (X.shape[1] + 1) * outputs


def prepare_solver(
    model: LinearModel,
    solver: str | None,
    *,
    lr: float | None = None,
    batch_size: int | None = None,
    seed: int = 0,
    gtol: float = DEFAULT_GTOL,
    max_iter: int | None = None,
) -> tuple[Solver, dict[str, Any]]:
    """The solver (default: the model's optimizer) and its options, checked before any
    work: a solver the model cannot use is refused, and so is ``lr`` or ``batch_size``
    for a solver that does not take it."""
    chosen = get_solver(solver or model.default_optimizer)
    chosen.check_model(model)
    options: dict[str, Any] = {}
    for option, value in (("lr", lr), ("batch_size", batch_size)):
        if value is None:
            continue
        if option not in chosen.options:
            *others, last = [n for n, s in SOLVERS.items() if option in s.options]
            takers = f"{', '.join(others)} and {last}" if others else last
            raise OptionError(f"`{option}` is an option of {takers}, not {chosen.name}")
        options[option] = value
    check_options(options)
    if "seed" in chosen.options:
        options["seed"] = seed
    if not model.differentiable:
        options.update(chosen.nonsmooth_options)
    for option, limit in (("`gtol`", gtol), ("`max_iter`", max_iter)):
        if limit is not None and not limit >= 0:
            raise OptionError(f"{option} must be >= 0, got {limit}")
    return chosen, options


def make_engine(
    engine: str,
    model: LinearModel,
    X: Any,
    y: Any,
    *,
    standardize: bool,
    target_name: str,
    chunk_rows: int | None = None,
    client: Any = None,
    sample_weight: Any = None,
    class_weight: ClassWeight = None,
    exact: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Engine:
    """The engine ``engine`` holding ``X``, ``y`` and the rows' weights; ``"auto"``: a dask
    array's cluster, out of core for a matrix on disk or when ``chunk_rows`` is given, else
    memory."""
    if engine not in ENGINES:
        raise OptionError(f"`engine` takes {', '.join(ENGINES)}, got {engine!r}")
    if engine == "auto":
        if _is_dask(X):
            engine = "dask"
        elif chunk_rows is not None or not (isinstance(X, np.ndarray) or issparse(X)):
            engine = "out-of-core"
        else:
            engine = "memory"
    prepare = {
        "standardize": standardize, "target_name": target_name, "class_weight": class_weight,
        "sample_weight": sample_weight if engine == "dask" else check_sample_weight(
            sample_weight, X.shape[0]
        ),
    }  # fmt: skip
    if engine == "dask":
        from linfit.engines.dask_fit import OnCluster

        return OnCluster.prepare(model, X, y, client=client, **prepare)
    if engine == "out-of-core":
        from linfit.data.stream import DEFAULT_CHUNK_ROWS

        rows = DEFAULT_CHUNK_ROWS if chunk_rows is None else chunk_rows
        return OutOfCore.prepare(model, X, y, chunk_rows=rows, **prepare)
    return InMemory.prepare(model, X, y, exact=exact, **prepare)


def _is_dask(X: Any) -> bool:
    return type(X).__module__.split(".")[0] == "dask"


def solve(
    problem: Problem,
    solver: Solver,
    options: dict[str, Any],
    *,
    gtol: float,
    ftol: float,
    max_iter: int,
    callback: Callback | None,
    standardized: bool,
) -> tuple[OptimizeResult, dict[str, Any]]:
    """Run ``solver`` on ``problem`` from the engine's start, timed; the result and its
    ``summarize``d form.

    The optimizer's bare max_iter warning is silenced; the one that reaches the caller is
    the summary's, which adds the advice.
    """
    model, data = problem.model, problem.engine
    start = time.perf_counter()
    # On CSR rows BLAS sees only the optimizer's vectors and small reductions (the products
    # are scipy's or linfit's own kernels, threaded apart), and two BLAS threads woken for
    # each short call cost more than the call: measured on the one-hot workload (480,000 x
    # 3,017 CSR, softmax by tron) 11.7 s on one BLAS thread against 44.5 s on two, under load
    blas = single_blas_thread() if issparse(getattr(data, "X", None)) else contextlib.nullcontext()
    with warnings.catch_warnings(), blas:
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        result = solver.run(
            problem, gtol=gtol, ftol=ftol, max_iter=max_iter, callback=callback, **options
        )
    elapsed = time.perf_counter() - start
    small = solver.stochastic and data.n_samples < SGD_SMALL_DATA_ROWS
    summary = summarize(
        result, elapsed, gtol, smooth=model.differentiable, standardized=standardized,
        rather=model.default_optimizer if small else None,
    )  # fmt: skip
    if result.status == Status.MAX_ITER:
        warnings.warn(summary["message"], ConvergenceWarning, stacklevel=3)
    return result, summary
