"""The optimizer registry: a dict filled by a decorator, read by ``minimize`` and the CLI.

An optimizer is written as a loop over a ``Run``: while ``run.running``, find a
direction and a step, then ``run.accept`` the new point. ``register`` wraps it into
the public signature, so starting, counting, stopping, Ctrl-C and the result are
handled once for all of them. A run that stops at ``max_iter`` warns
``ConvergenceWarning`` with the result's message.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from linfit.errors import ConvergenceWarning, OptionError, UnknownNameError
from linfit.optim.objective import Objective
from linfit.optim.result import OptimizeResult, Status
from linfit.optim.run import Callback, Run

DEFAULT_GTOL = 1e-6
DEFAULT_FTOL = 1e-12
DEFAULT_MAX_ITER = 1000


class Optimizer(Protocol):
    """The public signature of every registered optimizer; extra options are its own."""

    def __call__(
        self,
        objective: Objective,
        x0: np.ndarray,
        *,
        gtol: float = ...,
        ftol: float = ...,
        max_iter: int | None = ...,
        callback: Callback | None = ...,
        **options: Any,
    ) -> OptimizeResult: ...

    needs_hessian: bool
    stochastic: bool
    default_max_iter: int
    options: tuple[str, ...]
    nonsmooth_options: dict[str, Any]


OPTIMIZERS: dict[str, Optimizer] = {}


def register(
    name: str,
    *,
    needs_hessian: bool = False,
    stochastic: bool = False,
    default_max_iter: int = DEFAULT_MAX_ITER,
    nonsmooth_options: dict[str, Any] | None = None,
) -> Callable[[Callable[..., None]], Optimizer]:
    """Register the loop ``loop(run, **options)`` as the optimizer called ``name``.

    ``needs_hessian`` marks optimizers that use ``hess``/``hess_operator``, so callers
    can refuse a model without one before starting. ``stochastic`` marks optimizers that
    follow mini-batch gradients (``Objective.batches``): they approach the optimum only in
    expectation, so they are not held to the deterministic ones' tolerances.
    ``default_max_iter`` is the iteration limit when the caller gives none (for a
    stochastic optimizer an iteration is an epoch). ``nonsmooth_options`` are the
    options the optimizer recommends when the objective has kinks. The loop's keyword
    parameters are the optimizer's own options, listed in ``options``.
    """

    def decorate(loop: Callable[..., None]) -> Optimizer:
        if name in OPTIMIZERS:
            raise ValueError(f"optimizer {name!r} is registered twice")
        optimizer = _wrap(name, loop, default_max_iter)
        _describe(
            optimizer,
            loop,
            needs_hessian=needs_hessian,
            stochastic=stochastic,
            default_max_iter=default_max_iter,
            nonsmooth_options=nonsmooth_options,
        )
        OPTIMIZERS[name] = optimizer
        return optimizer

    return decorate


def _wrap(name: str, loop: Callable[..., None], default_max_iter: int) -> Optimizer:
    """``loop`` behind the public ``Optimizer`` signature: options checked, a ``Run``
    started at ``x0`` (shape (d,)), the loop driven, an iteration limit reached warned."""

    @functools.wraps(loop)
    def optimizer(
        objective: Objective,
        x0: np.ndarray,
        *,
        gtol: float = DEFAULT_GTOL,
        ftol: float = DEFAULT_FTOL,
        max_iter: int | None = None,
        callback: Callback | None = None,
        **options: Any,
    ) -> OptimizeResult:
        check_options(options)
        max_iter = default_max_iter if max_iter is None else max_iter
        run = Run(name, objective, x0, gtol=gtol, ftol=ftol, max_iter=max_iter, callback=callback)
        result = _drive(loop, run, options)
        if result.status == Status.MAX_ITER:
            # never silent: the result says it, and so does a warning the caller can see
            # (issued here, so that stacklevel 2 names the optimizer's caller)
            warnings.warn(result.message, ConvergenceWarning, stacklevel=2)
        return result

    return optimizer  # type: ignore[return-value]  # its attributes are set by _describe


def _drive(loop: Callable[..., None], run: Run, options: dict[str, Any]) -> OptimizeResult:
    """Run ``loop`` on ``run`` unless the start already stops it; the result of the run."""
    try:
        if run.running:
            loop(run, **options)
    except KeyboardInterrupt:
        # Ctrl-C ends the run at the last accepted point, which the caller may save.
        run.stop(Status.STOPPED)
    return run.result()


def _describe(
    optimizer: Optimizer,
    loop: Callable[..., None],
    *,
    needs_hessian: bool,
    stochastic: bool,
    default_max_iter: int,
    nonsmooth_options: dict[str, Any] | None,
) -> None:
    """Set what callers read off an optimizer before running it (see ``register``); its
    own options are the loop's keyword parameters, after ``run``."""
    optimizer.needs_hessian = needs_hessian
    optimizer.stochastic = stochastic
    optimizer.default_max_iter = default_max_iter
    optimizer.options = tuple(inspect.signature(loop).parameters)[1:]
    optimizer.nonsmooth_options = dict(nonsmooth_options or {})


def check_options(options: dict[str, Any]) -> None:
    """The values of options that several optimizers share, checked in one place (named as
    the CLI's flags): ``lr`` a positive number, ``batch_size`` at least 1 row."""
    lr, batch_size = options.get("lr"), options.get("batch_size")
    if lr is not None and not (np.isfinite(lr) and lr > 0):
        raise OptionError(f"`lr` must be a positive number, got {lr}")
    if batch_size is not None and batch_size < 1:
        raise OptionError(f"`batch_size` must be at least 1 row, got {batch_size}")


def get_optimizer(name: str) -> Optimizer:
    """The optimizer called ``name``, or an error listing the valid names."""
    try:
        return OPTIMIZERS[name]
    except KeyError:
        raise UnknownNameError("optimizer", name, list(OPTIMIZERS)) from None
