"""Optimizers that know nothing about models: they see an ``Objective`` and a start point."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import numpy as np

from linfit.optim.objective import Objective
from linfit.optim.registry import OPTIMIZERS, get_optimizer, register
from linfit.optim.result import MESSAGES, IterationRecord, OptimizeResult, Status
from linfit.optim.run import Callback

# The modules of this package that are machinery, not optimizers.
INFRASTRUCTURE = frozenset({"linesearch", "objective", "registry", "result", "run"})


def import_optimizer_modules() -> None:
    """Import every other module of this package: importing one runs its ``@register``.

    So adding an optimizer touches one file: ``linfit/optim/foo.py`` with
    ``@register("foo")`` is found here by its file name (in sorted order, which is the
    registry's order), with no edit anywhere else.
    """
    for module in pkgutil.iter_modules(__path__):
        if module.name not in INFRASTRUCTURE:
            importlib.import_module(f"{__name__}.{module.name}")


import_optimizer_modules()

__all__ = [
    "MESSAGES",
    "OPTIMIZERS",
    "Callback",
    "IterationRecord",
    "Objective",
    "OptimizeResult",
    "Status",
    "get_optimizer",
    "minimize",
    "register",
]


def minimize(
    objective: Objective, x0: np.ndarray, method: str = "lbfgs", **options: Any
) -> OptimizeResult:
    """Minimize ``objective`` from ``x0`` with the registered optimizer ``method``.

    ``options``: ``gtol``, ``ftol``, ``max_iter``, ``callback`` and the optimizer's own
    (``lr`` for gd, ``memory`` for lbfgs, ``dense_limit`` for newton).
    """
    return get_optimizer(method)(objective, x0, **options)
