"""Analytic gradients and Hessian-vector products against finite differences.

The gradient is compared per coordinate with a fourth-order central difference
``(-f(x+2h) + 8 f(x+h) - 8 f(x-h) + f(x-2h)) / 12h``, step ``h_i = 1e-3 max(1, |x_i|)``
(truncation ~ h^4, rounding ~ eps |f| / h: about 1e-13 relative). Relative error is
``|a - n| / max(|a|, |n|, floor)`` with ``floor = 1e-6 max(1, |f|)``: a coordinate
whose true derivative is below that is held to an absolute 1e-12 |f|.
For piecewise losses (hinge, ReLU), a coordinate whose stencil moves any sample to
another piece is tried again with steps 10 and 100 times shorter, and skipped and counted
if those cross a kink too: the loss is not differentiable across it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from linfit.models.base import LinearModel

H_REL = 1e-3
FLOOR_REL = 1e-6
TOLERANCE = 1e-6
MAX_COORDS = 200


@dataclass(frozen=True)
class GradCheckReport:
    """Outcome of checking one model at one point."""

    model: str
    max_rel_error: float  # over checked gradient coordinates
    checked: int
    skipped: int  # coordinates whose stencil crossed a kink
    hessp_rel_error: float | None  # None: no Hessian, or every direction crossed a kink
    tolerance: float

    @property
    def passed(self) -> bool:
        errors = [self.max_rel_error] + (
            [self.hessp_rel_error] if self.hessp_rel_error is not None else []
        )
        return self.checked > 0 and all(e <= self.tolerance for e in errors)


def central_difference(
    f: Callable[[np.ndarray], float | np.ndarray], x: np.ndarray, v: np.ndarray, h: float
) -> float | np.ndarray:
    """Derivative of ``f`` (scalar- or array-valued) at ``x`` along ``v``, fourth order:
    ``(-f(x+2hv) + 8 f(x+hv) - 8 f(x-hv) + f(x-2hv)) / 12h``."""
    fp2, fp1, fm1, fm2 = (np.asarray(f(x + k * h * v)) for k in (2.0, 1.0, -1.0, -2.0))
    return (-fp2 + 8.0 * fp1 - 8.0 * fm1 + fm2) / (12.0 * h)


def relative_error(a: np.ndarray, n: np.ndarray, floor: float) -> np.ndarray:
    """Elementwise ``|a - n| / max(|a|, |n|, floor)``."""
    return np.abs(a - n) / np.maximum(np.maximum(np.abs(a), np.abs(n)), floor)


def check_model(
    model: LinearModel,
    X: np.ndarray,
    y: np.ndarray,
    params: np.ndarray,
    *,
    rng: np.random.Generator,
    max_coords: int = MAX_COORDS,
    tolerance: float = TOLERANCE,
) -> GradCheckReport:
    """Check ``model``'s gradient (and ``hessp`` where it has one) at ``params``.

    ``X`` (n_samples, n_features) float64, ``y`` as the model takes it, ``params`` flat.
    Every coordinate is checked when there are at most ``max_coords``; otherwise a
    random sample of that many.
    """
    X = np.asarray(X, dtype=np.float64)
    params = np.asarray(params, dtype=np.float64)
    f, grad = model.loss_gradient(params, X, y)
    n_params = params.size
    coords = (
        np.arange(n_params)
        if n_params <= max_coords
        else rng.choice(n_params, size=max_coords, replace=False)
    )
    pattern = model.kink_pattern(params, X, y)
    floor = FLOOR_REL * max(1.0, abs(f))

    errors, skipped = [], 0
    for i in coords:
        e_i = np.zeros(n_params)
        e_i[i] = 1.0
        h = _step_clear_of_kinks(
            model, X, y, pattern, params, e_i, H_REL * max(1.0, abs(params[i]))
        )
        if h is None:
            skipped += 1
            continue
        numeric = central_difference(lambda p: model.loss(p, X, y), params, e_i, h)
        errors.append(relative_error(grad[i], numeric, floor))

    hessp_error = None
    if model.has_hessian:
        hessp_error = _check_hessp(model, X, y, params, pattern, rng)
    return GradCheckReport(
        model=model.describe(),
        max_rel_error=float(max(errors)) if errors else float("nan"),
        checked=len(errors),
        skipped=skipped,
        hessp_rel_error=hessp_error,
        tolerance=tolerance,
    )


def _step_clear_of_kinks(model, X, y, pattern, params, v, h) -> float | None:
    """``h``, or a step up to 100x shorter whose stencil along ``v`` stays on one piece of
    every sample's loss; None when even that crosses a kink (the coordinate is skipped).
    A shorter step trades truncation for rounding error (~eps |f| / h: 1e-11 at h / 100)."""
    if pattern is None:
        return h
    for step in (h, h / 10.0, h / 100.0):
        if not _crosses_kink(model, X, y, pattern, params, v, step):
            return step
    return None


def _crosses_kink(model, X, y, pattern, params, v, h) -> bool:
    """Whether any sample changes piece between the stencil's two ends and the centre.

    Pieces along a line through the stencil are intervals, so checking the two ends
    covers every point in between for losses whose pieces are half-spaces in params.
    """
    ends = (params + 2.0 * h * v, params - 2.0 * h * v)
    return any(not np.array_equal(model.kink_pattern(p, X, y), pattern) for p in ends)


def _check_hessp(model, X, y, params, pattern, rng, tries: int = 5) -> float | None:
    """``H v`` against a fourth-order central difference of the gradient along ``v``."""
    for _ in range(tries):
        v = rng.standard_normal(params.size)
        v /= np.linalg.norm(v)
        h = H_REL * max(1.0, float(np.max(np.abs(params))))
        if pattern is not None and _crosses_kink(model, X, y, pattern, params, v, h):
            continue
        numeric = central_difference(lambda p: model.loss_gradient(p, X, y)[1], params, v, h)
        analytic = model.hessp(params, X, y, v)
        scale = max(float(np.max(np.abs(analytic))), float(np.max(np.abs(numeric))), 1e-300)
        floor = max(FLOOR_REL * scale, FLOOR_REL)
        return float(np.max(relative_error(analytic, numeric, floor)))
    return None  # every direction crossed a kink: not checked


def random_params(
    model: LinearModel, X: np.ndarray, y: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """A random point for ``model`` on ``(X, y)``: standard normal entries.

    A ReLU's bias is pushed up so most samples are active: a check where every sample
    is dead would only see the regularizer.
    """
    params = rng.standard_normal((X.shape[1] + 1) * model.n_outputs(y))
    if not model.convex:
        params[-1] = abs(params[-1]) + 1.0
    return params


def random_problem(
    model: LinearModel,
    rng: np.random.Generator,
    n_samples: int = 60,
    n_features: int = 5,
    n_classes: int = 3,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A random ``(X, y, params)`` suited to ``model``: for checking, not for fitting."""
    X = rng.standard_normal((n_samples, n_features))
    if model.is_classifier:
        y = rng.permutation(np.arange(n_samples) % n_classes)
    else:
        y = X @ rng.standard_normal(n_features) + rng.standard_normal(n_samples)
    return X, y, random_params(model, X, y, rng)
