"""Optimizers that know nothing about models: they see an ``Objective`` and a start point."""

from __future__ import annotations

from typing import Any

import numpy as np

# Importing the modules registers their optimizers.
from linfit.optim import bfgs, gd, lbfgs, newton  # noqa: F401
from linfit.optim.objective import Objective
from linfit.optim.registry import OPTIMIZERS, get_optimizer, register
from linfit.optim.result import MESSAGES, IterationRecord, OptimizeResult, Status
from linfit.optim.run import Callback

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
