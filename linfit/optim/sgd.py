"""Mini-batch stochastic gradient descent with iterate averaging: an iteration is an epoch."""

from __future__ import annotations

import math

import numpy as np

from linfit.errors import CapabilityError, OptionError
from linfit.optim.objective import MiniBatch, Objective
from linfit.optim.registry import register
from linfit.optim.result import Status
from linfit.optim.run import Run
from linfit.optim.sgd_sparse import IterateFor, iterate_for

# The first step is chosen as Bottou's SGD code does: a few constant-step passes over a
# small sample from the start point, one per candidate, keeping the step whose pass ends
# lowest on that sample. Candidates span 4 down to 2^-14 by halves.
CANDIDATE_STEPS = tuple(2.0**k for k in range(2, -15, -1))
CALIBRATION_ROWS = 2048


@register("sgd", stochastic=True, default_max_iter=10)
def sgd(
    run: Run,
    lr: float | None = None,
    batch_size: int = 256,
    average: bool = True,
    seed: int = 0,
) -> None:
    """Mini-batch SGD on ``Objective.batches``; each iteration is one epoch (every row once).

    Step after ``tau`` epochs (fractional, counted in rows): ``lr / sqrt(1 + tau)``, a
    decay that needs no knowledge of the curvature. With ``average`` the point reported
    at the end of each epoch is the mean of the iterates since half an epoch in
    (Polyak-Ruppert averaging, which cancels most of the steps' noise; Bach & Moulines
    2011 show it reaches the optimal rate with steps this slowly decaying). Without
    ``lr`` the first step is calibrated on a sample (see ``CANDIDATE_STEPS``).

    Each epoch ends with one full evaluation, which reports progress and applies the
    usual gradient test; so an epoch reads the data twice. ``seed`` fixes the shuffles.

    On CSR rows in memory a batch costs its stored values, not a pass over the features
    (``sgd_sparse.LazyIterate``: the same steps, kept as ``W = a V``). One global step
    suits features of like scale: on text-like rows, whose features range from every row
    to a handful, ``adagrad``'s per-feature rates go much further in an epoch.
    """
    epochs(run, "sgd", lr, batch_size, average, seed, iterate_for, decay=True)


def epochs(
    run: Run,
    name: str,
    lr: float | None,
    batch_size: int,
    average: bool,
    seed: int,
    iterate: IterateFor,
    decay: bool,
) -> None:
    """The epochs of a stochastic optimizer called ``name`` whose steps ``iterate(batch,
    x0)`` makes (``sgd``'s docstring says what an epoch is): each batch advanced with
    ``lr / sqrt(1 + tau)`` if ``decay`` else ``lr`` (calibrated when None), the mean of
    the iterates since half an epoch in reported with ``average``."""
    batches, n_rows = run.objective.batches, run.objective.n_samples
    if batches is None or not n_rows:
        raise CapabilityError(
            f"{name} needs mini-batches of the data, which this objective does not offer; use lbfgs"
        )
    rng = np.random.default_rng(seed)
    if lr is None:
        lr = calibrate_step(run.objective, rng, batch_size, run.x, iterate, name)

    state, rows_seen, step = None, 0, lr
    while run.running:
        for batch in batches(rng, batch_size):
            state = state or iterate(batch, run.x)  # by the first batch: rows handed over?
            step = lr / math.sqrt(1.0 + rows_seen / n_rows) if decay else lr
            if not state.advance(batch, step):
                run.stop(Status.DIVERGED)  # at the last accepted point: the epoch cannot recover
                return
            rows_seen += batch.rows
            if average and 2 * rows_seen >= n_rows:
                state.add_to_mean()
        x_new = state.point(average)
        run.accept(x_new, *run.evaluate(x_new), step)


def calibrate_step(
    objective: Objective,
    rng: np.random.Generator,
    batch_rows: int,
    x0: np.ndarray,
    iterate: IterateFor = iterate_for,
    name: str = "sgd",
) -> float:
    """The candidate step whose constant-step pass over a sample from ``x0`` (n,) ends
    with the lowest mean loss on that sample: the first ``CALIBRATION_ROWS`` rows of an
    epoch's batches of ``batch_rows``, drawn with ``rng``, stepped by ``iterate``. Raises
    OptionError, naming the optimizer ``name``, when every candidate diverges.

    The batches come from ``Objective.first_batches``: on a cluster its ``sample`` fetches
    their rows once, so the 2 x 17 evaluations of each batch cost no round trip."""
    sample = objective.first_batches(rng, CALIBRATION_ROWS, batch_rows)
    best, best_loss = None, math.inf
    for step in CANDIDATE_STEPS:
        loss = _sample_loss_after_pass(sample, x0, step, iterate)
        if loss < best_loss:
            best, best_loss = step, loss
    if best is None:
        raise OptionError(
            f"{name} found no step that keeps the objective finite on a sample; "
            "give a small --lr, or standardized features"
        )
    return best


def _sample_loss_after_pass(
    sample: list[MiniBatch], x0: np.ndarray, step: float, iterate: IterateFor
) -> float:
    """Mean loss over ``sample``'s batches after one pass of constant ``step`` from ``x0``;
    inf when the pass leaves the finite numbers."""
    state = iterate(sample[0], x0)
    for batch in sample:
        if not state.advance(batch, step):
            return math.inf
    return state.sample_loss(sample)
