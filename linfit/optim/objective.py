"""What an optimizer is allowed to know about a problem: callables on a flat vector."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Vector = np.ndarray


@dataclass(frozen=True)
class Objective:
    """A smooth-enough scalar function of a flat parameter vector ``x`` of shape (n,).

    fun:            ``x -> (f, g)``, value and gradient (n,) from one evaluation.
    value:          ``x -> f`` alone, when cheaper than ``fun`` (finite differences).
    hess:           ``x -> H`` dense (n, n), for second-order methods on small problems.
    hess_operator:  ``x -> (v -> H v)``, curvature computed once at ``x`` and reused for
                    every product, for second-order methods on large problems.
    """

    fun: Callable[[Vector], tuple[float, Vector]]
    value: Callable[[Vector], float] | None = None
    hess: Callable[[Vector], np.ndarray] | None = None
    hess_operator: Callable[[Vector], Callable[[Vector], Vector]] | None = None

    def f(self, x: Vector) -> float:
        """Value alone, through ``value`` when given."""
        return self.value(x) if self.value is not None else self.fun(x)[0]
