"""A regularization path fitted warm (``linfit.fitting.path``).

The claims: L-BFGS's curvature pairs, shifted for a new penalty, are the new objective's
pairs exactly on a quadratic (1e-14); a run seeded with them reaches the optimum the cold
run reaches (scipy's, the oracle) in fewer iterations; along a softmax path each fit
equals a cold fit at its penalty (objective 1e-11 relative) while the whole path takes
fewer iterations than from the plain warm start.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize
from core_problems import classification_data

import linfit
from linfit.fitting import entry
from linfit.models import SoftmaxClassifier
from linfit.optim import OPTIMIZERS
from linfit.optim.lbfgs import CurvaturePairs
from linfit.optim.objective import Objective


def _quadratic(seed: int, n: int = 12, shift: float = 0.0):
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((n, n))
    A = M @ M.T + np.eye(n) + shift * np.eye(n)
    b = rng.standard_normal(n)
    return A, b, Objective(fun=lambda x: (0.5 * x @ A @ x - b @ x, A @ x - b))


def test_shifted_pairs_are_the_shifted_objectives_pairs():
    A, _, objective = _quadratic(0)
    result = OPTIMIZERS["lbfgs"](objective, np.zeros(12), gtol=1e-10, ftol=0.0)
    pairs = result.hess_inv
    assert isinstance(pairs, CurvaturePairs) and 0 < len(pairs.pairs) <= 10
    diagonal = np.r_[np.full(10, 0.3), 0.0, 0.0]
    # y is a difference of two gradients of size ~1, each rounded: ~eps apart from the
    # product (measured at most 1.1e-15), where a wrong shift misses by ~0.3 |s| >= 1e-8
    for s, y in pairs.shifted(diagonal).pairs:
        np.testing.assert_allclose(y, (A + np.diag(diagonal)) @ s, rtol=0, atol=1e-14)
    # a shift that makes a direction's curvature non-positive drops its pair
    assert len(pairs.shifted(np.full(12, -1e6)).pairs) == 0


def test_a_seeded_run_reaches_the_oracles_optimum_sooner():
    """The objective's Hessian gains 0.5 I: seeded with the first run's pairs shifted by
    0.5, L-BFGS reaches the new optimum (|x - x*| <= |g| / lambda_min, lambda_min >= 1.5)
    in fewer iterations than from the same point with no pairs."""
    _, _, objective = _quadratic(1)
    A2, b2, shifted = _quadratic(1, shift=0.5)
    first = OPTIMIZERS["lbfgs"](objective, np.zeros(12), gtol=1e-7, ftol=0.0)
    cold = OPTIMIZERS["lbfgs"](shifted, first.x, gtol=1e-7, ftol=0.0)
    seeded = OPTIMIZERS["lbfgs"](shifted, first.x, gtol=1e-7, ftol=0.0,
                                 pairs=first.hess_inv.shifted(np.full(12, 0.5)))  # fmt: skip
    oracle = scipy.optimize.minimize(lambda x: 0.5 * x @ A2 @ x - b2 @ x, np.zeros(12),
                                     jac=lambda x: A2 @ x - b2, tol=1e-14).x  # fmt: skip
    assert seeded.grad_norm <= 1e-7
    np.testing.assert_allclose(seeded.x, np.linalg.solve(A2, b2), atol=1e-7)
    np.testing.assert_allclose(seeded.x, oracle, atol=1e-6)
    assert seeded.nit < cold.nit


@pytest.fixture(scope="module")
def problem():
    return classification_data(np.random.default_rng(2), 600, 8, 4)


PATH = np.logspace(-1, -5, 8)  # strongest first


def test_each_fit_along_the_path_equals_a_cold_fit(problem):
    X, y = problem
    trained = linfit.fit(SoftmaxClassifier(reg=PATH[-1]), X, y, path=PATH[:-1], gtol=1e-9)
    for reg, fitted in zip(PATH, (*trained.path, trained), strict=True):
        cold = linfit.fit(SoftmaxClassifier(reg=reg), X, y, gtol=1e-9)
        # each within |g|^2 / (2 mu) of f*: 36 gradient entries <= 1e-9, mu >= 2 reg = 2e-5,
        # so 1e-12 absolute of f ~ 0.6 (measured at most 7e-13 relative)
        assert fitted.result.fun == pytest.approx(cold.result.fun, rel=1e-11)


def test_the_path_takes_fewer_iterations_than_plain_warm_starts(problem, monkeypatch):
    X, y = problem

    def iterations() -> int:
        trained = linfit.fit(SoftmaxClassifier(reg=PATH[-1]), X, y, path=PATH[:-1])
        return sum(f.result.nit for f in (*trained.path, trained))

    continued = iterations()
    monkeypatch.setattr(entry, "continuation", lambda results, *_: (results[-1].x, {}))
    plain = iterations()
    assert continued < plain
