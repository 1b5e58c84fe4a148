"""The matrix-calculus identities the notes state, checked numerically on random inputs.

Each identity compares a closed form (the "claim") with an independent numerical value:
a finite-difference derivative, or the other side of an equality (see
:mod:`~linfit.checks.calculus` for the derivatives and their layouts). A few rows are
counter-examples: the notes' mistaken forms, which must *fail*; they are reported as
expected failures.

The rows come from two modules: :mod:`~linfit.checks.matrix_identities` (vectors and
matrices, softmax, element-wise operations, least squares and the pseudo-inverse) and
:mod:`~linfit.checks.model_identities` (the SVM, softmax and ReLU gradients, each loss and
formula written out independently of ``linfit.models``, and linfit's ``loss_gradient``
checked against the formula).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from linfit.checks.calculus import Identity
from linfit.checks.matrix_identities import MATRIX_IDENTITIES
from linfit.checks.model_identities import MODEL_IDENTITIES

TOLERANCE = 1e-6


@dataclass(frozen=True)
class IdentityResult:
    name: str
    layout: str
    max_rel_error: float
    counter_example: bool

    @property
    def holds(self) -> bool:
        return self.max_rel_error <= TOLERANCE

    @property
    def passed(self) -> bool:
        """An identity passes when it holds; a counter-example when it does not."""
        return self.holds != self.counter_example


def _relative(claimed: np.ndarray, numerical: np.ndarray) -> float:
    claimed, numerical = np.asarray(claimed, float), np.asarray(numerical, float)
    scale = max(np.max(np.abs(claimed)), np.max(np.abs(numerical)), 1e-12)
    return float(np.max(np.abs(claimed - numerical)) / scale)


IDENTITIES: tuple[Identity, ...] = MATRIX_IDENTITIES + MODEL_IDENTITIES


def check_identities(seed: int = 0) -> list[IdentityResult]:
    """Check every identity on fresh random inputs drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    return [
        IdentityResult(
            name=identity.name,
            layout=identity.layout,
            max_rel_error=_relative(*identity.check(rng)),
            counter_example=identity.counter_example,
        )
        for identity in IDENTITIES
    ]
