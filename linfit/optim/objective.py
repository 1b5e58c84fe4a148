"""What an optimizer is allowed to know about a problem: callables on a flat vector."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

Vector = np.ndarray
ValueGradient = Callable[[Vector], tuple[float, Vector]]
T = TypeVar("T")


def first_rows(items: Iterable[T], n_rows: int, rows: Callable[[T], int]) -> list[T]:
    """The first of ``items``, just enough that their ``rows`` add up to ``n_rows`` (or all)."""
    picked, total = [], 0
    for item in items:
        picked.append(item)
        total += rows(item)
        if total >= n_rows:
            break
    return picked


@dataclass(frozen=True)
class MiniBatch:
    """The objective restricted to ``rows`` of the data: ``fun(x) -> (f_B, g_B)``."""

    rows: int
    fun: ValueGradient


@dataclass(frozen=True)
class Objective:
    """A smooth-enough scalar function of a flat parameter vector ``x`` of shape (n,).

    fun:            ``x -> (f, g)``, value and gradient (n,) from one evaluation.
    value:          ``x -> f`` alone, when cheaper than ``fun`` (finite differences).
    hess:           ``x -> H`` dense (n, n), for second-order methods on small problems.
    hess_operator:  ``x -> (v -> H v)``, curvature computed once at ``x`` and reused for
                    every product, for second-order methods on large problems.
    hess_diagonal:  ``x -> D`` (n,), non-negative, H's diagonal or an average of it that
                    respects the objective's invariances, for a diagonal preconditioner
                    (tron); it costs about one Hessian-vector product.
    batches:        ``(rng, batch_rows) -> iterator of MiniBatch``: one epoch, for
                    stochastic methods. A batch's ``f_B`` is the mean loss over its rows
                    plus the whole penalty, so over the shuffle its expectation is ``f``;
                    the batches of one epoch cover each of the ``n_samples`` rows once.
    n_samples:      how many rows the data term averages over (with ``batches``).
    sample:         ``(rng, n_rows, batch_rows) -> list of MiniBatch``: the first batches
                    of the epoch ``batches(rng, batch_rows)`` would draw, covering at
                    least ``n_rows`` rows (or all), with their rows ``X_B`` (m, d) and
                    ``y_B`` (m,) fetched into this process at once, so that evaluating
                    them costs no round trip. Offered where ``batches`` are remote (on a
                    cluster each ``f_B`` is a round trip), for sgd's step calibration,
                    which evaluates each batch twice per candidate step; without it the
                    calibration takes the same batches from ``batches``.
    """

    fun: ValueGradient
    value: Callable[[Vector], float] | None = None
    hess: Callable[[Vector], np.ndarray] | None = None
    hess_operator: Callable[[Vector], Callable[[Vector], Vector]] | None = None
    hess_diagonal: Callable[[Vector], Vector] | None = None
    batches: Callable[[np.random.Generator, int], Iterator[MiniBatch]] | None = None
    n_samples: int | None = None
    sample: Callable[[np.random.Generator, int, int], list[MiniBatch]] | None = None

    def f(self, x: Vector) -> float:
        """Value alone, through ``value`` when given."""
        return self.value(x) if self.value is not None else self.fun(x)[0]

    def first_batches(
        self, rng: np.random.Generator, n_rows: int, batch_rows: int
    ) -> list[MiniBatch]:
        """The first batches of the epoch ``batches(rng, batch_rows)``, covering ``n_rows``
        rows (or all): from ``sample`` when offered, else from ``batches``."""
        if self.sample is not None:
            return self.sample(rng, n_rows, batch_rows)
        return first_rows(self.batches(rng, batch_rows), n_rows, lambda batch: batch.rows)
