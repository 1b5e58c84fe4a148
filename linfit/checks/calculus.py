"""Numerical derivatives in the two layouts the notes use, and the row an identity is
checked by: what the matrix-calculus and the model identities share.

Layouts: "denominator" means a derivative of a scalar has the shape of its argument
(linfit's convention); "numerator" means a Jacobian ``J[i, j] = d f_i / d x_j``, as the
notes write vector-by-vector derivatives. The two are transposes of each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from linfit.checks.gradcheck import central_difference

H = 1e-3  # stencil step; the functions checked are smooth at the scale of their inputs

Check = Callable[[np.random.Generator], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Identity:
    """A claimed identity and how to check it: ``check(rng) -> (claimed, numerical)``."""

    name: str
    layout: str  # "denominator", "numerator", or "equality"
    check: Check
    counter_example: bool = False  # a mistaken form from the notes: it must fail


def jacobian(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
    """Numerator-layout Jacobian of ``f`` at ``x``: shape ``f(x).shape + x.shape``."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty(np.shape(f(x)) + x.shape)
    for index in np.ndindex(x.shape):
        unit = np.zeros_like(x)
        unit[index] = 1.0
        out[(..., *index)] = central_difference(f, x, unit, H)
    return out


def gradient(f: Callable[[np.ndarray], float], x: np.ndarray) -> np.ndarray:
    """Denominator-layout derivative of a scalar ``f``: the shape of ``x``."""
    return jacobian(lambda z: np.asarray(f(z)), x)
