"""Line searches: each returned step meets the conditions its name promises."""

from __future__ import annotations

import math

import numpy as np
import pytest

from linfit.optim import Objective
from linfit.optim.linesearch import C1, C2, LINE_SEARCHES, curvature
from linfit.optim.run import Run


def _run(fun, x0) -> Run:
    return Run(
        "test",
        Objective(fun=fun),
        np.asarray(x0, float),
        gtol=0.0,
        ftol=0.0,
        max_iter=10,
        callback=None,
    )


def far_quadratic(x):  # minimum at 100: a unit first step is far too short
    return 0.5 * float((x[0] - 100.0) ** 2), np.array([x[0] - 100.0])


def steep_quadratic(x):  # minimum at 0.01: a unit first step is far too long
    return 50.0 * float((x[0] - 0.01) ** 2), np.array([100.0 * (x[0] - 0.01)])


def kinked(x):  # |x - 3| + 0.1 x^2: a slope jump at 3 that no step can straddle smoothly
    return abs(x[0] - 3.0) + 0.1 * x[0] ** 2, np.array([np.sign(x[0] - 3.0) + 0.2 * x[0]])


def _check_conditions(name, run, step):
    d = -run.g
    slope0 = float(run.g @ d)
    alpha, x, f, g = step
    assert f <= run.f + C1 * alpha * slope0  # sufficient decrease, every search
    np.testing.assert_array_equal(x, run.x + alpha * d)
    slope = float(g @ d)
    if name == "strong-wolfe":
        assert abs(slope) <= -C2 * slope0
    if name == "weak-wolfe":
        assert slope >= C2 * slope0


@pytest.mark.parametrize("name", sorted(LINE_SEARCHES))
@pytest.mark.parametrize("fun", [far_quadratic, steep_quadratic], ids=["far", "steep"])
def test_returned_steps_meet_their_conditions(name, fun):
    run = _run(fun, [0.0])
    step = LINE_SEARCHES[name](run, -run.g, alpha0=1.0)
    assert step is not None
    _check_conditions(name, run, step)


@pytest.mark.parametrize("name", ["strong-wolfe", "weak-wolfe"])
def test_wolfe_searches_expand_a_short_first_step(name):
    run = _run(far_quadratic, [0.0])  # the minimum is at alpha = 1 along d = -g = 100
    alpha, *_ = LINE_SEARCHES[name](run, -run.g, alpha0=0.01)
    assert alpha > 0.1  # expanded by doubling from 0.01, not accepted at the first try


def test_weak_wolfe_steps_past_a_kink():
    run = _run(kinked, [0.0])
    step = LINE_SEARCHES["weak-wolfe"](run, -run.g, alpha0=1.0)
    assert step is not None
    _check_conditions("weak-wolfe", run, step)


@pytest.mark.parametrize("name", sorted(LINE_SEARCHES))
def test_an_ascent_direction_is_refused(name):
    run = _run(far_quadratic, [0.0])
    assert LINE_SEARCHES[name](run, run.g, alpha0=1.0) is None


@pytest.mark.parametrize("name", sorted(LINE_SEARCHES))
def test_non_finite_trials_shrink_the_step(name):
    def walled(x):  # finite only below x = 0.5; the minimum (1) lies beyond the wall
        if x[0] >= 0.5:
            return math.inf, np.array([math.nan])
        return 0.5 * float((x[0] - 1.0) ** 2), np.array([x[0] - 1.0])

    run = _run(walled, [0.0])
    step = LINE_SEARCHES[name](run, -run.g, alpha0=1.0)
    assert step is not None and math.isfinite(step[2])
    assert step[1][0] < 0.5


def test_curvature_keeps_only_safely_positive_pairs():
    s = np.array([1.0, 0.0])
    assert curvature(s, np.array([2.0, 0.0])) == 2.0
    assert curvature(s, np.array([-1.0, 0.0])) is None
    assert curvature(s, np.array([1e-14, 1.0])) is None  # s.y tiny against |s||y|


def overshooting_quadratic(x):
    """s/2 (x - 1)^2 with s = 2.0001: from 0 along -g, the unit step lands at 2.0001, where
    f is 2e-4 relative ABOVE f(0), inside the C1 band a sign error in the Armijo test would
    accept (C1 |g.d| ~ 4e-4 f(0)). Only a search that demands a decrease rejects it."""
    s = 2.0001
    return 0.5 * s * float((x[0] - 1.0) ** 2), np.array([s * (x[0] - 1.0)])


@pytest.mark.parametrize("name", sorted(LINE_SEARCHES))
def test_a_first_step_just_above_f0_is_not_accepted(name):
    run = _run(overshooting_quadratic, [0.0])
    first = overshooting_quadratic(run.x - run.g)[0]
    assert run.f < first < run.f * (1 + 3e-4)  # the trap: an increase within the band
    step = LINE_SEARCHES[name](run, -run.g, alpha0=1.0)
    assert step is not None
    assert step[2] < run.f  # a strict decrease
    _check_conditions(name, run, step)
